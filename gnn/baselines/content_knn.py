"""ContentKNN: cosine between a user's mean train-item text embedding and each item."""

from __future__ import annotations

import logging

import numpy as np

from gnn.baselines._common import interaction_matrix
from gnn.ranker import EvalContext
from gnn.trained import unit_rows
from kg.snapshot import GraphSnapshot
from kgrec.errors import TrainingError

__all__ = ["ContentKNN"]

logger = logging.getLogger(__name__)


class ContentKNN:
    """Content-based ranker over ``context.item_features`` (the encoder kgrec uses).

    User profile = mean of the L2-normalised text embeddings of the user's train items;
    score = cosine(profile, item embedding). Works for cold items: they have text.
    """

    name = "ContentKNN"

    def __init__(self) -> None:
        self.profiles: np.ndarray | None = None
        self.items: np.ndarray | None = None

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Build normalised user profiles ``float32 [num_users, D]``.

        Raises:
            TrainingError: item features do not have one row per item.
        """
        feats = np.asarray(context.item_features, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[0] != train.num_items:
            raise TrainingError(f"ContentKNN: item_features must be [{train.num_items}, D], "
                                f"got {feats.shape}")
        items = unit_rows(feats)
        x = interaction_matrix(train)
        counts = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
        profiles = np.asarray(x @ items) / counts[:, None]
        profiles = unit_rows(profiles)
        self.profiles, self.items = profiles.astype(np.float32), items

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]`` cosine similarities."""
        assert self.profiles is not None and self.items is not None, "call fit() first"
        return self.profiles[user_idx] @ self.items.T
