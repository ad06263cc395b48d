"""Knowledge-graph ablations as snapshot transforms (KG4RecEval, Zhang et al. 2023).

:func:`shuffle_item_attributes` keeps the graph's shape and destroys its meaning: within
each attribute kind, the item endpoints of the item–attribute edges are permuted among
the edges, so every item keeps its number of attributes of each kind and every attribute
keeps its number of items, but which item holds which attribute is random. Pairs that
the permutation duplicates (an item drawn twice for one attribute) are repaired by
degree-preserving swaps with random other edges of the same kind. Only the item–attribute
edges change; interactions, texts and user attributes are kept. The harness applies it to
the training snapshot of ``kgrec-shuffled-kg`` only: the test pairs are untouched.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from kg.snapshot import GraphSnapshot

__all__ = ["shuffle_item_attributes"]

logger = logging.getLogger(__name__)

_REPAIR_ROUNDS = 100


def _repair(items: np.ndarray, attrs: np.ndarray, n_items: int, rng: np.random.Generator
            ) -> None:
    """Swap item endpoints of duplicated ``(item, attribute)`` edges in place with random
    other edges (of the same arrays) while both new pairs are unused."""
    for _ in range(_REPAIR_ROUNDS):
        key = attrs.astype(np.int64) * n_items + items
        _, first = np.unique(key, return_index=True)
        dup = np.setdiff1d(np.arange(len(key)), first)
        if not len(dup):
            return
        used = set(key.tolist())
        for i in dup.tolist():
            j = int(rng.integers(len(items)))
            a_i, a_j = attrs[i] * n_items + items[j], attrs[j] * n_items + items[i]
            if attrs[i] != attrs[j] and a_i not in used and a_j not in used:
                used.discard(attrs[j] * n_items + items[j])
                used.update((a_i, a_j))
                items[i], items[j] = items[j], items[i]
    logger.warning("shuffle_item_attributes: duplicate edges left after %d rounds",
                   _REPAIR_ROUNDS)


def shuffle_item_attributes(snapshot: GraphSnapshot, seed: int = 0) -> GraphSnapshot:
    """A copy of ``snapshot`` whose item–attribute edges are permuted per attribute kind,
    keeping every item's and every attribute's degree (see the module docstring).

    Args:
        snapshot: the graph.
        seed: seeds ``numpy.random.default_rng``; the same snapshot and seed give the same
            result.

    Returns:
        The snapshot with a new ``item_attribute_index`` (same shape; edges sorted by
        item, then attribute).
    """
    rng = np.random.default_rng(seed)
    index = snapshot.item_attribute_index
    items, attrs = index[0].copy(), index[1].copy()
    kinds = np.array([snapshot.attribute_kind_value(a)[0] for a in range(snapshot.num_attributes)],
                     dtype=object)
    edge_kind = kinds[attrs] if len(attrs) else np.zeros(0, dtype=object)
    for kind in sorted(set(edge_kind.tolist())):
        rows = np.flatnonzero(edge_kind == kind)
        k_items, k_attrs = items[rows][rng.permutation(len(rows))], attrs[rows]
        _repair(k_items, k_attrs, snapshot.num_items, rng)
        items[rows] = k_items
    order = np.lexsort((attrs, items))
    return replace(snapshot, item_attribute_index=np.stack([items[order], attrs[order]]))
