"""Encoder adaptation (llm_bridge.adapt) and the pairs it learns from (gnn.pairs).

The model is the real packaged MiniLM; a few optimiser steps on a handful of texts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gnn.pairs import attribute_pairs, catalog_pairs, co_interaction_pairs
from gnn.split import make_split
from ingest import read_dataset
from kgrec.errors import EncoderError
from kgrec.settings import EncoderSettings
from llm_bridge import FeatureStore, TextEncoder
from llm_bridge.adapt import MANIFEST_NAME, AdaptConfig, adapt_encoder, read_manifest

DATA = Path(__file__).resolve().parents[1] / "data"

TEXTS = [
    "red ballpoint pen, medium point",
    "blue gel ink refills for ballpoint pens",
    "stapler, heavy duty, 100 sheets",
    "box of 5000 standard staples",
    "laser printer toner cartridge, black",
    "monochrome laser printer for small offices",
    "wall calendar 2014, monthly",
    "desk planner with weekly pages",
]
PAIRS = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])


def _margins(x: np.ndarray) -> np.ndarray:
    """Per pair: cosine of the pair minus the mean cosine of its anchor to the other texts."""
    sim = x @ x.T
    return np.array([sim[i, j] - np.mean([sim[i, k] for k in range(len(x)) if k not in (i, j)])
                     for i, j in PAIRS.tolist()])


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adapt") / "adapted"
    config = AdaptConfig(max_steps=6, max_epochs=10, batch_size=4, trainable_layers=1,
                         learning_rate=3e-4, warmup_steps=1, device="cpu", dtype="float32", budget_seconds=3600)
    result = adapt_encoder(None, TEXTS, PAIRS, out, config=config,
                           pair_kinds={"co_interaction": 4}, show_progress=False)
    assert result.path == out.resolve()
    return out


def test_adapted_folder_loads_and_moves_pairs_closer(adapted: Path, encoder: TextEncoder) -> None:
    tuned = TextEncoder(EncoderSettings(model=str(adapted), device="cpu"))
    before = encoder.encode(TEXTS, show_progress=False)
    after = tuned.encode(TEXTS, show_progress=False)
    assert after.shape == before.shape
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(after, before, atol=1e-3)
    # InfoNCE is relative: every pair gains on the other texts, and on average it is closer
    assert (_margins(after) > _margins(before) + 0.02).all()
    cos_before, cos_after = (np.einsum("pd,pd->p", x[PAIRS[:, 0]], x[PAIRS[:, 1]])
                             for x in (before, after))
    assert cos_after.mean() > cos_before.mean() + 0.05
    assert cos_after[3] > cos_before[3] + 0.2  # the least similar pair moves most


def test_adapted_encoder_has_its_own_cache_keys(adapted: Path, encoder: TextEncoder,
                                                tmp_path: Path) -> None:
    tuned = TextEncoder(EncoderSettings(model=str(adapted), device="cpu"))
    assert tuned.fingerprint != encoder.fingerprint
    base_store, tuned_store = FeatureStore(tmp_path, encoder), FeatureStore(tmp_path, tuned)
    assert base_store.path != tuned_store.path
    assert base_store.keys(["red pen"], "passage") != tuned_store.keys(["red pen"], "passage")


def test_manifest_says_how_it_was_made(adapted: Path) -> None:
    manifest = read_manifest(adapted)
    assert manifest is not None
    assert manifest == json.loads((adapted / MANIFEST_NAME).read_text())
    assert manifest["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["steps"] == 6 and len(manifest["losses"]) == 6
    assert manifest["pairs"] == 4 and manifest["pair_kinds"] == {"co_interaction": 4}
    assert manifest["stopped_by"] == "steps" and manifest["device"] == "cpu"
    assert manifest["config"]["trainable_layers"] == 1
    assert (adapted / "tokenizer.json").is_file() and (adapted / "config.json").is_file()
    assert read_manifest(adapted.parent) is None


def test_full_fine_tuning_and_rerun_into_the_same_folder(adapted: Path, tmp_path: Path) -> None:
    out = tmp_path / "full"
    config = AdaptConfig(max_steps=1, batch_size=4, trainable_layers=0, device="cpu",
                         dtype="float32")
    first = adapt_encoder(None, TEXTS, PAIRS, out, config=config, show_progress=False)
    assert first.manifest["trainable_params"] > 20_000_000  # every weight learns
    second = adapt_encoder(adapted, TEXTS, PAIRS, out, config=config, show_progress=False)
    assert second.manifest["base_model"] == str(adapted.resolve())
    assert TextEncoder(EncoderSettings(model=str(out), device="cpu")).encode(["pen"]).shape == (
        1, 384)


def test_refuses_bad_input(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(EncoderError, match="refusing to overwrite"):
        adapt_encoder(None, TEXTS, PAIRS, tmp_path / "taken", show_progress=False)
    with pytest.raises(EncoderError, match="out of range"):
        adapt_encoder(None, TEXTS, [[0, 99]], tmp_path / "a", show_progress=False)
    with pytest.raises(EncoderError, match="empty text"):
        adapt_encoder(None, ["", "x"], [[0, 1], [1, 1]], tmp_path / "a", show_progress=False)
    with pytest.raises(EncoderError, match="batch_size"):
        adapt_encoder(None, TEXTS, PAIRS, tmp_path / "a", config=AdaptConfig(batch_size=1))


# -- pair mining -----------------------------------------------------------------------

# users x items: u0 {0,1,2}, u1 {0,1}, u2 {2,3}, u3 {3,4}; item 4 is held out
INTERACTIONS = np.array([[0, 0, 0, 1, 1, 2, 2, 3, 3],
                         [0, 1, 2, 0, 1, 2, 3, 3, 4]])


def test_co_interaction_pairs() -> None:
    every = co_interaction_pairs(INTERACTIONS, 4, 5, per_item=10, exclude=np.array([4]))
    assert every.tolist() == [[0, 1], [0, 2], [1, 2], [2, 3]]
    # one neighbour each, by C_ij / sqrt(n_i n_j): 0->1 (1.0), 1->0, 2->0 (tie, lower row), 3->2
    assert co_interaction_pairs(INTERACTIONS, 4, 5, per_item=1,
                                exclude=np.array([4])).tolist() == [[0, 1], [0, 2], [2, 3]]
    with_cold = co_interaction_pairs(INTERACTIONS, 4, 5, per_item=10)
    assert [3, 4] in with_cold.tolist()


def test_attribute_pairs_drop_held_out_items_and_hub_attributes() -> None:
    # attribute 0 on every item (a hub), attribute 1 on items 0 and 1, attribute 2 on item 3
    edges = np.array([[0, 1, 2, 3, 0, 1, 3, 3],
                      [0, 0, 0, 0, 1, 1, 2, 1]])
    kept = attribute_pairs(edges, 4, max_attribute_share=0.7, exclude=np.array([3]))
    assert kept.tolist() == [[0, 1], [1, 1]]
    assert attribute_pairs(edges, 4, max_attribute_share=1.0).shape == (8, 2)


def test_catalog_pairs_never_touch_cold_items() -> None:
    snapshot = read_dataset(DATA / "eval_catalog").to_snapshot()
    split = make_split(snapshot, "c", 2026)
    pairs = catalog_pairs(split.train, split.cold_items)
    n_items = snapshot.num_items
    assert len(pairs.texts) == n_items + snapshot.num_attributes
    assert pairs.pairs.shape == (pairs.item_pairs + pairs.attribute_pairs, 2)
    assert pairs.item_pairs > 0 and pairs.attribute_pairs > 0
    items, attrs = pairs.pairs[:pairs.item_pairs], pairs.pairs[pairs.item_pairs:]
    assert (items < n_items).all() and (attrs[:, 0] < n_items).all()
    assert (attrs[:, 1] >= n_items).all()
    assert not np.isin(items, split.cold_items).any()
    assert not np.isin(attrs[:, 0], split.cold_items).any()
    # every item pair was co-interacted by some user in the training part
    train = {(u, i) for u, i in split.train.interaction_index.T.tolist()}
    users = {u for u, _ in train}
    for i, j in items.tolist():
        assert any((u, i) in train and (u, j) in train for u in users)
