"""Full-ranking metrics of the evaluation protocol (``EVALUATION.md``).

Every model is scored by this code: full ranking over the candidate items, with the
user's seen (train, and validation when testing) items excluded. Score ties are broken
by one fixed random permutation of the items, ``perm = default_rng(seed + 99)
.permutation(num_items)``: among equal scores, the item that comes earlier in ``perm``
ranks higher. Metrics (binary relevance, averaged over evaluated users):

- Recall@K = |top-K ∩ test| / |test|
- NDCG@K = DCG / IDCG, DCG = Σ_{hits at rank r (0-based)} 1 / log2(r + 2); the ideal DCG
  places min(|test|, K) hits first
- HitRate@K = share of users with at least one hit
- Coverage@K = distinct items in all top-K lists / number of candidate items
- Tail share@K = share of recommended slots filled by tail items

On the hybrid protocol H (:func:`hybrid_metrics`), from the same top-K lists: the new
(cold) items' share of the slots against their share of the test pairs, the share of users
with at least one new item, new-item Recall@K, the NDCG@K of the lists counted on warm
test items only, and the NDCG@K of the same model ranking warm items only.

Ranking is vectorised per batch of users (a stable ``argsort`` of the permuted scores).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from kgrec.errors import TrainingError

__all__ = [
    "HybridMetrics",
    "RankingMetrics",
    "evaluate_scores",
    "hybrid_metrics",
    "pair_matrix",
    "ranked_lists",
    "ranking_metrics",
    "tie_permutation",
    "top_k",
    "validation_ndcg",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankingMetrics:
    """Metrics at one cutoff ``k``, averaged over ``n_users`` evaluated users."""

    k: int
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float
    tail_share: float
    n_users: int

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class HybridMetrics:
    """The H protocol's extra metrics at cutoff ``k`` (see :func:`hybrid_metrics`)."""

    k: int
    new_share: float
    new_test_share: float
    users_with_new: float
    new_recall: float
    warm_ndcg: float
    warm_only_ndcg: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict of the fields."""
        return asdict(self)


def tie_permutation(num_items: int, seed: int) -> np.ndarray:
    """The fixed tie-breaking order ``default_rng(seed + 99).permutation(num_items)``."""
    return np.random.default_rng(seed + 99).permutation(num_items)


def pair_matrix(pairs: np.ndarray, num_users: int, num_items: int) -> sp.csr_matrix:
    """``bool [num_users, num_items]`` CSR matrix of ``int64 [2, E]`` (user, item) pairs."""
    data = np.ones(pairs.shape[1], dtype=bool)
    m = sp.csr_matrix((data, (pairs[0], pairs[1])), shape=(num_users, num_items), dtype=bool)
    m.sum_duplicates()
    return m


def top_k(scores: np.ndarray, exclude: np.ndarray, k: int, perm: np.ndarray) -> np.ndarray:
    """Top-``k`` item rows per user with deterministic tie-breaking.

    Equal to a stable sort of the permuted scores (among equal scores the item earlier
    in ``perm`` ranks higher), in ``O(n)`` per user plus a sort of the ``k`` winners.

    Args:
        scores: ``float [B, num_items]``, higher is better; must be finite or ``-inf``.
        exclude: ``bool [B, num_items]`` items that may not be recommended.
        k: list length.
        perm: ``int64 [num_items]`` tie order (earlier wins), see :func:`tie_permutation`.

    Returns:
        ``int64 [B, k]`` item rows, best first; ``-1`` pads lists of users with fewer
        than ``k`` recommendable items.

    Raises:
        TrainingError: ``scores`` contains NaN or ``+inf``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise TrainingError("scores contain NaN or +inf; the model diverged")
    s = np.where(exclude, -np.inf, scores)[:, perm]
    n = s.shape[1]
    k = min(k, n)
    if k == 0:
        return np.zeros((len(s), 0), np.int64)
    kth = -np.partition(-s, k - 1, axis=1)[:, k - 1:k]  # the k-th best value per row
    above = s > kth
    tied = s == kth
    # of the items tied with the k-th value, the ones earliest in perm fill the list
    take = above | (tied & (np.cumsum(tied, axis=1) <= k - above.sum(axis=1, keepdims=True)))
    cols = np.nonzero(take)[1].reshape(len(s), k)  # ascending = perm order
    vals = np.take_along_axis(s, cols, axis=1)
    pos = np.take_along_axis(cols, np.argsort(-vals, axis=1, kind="stable"), axis=1)
    items = perm[pos]
    items[np.take_along_axis(s, pos, axis=1) == -np.inf] = -1
    return items


def ranking_metrics(top: np.ndarray, relevant: sp.csr_matrix, ks: Sequence[int],
                    candidates: np.ndarray, tail: np.ndarray) -> list[RankingMetrics]:
    """Metrics at every ``k`` in ``ks`` from ranked lists.

    Args:
        top: ``int64 [U, K_max]`` ranked item rows (``-1`` = empty slot), ``K_max >= max(ks)``
            or the number of items.
        relevant: ``bool [U, num_items]`` CSR; row ``u`` holds the test items of ``top[u]``'s
            user. Every row must be non-empty.
        ks: cutoffs.
        candidates: ``bool [num_items]`` candidate items (denominator of coverage).
        tail: ``bool [num_items]`` tail items.

    Returns:
        One :class:`RankingMetrics` per ``k``, in the order of ``ks``.
    """
    n_users = top.shape[0]
    n_rel = np.asarray((relevant > 0).sum(axis=1)).ravel().astype(np.float64)
    valid = top >= 0
    safe = np.where(valid, top, 0)
    hits = np.zeros(top.shape, dtype=bool)
    for start in range(0, n_users, 1024):  # dense rows chunk by chunk: bounded memory
        rel = relevant[start:start + 1024].toarray() > 0
        hits[start:start + 1024] = np.take_along_axis(rel, safe[start:start + 1024], axis=1)
    hits &= valid
    discount = 1.0 / np.log2(np.arange(top.shape[1]) + 2.0)
    cum_discount = np.cumsum(discount)
    n_cand = max(int(candidates.sum()), 1)
    out = []
    for k in ks:
        h, v = hits[:, :k], valid[:, :k]
        n_hit = h.sum(axis=1)
        dcg = (h * discount[: h.shape[1]]).sum(axis=1)
        ideal = cum_discount[np.minimum(n_rel, h.shape[1]).astype(np.int64) - 1]
        slots = int(v.sum())
        recommended = np.unique(top[:, :k][v])
        out.append(RankingMetrics(
            k=int(k),
            recall=float(np.mean(n_hit / n_rel)) if n_users else 0.0,
            ndcg=float(np.mean(dcg / ideal)) if n_users else 0.0,
            hit_rate=float(np.mean(n_hit > 0)) if n_users else 0.0,
            coverage=len(recommended) / n_cand,
            tail_share=float(tail[top[:, :k][v]].sum() / slots) if slots else 0.0,
            n_users=int(n_users),
        ))
    return out


def ranked_lists(
    score: Callable[[np.ndarray], np.ndarray],
    users: np.ndarray,
    seen: sp.csr_matrix,
    candidate_sets: Sequence[np.ndarray],
    k: int,
    seed: int,
    batch_size: int = 1024,
) -> list[np.ndarray]:
    """Top-``k`` lists of ``users`` over each candidate set, from ONE score call per batch.

    Args:
        score: ``user_idx int64 [B] -> float [B, num_items]`` (e.g. ``Ranker.score``).
        users: ``int64 [U]`` users to rank for.
        seen: ``bool [num_users, num_items]`` items to exclude (train, validation).
        candidate_sets: ``bool [num_items]`` masks; one ranked list per mask.
        k: list length (capped at the number of items).
        seed: split seed (ties: ``default_rng(seed + 99)``).
        batch_size: users per ``score`` call.

    Returns:
        One ``int64 [U, min(k, num_items)]`` array per candidate set (``-1`` = empty slot).

    Raises:
        TrainingError: a score matrix has the wrong shape or contains NaN/+inf.
    """
    num_items = seen.shape[1]
    perm = tie_permutation(num_items, seed)
    k = min(k, num_items)
    tops: list[list[np.ndarray]] = [[] for _ in candidate_sets]
    for start in range(0, len(users), batch_size):
        batch = np.asarray(users[start:start + batch_size], dtype=np.int64)
        s = np.asarray(score(batch))
        if s.shape != (len(batch), num_items):
            raise TrainingError(f"score() must return shape ({len(batch)}, {num_items}), "
                                f"got {s.shape}")
        batch_seen = seen[batch].toarray() > 0
        for out, candidates in zip(tops, candidate_sets, strict=True):
            out.append(top_k(s, batch_seen | ~candidates[None, :], k, perm))
    return [np.concatenate(t) if t else np.zeros((0, k), dtype=np.int64) for t in tops]


def evaluate_scores(
    score: Callable[[np.ndarray], np.ndarray],
    users: np.ndarray,
    relevant: sp.csr_matrix,
    seen: sp.csr_matrix,
    candidates: np.ndarray,
    tail: np.ndarray,
    ks: Sequence[int],
    seed: int,
    batch_size: int = 1024,
) -> list[RankingMetrics]:
    """Rank every candidate for ``users`` batch by batch and compute the metrics.

    Args:
        score: ``user_idx int64 [B] -> float [B, num_items]`` (e.g. ``Ranker.score``).
        users: ``int64 [U]`` evaluated users.
        relevant: ``bool [num_users, num_items]`` test items (full user rows).
        seen: ``bool [num_users, num_items]`` items to exclude (train, validation).
        candidates: ``bool [num_items]`` items that may be recommended.
        tail: ``bool [num_items]`` tail items.
        ks: cutoffs.
        seed: split seed (ties: ``default_rng(seed + 99)``).
        batch_size: users per ``score`` call.

    Returns:
        One :class:`RankingMetrics` per ``k``.

    Raises:
        TrainingError: a score matrix has the wrong shape or contains NaN/+inf.
    """
    top, = ranked_lists(score, users, seen, [candidates], max(ks), seed, batch_size)
    return ranking_metrics(top, relevant[users], ks, candidates, tail)


def hybrid_metrics(top: np.ndarray, warm_top: np.ndarray, relevant: sp.csr_matrix,
                   cold: np.ndarray, ks: Sequence[int]) -> list[HybridMetrics]:
    """The H protocol's extra metrics at every ``k`` in ``ks``.

    Args:
        top: ``int64 [U, K]`` lists ranked over all items (``-1`` = empty slot).
        warm_top: ``int64 [U, K]`` lists of the same model ranked over warm items only.
        relevant: ``bool [U, num_items]`` CSR, row ``u`` = the test items of ``top[u]``'s
            user; every row holds at least one cold and one warm item.
        cold: ``bool [num_items]`` the new (cold) items.
        ks: cutoffs.

    Returns:
        One :class:`HybridMetrics` per ``k``: ``new_share`` = cold items' share of the
        filled top-k slots; ``new_test_share`` = cold items' share of the test pairs;
        ``users_with_new`` = share of users with a cold item in their top k;
        ``new_recall`` = Recall@k of the cold test items in the mixed lists;
        ``warm_ndcg`` = NDCG@k of the mixed lists counted on warm test items only (a cold
        item in the list is a miss at its position); ``warm_only_ndcg`` = NDCG@k of
        ``warm_top`` on the same warm test items.
    """
    relevant = sp.csr_matrix(relevant, dtype=bool)
    cold_cols = sp.diags(cold.astype(np.float32))
    cold_rel = sp.csr_matrix(relevant.astype(np.float32) @ cold_cols, dtype=bool)
    warm_rel = sp.csr_matrix(relevant.astype(np.float32) @ sp.diags((~cold).astype(np.float32)),
                             dtype=bool)
    cold_rel.eliminate_zeros()
    warm_rel.eliminate_zeros()
    all_items = np.ones(len(cold), bool)
    no_tail = np.zeros(len(cold), bool)
    new_recall = ranking_metrics(top, cold_rel, ks, all_items, no_tail)
    warm_mixed = ranking_metrics(top, warm_rel, ks, all_items, no_tail)
    warm_only = ranking_metrics(warm_top, warm_rel, ks, all_items, no_tail)
    test_share = cold_rel.nnz / max(relevant.nnz, 1)
    out = []
    for i, k in enumerate(ks):
        t = top[:, :k]
        filled = t >= 0
        is_new = filled & cold[np.where(filled, t, 0)]
        out.append(HybridMetrics(
            k=int(k), new_share=float(is_new.sum() / max(filled.sum(), 1)),
            new_test_share=float(test_share),
            users_with_new=float(is_new.any(axis=1).mean()) if len(t) else 0.0,
            new_recall=new_recall[i].recall, warm_ndcg=warm_mixed[i].ndcg,
            warm_only_ndcg=warm_only[i].ndcg))
    return out


def validation_ndcg(score: Callable[[np.ndarray], np.ndarray], seen: sp.csr_matrix,
                    valid: sp.csr_matrix, k: int = 20, candidates: np.ndarray | None = None,
                    seed: int = 0) -> float:
    """NDCG@k of ``valid`` with this module's ranking: what every model (kgrec's early
    stopping and post-training choices, the baselines' tuning) selects on.

    Args:
        score: ``user_idx int64 [B] -> float [B, I]``.
        seen: ``[U, I]`` CSR of the items to exclude (the fit's train items).
        valid: ``[U, I]`` CSR of validation items (relevant); users without one are
            not evaluated.
        k: cutoff.
        candidates: ``bool [I]`` items that may be ranked (default: all).
        seed: tie order (``default_rng(seed + 99)``).

    Returns:
        NDCG@k, 0.0 when no user has a validation item.
    """
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    if len(users) == 0:
        return 0.0
    n_items = valid.shape[1]
    cand = np.ones(n_items, bool) if candidates is None else np.asarray(candidates, bool)
    return evaluate_scores(score, users, valid, seen, cand, np.zeros(n_items, bool), (k,),
                           seed)[0].ndcg
