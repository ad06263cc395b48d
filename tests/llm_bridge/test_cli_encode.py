from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kgrec.cli import (
    app,
    commands_encode,  # noqa: F401  (registers the command)
)

DATA = Path(__file__).parents[1] / "data"


def test_encode_catalog_file_twice_hits_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KGREC_DEVICE", "cpu")
    out = tmp_path / "features.npz"
    runner = CliRunner()
    first = runner.invoke(app, ["-q", "encode", str(DATA / "catalog" / "items.jsonl"),
                                "-o", str(out)])
    assert first.exit_code == 0, first.output
    assert "0 cache hits" in first.output
    assert "item texts (0.0%) exceed the 128-token window" in first.output
    with np.load(out) as f:
        assert f["item_x"].shape == (len(f["item_ids"]), 384)
        assert f["attribute_x"].shape == (len(f["attribute_ids"]), 384)
        assert "genre:Drama" in f["attribute_ids"].tolist()
    second = runner.invoke(app, ["-q", "encode", str(DATA / "catalog")])
    assert second.exit_code == 0, second.output
    assert ", 0 run through the model" in second.output


def test_encode_needs_exactly_one_source() -> None:
    result = CliRunner().invoke(app, ["encode"])
    assert result.exit_code != 0
    assert "exactly one" in str(result.exception)


@pytest.mark.slow
def test_encode_from_neo4j(clean_db: object, settings: object,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.catalog import iter_items
    from kg.writer import GraphWriter
    from kgrec.settings import Settings

    assert isinstance(settings, Settings)
    GraphWriter(clean_db, database=settings.neo4j.database).write_items(  # type: ignore[arg-type]
        iter_items(DATA / "catalog" / "items.jsonl"))
    monkeypatch.setenv("KGREC_HOME", str(settings.home))
    monkeypatch.setenv("KGREC_DEVICE", "cpu")
    result = CliRunner().invoke(app, ["-q", "encode", "--from-neo4j", "--no-attributes"])
    assert result.exit_code == 0, result.output
    n_items = sum(1 for _ in iter_items(DATA / "catalog" / "items.jsonl"))
    assert f"encoded {n_items} items + 0 attributes" in result.output


def test_encode_on_error_skip_and_json(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "1", "title": "Rocket"}\n{"id": "", "title": "no id"}\n'
                     '{"id": "2", "title": "Bread"}\n')
    failed = CliRunner().invoke(app, ["-q", "encode", str(items)])
    assert failed.exit_code != 0
    env = {"KGREC_HOME": str(tmp_path / "home")}
    res = CliRunner().invoke(app, ["-q", "encode", str(items), "--on-error", "skip", "--json",
                                   "--no-attributes"], env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["items"] == 2
    assert summary["long_texts"] == {"texts": 2, "window": 128, "over_window": 0, "share": 0.0,
                                     "windows": 2, "clipped": 0, "long_text": "truncate",
                                     "max_chars": 10_000}
