"""Metric code against hand-computed values."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import scipy.sparse as sp

from gnn.metrics import evaluate_scores, pair_matrix, ranking_metrics, tie_permutation, top_k
from kgrec.errors import TrainingError


def test_metrics_by_hand() -> None:
    # 2 users, 6 items. user 0: top = [1, 4, 2], relevant {2, 5}; user 1: top = [3, 0, 5],
    # relevant {3}. tail = items 3, 4, 5.
    top = np.array([[1, 4, 2], [3, 0, 5]])
    relevant = sp.csr_matrix(np.array([[0, 0, 1, 0, 0, 1], [0, 0, 0, 1, 0, 0]], dtype=bool))
    tail = np.array([False, False, False, True, True, True])
    m2, m3 = ranking_metrics(top, relevant, (2, 3), np.ones(6, bool), tail)
    # k=2: user 0 no hit; user 1 hit at rank 0
    assert m2.recall == pytest.approx((0 + 1) / 2)
    assert m2.ndcg == pytest.approx((0 + 1) / 2)
    assert m2.hit_rate == pytest.approx(0.5)
    assert m2.coverage == pytest.approx(4 / 6)  # {1, 4, 3, 0}
    assert m2.tail_share == pytest.approx(2 / 4)  # 4, 3
    # k=3: user 0 hit at rank 2: dcg 1/log2(4) = 0.5; idcg = 1 + 1/log2(3)
    idcg0 = 1 + 1 / math.log2(3)
    assert m3.recall == pytest.approx((1 / 2 + 1) / 2)
    assert m3.ndcg == pytest.approx((0.5 / idcg0 + 1) / 2)
    assert m3.hit_rate == 1.0
    assert m3.coverage == 1.0
    assert m3.tail_share == pytest.approx(3 / 6)
    assert m3.n_users == 2


def test_ideal_dcg_is_capped_at_k() -> None:
    top = np.array([[0, 1]])
    relevant = sp.csr_matrix(np.array([[1, 1, 1, 1]], dtype=bool))
    (m,) = ranking_metrics(top, relevant, (2,), np.ones(4, bool), np.zeros(4, bool))
    assert m.ndcg == pytest.approx(1.0)  # two hits in two slots is ideal
    assert m.recall == pytest.approx(0.5)


def test_top_k_excludes_and_breaks_ties_by_permutation() -> None:
    perm = tie_permutation(5, seed=0)
    assert (perm == np.random.default_rng(99).permutation(5)).all()
    scores = np.array([[1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 3.0, 2.0, 2.0, 0.0]])
    exclude = np.array([[False] * 5, [False, True, False, False, False]])
    top = top_k(scores, exclude, 3, perm)
    assert top[0].tolist() == perm[:3].tolist()  # all tied: permutation order
    rank = {int(i): r for r, i in enumerate(perm)}
    assert set(top[1, :2].tolist()) == {2, 3}
    assert rank[int(top[1, 0])] < rank[int(top[1, 1])]
    assert 1 not in top[1].tolist()


def test_top_k_pads_and_rejects_nan() -> None:
    top = top_k(np.zeros((1, 3)), np.array([[True, False, True]]), 3, np.arange(3))
    assert top.tolist() == [[1, -1, -1]]
    with pytest.raises(TrainingError, match="NaN"):
        top_k(np.array([[np.nan, 1.0]]), np.zeros((1, 2), bool), 1, np.arange(2))


def test_evaluate_scores_is_fast_and_masks_seen() -> None:
    rng = np.random.default_rng(0)
    n_u, n_i = 943, 1682
    pairs = np.unique(np.stack([rng.integers(0, n_u, 100_000), rng.integers(0, n_i, 100_000)]),
                      axis=1)
    mask = rng.random(pairs.shape[1]) < 0.8
    seen, test = pair_matrix(pairs[:, mask], n_u, n_i), pair_matrix(pairs[:, ~mask], n_u, n_i)
    users = np.unique(pairs[0, ~mask])
    scores = rng.random((n_u, n_i)).astype(np.float32)
    start = time.perf_counter()
    ms = evaluate_scores(lambda u: scores[u], users, test, seen, np.ones(n_i, bool),
                         np.zeros(n_i, bool), (10, 20, 50), seed=1)
    assert time.perf_counter() - start < 5.0  # well under a second on an idle core
    assert [m.k for m in ms] == [10, 20, 50]
    # a perfect scorer: test items first
    ms = evaluate_scores(lambda u: test[u].toarray().astype(np.float32), users, test,
                         seen, np.ones(n_i, bool), np.zeros(n_i, bool), (50,), seed=1)
    assert ms[0].ndcg == pytest.approx(1.0)
    # an oracle of seen items gets nothing: they are excluded
    ms = evaluate_scores(lambda u: seen[u].toarray().astype(np.float32), users, test,
                         seen, np.ones(n_i, bool), np.zeros(n_i, bool), (10,), seed=1)
    assert ms[0].recall < 0.05


def test_hybrid_metrics_by_hand() -> None:
    from gnn.metrics import hybrid_metrics

    cold = np.array([False, False, False, True, True])
    top = np.array([[4, 0, 1], [0, 1, 2]])  # user 0 sees new item 4 first
    warm_top = np.array([[0, 1, 2], [0, 1, 2]])
    relevant = pair_matrix(np.array([[0, 0, 1, 1], [0, 4, 2, 3]]), 2, 5)
    m, = hybrid_metrics(top, warm_top, relevant, cold, (3,))
    assert m.new_share == pytest.approx(1 / 6)
    assert m.new_test_share == pytest.approx(0.5)
    assert m.users_with_new == pytest.approx(0.5)
    assert m.new_recall == pytest.approx(0.5)  # user 0 found its new item, user 1 did not
    # warm items only: user 0's item 0 at rank 1 (behind the new item), user 1's item 2 at 2
    assert m.warm_ndcg == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / 2)
    assert m.warm_only_ndcg == pytest.approx((1.0 + 1 / np.log2(4)) / 2)
