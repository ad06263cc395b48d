"""The one scorer: its formula, the delta beside the model, and the exact split of a score
along a user's neighbours."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from gnn.config import KGRecConfig, ModelConfig, TrainConfig
from gnn.delta import Delta
from gnn.features import NodeFeatures
from gnn.infer import decompose_user, user_neighbours
from gnn.scorer import Scorer
from gnn.train import train_model
from gnn.trained import TrainedModel
from kg.records import InteractionRecord, ItemRecord, UserRecord
from kg.snapshot import snapshot_from_records


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    """12 items in two genres, 8 users each holding 4 items of one genre, two cold items;
    item–item term and content columns on (values given, nothing chosen)."""
    rng = np.random.default_rng(1)
    items = [ItemRecord(f"i{k}", f"item {k}", "", {"genre": [f"g{k % 2}"]}) for k in range(12)]
    users = [UserRecord(f"u{u}", {"age": [f"a{u % 2}"]}) for u in range(8)]
    inter = [InteractionRecord(f"u{u}", f"i{2 * j + u % 2}") for u in range(8)
             for j in rng.choice(5, 4, replace=False)]
    snap = snapshot_from_records(items, inter, users)
    feats = NodeFeatures(item=rng.normal(size=(12, 6)).astype(np.float32),
                         attribute=rng.normal(size=(snap.num_attributes, 6)).astype(np.float32),
                         user=rng.normal(size=(8, 6)).astype(np.float32), encoder_id="test")
    config = KGRecConfig(ModelConfig(dim=8), TrainConfig(max_epochs=3, batch_size=8,
                                                         device="cpu", seed=3))
    config = config.with_overrides(item_item_lambda=2.0, item_item_weight=0.5, content_mu=1.0,
                                   content_text_weight=1.0, content_scale=1.0, tail_slots=0)
    return train_model(snap, feats, config, None, show_progress=False).trained


def test_score_is_the_embedding_term_plus_the_item_item_term(model: TrainedModel) -> None:
    term = model.item_item
    assert term is not None and term.content_map is not None and len(term.cold_rows) == 2
    users = np.arange(model.num_users)
    s = Scorer(model).score_trained(users)
    x = model.graph.interactions
    expected = model.user_emb @ model.item_emb.T + term.weight * (x @ term.weights)
    cold = term.cold_rows
    assert term.cold_content is not None
    expected[:, cold] += term.weight * (x @ term.content_map) @ term.cold_content.T
    np.testing.assert_allclose(s, expected, rtol=1e-5, atol=1e-5)


def test_delta_adds_and_overrides_items_without_touching_the_model(model: TrainedModel
                                                                   ) -> None:
    base = Scorer(model)
    users = np.arange(model.num_users)
    before = base.score_trained(users)
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(2, model.dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    content = model.content_rows(rng.normal(size=(2, 6)).astype(np.float32),
                                 [["genre:g0"], ["genre:g1", "genre:unknown"]])
    assert content is not None
    new_row = model.num_items
    warm = int(np.flatnonzero(model.item_has_id)[0])
    delta = Delta().with_items(np.array([warm, new_row]), emb, None, 0)
    delta = delta.with_items(np.array([new_row]), emb[1:], content[1:], 1)
    scorer = Scorer(model, delta)
    after = scorer.score_trained(users)
    assert after.shape == (model.num_users, model.num_items + 1)
    term = model.item_item
    assert term is not None and term.content_map is not None
    x = model.graph.interactions
    # a trained item with an ID keeps its item-item column, with its new embedding
    np.testing.assert_allclose(after[:, warm], model.user_emb @ emb[0]
                               + term.weight * np.asarray(x @ term.weights[:, warm]).ravel(),
                               rtol=1e-5, atol=1e-5)
    # a new item: its embedding plus the content-predicted column
    np.testing.assert_allclose(after[:, new_row], model.user_emb @ emb[1]
                               + term.weight * (x @ term.content_map) @ content[1],
                               rtol=1e-5, atol=1e-5)
    others = [j for j in range(model.num_items) if j != warm]
    np.testing.assert_array_equal(after[:, others], before[:, others])
    np.testing.assert_array_equal(Scorer(model).score_trained(users), before)  # model intact
    reverted = Scorer(model, delta.without([warm]))
    np.testing.assert_allclose(reverted.score_trained(users)[:, :model.num_items], before,
                               rtol=1e-6, atol=1e-6)
    v = model.user_emb[0]  # dot_items: the embedding term alone, delta included
    expected_dot = np.concatenate([model.item_emb @ v, [emb[1] @ v]])
    expected_dot[warm] = emb[0] @ v
    np.testing.assert_allclose(scorer.dot_items(v), expected_dot, rtol=1e-6, atol=1e-6)


def test_score_splits_exactly_along_the_users_neighbours(model: TrainedModel) -> None:
    scorer = Scorer(model)
    for u in range(model.num_users):
        seen = model.graph.interactions[u].indices
        profile = [model.graph.attribute_ids[a] for a in model.graph.user_attributes[u].indices]
        parts = decompose_user(model, model.layers[0, u], user_neighbours(model, seen, profile))
        for item in (0, int(model.item_item.cold_rows[0])):  # type: ignore[union-attr]
            e = model.item_emb[item]
            emb = (parts.own @ e + (parts.parts @ e).sum()) / parts.norm
            total = emb + scorer.item_item_contributions(seen, item).sum()
            assert total == pytest.approx(scorer.score_trained(np.array([u]))[0, item],
                                          abs=1e-5)


def test_seen_matrix_of_a_folded_user_is_what_counts(model: TrainedModel) -> None:
    scorer = Scorer(model)
    v = model.user_emb[:1]
    none = sp.csr_matrix((1, model.num_items), dtype=np.float32)
    np.testing.assert_allclose(scorer.score(v, none)[0], model.item_emb @ v[0], rtol=1e-6)
    assert replace(model).item_item is model.item_item  # immutable parts are shared
