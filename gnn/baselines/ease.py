"""EASE (Steck, 2019): closed-form item-item model, L2 weight tuned on validation.

The same solve as kgrec's item-item term (:func:`gnn.item_item.fit_ease`); it raises
:class:`kgrec.errors.ResourceError` when the dense ``[I, I]`` matrices do not fit, and
the harness then reports EASE as skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

import numpy as np
import scipy.sparse as sp

from gnn.baselines._common import interaction_matrix, validation_ndcg
from gnn.item_item import ease_scores, fit_ease
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

__all__ = ["EASE"]

logger = logging.getLogger(__name__)

LAMBDA_GRID: tuple[float, ...] = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)


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
                b = fit_ease(x, lam)
                self.tuning[lam] = validation_ndcg(partial(ease_scores, x, b), context)
            self.best_lam = max(self.grid, key=lambda lam: (self.tuning[lam], -lam))
            logger.info("EASE: validation NDCG@20 %s -> lambda %g",
                        {k: round(v, 4) for k, v in self.tuning.items()}, self.best_lam)
        assert self.best_lam is not None
        self.user_items = interaction_matrix(train)
        self.weights = fit_ease(self.user_items, self.best_lam)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]`` = ``X[user_idx] @ B``."""
        assert self.weights is not None and self.user_items is not None, "call fit() first"
        return ease_scores(self.user_items, self.weights, user_idx)
