from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from typer.testing import CliRunner

from kg.records import ItemRecord
from kg.writer import GraphWriter
from kgrec.cli import _register, app
from kgrec.settings import Settings

_register()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {"KGREC_HOME": str(settings.home), "KGREC_CACHE": str(settings.cache_dir)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield env
    # the CLI callback re-configures logging onto CliRunner's (then closed) stderr
    root.handlers[:] = handlers
    root.setLevel(level)


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_stats_cypher(clean_db: neo4j.Driver, cli_env: dict[str, str],
                             settings: Settings) -> None:
    GraphWriter(clean_db, show_progress=False).write_items(
        [ItemRecord("1", "One", "", {"genre": ["a"]}), ItemRecord("2", "Two")])
    if settings.neo4j.uri is None:
        status = json.loads(_invoke("db", "status", "--json"))
        assert status["running"] is True and status["uri"].startswith("bolt://127.0.0.1:")
        url = status["browser_url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/browser/")
        assert f"browser_url {url}" in _invoke("db", "status")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=30) as page:  # Neo4j Browser, served by the server
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]
            assert "<title>Neo4j Browser</title>" in page.read().decode()
    stats = json.loads(_invoke("stats", "--json"))
    assert stats["nodes"]["Item"] == 2 and stats["relationships"]["HAS_ATTRIBUTE"] == 1
    rows = json.loads(_invoke("cypher", "MATCH (i:Item) WHERE i.id IN $ids "
                              "RETURN i.id AS id, i.title AS t ORDER BY id",
                              "-P", '{"ids": ["2"]}', "--json"))
    assert rows == [{"id": "2", "t": "Two"}]
    rows = json.loads(_invoke("cypher", "RETURN $x AS x, $y AS y, $z AS z", "-p", "x:int=7",
                              "-p", "y=hello", "-p", "z=007", "--json"))
    assert rows == [{"x": 7, "y": "hello", "z": "007"}]  # untyped: the string as written
    assert "Two" in _invoke("cypher", "MATCH (i:Item {id: '2'}) RETURN i")
    _invoke("cypher", "CREATE (:Item {id: $id})", "-p", "id=3", "--write")
    assert json.loads(_invoke("stats", "--json"))["nodes"]["Item"] == 3


def _run_main(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from kgrec.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, check=False)


def test_cli_errors_are_one_line(clean_db: neo4j.Driver, cli_env: dict[str, str]) -> None:
    bad = _run_main(cli_env, "cypher", "MATCH (n RETURN n")
    assert bad.returncode == 1 and bad.stderr.startswith("GraphError: query failed")
    assert "Traceback" not in bad.stderr
    ro = _run_main(cli_env, "cypher", "CREATE (:Item {id: 'x'})")
    assert ro.returncode == 1 and "--write" in ro.stderr
    assert _run_main(cli_env, "db", "reset").returncode == 2  # no --yes: nothing happens
    assert clean_db.execute_query("RETURN 1 AS x").records[0]["x"] == 1


def test_export_rdf_cli(clean_db: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path) -> None:
    GraphWriter(clean_db, show_progress=False).write_items([ItemRecord("1", "One")])
    out = tmp_path / "g.ttl"
    assert "triples" in _invoke("export", "rdf", str(out))
    assert "One" in out.read_text()


def test_cli_without_server_says_start(tmp_path: Path) -> None:
    env = {"KGREC_HOME": str(tmp_path / "nohome"), "NEO4J_URI": ""}
    res = _run_main(env, "stats")
    assert res.returncode == 1 and "kgrec db start" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def _reject_constant(name: str) -> None:
    raise AssertionError(f"not JSON: {name}")


def test_cypher_json_is_strict_json(clean_db: neo4j.Driver, cli_env: dict[str, str]) -> None:
    out = _invoke("cypher", "RETURN 1e308*10 AS x, -1e308*10 AS y, 0.0/0.0 AS z, "
                  "[1.5, 1e308*10] AS l, {a: 1e308*10} AS m", "--json")
    rows = json.loads(out, parse_constant=_reject_constant)
    assert rows == [{"x": None, "y": None, "z": None, "l": [1.5, None], "m": {"a": None}}]
    assert "null" in _invoke("cypher", "--help")
