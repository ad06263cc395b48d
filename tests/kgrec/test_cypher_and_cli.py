"""Analyst Cypher files against the planted graph, and the serving CLI (typer CliRunner)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from kg import cypher_file, cypher_files
from kgrec.errors import NotFoundError


def _run(driver, name: str, **params):  # type: ignore[no-untyped-def]
    return driver.execute_query(cypher_file(name), params).records


def test_cypher_files_listed_with_documented_parameters() -> None:
    names = cypher_files()
    assert {"similar_items", "because_you_liked", "user_taste", "new_items",
            "new_items_audience"} <= set(names)
    for name in names:
        text = cypher_file(name)
        assert text.startswith("//") and "Parameters:" in text
    with pytest.raises(NotFoundError, match="available"):
        cypher_file("../secrets")


def test_cypher_files_run(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    sim = _run(neo4j_driver, "similar_items", item_id="a3", k=5)
    assert len(sim) == 5 and all(r["id"].startswith("a") for r in sim)
    assert "a3" not in [r["id"] for r in sim]
    paths = _run(neo4j_driver, "because_you_liked", user_id="ua0", item_id="a0", limit=3)
    assert paths and paths[0]["p"] is not None
    sims = [r["similarity"] for r in paths]
    assert sims == sorted(sims, reverse=True)
    taste = _run(neo4j_driver, "user_taste", user_id="ua0", limit=5)
    assert taste[0]["kind"] in ("genre", "style") and taste[0]["lift"] > 1
    rec.add_items([{"id": "new-cooking", "title": "Chef Soup Recipe",
                    "description": "A chef simmers soup with spice and bread.",
                    "attributes": {"genre": ["Cooking"], "style": ["homely"]}}])
    since = neo4j_driver.execute_query(
        "MATCH (i:Item {id: 'new-cooking'}) RETURN i.createdAt AS t").records[0]["t"]
    new = _run(neo4j_driver, "new_items", since=since, limit=10)
    assert "new-cooking" in [r["id"] for r in new] and all(r["recommendable"] for r in new)
    audience = _run(neo4j_driver, "new_items_audience", since=since, users_per_item=5)
    users = [r["user"] for r in audience if r["item"] == "new-cooking"]
    assert users and sum(u.startswith("ub") for u in users) >= len(users) - 1


@pytest.fixture
def cli(rec, settings, monkeypatch):  # type: ignore[no-untyped-def]
    from kgrec.cli import _register, app

    _register()
    monkeypatch.setenv("KGREC_HOME", str(settings.home))
    return CliRunner(), app


def test_cli_recommend_json(cli) -> None:  # type: ignore[no-untyped-def]
    runner, app = cli
    res = runner.invoke(app, ["-q", "recommend", "ua0", "-k", "3", "--filter", "genre=SciFi",
                              "--filter", "-style=homely", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["user_id"] == "ua0" and len(data["items"]) == 3
    assert all(r["item_id"].startswith("a") for r in data["items"])
    res = runner.invoke(app, ["-q", "recommend", "ua0", "--filter", "genre"])
    assert res.exit_code != 0


def test_cli_explain_similar_json(cli) -> None:  # type: ignore[no-untyped-def]
    runner, app = cli
    res = runner.invoke(app, ["-q", "explain", "ua0", "a0", "--max-paths", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["item_id"] == "a0" and 1 <= len(data["paths"]) <= 2
    assert "MATCH p =" in data["paths"][0]["cypher"]
    res = runner.invoke(app, ["-q", "similar", "a3", "-k", "4", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)["items"]) == 4
    res = runner.invoke(app, ["-q", "recommend", "ua0", "-k", "3"])
    assert res.exit_code == 0 and "Recommendations for ua0" in res.output


def test_cli_train_writes_checkpoint_and_curves(cli, settings, neo4j_driver,  # type: ignore[no-untyped-def]
                                                tmp_path) -> None:
    from gnn.checkpoint import load_checkpoint
    from gnn.scorer import Scorer
    from kg.queries import NOW

    runner, app = cli
    before = neo4j_driver.execute_query(NOW).records[0]["now"]
    latest = (settings.models_dir / "latest").read_text()
    res = runner.invoke(app, ["-q", "train", "--epochs", "3", "--device", "cpu",
                              "--out", str(tmp_path / "ck"), "--no-write"])
    assert res.exit_code == 0, res.output
    assert "best epoch" in res.output and "wrote 0 item" in res.output
    assert (tmp_path / "ck" / "curves.png").stat().st_size > 1000
    tm = load_checkpoint(tmp_path / "ck")
    assert "ua0" in tm.graph.user_ids and tm.info["best_epoch"] >= 1
    # the database clock when training read the graph (serving reads what changed since)
    assert tm.graph.read_at is not None
    assert before <= tm.graph.read_at <= neo4j_driver.execute_query(NOW).records[0]["now"]
    assert np.isfinite(Scorer(tm).score_trained(np.arange(tm.num_users))).all()
    # --out leaves the served model alone
    assert (settings.models_dir / "latest").read_text() == latest


def test_cli_ingest_file(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner, app = cli
    f = tmp_path / "items.jsonl"
    f.write_text('{"id": "cli-1", "title": "Comet Rocket", "attributes": {"genre": "SciFi"}}\n'
                 '{"id": "cli-2", "title": 5}\n')
    rejects = tmp_path / "rejects.jsonl"
    res = runner.invoke(app, ["-q", "ingest", str(f), "--rejects", str(rejects), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (data["added"], data["rejected"]) == (1, 1)
    assert "'title'" in rejects.read_text()
    res = runner.invoke(app, ["-q", "ingest", str(f), "--json"])
    assert json.loads(res.stdout)["unchanged"] == 1

    def top4(user: str, *flags: str) -> list[str]:
        res = runner.invoke(app, ["-q", "recommend", user, "-k", "4", "--json", *flags])
        assert res.exit_code == 0, res.output
        return [r["item_id"] for r in json.loads(res.stdout)["items"]]

    # the new SciFi item fits a space user: a slot shows it unless it ranked in already
    plain, slots = top4("ua2"), top4("ua2", "--new-items", "1")
    assert "cli-1" in slots and (slots == plain or slots[:3] == plain[:3])
    # it does not fit a cooking user: no slot for it
    assert "cli-1" not in top4("ub0", "--new-items", "1")


def test_watch_folder_processes_each_file_once(rec, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kgrec.workflows import watch_folder

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"id": "w-1", "title": "Orbit Alien"}\n')
    state = tmp_path / "state.json"
    seen: list[str] = []
    assert watch_folder(rec, tmp_path / "in", state, interval=0, max_rounds=1,
                        on_file=lambda p, s: seen.append(p.name)) == 1
    assert watch_folder(rec, tmp_path / "in", state, interval=0, max_rounds=1) == 0
    assert rec.state.catalog.row_of("w-1") is not None and seen == ["a.jsonl"]


def test_cli_recommend_batch_writes_one_list_per_user_or_nothing(cli, rec, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner, app = cli
    users = tmp_path / "users.txt"
    users.write_text("# users to score\nua0\n\nub1\nua0\n")
    out = tmp_path / "lists.jsonl"
    res = runner.invoke(app, ["-q", "recommend-batch", str(users), "--out", str(out), "-k", "4"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["user_id"] for r in rows] == ["ua0", "ub1"]
    assert [i["item_id"] for i in rows[0]["items"]] == rec.recommend("ua0", k=4).item_ids
    users.write_text("ua0\nnobody-here\n")
    gone = tmp_path / "none.jsonl"
    res = runner.invoke(app, ["-q", "recommend-batch", str(users), "--out", str(gone)])
    assert res.exit_code != 0 and not gone.exists() and not list(tmp_path.glob(".none*"))
    res = runner.invoke(app, ["-q", "recommend-batch", str(users), "--out", str(gone),
                              "--skip-unknown"])
    assert res.exit_code == 0 and "error" in json.loads(gone.read_text().splitlines()[1])


def test_cli_version(cli) -> None:  # type: ignore[no-untyped-def]
    runner, app = cli
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.startswith("kgrec ")
