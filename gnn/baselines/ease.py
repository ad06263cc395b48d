"""EASE (Steck, 2019): closed-form item-item model, L2 weight tuned on validation."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from gnn.baselines._common import interaction_matrix, validation_ndcg
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

__all__ = ["EASE", "ease_weights"]

logger = logging.getLogger(__name__)

LAMBDA_GRID: tuple[float, ...] = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)


def ease_weights(user_items: sp.csr_matrix, lam: float) -> np.ndarray:
    """``B = I - P diagMat(1 / diag(P))`` with ``P = (XᵀX + λI)⁻¹`` and ``diag(B) = 0``.

    Args:
        user_items: binary ``[num_users, num_items]``.
        lam: L2 regularisation.

    Returns:
        ``float32 [num_items, num_items]`` item-item weights.
    """
    gram = (user_items.T @ user_items).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32)


class EASE:
    """EASE ranker. ``lam=None`` tunes λ on validation (NDCG@20) over ``grid``, then refits
    on the full train part with the best λ.

    Args:
        lam: fixed L2 weight, or ``None`` to tune.
        grid: λ values tried when tuning.
    """

    name = "EASE"

    def __init__(self, lam: float | None = None, grid: Sequence[float] = LAMBDA_GRID) -> None:
        self.lam = lam
        self.grid = tuple(grid)
        self.best_lam: float | None = lam
        self.weights: np.ndarray | None = None
        self.user_items: sp.csr_matrix | None = None
        self.tuning: dict[float, float] = {}

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Tune λ (when not fixed) on ``context.fit_train``/``valid``, then fit on ``train``."""
        if self.lam is None:
            x = interaction_matrix(context.fit_train)
            for lam in self.grid:
                b = ease_weights(x, lam)
                self.tuning[lam] = validation_ndcg(lambda u, b=b: x[u] @ b, context)
            self.best_lam = max(self.grid, key=lambda lam: (self.tuning[lam], -lam))
            logger.info("EASE: validation NDCG@20 %s -> lambda %g",
                        {k: round(v, 4) for k, v in self.tuning.items()}, self.best_lam)
        assert self.best_lam is not None
        self.user_items = interaction_matrix(train)
        self.weights = ease_weights(self.user_items, self.best_lam)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]`` = ``X[user_idx] @ B``."""
        assert self.weights is not None and self.user_items is not None, "call fit() first"
        return np.asarray(self.user_items[user_idx] @ self.weights, dtype=np.float32)
