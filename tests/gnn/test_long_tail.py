"""Long-tail slots (:mod:`gnn.long_tail`) against hand-built rankings."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gnn.long_tail import (
    SLOTS_GRID,
    choose_slots,
    every_slots,
    interleave,
    page_slots,
    rank_scores,
    tail_items,
)
from gnn.metrics import validation_ndcg


def test_tail_items_top_share_by_popularity_ties_by_row() -> None:
    pop = np.array([5, 1, 5, 0, 9, 1, 2, 3, 0, 1])
    tail = tail_items(pop)  # head = 2 items: 4 (9), then 0 (5, lower row than 2)
    assert np.flatnonzero(~tail).tolist() == [0, 4]


def test_slot_patterns() -> None:
    assert np.flatnonzero(page_slots(2, 25)).tolist() == [8, 9, 18, 19]
    assert np.flatnonzero(page_slots(3, 7, page=4)).tolist() == [1, 2, 3, 5, 6]
    assert not page_slots(0, 20).any()
    # fractional: pages alternate (1.5 -> 1, 2, 1, 2 ...; 0.5 -> 0, 1, 0, 1 ...)
    assert np.flatnonzero(page_slots(1.5, 40)).tolist() == [9, 18, 19, 29, 38, 39]
    assert np.flatnonzero(page_slots(0.5, 40)).tolist() == [19, 39]
    assert page_slots(2.5, 20).sum() == 5
    assert np.flatnonzero(every_slots(3, 10)).tolist() == [2, 5, 8]


def test_interleave_fills_slots_with_best_tail_items() -> None:
    scores = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 1.0, 0.5, -np.inf])
    tail = np.array([False, False, False, False, False, True, True, True])
    # positions 3 and 6 hold the tail items 5, 6 in score order; 7 is excluded (-inf)
    assert interleave(scores, tail, every_slots(3, 7)).tolist() == [0, 1, 5, 2, 3, 6, 4]
    # a page of 4 closed by 2 tail slots
    assert interleave(scores, tail, page_slots(2, 6, page=4)).tolist() == [0, 1, 5, 6, 2, 3]
    # no tail left -> the plain order fills the slot; k beyond the allowed items is cut
    only_5 = np.arange(8) == 5
    assert interleave(scores, only_5, every_slots(2, 20)).tolist() == [0, 5, 1, 2, 3, 4, 6]


def test_interleave_limit_caps_the_slot_stream() -> None:
    scores = np.array([5.0, -np.inf, 3.0, 4.0, 1.0, 2.0])
    mask = np.array([False, True, True, True, False, True])
    # the slot holds the best masked item; with the stream spent, the plain order fills in
    every2 = every_slots(2, 4)
    assert interleave(scores, mask, every2, limit=1).tolist() == [0, 3, 2, 5]
    assert interleave(scores, mask, every2, limit=9).tolist() == [0, 3, 2, 5]  # -inf never
    ranked = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0])
    last3 = np.arange(6) >= 3
    assert interleave(ranked, last3, every_slots(2, 6)).tolist() == [0, 3, 1, 4, 2, 5]
    assert interleave(ranked, last3, every_slots(2, 6), limit=1).tolist() == [0, 3, 1, 2, 4, 5]


def test_rank_scores_orders_like_interleave_after_masking_seen() -> None:
    scores = np.array([[9.0, 8.0, 7.0, 6.0, 1.0, 0.5]], dtype=np.float32)
    tail = np.array([False, False, False, False, True, True])
    seen = sp.csr_matrix(np.array([[0, 0, 0, 0, 1, 0]], dtype=np.float32))
    out = rank_scores(scores, seen, np.array([0]), tail, every_slots(2, 4))
    # item 4 is seen, so the first tail slot holds item 5
    assert np.argsort(-out[0], kind="stable")[:4].tolist() == [0, 5, 1, 2]


def test_choose_slots_respects_the_budget() -> None:
    rng = np.random.default_rng(0)
    n_u, n_i = 60, 40
    true = rng.random((n_u, n_i)).astype(np.float32)
    seen = sp.csr_matrix((rng.random((n_u, n_i)) < 0.1).astype(np.float32))
    valid = sp.csr_matrix(((true > 0.85) & (seen.toarray() == 0)).astype(np.float32))
    tail = np.arange(n_i) >= 8
    score = lambda u: true[u]
    base = validation_ndcg(score, seen, valid)
    vals = {m: validation_ndcg(lambda u, m=m: rank_scores(true[u], seen, u, tail,
                                                          page_slots(m, 20)), seen, valid)
            for m in SLOTS_GRID}
    for budget in (0.0, 0.02, 0.1, 0.5):
        per_page, facts = choose_slots(score, seen, valid, tail, budget)
        fits = [m for m in SLOTS_GRID if vals[m] >= (1 - budget) * base]
        assert per_page == (fits[0] if fits else 0)  # the densest setting within budget
        assert facts["tail_base_val_ndcg"] == base
    assert vals[5] < base  # slots cost a perfect ranker accuracy: the budget matters
