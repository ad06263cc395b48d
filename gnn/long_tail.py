"""Long-tail slots: every ``n``-th position of a list goes to the best long-tail item.

An accuracy-trained ranker (kgrec's hybrid score included) fills a top-20 almost only
with popular items, so items outside the head rarely get seen. The long-tail policy
keeps the model's order but reserves positions ``n, 2n, 3n, …`` for the highest-scored
items of the tail (items outside the top 20% by interactions, new items included)::

    ranked = [o1, o2, o3, o4, t1, o5, o6, o7, o8, t2, …]     (n = 5)

The same scores rank both streams, so a tail slot holds the tail item the model likes
most for this user. ``n`` is chosen on the validation split as the densest setting
whose validation NDCG@20 stays within ``budget`` (relative) of the plain ranking, so
the trade-off is stated as an accuracy budget instead of a dataset-specific constant.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

__all__ = ["EVERY_GRID", "HEAD_FRACTION", "choose_every", "interleave", "rank_scores",
           "tail_items"]

logger = logging.getLogger(__name__)

#: share of items (by interaction count) that form the head, as in EVALUATION.md
HEAD_FRACTION = 0.2
#: candidate slot intervals, densest first
EVERY_GRID: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10)


def tail_items(popularity: np.ndarray, head_fraction: float = HEAD_FRACTION) -> np.ndarray:
    """``bool [n]``: items outside the top ``floor(head_fraction · n)`` by popularity
    (ties broken by row, as the L protocol does)."""
    popularity = np.asarray(popularity)
    n = len(popularity)
    order = np.lexsort((np.arange(n), -popularity))
    tail = np.ones(n, dtype=bool)
    tail[order[: math.floor(head_fraction * n)]] = False
    return tail


def interleave(scores: np.ndarray, tail: np.ndarray, every: int, k: int,
               limit: int | None = None) -> np.ndarray:
    """Rows of the top ``k`` with every ``every``-th position from the tail.

    Args:
        scores: ``float [n]``; ``-inf`` marks items that may not be recommended.
        tail: ``bool [n]`` long-tail items.
        every: slot interval (``>= 2``); positions ``every, 2·every, …`` (1-based) hold
            the best remaining tail item. When one stream runs out the other fills in.
        k: list length.
        limit: at most this many (``>= 1``) of the best tail items form the slot
            stream (``None``: as many as fit); a tail item the plain order places
            earlier still counts against it.

    Returns:
        ``int64 [<= k]`` item rows, best first.
    """
    ok = np.isfinite(scores)
    k = min(k, int(ok.sum()))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    # no stream needs more than k items; partial sorts keep this O(n + k log k)
    streams = []
    for mask, cap in ((ok, k), (ok & tail, k if limit is None else min(k, limit))):
        cand = np.flatnonzero(mask)
        if len(cand) > cap:
            cand = cand[np.argpartition(-scores[cand], cap - 1)[:cap]]
        streams.append(cand[np.argsort(-scores[cand], kind="stable")].tolist())
    best, tails = streams
    out: list[int] = []
    used: set[int] = set()
    pos = [0, 0]
    while len(out) < k:
        want = 1 if (len(out) + 1) % every == 0 else 0
        for s in (want, 1 - want):
            stream = (best, tails)[s]
            while pos[s] < len(stream) and stream[pos[s]] in used:
                pos[s] += 1
            if pos[s] < len(stream):
                out.append(stream[pos[s]])
                used.add(out[-1])
                break
        else:  # both streams exhausted (k exceeded what they hold)
            break
    return np.asarray(out, dtype=np.int64)


def rank_scores(scores: np.ndarray, seen: sp.csr_matrix, user_idx: np.ndarray,
                tail: np.ndarray, every: int, k: int = 100, limit: int | None = None
                ) -> np.ndarray:
    """Scores whose order is the long-tail ranking (for metric code that ranks scores).

    Seen items are excluded before slots are filled (so a slot is never wasted on an
    item the user already has); the top ``k`` positions get descending scores above
    every other item, the rest keep the model's order below them.

    Args:
        scores: ``float32 [B, n]`` model scores of users ``user_idx``.
        seen: ``[U, n]`` CSR of each user's known items.
        user_idx: ``int64 [B]``.
        tail: ``bool [n]``; every: slot interval; k: positions re-ranked;
        limit: as in :func:`interleave`.

    Returns:
        ``float32 [B, n]``.
    """
    s = np.array(scores, dtype=np.float32)
    sub = seen[np.asarray(user_idx, dtype=np.int64)].tocoo()
    masked = s.copy()
    masked[sub.row, sub.col] = -np.inf
    s -= float(np.where(np.isfinite(s), s, 0.0).max(initial=0.0)) + 1.0  # all below 0
    for b in range(len(s)):
        rows = interleave(masked[b], tail, every, k, limit)
        s[b, rows] = np.arange(len(rows), 0, -1, dtype=np.float32)
    return s


def choose_every(score: Callable[[np.ndarray], np.ndarray], seen: sp.csr_matrix,
                 valid: sp.csr_matrix, tail: np.ndarray, budget: float,
                 ndcg: Callable[..., float], max_users: int = 5_000, seed: int = 0
                 ) -> tuple[int, dict[str, float]]:
    """The densest slot interval whose validation NDCG@20 is within ``budget``.

    Args:
        score: ``user_idx -> float [B, n]`` model scores.
        seen, valid: ``[U, n]`` CSRs of train and validation pairs.
        tail: ``bool [n]``.
        budget: tolerated relative NDCG@20 loss (e.g. 0.03).
        ndcg: :func:`gnn.train.validation_ndcg`.
        max_users: validation users sampled (keeps the search cheap on big data).
        seed: sampling seed.

    Returns:
        ``(every, facts)``; ``every`` is 0 when no interval fits the budget.
    """
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    keep = sp.csr_matrix((np.ones(len(users)), (users, users)), shape=(valid.shape[0],) * 2)
    valid = (keep @ valid).tocsr()
    base = ndcg(score, seen, valid)
    chosen, facts = 0, {"tail_base_val_ndcg": base}
    for every in EVERY_GRID:
        val = ndcg(lambda u, e=every: rank_scores(score(u), seen, u, tail, e, 20),
                   seen, valid)
        if val >= (1.0 - budget) * base:
            chosen = every
            facts["tail_val_ndcg"] = val
            break
    logger.info("long-tail slots: every %s (validation NDCG@20 %.4f -> %s, budget %.0f%%)",
                chosen or "off", base, f"{facts.get('tail_val_ndcg', float('nan')):.4f}",
                100 * budget)
    return chosen, facts
