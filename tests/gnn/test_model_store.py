"""Models as versions: the store, the ``latest`` pointer, and ``kgrec models``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gnn.checkpoint import save_checkpoint
from gnn.config import KGRecConfig, ModelConfig, TrainConfig
from gnn.features import NodeFeatures
from gnn.model_store import ModelStore, new_version
from gnn.train import train_model
from gnn.trained import TrainedModel
from kg.records import InteractionRecord, ItemRecord
from kg.snapshot import snapshot_from_records
from kgrec.errors import NotFoundError, RequestError


@pytest.fixture(scope="module")
def tiny() -> TrainedModel:
    items = [ItemRecord(f"i{k}", f"item {k}", "", {"genre": [f"g{k % 2}"]}) for k in range(6)]
    inter = [InteractionRecord(f"u{u}", f"i{(u + j) % 6}") for u in range(4) for j in range(3)]
    snap = snapshot_from_records(items, inter)
    rng = np.random.default_rng(0)
    feats = NodeFeatures(item=rng.normal(size=(6, 4)).astype(np.float32),
                         attribute=rng.normal(size=(2, 4)).astype(np.float32),
                         user=np.zeros((4, 4), np.float32), encoder_id="test")
    config = KGRecConfig(ModelConfig(dim=4), TrainConfig(max_epochs=1, batch_size=4,
                                                         device="cpu"))
    return train_model(snap, feats, config, None, show_progress=False).trained


def _save(store: ModelStore, model: TrainedModel, version: str) -> Path:
    return save_checkpoint(store.root / version, replace(model, version=version))


def test_versions_latest_use_and_prune(tiny: TrainedModel, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.versions() == [] and store.latest() is None
    with pytest.raises(NotFoundError, match="kgrec train"):
        store.load()
    names = [new_version(1_800_000_000.0 + k) for k in range(4)]
    assert names == sorted(names) and len(set(names)) == 4
    for name in names:
        _save(store, tiny, name)
    store.use(names[1])
    assert store.latest() == names[1] and store.load().version == names[1]
    assert [v.version for v in store.versions()] == names
    assert [v.latest for v in store.versions()] == [False, True, False, False]
    with pytest.raises(NotFoundError, match="versions: kgrec-"):
        store.use("kgrec-nope")
    with pytest.raises(NotFoundError):
        store.path("../models")
    # prune keeps the newest and never the one being served
    assert store.prune(keep=1) == [names[0], names[2]]
    assert [v.version for v in store.versions()] == [names[1], names[3]]
    with pytest.raises(RequestError, match="keep"):
        store.prune(keep=0)


def test_half_written_versions_are_never_listed(tiny: TrainedModel, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    _save(store, tiny, "kgrec-a")
    (store.root / ".kgrec-b.1234.tmp" / "arrays").mkdir(parents=True)  # a crashed save
    (store.root / ".kgrec-b.1234.tmp" / "meta.json").write_text("{}")
    assert [v.version for v in store.versions()] == ["kgrec-a"]


def test_cli_models_list_use_prune(tiny: TrainedModel, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from kgrec.cli import _register, app

    _register()
    monkeypatch.setenv("KGREC_HOME", str(tmp_path))
    store = ModelStore(tmp_path / "models")
    for name in ("kgrec-1", "kgrec-2"):
        _save(store, tiny, name)
    runner = CliRunner()
    res = runner.invoke(app, ["models", "use", "kgrec-1", "--no-write"])
    assert res.exit_code == 0 and store.latest() == "kgrec-1"
    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    assert [(v["version"], v["latest"]) for v in listed] == [("kgrec-1", True),
                                                            ("kgrec-2", False)]
    assert "* kgrec-1" in runner.invoke(app, ["models", "list"]).stdout
    res = runner.invoke(app, ["models", "prune", "--keep", "1"])
    assert res.exit_code == 0 and "deleted 0" in res.stdout  # kgrec-1 is served, kgrec-2 newest
    res = runner.invoke(app, ["models", "use", "kgrec-9", "--no-write"])
    assert res.exit_code != 0
