"""Split protocols W, C, L: determinism and no leakage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnn.split import make_split, split_pairs
from kg.records import InteractionRecord, ItemRecord
from kg.snapshot import GraphSnapshot, snapshot_from_records
from kgrec.errors import ConfigError


def _snapshot(n_users: int = 30, n_items: int = 40, seed: int = 0) -> GraphSnapshot:
    rng = np.random.default_rng(seed)
    items = [ItemRecord(str(i), f"item {i}", attributes={"genre": [f"g{i % 4}"]})
             for i in range(n_items)]
    inter = [InteractionRecord(str(u), str(i)) for u in range(n_users)
             for i in rng.choice(n_items, size=int(rng.integers(1, 15)), replace=False)]
    return snapshot_from_records(items, inter)


def _pairs(a: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, a.T.tolist()))


def test_split_pairs_follows_protocol_by_hand() -> None:
    # user 0 has items 0..4 (n=5 -> 4 first), user 1 has item 2 (n=1 -> 1 first)
    pairs = np.array([[0, 0, 0, 0, 0, 1], [0, 1, 2, 3, 4, 2]])
    first, second = split_pairs(pairs, seed=3, fraction=0.8)
    rng = np.random.default_rng(3)
    order = np.arange(5)
    rng.shuffle(order)
    assert set(np.flatnonzero(first[:5])) == set(order[:4].tolist())
    assert first[5] and not second[5]
    assert (first ^ second).all()


@pytest.mark.parametrize("protocol", ["w", "c", "l"])
def test_split_no_leakage_and_deterministic(protocol: str) -> None:
    snap = _snapshot()
    s = make_split(snap, protocol, seed=11)
    again = make_split(snap, protocol, seed=11)
    train = _pairs(s.train.interaction_index)
    fit = _pairs(s.fit_train.interaction_index)
    valid, test = _pairs(s.valid), _pairs(s.test)
    assert not (train & test)
    assert valid <= train and fit | valid == train and not (fit & valid)
    assert (s.test == again.test).all() and (s.valid == again.valid).all()
    assert _pairs(make_split(snap, protocol, seed=12).test) != test
    assert set(s.users.tolist()) == {u for u, _ in test}
    assert s.candidates[s.test[1]].all()


def test_w_train_sizes() -> None:
    snap = _snapshot()
    s = make_split(snap, "w", seed=5)
    n = np.bincount(snap.interaction_index[0], minlength=snap.num_users)
    n_train = np.bincount(s.train.interaction_index[0], minlength=snap.num_users)
    expected = [max(1, math.floor(0.8 * x)) for x in n]
    assert n_train.tolist() == expected
    n_fit = np.bincount(s.fit_train.interaction_index[0], minlength=snap.num_users)
    assert n_fit.tolist() == [max(1, math.floor(0.9 * x)) for x in expected]


def test_c_cold_items_have_no_train_interactions() -> None:
    snap = _snapshot()
    s = make_split(snap, "c", seed=2026)
    size = math.floor(0.15 * snap.num_items)
    assert len(s.cold_items) == size
    assert sorted(s.cold_items) == sorted(
        np.random.default_rng(2026).choice(snap.num_items, size, replace=False))
    assert not np.isin(s.train.interaction_index[1], s.cold_items).any()
    assert np.isin(s.test[1], s.cold_items).all()
    assert s.candidates.sum() == size and not s.valid_candidates[s.cold_items].any()
    # every cold interaction of the full graph is a test pair
    full = snap.interaction_index
    assert _pairs(full[:, np.isin(full[1], s.cold_items)]) == _pairs(s.test)


def test_l_restricts_test_to_tail() -> None:
    snap = _snapshot()
    w, lt = make_split(snap, "w", seed=1), make_split(snap, "l", seed=1)
    assert (w.train.interaction_index == lt.train.interaction_index).all()
    assert lt.tail[lt.test[1]].all()
    assert _pairs(lt.test) == {p for p in _pairs(w.test) if w.tail[p[1]]}
    counts = np.bincount(w.train.interaction_index[1], minlength=snap.num_items)
    head = np.flatnonzero(~w.tail)
    assert len(head) == math.floor(0.2 * snap.num_items)
    assert counts[head].min() >= counts[w.tail].max()


def test_unknown_protocol() -> None:
    with pytest.raises(ConfigError, match="protocol must be one of w, c, l"):
        make_split(_snapshot(), "x")
