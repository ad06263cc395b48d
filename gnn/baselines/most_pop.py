"""MostPop: every user gets the items with the most train interactions."""

from __future__ import annotations

import logging

import numpy as np

from gnn.baselines._common import interaction_matrix
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

__all__ = ["MostPop"]

logger = logging.getLogger(__name__)


class MostPop:
    """Non-personalised popularity ranker (distinct train users per item)."""

    name = "MostPop"

    def __init__(self) -> None:
        self.popularity: np.ndarray | None = None

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Count each item's train users."""
        self.popularity = np.asarray(interaction_matrix(train).sum(axis=0)).ravel()

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]``: the same popularity row for every user."""
        assert self.popularity is not None, "call fit() first"
        return np.broadcast_to(self.popularity.astype(np.float32),
                               (len(user_idx), len(self.popularity))).copy()
