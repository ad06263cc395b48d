"""Tests of the kgrec GNN: graph assembly, model, training, checkpoint, inference."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric import EdgeIndex

from gnn.checkpoint import load_checkpoint, save_checkpoint
from gnn.config import KGRecConfig, ModelConfig, TrainConfig
from gnn.curves import plot_history
from gnn.features import NodeFeatures
from gnn.graph import build_homogeneous, cold_item_adjacency, to_hetero_data
from gnn.infer import embed_new_items, embed_users, user_layer0, user_neighbours
from gnn.kgrec_ranker import KGRecRanker, LongTailRanker, kgrec_rankers
from gnn.metrics import pair_matrix
from gnn.model import KGRecModel, NormalizedLGConv
from gnn.ranker import EvalContext, Ranker
from gnn.scorer import Scorer
from gnn.train import _warm_start, refit, train_model
from kg.records import InteractionRecord, ItemRecord, UserRecord
from kg.snapshot import GraphSnapshot, snapshot_from_records
from kgrec.errors import ConfigError, TrainingError

D = 16
SMALL = KGRecConfig(ModelConfig(dim=16, layers=2),
                    TrainConfig(batch_size=64, max_epochs=60, patience=8, lr=0.02, device="cpu",
                                seed=7))


def _planted(seed: int = 0) -> tuple[GraphSnapshot, NodeFeatures, np.ndarray]:
    """Two taste communities A/B: 20 users and 30 items each, disjoint attributes and
    texts; each user knows 27 of its community's 30 items, so its top 5 unseen items are
    its community's 4 remaining items plus, for A users, item "cold-a" (A's attributes,
    A-like text, no interactions)."""
    rng = np.random.default_rng(seed)
    items, inter, users = [], [], []
    for c in "ab":
        for k in range(30):
            items.append(ItemRecord(f"{c}{k}", f"{c} item {k}", "",
                                    {"genre": [f"{c}-g{k % 2}"], "style": [f"{c}-s"]}))
        for k in range(20):
            users.append(UserRecord(f"u{c}{k}", {"segment": [c]}))
            for j in rng.choice(30, 27, replace=False):
                inter.append(InteractionRecord(f"u{c}{k}", f"{c}{j}"))
    items.append(ItemRecord("cold-a", "cold a", "", {"genre": ["a-g0"], "style": ["a-s"]}))
    snap = snapshot_from_records(items, inter, users)
    centre = {c: rng.normal(size=D) for c in "ab"}

    def feat(c: str, n: int) -> np.ndarray:
        x = centre[c] + 0.5 * rng.normal(size=(n, D))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    item_x = np.stack([feat(i[0] if i != "cold-a" else "a", 1)[0] for i in snap.item_ids])
    attr_x = np.stack([feat(a.split(":")[1][0], 1)[0] for a in snap.attribute_ids])
    user_x = np.stack([feat(u[1], 1)[0] for u in snap.user_ids])
    features = NodeFeatures(item=item_x, attribute=attr_x, user=user_x, encoder_id="test")
    # validation: one pair per user moved out of training
    idx = snap.interaction_index
    first = np.r_[True, idx[0, 1:] != idx[0, :-1]]
    return snap.with_interactions(~first), features, idx[:, first]


@pytest.fixture(scope="module")
def planted() -> tuple[GraphSnapshot, NodeFeatures, np.ndarray]:
    return _planted()


@pytest.fixture(scope="module")
def trained_planted(planted):  # type: ignore[no-untyped-def]
    snap, feats, valid = planted
    return train_model(snap, feats, SMALL, valid, show_progress=False)


def _attrs_of(snap: GraphSnapshot, item: int) -> list[str]:
    return [snap.attribute_ids[a] for i, a in snap.item_attribute_index.T if i == item]


def test_homogeneous_graph_shapes(planted) -> None:  # type: ignore[no-untyped-def]
    snap, _, _ = planted
    g = build_homogeneous(snap)
    n = snap.num_users + snap.num_items + snap.num_attributes
    assert isinstance(g.edge_index, EdgeIndex) and g.edge_index.is_sorted_by_col
    assert g.edge_index.get_sparse_size() == (n, n) and g.edge_index.is_undirected
    assert g.num_nodes == n and g.adj.shape == (n, n) and g.nnz == g.edge_weight.numel()
    assert g.adj.layout == torch.sparse_csr
    dense = g.adj.to_dense()
    assert torch.allclose(dense, dense.T)
    deg = torch.from_numpy(g.degree)
    assert g.degree.sum() == g.edge_index.shape[1]
    row, col = g.edge_index.as_tensor()
    assert torch.allclose(g.edge_weight, 1 / torch.sqrt(deg[row] * deg[col]))
    assert g.cold_edge_index is not None and g.cold_edge_weight is not None
    assert g.cold_edge_index.get_sparse_size() == (snap.num_attributes, snap.num_items)
    assert "users=40" in repr(g)
    no_attr = build_homogeneous(snap, use_attributes=False)
    assert no_attr.edge_index.shape[1] == 2 * snap.num_interactions
    assert no_attr.cold_edge_index is None


def test_hetero_data(planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, _ = planted
    data = to_hetero_data(snap, feats)
    assert data["item"].x.shape == (snap.num_items, D)
    assert data["user", "interacted", "item"].edge_index.shape[1] == snap.num_interactions
    assert data["item", "rev_interacted", "user"].edge_index.shape[1] == snap.num_interactions
    assert data["item"].ids[0] == snap.item_ids[0]
    assert data.node_types == ["user", "item", "attribute"]  # the homogeneous order


def _tiny_graph() -> tuple[Any, torch.Tensor, torch.Tensor]:
    """A 7-node user–item–attribute graph with a repeated edge and an isolated node: its
    :class:`HomogeneousGraph` and dense ``Â``; plus the dense cold-path matrix."""
    items = [ItemRecord(f"i{k}", f"item {k}", "", {"genre": [f"g{k % 2}"]}) for k in range(3)]
    inter = [InteractionRecord(u, i) for u, i in
             (("u0", "i0"), ("u0", "i1"), ("u1", "i1"), ("u1", "i1"))]
    snap = snapshot_from_records(items + [ItemRecord("i3", "lonely", "", {})], inter,
                                 [UserRecord("u0", {}), UserRecord("u1", {})])
    g = build_homogeneous(snap)
    a = torch.zeros(g.num_nodes, g.num_nodes)
    _, off_i, off_a = g.offsets
    for u, i in set(map(tuple, snap.interaction_index.T.tolist())):
        a[u, off_i + i] = a[off_i + i, u] = 1.0
    for i, t in snap.item_attribute_index.T.tolist():
        a[off_i + i, off_a + t] = a[off_a + t, off_i + i] = 1.0
    d = a.sum(1)
    inv = torch.where(d > 0, d.clamp(min=1).rsqrt(), 0.0)
    cold = torch.zeros(snap.num_items, snap.num_attributes)  # [I, A]
    for i, t in snap.item_attribute_index.T.tolist():
        cold[i, t] = 1.0
    cold = cold / torch.sqrt(cold.sum(1, keepdim=True).clamp(min=1) * d[off_a:].clamp(min=1))
    return g, inv[:, None] * a * inv[None, :], cold


def test_pyg_propagation_equals_dense_powers_of_a_hat() -> None:
    g, a_hat, cold = _tiny_graph()
    assert torch.allclose(g.adj.to_dense(), a_hat, atol=1e-6)
    model = KGRecModel(ModelConfig(dim=3, layers=3), 2, 4, 2, 5)
    h0 = torch.randn(g.num_nodes, 3, requires_grad=True)
    probe = torch.randn(g.num_nodes, 3)
    layers = model.propagate(h0, g.edge_index, g.edge_weight)
    (torch.stack(layers).mean(0) * probe).sum().backward()
    got = h0.grad.clone()
    h0.grad = None
    dense = [torch.linalg.matrix_power(a_hat, k) @ h0 for k in range(4)]
    for mine, ref in zip(layers, dense, strict=True):
        assert torch.allclose(mine, ref, atol=1e-5)
    (torch.stack(dense).mean(0) * probe).sum().backward()
    assert torch.allclose(got, h0.grad, atol=1e-5)
    # the cold path: a directed (bipartite) attribute -> item EdgeIndex
    assert g.cold_edge_index is not None and g.cold_edge_weight is not None
    _, _, off_a = g.offsets
    h_attr = h0.detach()[off_a:].clone().requires_grad_()
    out = NormalizedLGConv()(h_attr, g.cold_edge_index, g.cold_edge_weight)
    assert torch.allclose(out, cold @ h_attr, atol=1e-6)
    (out * probe[:4]).sum().backward()
    assert torch.allclose(h_attr.grad, cold.T @ probe[:4], atol=1e-6)


def test_cold_item_adjacency_counts_repeated_pairs_once() -> None:
    index, weight = cold_item_adjacency(torch.tensor([[0, 0, 0, 1], [1, 1, 0, 1]]), 2, 2,
                                        torch.tensor([1.0, 4.0]))
    assert index.as_tensor().tolist() == [[0, 1, 1], [0, 0, 1]]  # (attribute, item)
    assert torch.allclose(weight, torch.tensor([1 / 2 ** 0.5, 1 / 8 ** 0.5, 1 / 2.0]))


def test_propagation_stays_float32_under_bf16_autocast() -> None:
    # training autocasts the projection to bf16 on CUDA; autocast would run the sparse
    # product in bf16 too, which cuSPARSE rejects for a float32 adjacency (seen on an
    # H200) and CPU's sparse kernels do not implement: the layer opts out of autocast
    g, a_hat, _ = _tiny_graph()
    conv = NormalizedLGConv()
    h = torch.randn(g.num_nodes, 3, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(h, g.edge_index, g.edge_weight)
        mixed = conv(h.bfloat16(), g.edge_index, g.edge_weight)
    assert out.dtype == mixed.dtype == torch.float32
    assert torch.allclose(out, a_hat @ h, atol=1e-6)
    out.sum().backward()
    assert torch.allclose(h.grad, a_hat.sum(0, keepdim=True).T.expand(-1, 3), atol=1e-6)


def test_model_shapes_repr_and_config_errors(planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, _ = planted
    g = build_homogeneous(snap)
    model = KGRecModel(SMALL.model, snap.num_users, snap.num_items, snap.num_attributes, D)
    x = {t: torch.from_numpy(getattr(feats, t)) for t in ("user", "item", "attribute")}
    z = model(x, g.edge_index, g.edge_weight)
    assert z.shape == (g.num_nodes, SMALL.model.dim) and z.dtype == torch.float32
    assert "dim=16" in repr(model)
    with pytest.raises(ConfigError, match="use_text"):
        ModelConfig(use_text=False, use_id=False)
    with pytest.raises(ConfigError, match="unknown keys"):
        KGRecConfig.from_dict({"model": {"dimension": 3}})
    with pytest.raises(ConfigError, match="no config field"):
        SMALL.with_overrides(dimension=3)
    assert KGRecConfig.from_dict(SMALL.to_dict()) == SMALL


def test_text_dropout_drops_the_same_feature_dimensions_for_every_node() -> None:
    torch.manual_seed(0)
    model = KGRecModel(SMALL.model, 1, 64, 0, 64)
    w, b = model.proj["item"].weight.detach(), model.proj["item"].bias.detach()
    basis = torch.eye(64)  # item j's text is feature dimension j alone
    out = model.project({"item": basis}, dropout=0.5)["item"].detach()
    kept = ~torch.isclose(out, b.expand_as(out), atol=1e-6).all(dim=1)
    assert 16 < int(kept.sum()) < 48  # about half the dimensions survive
    assert torch.allclose(out[kept], (2.0 * w.T + b)[kept], atol=1e-5)  # rescaled by 1/(1-p)
    assert torch.allclose(model.project({"item": basis})["item"], basis @ w.T + b, atol=1e-6)
    with pytest.raises(ConfigError, match="text_dropout"):
        TrainConfig(text_dropout=1.0)


def test_known_answer_communities(planted, trained_planted) -> None:  # type: ignore[no-untyped-def]
    snap, _, _ = planted
    tm = trained_planted.trained
    assert trained_planted.best_epoch >= 1 and np.isfinite(tm.user_emb).all()
    scores = Scorer(tm).score_trained(np.arange(snap.num_users))
    seen = np.zeros_like(scores, dtype=bool)
    seen[snap.interaction_index[0], snap.interaction_index[1]] = True
    scores[seen] = -np.inf
    cold = snap.item_ids.index("cold-a")
    for u, uid in enumerate(snap.user_ids):
        community = uid[1]
        own_unseen = sum(1 for i, iid in enumerate(snap.item_ids)
                         if iid[0] == community and iid != "cold-a" and not seen[u, i])
        rank_of_cold = int((scores[u] > scores[u, cold]).sum())
        if community == "a":  # top 5 = the 4 unseen A items + the cold A item
            assert rank_of_cold < 5, f"{uid}: cold A item ranked {rank_of_cold}"
            top5 = np.argsort(-scores[u])[:5]
            assert all(snap.item_ids[i][0] == "a" or i == cold for i in top5), uid
        else:  # B's unseen items first; the cold A item below all of them
            top = np.argsort(-scores[u])[:own_unseen]
            assert all(snap.item_ids[i][0] == "b" for i in top), uid
            assert rank_of_cold >= own_unseen, f"{uid}: cold A item ranked {rank_of_cold}"


def test_history_and_plot(trained_planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = trained_planted.history
    assert len(h["epoch"]) == len(h["loss"]) == len(h["val_ndcg"]) >= 1
    plot_history(h, str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_deterministic(planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, _ = planted
    cfg = SMALL.with_overrides(max_epochs=2)
    a = train_model(snap, feats, cfg, None, show_progress=False).trained
    b = train_model(snap, feats, cfg, None, show_progress=False).trained
    np.testing.assert_array_equal(a.item_emb, b.item_emb)


def test_long_tail_choice_scores_the_final_hybrid_model(planted) -> None:  # type: ignore[no-untyped-def]
    from gnn.long_tail import choose_slots, tail_items

    snap, feats, valid = planted
    hybrid = SMALL.with_overrides(max_epochs=3, item_item_lambda=30.0, item_item_weight=1.0)
    tm = train_model(snap, feats, hybrid, valid, show_progress=False).trained
    assert tm.item_item is not None and tm.item_item.weight == 1.0
    seen = pair_matrix(snap.interaction_index, snap.num_users, snap.num_items)
    per_page, facts = choose_slots(Scorer(tm).score_trained, seen,
                                   pair_matrix(valid, snap.num_users, snap.num_items),
                                   tail_items(np.diff(seen.tocsc().indptr)),
                                   tm.config.scoring.tail_budget, seed=tm.config.train.seed)
    assert tm.tail_slots == tm.info["tail_slots"] == per_page
    assert tm.info["tail_base_val_ndcg"] == pytest.approx(facts["tail_base_val_ndcg"], abs=1e-6)
    assert tm.info.get("tail_val_ndcg", -1.0) == pytest.approx(facts.get("tail_val_ndcg", -1.0),
                                                               abs=1e-6)


def test_batch_size_and_lr_default_by_device(planted) -> None:  # type: ignore[no-untyped-def]
    default = TrainConfig()
    assert (default.batch_size, default.lr) == (None, None)
    assert default.for_device("cpu").batch_size == 1024 and default.for_device("cpu").lr == 0.03
    assert default.for_device("cuda").batch_size == 2048 and default.for_device("cuda").lr == 0.05
    assert TrainConfig(batch_size=8, lr=0.1).for_device("cuda") == TrainConfig(batch_size=8, lr=0.1)
    snap, feats, _ = planted  # the model records what was asked and what ran
    tiny = SMALL.with_overrides(batch_size=None, lr=None, max_epochs=1, item_item=False,
                                tail_slots=0)
    tm = train_model(snap, feats, tiny, None, show_progress=False).trained
    assert (tm.config.train.batch_size, tm.config.train.lr) == (None, None)
    assert (tm.info["train_config"]["batch_size"], tm.info["train_config"]["lr"]) == (1024, 0.03)
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=1)


def test_steps_per_epoch_caps_the_batches_of_an_epoch(planted, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    snap, feats, _ = planted
    assert snap.num_interactions > 4 * (SMALL.train.batch_size or 0)  # a pass has more steps
    steps = []
    real_step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step",
                        lambda self, *a, **k: steps.append(1) or real_step(self, *a, **k))
    train_model(snap, feats, SMALL.with_overrides(max_epochs=2, steps_per_epoch=3,
                                                  item_item=False, tail_slots=0),
                None, show_progress=False)
    assert len(steps) == 6
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        TrainConfig(steps_per_epoch=-1)


def test_refit_continues_from_early_stopped_weights(planted, trained_planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, _ = planted
    first = trained_planted
    # at a vanishing learning rate the refit must reproduce the early-stopped model
    still = first.trained.config.with_overrides(lr=1e-12)
    frozen = replace(first, trained=replace(first.trained, config=still))
    again = refit(frozen, snap, feats, show_progress=False)
    epochs = max(1, round(first.best_epoch * still.train.refit_fraction))
    assert again.history["epoch"][-1] == again.trained.info["refit_epochs"] == epochs
    assert again.trained.config == still  # what was asked, not the refit's epochs
    np.testing.assert_allclose(again.trained.item_emb, first.trained.item_emb, atol=1e-5)
    assert again.trained.info["item_item_weight"] == first.trained.info["item_item_weight"]
    # an item that gains an ID embedding in the refit starts from zero, the others carry over
    model = KGRecModel(first.model.config, snap.num_users, snap.num_items, snap.num_attributes,
                       D, torch.ones(snap.num_items, dtype=torch.bool))
    _warm_start(model, first.model)
    gained = ~first.model.item_has_id
    assert gained[snap.item_ids.index("cold-a")]
    w, w0 = model.emb["item"].weight.detach(), first.model.emb["item"].weight.detach()
    assert torch.all(w[gained] == 0)
    torch.testing.assert_close(w[~gained], w0[~gained])


def test_checkpoint_roundtrip_is_exact_and_read_only(trained_planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tm = replace(trained_planted.trained, version="test-1")
    save_checkpoint(tmp_path / "ck", tm)
    loaded = load_checkpoint(tmp_path / "ck")
    users = np.arange(tm.num_users)
    np.testing.assert_array_equal(Scorer(loaded).score_trained(users),
                                  Scorer(tm).score_trained(users))
    assert loaded.graph.item_ids == tm.graph.item_ids and loaded.config == tm.config
    assert loaded.version == "test-1" and loaded.encoder_id == "test"
    np.testing.assert_array_equal(loaded.layers, tm.layers)
    np.testing.assert_array_equal(loaded.graph.item_hashes, tm.graph.item_hashes)
    with pytest.raises(ValueError, match="read-only"):
        loaded.item_emb[0, 0] = 1.0  # the model never changes after training
    with pytest.raises(ValueError, match="read-only"):
        tm.user_emb[0, 0] = 1.0


def test_checkpoint_written_atomically_and_old_formats_refused(trained_planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    tm = trained_planted.trained
    folder = save_checkpoint(tmp_path / "ck", tm)
    save_checkpoint(folder, replace(tm, version="second"))  # replaces the folder whole
    assert load_checkpoint(folder).version == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no temporary folder left
    meta = json.loads((folder / "meta.json").read_text())
    meta["format"] = 2
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(TrainingError, match="format 2, expected 3.*retrain"):
        load_checkpoint(folder)


def test_cold_items_take_their_item_item_term_from_content(planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    snap, feats, valid = planted
    config = SMALL.with_overrides(max_epochs=3, item_item_lambda=30.0, item_item_weight=1.0)
    result = train_model(snap, feats, config, valid, show_progress=False)
    tm = result.trained
    term = tm.item_item
    assert term is not None and term.content_map is not None and term.cold_content is not None
    assert {"content_mu", "content_text_weight", "content_scale"} <= set(tm.info)
    cold = snap.item_ids.index("cold-a")
    assert cold in term.cold_rows and np.abs(term.weights[:, cold]).sum() == 0
    np.testing.assert_allclose(term.cold_content[list(term.cold_rows).index(cold)],
                               tm.content_rows(feats.item[cold:cold + 1], [_attrs_of(snap, cold)])[0],
                               rtol=1e-6)
    scorer = Scorer(tm)
    users = np.arange(tm.num_users)
    item_item = scorer.score_trained(users)[:, cold] - tm.user_emb @ tm.item_emb[cold]
    a_users = [u for u, uid in enumerate(snap.user_ids) if uid[1] == "a"]
    b_users = [u for u, uid in enumerate(snap.user_ids) if uid[1] == "b"]
    assert item_item[a_users].mean() > item_item[b_users].mean()
    seen = tm.graph.interactions[3].indices  # the per-item split sums to the term
    assert scorer.item_item_contributions(seen, cold).sum() == pytest.approx(item_item[3],
                                                                             abs=1e-5)
    # an unknown attribute value is left out of the content row
    np.testing.assert_array_equal(
        tm.content_rows(feats.item[:1], [_attrs_of(snap, cold) + ["genre:zzz"]]),
        tm.content_rows(feats.item[:1], [_attrs_of(snap, cold)]))
    loaded = load_checkpoint(save_checkpoint(tmp_path / "ck", tm))
    assert loaded.item_item is not None and loaded.item_item.content_map is not None
    np.testing.assert_array_equal(loaded.item_item.content_map, term.content_map)
    again = refit(result, snap, feats, show_progress=False).trained
    assert again.info["content_mu"] == tm.info["content_mu"]
    assert again.info["content_scale"] == tm.info["content_scale"]


def test_inductive_item_matches_trained(planted, trained_planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, _ = planted
    tm = trained_planted.trained
    cold = snap.item_ids.index("cold-a")  # no ID embedding: the same rule exactly
    emb = embed_new_items(tm, feats.item[cold:cold + 1], [_attrs_of(snap, cold)])
    np.testing.assert_allclose(emb[0], tm.item_emb[cold], atol=1e-5)


def test_inductive_warm_item_and_user_without_id(planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, _ = planted
    tm = train_model(snap, feats, SMALL.with_overrides(use_id=False, max_epochs=3), None,
                     show_progress=False).trained
    item = 3
    users = [snap.user_ids[u] for u, i in snap.interaction_index.T if i == item]
    emb = embed_new_items(tm, feats.item[item:item + 1], [_attrs_of(snap, item)], [users])
    np.testing.assert_allclose(emb[0], tm.item_emb[item], atol=1e-5)
    u = 5
    items = [i for uu, i in snap.interaction_index.T if uu == u]
    profile = [snap.attribute_ids[a] for uu, a in snap.user_attribute_index.T if uu == u]
    layer0 = user_layer0(tm, None, feats.user[u])  # a stranger with this user's profile
    uemb = embed_users(tm, layer0[None], [user_neighbours(tm, items, profile)])
    np.testing.assert_allclose(uemb[0], tm.user_emb[u], atol=1e-5)


def test_inductive_unknown_ids_and_shapes(trained_planted) -> None:  # type: ignore[no-untyped-def]
    tm = trained_planted.trained
    x = np.ones((1, D), np.float32) / np.sqrt(D)
    emb = embed_new_items(tm, x, [["genre:a-g0", "nope:x"]])
    assert emb.shape == (1, tm.dim) and np.isfinite(emb).all()
    with pytest.raises(TrainingError, match="shape"):
        embed_new_items(tm, np.ones((1, D + 1), np.float32), [[]])


def test_nan_guard(trained_planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad_emb = np.array(trained_planted.trained.item_emb)
    bad_emb[0, 0] = np.nan
    tm = replace(trained_planted.trained, item_emb=bad_emb, version="v")
    with pytest.raises(TrainingError, match="NaN"):
        save_checkpoint(tmp_path / "bad", tm)
    from gnn.writeback import write_back

    with pytest.raises(TrainingError, match="NaN"):
        write_back(object(), tm)


def test_ranker_protocol(planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, valid = planted
    names = [r.name for r in kgrec_rankers()]
    assert names == ["kgrec", "kgrec-tail", "kgrec-no-text", "kgrec-no-attributes",
                     "kgrec-no-id", "kgrec-shuffled-kg"]
    ranker = KGRecRanker(SMALL.with_overrides(max_epochs=3))
    assert isinstance(ranker, Ranker)
    ctx = EvalContext(item_features=feats.item, attribute_features=feats.attribute,
                      user_features=feats.user, valid=valid, fit_train=snap, seed=3)
    ranker.fit(snap, ctx)
    s = ranker.score(np.array([0, 1]))
    assert s.shape == (2, snap.num_items) and s.dtype == np.float32
    assert ranker.scorer is not None  # the harness ranks with the serving scorer
    np.testing.assert_array_equal(s, ranker.scorer.score_trained(np.array([0, 1])))
    # kgrec-tail re-ranks the SAME fitted model: no second training run
    trained = ranker.trained
    tail_ranker = LongTailRanker(ranker)
    tail_ranker.fit(snap, ctx)
    assert ranker.trained is trained and trained is not None
    ranker.trained = replace(trained, tail_slots=9.0)  # positions 2-10 of each page of ten
    order = np.argsort(-tail_ranker.score(np.array([0]))[0], kind="stable")
    seen = set(snap.interaction_index[1][snap.interaction_index[0] == 0].tolist())
    unseen = [int(i) for i in order if int(i) not in seen]
    assert tail_ranker._tail is not None and tail_ranker._tail[unseen[1]]


def test_ablations_change_the_config_section_that_holds_the_field() -> None:
    from gnn.kgrec_ranker import KGREC_ABLATIONS

    ranked: dict[str, Any] = {n: SMALL.with_overrides(**o) for n, o in KGREC_ABLATIONS.items()}
    assert not ranked["kgrec-no-text"].model.use_text and ranked["kgrec"].model.use_text
    assert not ranked["kgrec-no-attributes"].model.use_attributes
    assert ranked["kgrec-no-id"].train == SMALL.train


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training(planted) -> None:  # type: ignore[no-untyped-def]
    snap, feats, valid = planted
    result = train_model(snap, feats, SMALL.with_overrides(device="cuda", max_epochs=3), valid,
                         show_progress=False)
    assert result.device.startswith("cuda") and np.isfinite(result.trained.item_emb).all()
