"""AttrPop: a cold item scores the mean train popularity of warm items sharing an attribute."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from gnn.baselines._common import interaction_matrix, select_kinds
from gnn.ranker import EvalContext
from gnn.trained import item_attribute_matrix
from kg.snapshot import GraphSnapshot

__all__ = ["AttrPop"]

logger = logging.getLogger(__name__)


def _attr_pop_scores(train: GraphSnapshot, kinds: tuple[str, ...] | None) -> np.ndarray:
    """``float32 [num_items]``: per item, mean train count of the *other* warm items that
    share at least one attribute (of ``kinds``) with it; 0 when there are none."""
    pop = np.asarray(interaction_matrix(train).sum(axis=0)).ravel()
    a = item_attribute_matrix(train, kinds)
    warm = np.flatnonzero(pop > 0)
    shares = (a @ a[warm].T).tocsr()  # [items, warm]: shared attribute counts
    shares.data[:] = 1.0
    total = np.asarray(shares @ pop[warm]).ravel()
    n = np.asarray(shares.sum(axis=1)).ravel()
    # an item is not its own neighbour: remove warm items with attributes from their own mean
    self_pair = (pop > 0) & (np.diff(a.indptr) > 0)
    total[self_pair] -= pop[self_pair]
    n[self_pair] -= 1.0
    return (total / np.maximum(n, 1.0)).astype(np.float32)


class AttrPop:
    """Non-personalised attribute popularity for cold items. The attribute kinds used (all,
    or a single kind) are chosen on validation (``kinds="auto"``)."""

    name = "AttrPop"

    def __init__(self, kinds: tuple[str, ...] | None | str = "auto") -> None:
        self.kinds = kinds
        self.scores: np.ndarray | None = None

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Choose the kinds on validation (if ``"auto"``), then score items from ``train``."""
        if self.kinds == "auto":
            def fit_score(snap: GraphSnapshot, kinds: tuple[str, ...] | None
                          ) -> Callable[[np.ndarray], np.ndarray]:
                s = _attr_pop_scores(snap, kinds)
                return lambda u: np.broadcast_to(s, (len(u), len(s)))
            self.kinds, _ = select_kinds(fit_score, context, self.name)
        self.scores = _attr_pop_scores(train, self.kinds)  # type: ignore[arg-type]

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]``: the same row for every user."""
        assert self.scores is not None, "call fit() first"
        return np.broadcast_to(self.scores, (len(user_idx), len(self.scores))).copy()
