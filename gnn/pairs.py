"""Positive text pairs mined from a catalog, to adapt the text encoder to it.

:func:`llm_bridge.adapt.adapt_encoder` takes plain texts and index pairs; this module makes
them from a snapshot, and it is the one place that decides which interactions may be seen:

- **co-interacted items** (:func:`co_interaction_pairs`): for each item, its
  ``per_item`` strongest neighbours by cosine-normalised co-occurrence
  ``C_ij / sqrt(n_i n_j)`` (``C = X^T X`` over binary user x item rows), so a popular
  item does not pair with everything and a niche item still gets its few partners; each
  unordered pair once;
- **item and attribute** (:func:`attribute_pairs`): every item-attribute edge, except
  attributes shared by more than ``max_attribute_share`` of the items (a top-level
  category says little and would pull most items to one point).

Pass the **training** snapshot of a split (``split.train``) and its cold items as
``exclude``: no pair then involves an interaction or an item that evaluation holds out.

Shapes:
    - item pairs: ``int64 [P, 2]`` rows ``(item_idx, item_idx)``, first < second
    - attribute pairs: ``int64 [P, 2]`` rows ``(item_idx, attribute_idx)``
    - :attr:`CatalogPairs.pairs`: ``int64 [P, 2]`` rows into :attr:`CatalogPairs.texts`
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gnn.features import attribute_texts, item_texts
from kg.snapshot import GraphSnapshot

__all__ = ["CatalogPairs", "attribute_pairs", "catalog_pairs", "co_interaction_pairs"]

logger = logging.getLogger(__name__)

PER_ITEM = 10
MAX_ATTRIBUTE_SHARE = 0.2


def _excluded(num: int, exclude: np.ndarray | None) -> np.ndarray:
    mask = np.zeros(num, dtype=bool)
    if exclude is not None and len(exclude):
        mask[np.asarray(exclude, dtype=np.int64)] = True
    return mask


def co_interaction_pairs(interaction_index: np.ndarray, num_users: int, num_items: int, *,
                         per_item: int = PER_ITEM, exclude: np.ndarray | None = None
                         ) -> np.ndarray:
    """Item pairs that the same users interacted with (see the module docstring).

    Args:
        interaction_index: ``int64 [2, E]`` ``(user_idx, item_idx)`` training interactions.
        num_users: rows of the user x item matrix.
        num_items: columns of the user x item matrix.
        per_item: neighbours kept per item (ties: lower item row first).
        exclude: item rows that may appear in no pair (cold / test items).

    Returns:
        ``int64 [P, 2]`` distinct pairs ``(i, j)`` with ``i < j``, sorted.
    """
    excluded = _excluded(num_items, exclude)
    keep = ~excluded[interaction_index[1]]
    users, items = interaction_index[0][keep], interaction_index[1][keep]
    x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)),
                      shape=(num_users, num_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    counts = np.asarray(x.sum(axis=0)).ravel()
    co = (x.T @ x).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    norm = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    found: list[np.ndarray] = []
    for i in range(num_items):
        lo, hi = co.indptr[i], co.indptr[i + 1]
        if lo == hi:
            continue
        cols = co.indices[lo:hi]
        score = co.data[lo:hi] * norm[cols]
        top = cols[np.lexsort((cols, -score))[:per_item]]
        found.append(np.stack([np.full(len(top), i), top], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found).astype(np.int64), axis=1)
    return np.unique(pairs, axis=0)


def attribute_pairs(item_attribute_index: np.ndarray, num_items: int, *,
                    max_attribute_share: float = MAX_ATTRIBUTE_SHARE,
                    exclude: np.ndarray | None = None) -> np.ndarray:
    """``(item_idx, attribute_idx)`` edges, without excluded items or too common attributes.

    Args:
        item_attribute_index: ``int64 [2, E_ia]`` ``(item_idx, attribute_idx)`` edges.
        num_items: item count (for ``exclude``).
        max_attribute_share: drop attributes held by more than this share of the kept items.
        exclude: item rows that may appear in no pair.

    Returns:
        ``int64 [P, 2]`` distinct pairs, sorted.
    """
    excluded = _excluded(num_items, exclude)
    edges = np.unique(np.asarray(item_attribute_index, dtype=np.int64).T, axis=0)
    edges = edges[~excluded[edges[:, 0]]] if len(edges) else edges.reshape(0, 2)
    if not len(edges):
        return edges
    _, inverse, holders = np.unique(edges[:, 1], return_inverse=True, return_counts=True)
    limit = max_attribute_share * int((~excluded).sum())
    return edges[holders[inverse] <= limit]


@dataclass(frozen=True, eq=False)
class CatalogPairs:
    """Texts and positive pairs for :func:`llm_bridge.adapt.adapt_encoder`.

    Attributes:
        texts: item texts (rows ``0..num_items-1``), then attribute texts.
        pairs: ``int64 [P, 2]`` rows into ``texts``: item pairs first, then item-attribute.
        item_pairs: how many rows are co-interacted item pairs.
        attribute_pairs: how many rows are item-attribute pairs.
    """

    texts: list[str]
    pairs: np.ndarray
    item_pairs: int
    attribute_pairs: int

    @property
    def kinds(self) -> dict[str, int]:
        return {"co_interaction": self.item_pairs, "item_attribute": self.attribute_pairs}


def catalog_pairs(train: GraphSnapshot, exclude: np.ndarray | None = None, *,
                  per_item: int = PER_ITEM, max_attribute_share: float = MAX_ATTRIBUTE_SHARE,
                  with_attributes: bool = True) -> CatalogPairs:
    """Co-interacted item pairs and item-attribute pairs of ``train``, as texts and indices.

    Args:
        train: the snapshot whose interactions may be used (a split's ``train``).
        exclude: item rows kept out of every pair (a split's ``cold_items``).
        per_item: see :func:`co_interaction_pairs`.
        max_attribute_share: see :func:`attribute_pairs`.
        with_attributes: add item-attribute pairs.
    """
    n_items = train.num_items
    items = co_interaction_pairs(train.interaction_index, train.num_users, n_items,
                                 per_item=per_item, exclude=exclude)
    attrs = np.zeros((0, 2), dtype=np.int64)
    if with_attributes and train.num_attributes:
        attrs = attribute_pairs(train.item_attribute_index, n_items,
                                max_attribute_share=max_attribute_share, exclude=exclude)
        attrs = attrs + np.array([0, n_items], dtype=np.int64)
    texts = item_texts(train)
    if with_attributes:
        texts += attribute_texts(train)
    logger.info("adaptation pairs: %d co-interacted item pairs, %d item-attribute pairs",
                len(items), len(attrs))
    return CatalogPairs(texts=texts, pairs=np.concatenate([items, attrs]),
                        item_pairs=len(items), attribute_pairs=len(attrs))
