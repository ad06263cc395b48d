"""ALS (``implicit``): implicit-feedback matrix factorisation, tuned on validation."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from functools import partial

import numpy as np

from gnn.baselines._common import interaction_matrix, validation_ndcg
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

__all__ = ["ALS"]

logger = logging.getLogger(__name__)

FACTORS_GRID: tuple[int, ...] = (16, 32, 64)
REG_GRID: tuple[float, ...] = (0.01, 0.1)
ALPHA_GRID: tuple[float, ...] = (1.0, 3.0, 10.0)


class ALS:
    """``implicit.cpu.als.AlternatingLeastSquares`` on the binary train matrix.

    Without fixed hyper-parameters it tries every ``(factors, regularization, alpha)`` of
    the grids on ``fit_train`` (validation NDCG@20), then refits the best on ``train``.
    Deterministic: ``random_state=seed``, one implicit thread and BLAS limited to one
    thread (``threadpoolctl``), as implicit recommends.

    Args:
        factors, regularization, alpha: fixed hyper-parameters (all three, or none to tune).
        iterations: ALS sweeps.
        grids: ``(factors, regularization, alpha)`` grids when tuning.
    """

    name = "ALS"

    def __init__(self, factors: int | None = None, regularization: float | None = None,
                 alpha: float | None = None, iterations: int = 15,
                 grids: tuple[Sequence[int], Sequence[float], Sequence[float]] = (
                     FACTORS_GRID, REG_GRID, ALPHA_GRID)) -> None:
        fixed = (factors, regularization, alpha)
        self.params: tuple[int, float, float] | None = (
            None if any(v is None for v in fixed) else fixed)  # type: ignore[assignment]
        self.iterations = iterations
        self.grids = grids
        self.tuning: dict[tuple[int, float, float], float] = {}
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None

    def _fit(self, train: GraphSnapshot, params: tuple[int, float, float], seed: int
             ) -> tuple[np.ndarray, np.ndarray]:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        factors, reg, alpha = params
        with threadpool_limits(limits=1, user_api="blas"):  # implicit checks this in __init__
            model = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=alpha,
                                            iterations=self.iterations, num_threads=1,
                                            random_state=seed)
            model.fit(interaction_matrix(train), show_progress=False)
        return np.asarray(model.user_factors), np.asarray(model.item_factors)

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Tune on validation (unless fixed), then fit on ``train``."""
        if self.params is None:
            for params in itertools.product(*self.grids):
                uf, itf = self._fit(context.fit_train, params, context.seed)
                self.tuning[params] = validation_ndcg(partial(_factor_scores, uf, itf), context)
            self.params = max(self.tuning, key=lambda p: self.tuning[p])
            logger.info("ALS: best validation NDCG@20 %.4f with factors=%d reg=%g alpha=%g",
                        self.tuning[self.params], *self.params)
        self.user_factors, self.item_factors = self._fit(train, self.params, context.seed)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]`` dot products of user and item factors."""
        assert self.user_factors is not None and self.item_factors is not None, "call fit()"
        return _factor_scores(self.user_factors, self.item_factors, user_idx)


def _factor_scores(user_factors: np.ndarray, item_factors: np.ndarray, user_idx: np.ndarray
                   ) -> np.ndarray:
    """``float32 [B, num_items]`` dot products of user and item factors."""
    return (user_factors[user_idx] @ item_factors.T).astype(np.float32)
