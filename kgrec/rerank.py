"""Re-ranking policies: how a list is built from a user's scores.

The plain list is the top ``k`` by score. Policies change it:

- :class:`TailSlots` closes every page of ten with the best long-tail items (outside the
  top 20% by interactions; new items count as tail), as many per page as chosen on
  validation at training time (:mod:`gnn.long_tail`);
- :class:`NewItemSlots` guarantees up to ``n`` slots to items added after training (or
  without training interactions), but only to new items that *fit*: an item's score must
  reach the user's :data:`NEW_ITEM_FLOOR` quantile of all candidate scores, so a
  children's film is not slotted into the list of a user whose taste is horror;
- :class:`MMR` trades relevance for attribute-set diversity (maximal marginal relevance).

Slot policies compose (``[NewItemSlots(1), TailSlots()]``: the new-item slot wins a
position both claim). :class:`MMR` re-selects the whole list and is exclusive with the
slot policies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gnn.config import PAGE
from gnn.long_tail import SlotStream, every_slots, interleave_streams, page_slots, tail_items
from kgrec.catalog import ItemCatalog
from kgrec.errors import RequestError

__all__ = ["MMR", "NEW_ITEM_FLOOR", "NewItemSlots", "Policy", "TailSlots", "rank", "top_k"]

#: a new item takes a slot only if it scores within the user's top 5% of candidates
NEW_ITEM_FLOOR = 0.05


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the ``k`` best finite scores, best first (ties: lower row first).

    Args:
        scores: ``float [n]``; ``-inf`` marks excluded rows.
        k: how many (fewer are returned when fewer rows are allowed).
        allowed: optional ``bool [n]`` mask.

    Returns:
        ``(rows int64 [m], scores float32 [m])`` with ``m <= k``.
    """
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    n = scores.shape[0]
    if n == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    kk = min(k, n)
    part = np.argpartition(-scores, kk - 1)[:kk] if kk < n else np.arange(n)
    part = part[np.isfinite(scores[part])]
    order = np.lexsort((part, -scores[part]))
    rows = part[order].astype(np.int64)
    return rows, scores[rows].astype(np.float32)


@dataclass(frozen=True)
class TailSlots:
    """Close each page of ten with ``per_page`` long-tail items (None: the model's choice,
    made on validation at training time)."""

    per_page: float | None = None

    def stream(self, scores: np.ndarray, catalog: ItemCatalog, model_slots: float, k: int
               ) -> SlotStream | None:
        per_page = model_slots if self.per_page is None else self.per_page
        if not per_page:
            return None
        if not 0 < per_page <= PAGE:
            raise RequestError(f"TailSlots.per_page must be in (0, {PAGE}], got {per_page!r}")
        return SlotStream(tail_items(catalog.popularity), page_slots(per_page, k))


@dataclass(frozen=True)
class NewItemSlots:
    """Up to ``n`` slots, every ``max(2, k // n)``-th position, for the best-scored new
    items whose score reaches the user's ``floor`` quantile (share of candidates above)."""

    n: int = 1
    floor: float = NEW_ITEM_FLOOR

    def stream(self, scores: np.ndarray, catalog: ItemCatalog, model_items: int,
               item_has_id: np.ndarray, k: int) -> SlotStream | None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 0:
            raise RequestError(f"new_items must be an integer >= 0, got {self.n!r}")
        if not 0 < self.floor <= 1:
            raise RequestError(f"NewItemSlots.floor must be in (0, 1], got {self.floor!r}")
        if self.n == 0:
            return None
        new = np.ones(len(scores), bool)
        new[:model_items] = ~item_has_id
        finite = scores[np.isfinite(scores)]
        if not len(finite):
            return None
        rank = min(len(finite) - 1, max(0, math.ceil(self.floor * len(finite)) - 1))
        threshold = -np.partition(-finite, rank)[rank]
        return SlotStream(new & (scores >= threshold), every_slots(max(2, k // self.n), k),
                          self.n)


@dataclass(frozen=True)
class MMR:
    """Maximal marginal relevance over the best ``max(5k, 50)`` rows: each pick maximises
    ``(1 - diversity) · relevance - diversity · max Jaccard`` to the rows already picked
    (relevance = score rescaled to [0, 1] within the pool)."""

    diversity: float

    def select(self, scores: np.ndarray, k: int, catalog: ItemCatalog) -> np.ndarray:
        d = self.diversity
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0.0 <= d <= 1.0:
            raise RequestError(f"diversity must be a number in [0, 1], got {d!r}")
        pool, vals = top_k(scores, max(5 * k, 50))
        if len(pool) <= 1 or d == 0:
            return pool[:k]
        attrs = [set(catalog.attributes(int(r))) for r in pool]
        rel = (vals - vals[-1]) / (float(vals[0] - vals[-1]) or 1.0)
        chosen = [0]
        max_sim = _jaccard(attrs, 0)
        while len(chosen) < min(k, len(pool)):
            gain = (1.0 - d) * rel - d * max_sim
            gain[chosen] = -np.inf
            chosen.append(int(np.argmax(gain)))
            max_sim = np.maximum(max_sim, _jaccard(attrs, chosen[-1]))
        return np.asarray(pool[np.asarray(chosen)], np.int64)


def _jaccard(attrs: Sequence[set[str]], i: int) -> np.ndarray:
    a = attrs[i]
    return np.asarray([len(a & b) / len(a | b) if a | b else 0.0 for b in attrs])


Policy = TailSlots | NewItemSlots | MMR


def rank(scores: np.ndarray, k: int, policies: Sequence[Policy], catalog: ItemCatalog,
         model_slots: float, item_has_id: np.ndarray) -> np.ndarray:
    """The rows of a top-``k`` list under ``policies`` (``-inf`` scores never appear).

    Raises:
        RequestError: :class:`MMR` combined with a slot policy, or a bad parameter.
    """
    mmr = [p for p in policies if isinstance(p, MMR)]
    if mmr and len(policies) > 1:
        raise RequestError("diversity (MMR) re-selects the whole list: it does not combine "
                           "with long_tail or new_items slots")
    if mmr:
        return mmr[0].select(scores, k, catalog)
    streams = []
    for p in sorted(policies, key=lambda p: isinstance(p, TailSlots)):  # new items first
        if isinstance(p, TailSlots):
            stream = p.stream(scores, catalog, model_slots, k)
        elif isinstance(p, NewItemSlots):
            stream = p.stream(scores, catalog, len(item_has_id), item_has_id, k)
        if stream is not None:
            streams.append(stream)
    if not streams:
        return top_k(scores, k)[0]
    return interleave_streams(scores, streams, k)
