"""Long-tail slots: the last positions of every page of ten go to the best long-tail items.

An accuracy-trained ranker (kgrec's hybrid score included) fills a top-20 almost only
with popular items, so items outside the head rarely get seen. The long-tail policy
keeps the model's order but closes every page of :data:`PAGE` positions with the
``m`` highest-scored items of the tail (items outside the top 20% by interactions, new
items included)::

    ranked = [o1, o2, o3, o4, o5, o6, o7, o8, t1, t2, o9, …]     (m = 2)

``m`` may be fractional: 1.5 closes the pages with one and two slots in turn (three
in a top-20), so the choice is not stuck between two coarse steps.

The same scores rank both streams, so a tail slot holds the tail item the model likes
most for this user. Closing a page rather than spreading the slots (every ``n``-th
position) keeps the top of the page for the items the model is surest of: at the same
share of tail slots it costs less accuracy (NDCG discounts the lower positions) and,
within the same accuracy budget, it shows more of the tail (`README.md`, "Long-tail
slots"). ``m`` is chosen on the validation split as the densest setting whose
validation NDCG@20 stays within ``budget`` (relative) of the plain ranking, so the
trade-off is stated as an accuracy budget instead of a dataset-specific constant.
:func:`interleave` takes any slot pattern; ``recommend(new_items=n)`` spreads its
slots with :func:`every_slots`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gnn.config import PAGE
from gnn.metrics import validation_ndcg

__all__ = ["HEAD_FRACTION", "SLOTS_GRID", "SlotStream", "choose_slots", "every_slots",
           "interleave", "interleave_streams", "page_slots", "rank_scores", "tail_items"]

logger = logging.getLogger(__name__)

#: share of items (by interaction count) that form the head, as in EVALUATION.md
HEAD_FRACTION = 0.2
#: candidate long-tail slots per page, densest first
SLOTS_GRID: tuple[float, ...] = (5.0, 4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5)


def tail_items(popularity: np.ndarray, head_fraction: float = HEAD_FRACTION) -> np.ndarray:
    """``bool [n]``: items outside the top ``floor(head_fraction · n)`` by popularity
    (ties broken by row, as the L protocol does)."""
    popularity = np.asarray(popularity)
    n = len(popularity)
    order = np.lexsort((np.arange(n), -popularity))
    tail = np.ones(n, dtype=bool)
    tail[order[: math.floor(head_fraction * n)]] = False
    return tail


def page_slots(per_page: float, k: int, page: int = PAGE) -> np.ndarray:
    """``bool [k]``: the last positions of every page of ``page``, ``per_page`` of them
    on average: page ``p`` (0-based) closes with ``⌊(p+1)·m⌋ − ⌊p·m⌋`` slots."""
    pos = np.arange(k)
    done = np.floor(np.arange(k // page + 2) * per_page + 1e-9)  # slots in pages before p
    return pos % page >= page - np.diff(done)[pos // page]


def every_slots(every: int, k: int) -> np.ndarray:
    """``bool [k]``: positions ``every, 2·every, …`` (1-based)."""
    return np.arange(1, k + 1) % every == 0


@dataclass(frozen=True)
class SlotStream:
    """Positions of a list reserved for a subset of the items.

    Attributes:
        mask: ``bool [n]`` the items the slots are for (the long tail, new items).
        slots: ``bool [k]`` positions that hold the best remaining ``mask`` item (see
            :func:`page_slots`, :func:`every_slots`).
        limit: at most this many of the best ``mask`` items fill slots (``None``: as
            many as fit); a ``mask`` item placed earlier by another stream still counts.
    """

    mask: np.ndarray
    slots: np.ndarray
    limit: int | None = None


def _ordered(scores: np.ndarray, allowed: np.ndarray, cap: int) -> list[int]:
    """The ``cap`` best ``allowed`` rows, best first (a partial sort: O(n + cap log cap))."""
    cand = np.flatnonzero(allowed)
    if len(cand) > cap:
        cand = cand[np.argpartition(-scores[cand], cap - 1)[:cap]]
    return cand[np.argsort(-scores[cand], kind="stable")].tolist()


def interleave_streams(scores: np.ndarray, streams: Sequence[SlotStream], k: int
                       ) -> np.ndarray:
    """Rows of a top-``k`` list whose reserved positions come from ``streams``.

    Position ``p`` takes the best unused item of the first stream whose ``slots[p]``
    is set, else of the plain order (all finite scores); when the wanted stream has
    run out, the plain order fills in (and the other way round).

    Args:
        scores: ``float [n]``; ``-inf`` marks items that may not be recommended.
        streams: the reserved slots; earlier streams win shared positions.
        k: list length (at most the number of finite scores is returned).

    Returns:
        ``int64 [<= k]`` item rows, best first.
    """
    ok = np.isfinite(scores)
    k = min(k, int(ok.sum()))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    lists = [_ordered(scores, ok, k)]
    lists += [_ordered(scores, ok & st.mask, k if st.limit is None else min(k, st.limit))
              for st in streams]
    out: list[int] = []
    used: set[int] = set()
    pos = [0] * len(lists)
    while len(out) < k:
        p = len(out)
        want = next((n + 1 for n, st in enumerate(streams) if p < len(st.slots) and
                     st.slots[p]), 0)
        for s in (want, *[n for n in range(len(lists)) if n != want]):
            stream = lists[s]
            while pos[s] < len(stream) and stream[pos[s]] in used:
                pos[s] += 1
            if pos[s] < len(stream):
                out.append(stream[pos[s]])
                used.add(out[-1])
                break
        else:  # every stream exhausted
            break
    return np.asarray(out, dtype=np.int64)


def interleave(scores: np.ndarray, mask: np.ndarray, slots: np.ndarray,
               limit: int | None = None) -> np.ndarray:
    """:func:`interleave_streams` with one stream: a top-``len(slots)`` list."""
    return interleave_streams(scores, [SlotStream(mask, slots, limit)], len(slots))


def rank_scores(scores: np.ndarray, seen: sp.csr_matrix, user_idx: np.ndarray,
                mask: np.ndarray, slots: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Scores whose order is the slotted ranking (for metric code that ranks scores).

    Seen items are excluded before slots are filled (so a slot is never wasted on an
    item the user already has); the top ``len(slots)`` positions get descending scores
    above every other item, the rest keep the model's order below them.

    Args:
        scores: ``float32 [B, n]`` model scores of users ``user_idx``.
        seen: ``[U, n]`` CSR of each user's known items.
        user_idx: ``int64 [B]``.
        mask, slots, limit: as in :func:`interleave` (``len(slots)`` positions re-ranked).

    Returns:
        ``float32 [B, n]``.
    """
    s = np.array(scores, dtype=np.float32)
    sub = seen[np.asarray(user_idx, dtype=np.int64)].tocoo()
    masked = s.copy()
    masked[sub.row, sub.col] = -np.inf
    s -= float(np.where(np.isfinite(s), s, 0.0).max(initial=0.0)) + 1.0  # all below 0
    for b in range(len(s)):
        rows = interleave(masked[b], mask, slots, limit)
        s[b, rows] = np.arange(len(rows), 0, -1, dtype=np.float32)
    return s


def choose_slots(score: Callable[[np.ndarray], np.ndarray], seen: sp.csr_matrix,
                 valid: sp.csr_matrix, tail: np.ndarray, budget: float,
                 max_users: int = 5_000, seed: int = 0) -> tuple[float, dict[str, float]]:
    """The most long-tail slots per page whose validation NDCG@20 is within ``budget``.

    Args:
        score: ``user_idx -> float [B, n]`` model scores.
        seen, valid: ``[U, n]`` CSRs of train and validation pairs.
        tail: ``bool [n]``.
        budget: tolerated relative NDCG@20 loss (e.g. 0.03).
        max_users: validation users sampled (keeps the search cheap on big data).
        seed: sampling seed.

    Returns:
        ``(per_page, facts)``; ``per_page`` is 0 when no setting fits the budget.
    """
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    keep = sp.csr_matrix((np.ones(len(users)), (users, users)), shape=(valid.shape[0],) * 2)
    valid = (keep @ valid).tocsr()
    base = validation_ndcg(score, seen, valid)
    chosen, facts = 0.0, {"tail_base_val_ndcg": base}
    for per_page in SLOTS_GRID:
        def slotted(u: np.ndarray, m: float = per_page) -> np.ndarray:
            return rank_scores(score(u), seen, u, tail, page_slots(m, 20))

        val = validation_ndcg(slotted, seen, valid)
        if val >= (1.0 - budget) * base:
            chosen = per_page
            facts["tail_val_ndcg"] = val
            break
    logger.info("long-tail slots: %s per page of %d (validation NDCG@20 %.4f -> %s, "
                "budget %.0f%%)", chosen or "none", PAGE, base,
                f"{facts.get('tail_val_ndcg', float('nan')):.4f}", 100 * budget)
    return chosen, facts
