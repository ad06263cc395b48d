"""Baselines: a checkerboard with a known answer (as implicit's tests) and shapes."""

from __future__ import annotations

import numpy as np
import pytest

from gnn.baselines import (
    ALS,
    EASE,
    AttrPop,
    AttrProfile,
    ContentKNN,
    ItemKNN,
    LightGCNRanker,
    MostPop,
    RandomRanker,
    baselines_for,
)
from gnn.baselines.lightgcn import normalized_adjacency, propagate
from gnn.ranker import EvalContext, Ranker
from kg.records import InteractionRecord, ItemRecord
from kg.snapshot import GraphSnapshot, snapshot_from_records

N = 20


def _checkerboard() -> tuple[GraphSnapshot, GraphSnapshot, EvalContext]:
    """User u liked every item of its parity; item u (the diagonal) is held out.

    The best unseen item for user u is therefore item u.
    """
    items = [ItemRecord(str(i), f"item {i}", attributes={"parity": [str(i % 2)],
                                                         "bucket": [str(i % 5)]})
             for i in range(N)]
    inter = [InteractionRecord(str(u), str(i)) for u in range(N) for i in range(N)
             if (u + i) % 2 == 0]
    full = snapshot_from_records(items, inter)
    train = full.with_interactions(full.interaction_index[0] != full.interaction_index[1])
    feats = np.zeros((N, 4), np.float32)
    feats[np.arange(N), np.arange(N) % 2] = 1.0
    valid = np.array([[0, 1], [2, 3]], dtype=np.int64)  # (user 0, item 2), (user 1, item 3)
    keep = ~(((train.interaction_index[0] == 0) & (train.interaction_index[1] == 2))
             | ((train.interaction_index[0] == 1) & (train.interaction_index[1] == 3)))
    context = EvalContext(item_features=feats, attribute_features=np.zeros((0, 4), np.float32),
                          user_features=np.zeros((N, 4), np.float32), valid=valid,
                          fit_train=train.with_interactions(keep), seed=0)
    return full, train, context


def _best_unseen(model: Ranker, train: GraphSnapshot) -> list[int]:
    scores = model.score(np.arange(N)).astype(np.float64)
    assert scores.shape == (N, N) and np.isfinite(scores).all()
    scores[train.interaction_index[0], train.interaction_index[1]] = -np.inf
    return scores.argmax(axis=1).tolist()


@pytest.mark.parametrize("model", [
    EASE(lam=10.0), EASE(), ItemKNN(k=N - 1), ALS(factors=4, regularization=0.01, alpha=1.0),
    ContentKNN(), AttrProfile(), LightGCNRanker(epochs=60, batch_size=64, lr=0.01,
                                                show_progress=False),
], ids=lambda m: m.name)
def test_checkerboard_known_answer(model: Ranker) -> None:
    _, train, context = _checkerboard()
    model.fit(train, context)
    assert _best_unseen(model, train) == list(range(N))


@pytest.mark.parametrize("patience_steps", [0, 12])
def test_lightgcn_early_stopping_waits_for_evaluations_and_steps(patience_steps: int) -> None:
    _, train, context = _checkerboard()
    model = LightGCNRanker(lr=1e-4, batch_size=1024, max_epochs=40, eval_every=1, patience=3,
                           patience_steps=patience_steps, show_progress=False)
    model.fit(train, context)  # one BPR step per epoch: steps == epochs
    last, best = max(model.history), model.epochs
    assert model.history[best] == max(model.history.values())
    assert last - best == max(3, patience_steps) < 40


def test_most_pop_and_attr_pop_by_hand() -> None:
    items = [ItemRecord(str(i), attributes={"g": ["a" if i < 2 else "b"]}) for i in range(4)]
    inter = [InteractionRecord(u, i) for u, i in
             [("u1", "0"), ("u2", "0"), ("u3", "0"), ("u1", "1"), ("u2", "2")]]
    snap = snapshot_from_records(items, inter)
    ctx = EvalContext(np.zeros((4, 1), np.float32), np.zeros((2, 1), np.float32),
                      np.zeros((3, 1), np.float32), np.zeros((2, 0), np.int64), snap)
    mp = MostPop()
    mp.fit(snap, ctx)
    assert mp.score(np.array([0, 2])).tolist() == [[3, 1, 1, 0]] * 2
    ap = AttrPop(kinds=None)
    ap.fit(snap, ctx)
    # item 0 shares "a" with item 1 (pop 1); item 1 with item 0 (3); item 2 with nothing warm
    # (item 3 is cold) -> 0; item 3 with item 2 (1)
    assert ap.score(np.array([0]))[0].tolist() == [1.0, 3.0, 0.0, 1.0]


def test_random_is_reproducible() -> None:
    _, train, context = _checkerboard()
    a, b = RandomRanker(), RandomRanker()
    a.fit(train, context)
    b.fit(train, context)
    assert np.array_equal(a.score(np.arange(3)), b.score(np.arange(3)))


def test_propagation_equals_pyg_get_embedding() -> None:
    import torch
    from torch_geometric.nn.models import LightGCN

    _, train, _ = _checkerboard()
    u, i = torch.as_tensor(train.interaction_index)
    edge_index = torch.stack([torch.cat([u, i + N]), torch.cat([i + N, u])])
    torch.manual_seed(0)
    model = LightGCN(2 * N, 8, num_layers=3)
    expected = model.get_embedding(edge_index)
    got = propagate(model, normalized_adjacency(train))
    assert torch.allclose(expected, got, atol=1e-6)


def test_baselines_for_protocols() -> None:
    assert [m.name for m in baselines_for("w")] == [
        "MostPop", "ItemKNN", "EASE", "ALS", "LightGCN", "ContentKNN"]
    assert [m.name for m in baselines_for("l", fast=True)] == [
        "MostPop", "ItemKNN", "EASE", "ContentKNN"]
    assert [m.name for m in baselines_for("c")] == [
        "Random", "AttrPop", "AttrProfile", "ContentKNN", "DeepMusic", "DropoutNet", "ALDI"]
    assert [m.name for m in baselines_for("h", fast=True)] == [
        "MostPop", "EASE", "ContentKNN", "DeepMusic", "DeepMusic+cal", "DropoutNet",
        "DropoutNet+cal", "ALDI", "ALDI+cal"]
    assert all(isinstance(m, Ranker) for m in
               baselines_for("w") + baselines_for("c") + baselines_for("h"))
