"""Analyst Cypher files against the planted graph, and the serving CLI (typer CliRunner)."""

from __future__ import annotations

import json
import re

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


def test_cli_explain_similar_json(cli, settings) -> None:  # type: ignore[no-untyped-def]
    runner, app = cli
    res = runner.invoke(app, ["-q", "explain", "ua0", "a0", "--max-paths", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["item_id"] == "a0" and 1 <= len(data["paths"]) <= 2
    assert "MATCH p =" in data["paths"][0]["cypher"]
    if settings.neo4j.uri is None:  # the text names the local Neo4j Browser to paste into
        res = runner.invoke(app, ["-q", "explain", "ua0", "a0", "--max-paths", "1"])
        assert res.exit_code == 0, res.output
        assert "Paste the Cypher above into Neo4j Browser: http://127.0.0.1:" in res.output
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


@pytest.fixture
def db_cli(clean_db, settings, monkeypatch):  # type: ignore[no-untyped-def]
    """A CliRunner on an empty database (the planted graph is reloaded after it)."""
    import logging

    from kgrec.cli import _register, app
    from tests.conftest import cli_env

    _register()
    for key, value in cli_env(settings).items():
        monkeypatch.setenv(key, value)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield CliRunner(), app, clean_db
    root.handlers[:] = handlers  # the CLI callback logs onto CliRunner's closed stderr
    root.setLevel(level)


def test_cypher_p_is_a_string_unless_typed(db_cli) -> None:  # type: ignore[no-untyped-def]
    from kg.records import ItemRecord
    from kg.writer import GraphWriter

    runner, app, driver = db_cli
    GraphWriter(driver, show_progress=False).write_items(
        [ItemRecord("42", "Answer"), ItemRecord("7", "Seven")])

    def rows(*args: str) -> list[dict[str, object]]:
        res = runner.invoke(app, ["-q", "cypher", *args, "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    # ids are strings: -p id=42 finds the item "42" (JSON parsing made it the int 42)
    assert rows("MATCH (i:Item {id: $id}) RETURN i.title AS t", "-p", "id=42") == [
        {"t": "Answer"}]
    assert rows("RETURN $n AS n, $x AS x, $b AS b, $s AS s, $plain AS plain, $e AS e",
                "-p", "n:int=-5", "-p", "x:float=1.5", "-p", "b:bool=TRUE", "-p", "s:str=007",
                "-p", "plain=true", "-p", "e=") == [
        {"n": -5, "x": 1.5, "b": True, "s": "007", "plain": "true", "e": ""}]
    assert rows("MATCH (i:Item) WHERE i.id IN $ids RETURN i.id AS id ORDER BY id LIMIT $k",
                "-P", '{"ids": ["42", "7", "nope"], "k": 1}') == [{"id": "42"}]
    assert rows("RETURN $a AS a, $b AS b", "-p", "a=x=y", "-P", '{"b": [1, {"c": null}]}') == [
        {"a": "x=y", "b": [1, {"c": None}]}]


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "n:int=abc"], "int value must be an integer such as 42, got 'abc'"),
    (["-p", "n:int=1.5"], "int value must be an integer"),
    (["-p", "x:float=nan"], "float value must be a finite number"),
    (["-p", "b:bool=yes"], "bool value must be true or false, got 'yes'"),
    (["-p", "n:long=5"], "unknown type 'long' (expected one of int, float, bool, str"),
    (["-p", "no-equals"], "expected name=value or name:type=value"),
    (["-p", "n=1", "-p", "n=2"], "parameter 'n' given twice"),
    (["-P", "[1, 2]"], "expected a JSON object of parameters"),
    (["-P", "{nope"], "not JSON"),
    (["-p", "n=1", "-P", '{"n": 2}'], "n given with -p and -P"),
])
def test_cypher_bad_parameters_are_usage_errors(db_cli, args: list[str],  # type: ignore[no-untyped-def]
                                                message: str) -> None:
    runner, app, _ = db_cli
    res = runner.invoke(app, ["-q", "cypher", "RETURN 1 AS one", *args])
    assert res.exit_code == 2, res.output
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", res.output).split())  # rich boxes and wraps
    assert message in text


def test_cli_stderr_is_quiet_and_the_weight_bar_hidden(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No INFO by default; with -v, INFO but no transformers "Loading weights" bar (each
    run loads the model: a fresh KGREC_HOME, so no feature-cache hit)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    items = root / "tests" / "data" / "catalog" / "items.jsonl"

    def encode(home: str, *flags: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KGREC_HOME": str(tmp_path / home), "PYTHONPATH": str(root)}
        return subprocess.run([sys.executable, "-c", "from kgrec.cli import main; main()",
                               *flags, "encode", str(items), "--no-attributes", "--json"],
                              capture_output=True, text=True, env=env, timeout=300,
                              check=False)

    quiet = encode("a")
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["items"] == 30 and quiet.stderr == ""
    verbose = encode("b", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "INFO llm_bridge.encoder: loaded encoder" in verbose.stderr
    assert "Loading weights" not in verbose.stderr


def _commands() -> dict[str, object]:
    """Every leaf command of ``kgrec``, by its full name (``db status``)."""
    import typer

    from kgrec.cli import _register, app

    _register()
    out: dict[str, object] = {}

    def walk(cmd: object, prefix: str) -> None:
        subcommands = getattr(cmd, "commands", None)  # a group (typer may vendor click)
        if subcommands is not None:
            for name, sub in subcommands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            out[prefix] = cmd

    walk(typer.main.get_command(app), "")
    return out


def test_every_command_that_prints_results_has_json() -> None:
    # demo narrates a walk-through; serve runs the HTTP service (its log is its output)
    without = {name for name, cmd in _commands().items()
               if "--json" not in [o for p in cmd.params for o in p.opts]}  # type: ignore[attr-defined]
    assert without == {"demo", "serve"}


def test_every_command_that_reads_records_has_the_same_on_error() -> None:
    from kgrec.cli import ON_ERROR_HELP

    readers = {name: next((p for p in cmd.params if "--on-error" in p.opts), None)  # type: ignore[attr-defined]
               for name, cmd in _commands().items()}
    having = {name for name, p in readers.items() if p is not None}
    assert having == {"load catalog", "load rdf", "ingest", "encode"}
    from kgrec.cli import app

    for name in having:
        assert readers[name].help == ON_ERROR_HELP, name  # type: ignore[union-attr]
        res = CliRunner().invoke(app, [*name.split(), "x", "--on-error", "maybe"])
        text = " ".join(re.sub("[│╭╮╰╯─]", " ", res.output).split())
        assert res.exit_code == 2 and "'maybe' is not one of 'fail', 'skip'" in text, name
