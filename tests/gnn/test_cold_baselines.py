"""The cold-start baselines (DeepMusic, DropoutNet, ALDI) and the per-user calibration."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gnn.baselines import ALDI, Calibrated, DeepMusic, DropoutNet
from gnn.baselines._cold import cold_tuning
from gnn.baselines.calibrated import calibrate
from gnn.ranker import EvalContext, Ranker
from gnn.split import make_split
from kg.records import InteractionRecord, ItemRecord
from kg.snapshot import GraphSnapshot, snapshot_from_records

N_USERS, N_PER_GENRE = 40, 20
A_COLD, B_COLD = 2 * N_PER_GENRE, 2 * N_PER_GENRE + 1  # rows of the two planted new items


def _taste_world() -> tuple[GraphSnapshot, EvalContext]:
    """Users 0-19 like genre a, users 20-39 genre b; text features say the genre too.

    Two new items (no interactions): one of genre a, one of genre b.
    """
    rng = np.random.default_rng(0)
    n_items = 2 * N_PER_GENRE + 2
    genre = ["a"] * N_PER_GENRE + ["b"] * N_PER_GENRE + ["a", "b"]
    items = [ItemRecord(f"{i:03d}", f"item {i}", attributes={"genre": [genre[i]],
                                                            "bucket": [str(i % 3)]})
             for i in range(n_items)]
    inter = []
    for u in range(N_USERS):
        offset = 0 if u < N_USERS // 2 else N_PER_GENRE
        for i in rng.choice(N_PER_GENRE, size=8, replace=False):
            inter.append(InteractionRecord(f"{u:03d}", f"{offset + i:03d}"))
    snap = snapshot_from_records(items, inter)
    split = make_split(snap, "w", seed=1)
    feats = rng.normal(scale=0.1, size=(n_items, 6)).astype(np.float32)
    feats[:, 0] += np.array([g == "a" for g in genre], np.float32)
    feats[:, 1] += np.array([g == "b" for g in genre], np.float32)
    context = EvalContext(item_features=feats, attribute_features=np.zeros((0, 6), np.float32),
                          user_features=np.zeros((N_USERS, 6), np.float32), valid=split.valid,
                          fit_train=split.fit_train, seed=1,
                          extra={"valid_candidates": split.valid_candidates, "protocol": "c"})
    return split.train, context


@pytest.mark.parametrize("model", [DeepMusic(param=1.0), DeepMusic(),
                                   DropoutNet(param=0.5, epochs=40, batch_size=64),
                                   ALDI(param=20, batch_size=64, lr=1e-3)],
                         ids=["DeepMusic", "DeepMusic-tuned", "DropoutNet", "ALDI"])
def test_planted_new_item_reaches_the_users_of_its_taste(model: Ranker) -> None:
    train, context = _taste_world()
    model.fit(train, context)
    scores = model.score(np.arange(N_USERS))
    assert scores.shape == (N_USERS, train.num_items) and np.isfinite(scores).all()
    a_fans, b_fans = np.arange(N_USERS // 2), np.arange(N_USERS // 2, N_USERS)
    assert (scores[a_fans, A_COLD] > scores[a_fans, B_COLD]).mean() >= 0.8
    assert (scores[b_fans, B_COLD] > scores[b_fans, A_COLD]).mean() >= 0.8


def test_cold_tuning_holds_out_pseudo_cold_items_on_c_and_keeps_h() -> None:
    _, context = _taste_world()
    tuning = cold_tuning(context)
    held = np.flatnonzero(tuning.extra["valid_candidates"])
    assert len(held) == int(0.15 * np.unique(context.fit_train.interaction_index[1]).size)
    assert not np.isin(tuning.fit_train.interaction_index[1], held).any()
    assert np.isin(tuning.valid[1], held).all() and tuning.valid.shape[1] > 0
    hybrid = replace(context, extra={**context.extra, "protocol": "h"})
    assert cold_tuning(hybrid) is hybrid


def test_calibrate_maps_cold_scores_onto_the_warm_distribution() -> None:
    scores = np.array([[1.0, 2.0, 3.0, 100.0, 10.0, 20.0, 30.0],
                       [0.0, 0.0, 6.0, 0.0, -1.0, 1.0, 1.0]])
    cold = np.array([False, False, False, False, True, True, True])
    seen = np.zeros_like(scores, dtype=bool)
    seen[0, 3] = True  # a train item: left out of the warm moments
    out = calibrate(scores, cold, seen)
    assert (out[:, ~cold] == scores[:, ~cold]).all()
    for row in range(2):
        warm = scores[row, ~cold & ~seen[row]]
        c = scores[row, cold]
        expected = warm.mean() + warm.std() * (c - c.mean()) / c.std()
        assert out[row, cold] == pytest.approx(expected, rel=1e-5)
    assert out[0, cold] == pytest.approx([2 - np.sqrt(2 / 3) * np.sqrt(1.5), 2.0,
                                          2 + np.sqrt(2 / 3) * np.sqrt(1.5)], rel=1e-5)
    flat = calibrate(np.array([[1.0, 3.0, 5.0, 5.0]]), np.array([False, False, True, True]),
                     np.zeros((1, 4), bool))
    assert flat[0, 2:] == pytest.approx([2.0, 2.0])  # constant cold scores -> warm mean


def test_calibrated_variant_shares_the_fitted_base() -> None:
    train, context = _taste_world()
    base = DeepMusic(param=1.0)
    cal = Calibrated(base)
    assert cal.name == "DeepMusic+cal"
    base.fit(train, context)
    fitted = base._score
    cal.fit(train, context)
    assert base._score is fitted  # no second fit
    raw, out = base.score(np.arange(3)), cal.score(np.arange(3))
    warm = np.bincount(train.interaction_index[1], minlength=train.num_items) > 0
    assert (out[:, warm] == raw[:, warm]).all() and not np.allclose(out[:, ~warm], raw[:, ~warm])
