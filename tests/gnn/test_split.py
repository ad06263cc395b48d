"""Split protocols W, C, L, H: determinism and no leakage."""

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


@pytest.mark.parametrize("protocol", ["w", "c", "l", "h"])
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


def test_h_cold_items_are_c_cold_items_and_all_go_to_test() -> None:
    snap = _snapshot(n_users=60, n_items=40, seed=3)
    h, c = make_split(snap, "h", seed=2026), make_split(snap, "c", seed=2026)
    assert (h.cold_items == c.cold_items).all()
    cold = set(h.cold_items.tolist())
    # the warm train part is C's: the same generator over the same warm pairs
    assert _pairs(h.train.interaction_index) == _pairs(c.train.interaction_index)
    for part in (h.train.interaction_index, h.fit_train.interaction_index, h.valid):
        assert not cold & set(part[1].tolist())
    assert not h.valid_candidates[h.cold_items].any() and h.candidates.all()
    # every evaluated user has a warm and a cold test item
    for u in h.users.tolist():
        items = set(h.test[1, h.test[0] == u].tolist())
        assert items & cold and items - cold
    # every cold interaction of an evaluated user is a test pair, and no one else is tested
    full = snap.interaction_index
    cold_pairs = _pairs(full[:, np.isin(full[1], h.cold_items) & np.isin(full[0], h.users)])
    assert cold_pairs == {p for p in _pairs(h.test) if p[1] in cold}
    assert set(h.test[0].tolist()) == set(h.users.tolist())
    # the warm test pairs of evaluated users are W-style: the train complement of warm pairs
    warm_full = {p for p in _pairs(full) if p[1] not in cold and p[0] in set(h.users.tolist())}
    assert {p for p in _pairs(h.test) if p[1] not in cold} == \
        warm_full - _pairs(h.train.interaction_index)


def test_h_validation_mirrors_h_with_pseudo_cold_items() -> None:
    snap = _snapshot(n_users=60, n_items=40, seed=3)
    h = make_split(snap, "h", seed=7)
    warm = np.setdiff1d(np.arange(snap.num_items), h.cold_items)
    pseudo = np.random.default_rng(8).choice(warm, math.floor(0.15 * len(warm)), replace=False)
    assert len(pseudo) >= 1
    assert not np.isin(h.fit_train.interaction_index[1], pseudo).any()
    train = h.train.interaction_index
    assert _pairs(train[:, np.isin(train[1], pseudo)]) <= _pairs(h.valid)
    assert np.isin(h.valid[1], pseudo).any() and not np.isin(h.valid[1], pseudo).all()


def test_unknown_protocol() -> None:
    with pytest.raises(ConfigError, match="protocol must be one of w, c, l"):
        make_split(_snapshot(), "x")
