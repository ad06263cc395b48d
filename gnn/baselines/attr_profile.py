"""AttrProfile: the user's attribute distribution from train · the item's attribute vector."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from gnn.baselines._common import interaction_matrix, select_kinds
from gnn.ranker import EvalContext
from gnn.trained import item_attribute_matrix
from kg.snapshot import GraphSnapshot

__all__ = ["AttrProfile"]

logger = logging.getLogger(__name__)


def _profiles(train: GraphSnapshot, kinds: tuple[str, ...] | None
              ) -> tuple[np.ndarray, sp.csr_matrix]:
    """User attribute distributions ``float32 [num_users, num_attributes]`` (rows sum to 1,
    or 0 for users without attributed train items) and the binary item matrix."""
    a = item_attribute_matrix(train, kinds)
    counts = np.asarray((interaction_matrix(train) @ a).todense(), dtype=np.float32)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12), a


class AttrProfile:
    """Attribute-profile ranker for cold items: ``score(u, j) = p_u · a_j`` with ``p_u`` the
    distribution of attributes over ``u``'s train items and ``a_j`` item ``j``'s binary
    attribute vector. The kinds used (all, or a single kind) are chosen on validation
    (``kinds="auto"``); no dataset-specific kind names."""

    name = "AttrProfile"

    def __init__(self, kinds: tuple[str, ...] | None | str = "auto") -> None:
        self.kinds = kinds
        self.profiles: np.ndarray | None = None
        self.item_attrs: sp.csr_matrix | None = None

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Choose the kinds on validation (if ``"auto"``), then build profiles from ``train``."""
        if self.kinds == "auto":
            def fit_score(snap: GraphSnapshot, kinds: tuple[str, ...] | None
                          ) -> Callable[[np.ndarray], np.ndarray]:
                p, a = _profiles(snap, kinds)
                return lambda u: np.asarray(a @ p[u].T).T
            self.kinds, _ = select_kinds(fit_score, context, self.name)
        self.profiles, self.item_attrs = _profiles(train, self.kinds)  # type: ignore[arg-type]

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]``."""
        assert self.profiles is not None and self.item_attrs is not None, "call fit() first"
        return np.asarray(self.item_attrs @ self.profiles[user_idx].T, np.float32).T
