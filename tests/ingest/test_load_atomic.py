"""A catalog load validates every file before its first write (issue 29, item 9): with
``--on-error fail`` a bad header, record or empty file anywhere writes nothing; with
``skip`` the bad records are reported and the good ones written. Real Neo4j."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import pytest
from typer.testing import CliRunner

import kgrec.cli.commands_load  # noqa: F401  (registers "load" on app)
from ingest.loader import load_catalog, load_movielens
from kgrec.cli import app
from kgrec.errors import IngestError, RecordError
from kgrec.settings import Settings
from tests.conftest import cli_env

CATALOG = Path(__file__).parents[1] / "data" / "catalog"
DEEP = "[" * 100_000 + "]" * 100_000


def _writer(driver: neo4j.Driver, settings: Settings, batch_size: int = 10_000) -> Any:
    from kg.writer import GraphWriter

    return GraphWriter(driver, database=settings.neo4j.database, batch_size=batch_size,
                       show_progress=False)


def _nodes(driver: neo4j.Driver, settings: Settings) -> int:
    records, _, _ = driver.execute_query("MATCH (n) RETURN count(n) AS n",
                                         database_=settings.neo4j.database)
    return int(records[0]["n"])


def _catalog(tmp_path: Path, name: str, edit: Callable[[str], str]) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    path = folder / name
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def _append(line: str) -> Callable[[str], str]:
    return lambda text: text.rstrip("\n") + "\n" + line + "\n"


BROKEN: dict[str, tuple[str, Callable[[str], str], type[Exception], str]] = {
    "empty interactions": ("interactions.csv", lambda t: "", IngestError, "holds no records"),
    "header-only interactions": ("interactions.csv", lambda t: t.splitlines()[0] + "\n",
                                 IngestError, "holds no records"),
    "bad interactions header": ("interactions.csv", lambda t: "user,item\n" + t, RecordError,
                                r"interactions\.csv line 1: field 'user_id' is missing"),
    "last interaction unknown item": ("interactions.csv", _append("u1,no-such-item,1,0"),
                                      RecordError, r"line 128: field 'item_id' names an unknown"),
    "timestamp 1e20": ("interactions.csv", _append("u1,2,1,1e20"), RecordError,
                       r"line 128: field 'timestamp' is out of range"),
    "pre-1970 ISO timestamp": ("interactions.csv", _append("u1,2,1,1969-07-20T20:17:00Z"),
                               RecordError, r"line 128: field 'timestamp' is out of range"),
    "merged weight too large": ("interactions.csv", _append("u1,2,7e11,0\nu1,2,7e11,0"),
                                RecordError, r"line 128: field 'weight' of the pair"),
    "empty users": ("users.jsonl", lambda t: "\n", IngestError, "holds no records"),
    "deeply nested user": ("users.jsonl", _append('{"id": "u9", "attributes": ' + DEEP + "}"),
                           RecordError, r"users\.jsonl line 25: is not usable JSON"),
    "last item invalid id": ("items.jsonl", _append('{"id": "\\u202eevil"}'), RecordError,
                             r"items\.jsonl line 33: field 'id' is not a valid id"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_failed_load_writes_nothing(clean_db: neo4j.Driver, settings: Settings,
                                      tmp_path: Path, case: str) -> None:
    name, edit, error, pattern = BROKEN[case]
    folder = _catalog(tmp_path, name, edit)
    with pytest.raises(error, match=pattern):
        load_catalog(_writer(clean_db, settings, batch_size=7), folder)
    assert _nodes(clean_db, settings) == 0


def test_fail_mode_writes_nothing_when_a_later_batch_is_bad(clean_db: neo4j.Driver,
                                                            settings: Settings,
                                                            tmp_path: Path) -> None:
    lines = [json.dumps({"id": str(k), "title": f"Item {k}"}) for k in range(1, 26)]
    lines[14] = json.dumps({"id": "15", "title": 15})  # line 15, in the second batch of 10
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"items\.jsonl line 15: field 'title'"):
        load_catalog(_writer(clean_db, settings, batch_size=10), tmp_path)
    assert _nodes(clean_db, settings) == 0


def test_skip_mode_writes_the_good_records_and_reports_the_bad(clean_db: neo4j.Driver,
                                                               settings: Settings,
                                                               tmp_path: Path) -> None:
    folder = _catalog(tmp_path, "interactions.csv",
                      _append("u1,2,1,1e20\nu1,no-such-item,1,0\nu9,3,6e11,0\nu9,3,6e11,0"))
    rejects = tmp_path / "rejects.jsonl"
    summary = load_catalog(_writer(clean_db, settings, batch_size=7), folder, "skip", rejects)
    assert (summary.items, summary.users, summary.interactions, summary.rejected) == (
        30, 24, 125, 3)
    entries = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(e["line"], e["field"]) for e in entries] == [(128, "timestamp"), (129, "item_id"),
                                                          (130, "weight")]
    records, _, _ = clean_db.execute_query(
        "MATCH ()-[r:INTERACTED]->() RETURN count(r) AS n, max(r.weight) AS w",
        database_=settings.neo4j.database)
    assert (records[0]["n"], records[0]["w"]) == (125, 2.5)  # the largest of the file


def test_skip_mode_still_stops_on_an_empty_file_before_writing(clean_db: neo4j.Driver,
                                                               settings: Settings,
                                                               tmp_path: Path) -> None:
    folder = _catalog(tmp_path, "interactions.csv", lambda t: "")
    with pytest.raises(IngestError, match="holds no records"):
        load_catalog(_writer(clean_db, settings), folder, "skip", None)
    assert _nodes(clean_db, settings) == 0


def test_skip_mode_rejects_keep_file_order(tmp_path: Path, clean_db: neo4j.Driver,
                                           settings: Settings) -> None:
    folder = _catalog(tmp_path, "items.jsonl", _append('{"id": "x", "title": ' + DEEP + "}"))
    (folder / "interactions.csv").write_text("user_id,item_id\nu1,1\nu1,zz\n")
    summary = load_catalog(_writer(clean_db, settings), folder, "skip")
    assert (summary.items, summary.interactions, summary.rejected) == (30, 1, 2)


def test_movielens_rating_of_an_unknown_movie_writes_nothing(clean_db: neo4j.Driver,
                                                             settings: Settings,
                                                             tmp_path: Path) -> None:
    (tmp_path / "u.genre").write_text("unknown|0\nAction|1\n", encoding="latin-1")
    (tmp_path / "u.item").write_text("1|A (1995)|01-Jan-1995||url|0|1\n", encoding="latin-1")
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n", encoding="latin-1")
    (tmp_path / "u.data").write_text("1\t1\t3\t881250949\n1\t2\t3\t881250949\n")
    with pytest.raises(RecordError, match=r"u\.data line 2: field 'item' names an unknown movie"):
        load_movielens(_writer(clean_db, settings), tmp_path)
    assert _nodes(clean_db, settings) == 0




def test_cli_load_of_a_deeply_nested_line_is_one_reject_or_one_error(
        clean_db: neo4j.Driver, settings: Settings, tmp_path: Path) -> None:
    folder = _catalog(tmp_path, "items.jsonl",
                      _append('{"id": "99", "attributes": {"genre": ' + DEEP + "}}"))
    runner = CliRunner()
    result = runner.invoke(app, ["load", "catalog", str(folder)], env=cli_env(settings))
    assert result.exit_code != 0
    assert isinstance(result.exception, RecordError), result.output
    assert "items.jsonl line 33: is not usable JSON" in str(result.exception)
    assert _nodes(clean_db, settings) == 0
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(app, ["load", "catalog", str(folder), "--on-error", "skip",
                                 "--rejects", str(rejects)], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    assert "30 items, 24 users, 125 interactions" in result.output and "1 rejected" in \
        result.output
    assert json.loads(rejects.read_text())["line"] == 33
