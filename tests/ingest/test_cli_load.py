"""``kgrec load ...`` through typer's CliRunner against the test Neo4j."""

from __future__ import annotations

import json
from pathlib import Path

import neo4j
from typer.testing import CliRunner

import kgrec.cli.commands_load  # noqa: F401  (registers "load" on app)
from kgrec.cli import app
from kgrec.settings import Settings
from tests.conftest import cli_env

DATA = Path(__file__).parents[1] / "data"




def _count(driver: neo4j.Driver, settings: Settings, query: str) -> int:
    records, _, _ = driver.execute_query(query, database_=settings.neo4j.database)  # type: ignore[arg-type]
    return int(records[0][0])


def test_load_catalog_cli(clean_db: neo4j.Driver, settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["load", "catalog", str(DATA / "catalog"), "--batch-size", "7"],
                           env=cli_env(settings))
    assert result.exit_code == 0, result.output
    assert "30 items, 24 users, 125 interactions" in result.output
    assert _count(clean_db, settings, "MATCH (n:Item) RETURN count(n)") == 30

    rejects = tmp_path / "rej.jsonl"
    result = runner.invoke(app, ["load", "catalog", str(DATA / "broken" / "mixed"), "--on-error",
                                 "skip", "--rejects", str(rejects)], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    assert "6 rejected" in result.output
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 6


def test_load_cli_errors(clean_db: neo4j.Driver, settings: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["load", "catalog", str(DATA / "broken" / "mixed")],
                           env=cli_env(settings))
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "line 3: field 'title'" in str(result.exception)
    result = runner.invoke(app, ["load", "catalog", str(DATA / "catalog"), "--on-error", "maybe"],
                           env=cli_env(settings))
    assert result.exit_code == 2
    assert "'maybe' is not one of" in result.output and "'skip'" in result.output


def test_load_synthetic_out_writes_catalog(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["load", "synthetic", "--users", "12", "--items", "8",
                                      "--seed", "3", "--out", str(tmp_path / "syn")])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "syn" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 and json.loads(lines[0])["id"] == "i0"
    assert (tmp_path / "syn" / "interactions.csv").read_text().startswith(
        "user_id,item_id,weight,timestamp")
