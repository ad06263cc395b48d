"""Random: uniform random scores, a floor for every protocol."""

from __future__ import annotations

import logging

import numpy as np

from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

__all__ = ["RandomRanker"]

logger = logging.getLogger(__name__)


class RandomRanker:
    """Uniform random scores from one ``default_rng(seed)`` created by :meth:`fit` and
    drawn call after call (``random((len(user_idx), num_items))``).

    Deterministic for a fixed call sequence, which the harness guarantees (evaluated users
    in ascending order, fixed batches); with all users in one batch this is the reference
    implementation's Random.
    """

    name = "Random"

    def __init__(self) -> None:
        self.rng: np.random.Generator | None = None
        self.num_items = 0

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Start the generator at ``context.seed``."""
        self.rng, self.num_items = np.random.default_rng(context.seed), train.num_items

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]`` uniform in [0, 1)."""
        assert self.rng is not None, "call fit() first"
        return self.rng.random((len(user_idx), self.num_items)).astype(np.float32)
