"""The harness end to end: ``evaluate()``, the table, the plot and ``kgrec evaluate``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from gnn.evaluate import ResultRow, evaluate, format_table, plot_results, read_jsonl, write_jsonl
from gnn.features import NodeFeatures
from kgrec.cli import (
    app,
    commands_evaluate,  # noqa: F401  (registers the command)
)
from kgrec.errors import ConfigError, ResourceError

DATA = Path(__file__).parents[1] / "data"
FIELDS = ["dataset", "protocol", "model", "seed", "k", "recall", "ndcg", "hit_rate",
          "coverage", "tail_share", "n_users", "train_seconds", "device", "versions"]


@pytest.fixture(scope="module")
def snapshot():  # -> GraphSnapshot
    from ingest import read_dataset

    return read_dataset(DATA / "eval_catalog").to_snapshot()


def _features(snap) -> NodeFeatures:  # random stand-in features: no encoder needed
    rng = np.random.default_rng(0)
    item = rng.normal(size=(snap.num_items, 8)).astype(np.float32)
    return NodeFeatures(item=item, attribute=np.zeros((snap.num_attributes, 8), np.float32),
                        user=np.zeros((snap.num_users, 8), np.float32), encoder_id="random")


def test_evaluate_rows_table_and_plot(snapshot, tmp_path: Path) -> None:
    rows = evaluate(snapshot, dataset="tiny", seeds=(2026, 2027), ks=(5, 20), fast=True,
                    features=_features(snapshot), model_factory=None,
                    models=["MostPop", "EASE", "ContentKNN", "Random", "AttrProfile"])
    got = {(r.protocol, r.model) for r in rows}
    assert got == {("W", "MostPop"), ("W", "EASE"), ("W", "ContentKNN"), ("L", "MostPop"),
                   ("L", "EASE"), ("L", "ContentKNN"), ("C", "Random"), ("C", "AttrProfile"),
                   ("C", "ContentKNN")}
    assert len(rows) == len(got) * 2 * 2
    assert all(0.0 <= r.ndcg <= 1.0 and 0.0 <= r.recall <= 1.0 for r in rows)
    again = evaluate(snapshot, dataset="tiny", seeds=(2026, 2027), ks=(5, 20), fast=True,
                     features=_features(snapshot),
                     models=["MostPop", "EASE", "ContentKNN", "Random", "AttrProfile"])
    assert [(r.ndcg, r.recall) for r in rows] == [(r.ndcg, r.recall) for r in again]
    table = format_table(rows, k=20)
    assert "| W | EASE |" in table and "best baseline" in table and "±" in table
    path = write_jsonl(rows, tmp_path / "r.jsonl")
    assert read_jsonl(path) == rows
    assert plot_results(rows, tmp_path / "r.png").stat().st_size > 1000


def test_model_that_does_not_fit_in_memory_is_skipped(snapshot, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    import gnn.item_item

    n = snapshot.num_items
    monkeypatch.setattr(gnn.item_item, "memory_limit", lambda: 20 * n * n - 1)
    with pytest.raises(ResourceError, match=f"EASE on {n} items needs"):
        gnn.item_item.fit_ease(sp.identity(n, format="csr"), 10.0)
    rows = evaluate(snapshot, protocols=["w"], ks=(20,), features=_features(snapshot),
                    models=["MostPop", "EASE"])
    assert {r.model for r in rows} == {"MostPop"}
    assert "EASE skipped on W seed 2026" in caplog.text


def test_evaluate_rejects_unknown_names(snapshot) -> None:
    with pytest.raises(ConfigError, match="unknown model.*choose from"):
        evaluate(snapshot, models=["Nope"], features=_features(snapshot))
    with pytest.raises(ConfigError, match="protocol"):
        evaluate(snapshot, protocols=["x"], features=_features(snapshot))


def test_format_table_ratios() -> None:
    def row(model: str, ndcg: float) -> ResultRow:
        return ResultRow("d", "W", model, 1, 20, ndcg, ndcg, 1.0, 0.1, 0.0, 10, 0.0, "cpu")
    table = format_table([row("EASE", 0.4), row("MostPop", 0.2), row("kgrec", 0.44)])
    assert "| W | kgrec |" in table and "1.10×" in table and "0.50×" in table


def test_evaluate_hybrid_rows_carry_the_new_item_metrics(snapshot, tmp_path: Path) -> None:
    rows = evaluate(snapshot, dataset="tiny", protocols=["h"], ks=(5, 20),
                    features=_features(snapshot),
                    models=["MostPop", "EASE", "DeepMusic", "DeepMusic+cal"])
    assert {r.model for r in rows} == {"MostPop", "EASE", "DeepMusic", "DeepMusic+cal"}
    assert {r.protocol for r in rows} == {"H"}
    for r in rows:
        assert 0.0 <= r.new_share <= 1.0 and 0.0 < r.new_test_share < 1.0
        assert 0.0 <= r.warm_ndcg <= 1.0 and 0.0 <= r.warm_only_ndcg <= 1.0
    ease = next(r for r in rows if r.model == "EASE" and r.k == 20)
    # EASE cannot score new items: none enters its lists, and its lists are its warm ranking
    assert ease.new_share == 0.0 and ease.new_recall == 0.0 and ease.users_with_new == 0.0
    assert ease.warm_ndcg == pytest.approx(ease.warm_only_ndcg)
    table = format_table(rows, k=20)
    assert "| H | DeepMusic+cal |" in table and "| H model | new share@20 |" in table
    path = write_jsonl(rows, tmp_path / "h.jsonl")
    assert read_jsonl(path) == rows
    record = json.loads(path.read_text().splitlines()[0])
    assert list(record)[:len(FIELDS)] == FIELDS and "warm_only_ndcg" in record


def test_cli_evaluate_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KGREC_DEVICE", "cpu")
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(app, [
        "-q", "evaluate", "--dataset", str(DATA / "eval_catalog"), "--protocol", "w,c,l",
        "--seeds", "2026", "--k", "20", "--out", str(out), "--fast", "--plot",
        str(tmp_path / "p.png"), "--models",
        "MostPop,ItemKNN,EASE,ContentKNN,Random,AttrPop,AttrProfile"])
    assert result.exit_code == 0, result.output
    assert "| C | AttrProfile |" in result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and all(list(r) == FIELDS for r in records)
    assert {r["protocol"] for r in records} == {"W", "C", "L"}
    assert {r["k"] for r in records} == {10, 20, 50}
    assert records[0]["dataset"] == "eval_catalog"
    assert "encoder" in records[0]["versions"]
    assert (tmp_path / "p.png").exists()


def test_cli_evaluate_attribute_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    runs = {}
    for kinds in ("category", "brand"):
        out = tmp_path / f"{kinds}.jsonl"
        result = CliRunner().invoke(app, [
            "-q", "evaluate", "--dataset", str(DATA / "eval_catalog"), "--protocol", "c",
            "--out", str(out), "--models", "AttrProfile", "--attribute-kinds", kinds])
        assert result.exit_code == 0, result.output
        runs[kinds] = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["dataset"] for r in runs["category"]} == {"eval_catalog[category]"}
    assert {r["dataset"] for r in runs["brand"]} == {"eval_catalog[brand]"}
    assert [r["ndcg"] for r in runs["category"]] != [r["ndcg"] for r in runs["brand"]]
    bad = CliRunner().invoke(app, ["-q", "evaluate", "--dataset", str(DATA / "eval_catalog"),
                                   "--out", str(tmp_path / "x.jsonl"), "--attribute-kinds", "colour"])
    assert bad.exit_code != 0 and "['colour'] not in dataset" in str(bad.exception)


def test_cli_evaluate_hybrid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    out = tmp_path / "h.jsonl"
    result = CliRunner().invoke(app, [
        "-q", "evaluate", "--dataset", str(DATA / "eval_catalog"), "--protocol", "h",
        "--out", str(out), "--models", "MostPop,EASE"])
    assert result.exit_code == 0, result.output
    assert "| H | EASE |" in result.output and "warm-only NDCG@20" in result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["protocol"] for r in records} == {"H"} and all("new_share" in r for r in records)


def test_cli_reports_bad_input(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from kgrec.cli import main; main()", "evaluate", "--dataset",
         str(tmp_path / "missing"), "--out", str(tmp_path / "o.jsonl")],
        check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("IngestError: ")
