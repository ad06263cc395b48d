"""The ingest watcher (issue 29, item 1): a bad file is quarantined with a reason and the
files behind it are ingested; a hostile line is one reject, not a crash; the state
survives a restart. Real Neo4j, the real text model, a tiny trained model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from kgrec.settings import Settings
from tests.ingest.model_home import model_dir, reload_catalog, trained_home

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def rec(settings: Settings, neo4j_driver: neo4j.Driver,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A recommender on the tiny model of ``tests/data/catalog``, that catalog loaded."""
    from kgrec.recommender import Recommender

    home = trained_home(settings, neo4j_driver, tmp_path_factory.mktemp("ingest_model"))
    reload_catalog(neo4j_driver, settings, home)
    with Recommender(settings, model_dir=model_dir(home), driver=neo4j_driver) as r:
        yield r


def _items(driver: neo4j.Driver, settings: Settings, prefix: str) -> list[str]:
    records, _, _ = driver.execute_query(
        "MATCH (i:Item) WHERE i.id STARTS WITH $p RETURN i.id AS id ORDER BY id", p=prefix,
        database_=settings.neo4j.database)
    return [r["id"] for r in records]


def test_bad_files_are_quarantined_and_the_files_behind_them_ingested(
        rec: Any, neo4j_driver: neo4j.Driver, settings: Settings, tmp_path: Path) -> None:
    from kgrec.workflows import watch_folder

    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a-deep.jsonl").write_text('{"id": "w-1", "title": "Orbit"}\n'
                                        '{"id": "w-x", "attributes": {"g": ' + DEEP + "}}\n")
    (inbox / "b-empty.jsonl").write_text("\n")
    (inbox / "c-dir.jsonl").mkdir()
    (inbox / "d-good.jsonl").write_text('{"id": "w-2", "title": "Comet"}\n')
    state = tmp_path / "state" / "watch.json"
    ingested: dict[str, int] = {}
    moved: list[str] = []
    done = watch_folder(rec, inbox, state, interval=0, max_rounds=1,
                        on_file=lambda p, s: ingested.__setitem__(p.name, s.rejected),
                        on_quarantine=lambda p, q: moved.append(q.name))
    assert done == 2 and ingested == {"a-deep.jsonl": 1, "d-good.jsonl": 0}
    assert moved == ["b-empty.jsonl", "c-dir.jsonl"]
    assert _items(neo4j_driver, settings, "w-") == ["w-1", "w-2"]
    quarantine = inbox / "quarantine"
    reason = (quarantine / "b-empty.jsonl.reason.txt").read_text()
    assert "IngestError:" in reason and "holds no records" in reason
    assert "cannot be read" in (quarantine / "c-dir.jsonl.reason.txt").read_text()
    assert sorted(p.name for p in inbox.iterdir()) == ["a-deep.jsonl", "d-good.jsonl",
                                                       "quarantine"]
    # a restart finds its state: nothing again, nothing lost
    assert watch_folder(rec, inbox, state, interval=0, max_rounds=1) == 0
    (inbox / "b-empty.jsonl").write_text('{"id": "w-3", "title": "Fixed"}\n')
    assert watch_folder(rec, inbox, state, interval=0, max_rounds=1) == 1
    assert (quarantine / "b-empty.jsonl").exists()  # the old copy stays in quarantine


def test_a_reader_bug_quarantines_the_file_instead_of_stopping_the_queue(
        rec: Any, neo4j_driver: neo4j.Driver, settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.catalog
    from kgrec.workflows import watch_folder

    real = ingest.catalog.iter_items

    def buggy(path: Path, **kwargs: Any) -> Any:
        if Path(path).name == "a.jsonl":
            raise ZeroDivisionError("a bug in a reader")
        return real(path, **kwargs)

    monkeypatch.setattr(ingest.catalog, "iter_items", buggy)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text('{"id": "w-1"}\n')
    (inbox / "b.jsonl").write_text('{"id": "w-2", "title": "Comet"}\n')
    quarantine = tmp_path / "bad"
    done = watch_folder(rec, inbox, tmp_path / "state.json", interval=0, max_rounds=1,
                        quarantine_dir=quarantine)
    assert done == 1 and _items(neo4j_driver, settings, "w-") == ["w-2"]
    reason = (quarantine / "a.jsonl.reason.txt").read_text()
    assert "internal error ZeroDivisionError: a bug in a reader" in reason


def test_a_quarantined_name_never_overwrites_an_earlier_one(tmp_path: Path) -> None:
    from kgrec.workflows import quarantine_file

    for k in range(3):
        (tmp_path / "x.jsonl").write_text(str(k))
        quarantine_file(tmp_path / "x.jsonl", tmp_path / "q", f"reason {k}")
    names = sorted(p.name for p in (tmp_path / "q").iterdir())
    assert names == ["x.2.jsonl", "x.2.jsonl.reason.txt", "x.3.jsonl", "x.3.jsonl.reason.txt",
                     "x.jsonl", "x.jsonl.reason.txt"]
    assert (tmp_path / "q" / "x.3.jsonl").read_text() == "2"
    assert (tmp_path / "q" / "x.3.jsonl.reason.txt").read_text().endswith("reason 2\n")


def _interactions(driver: neo4j.Driver, settings: Settings, user: str) -> dict[str, float]:
    records, _, _ = driver.execute_query(
        "MATCH (:User {id: $u})-[r:INTERACTED]->(i:Item) RETURN i.id AS id, r.weight AS w",
        u=user, database_=settings.neo4j.database)
    return {r["id"]: r["w"] for r in records}


def test_the_watcher_takes_csv_items_and_interactions_items_first(
        rec: Any, neo4j_driver: neo4j.Driver, settings: Settings, tmp_path: Path) -> None:
    from kgrec.workflows import InteractionIngest, is_interactions_file, watch_folder

    inbox = tmp_path / "in"
    inbox.mkdir()
    # named to sort before the items they name: the watcher still takes items first
    (inbox / "a-events.csv").write_text("user_id,item_id,weight\n"
                                        "w-user,w-csv,2\nw-user,w-jsonl,1\nw-user,no-such,1\n")
    (inbox / "interactions-2.csv").write_text("item_id,user_id\nw-csv,w-other\n")
    (inbox / "b-items.csv").write_text("id,title,attr:genre\nw-csv,Comet Rocket,SciFi\n")
    (inbox / "c-items.jsonl").write_text('{"id": "w-jsonl", "title": "Orbit"}\n')
    (inbox / "notes.txt").write_text("not a catalog file\n")
    assert [is_interactions_file(inbox / n) for n in ("a-events.csv", "interactions-2.csv",
                                                       "b-items.csv", "c-items.jsonl")] == [
        True, True, False, False]
    order: list[str] = []
    summaries: dict[str, Any] = {}

    def on_file(path: Path, summary: Any) -> None:
        order.append(path.name)
        summaries[path.name] = summary

    done = watch_folder(rec, inbox, tmp_path / "state.json", interval=0, max_rounds=1,
                        on_file=on_file)
    assert done == 4 and order == ["b-items.csv", "c-items.jsonl", "a-events.csv",
                                   "interactions-2.csv"]
    events = summaries["a-events.csv"]
    assert isinstance(events, InteractionIngest)
    assert (events.interactions, events.users, events.rejected) == (2, 1, 1)
    assert "unknown item 'no-such'" in events.reasons[0]
    assert summaries["b-items.csv"].added == 1
    assert _interactions(neo4j_driver, settings, "w-user") == {"w-csv": 2.0, "w-jsonl": 1.0}
    assert _interactions(neo4j_driver, settings, "w-other") == {"w-csv": 1.0}
    assert "w-user" in rec.state.users  # folded in at once
    assert watch_folder(rec, inbox, tmp_path / "state.json", interval=0, max_rounds=1) == 0


def test_cli_ingest_takes_an_interactions_file(
        rec: Any, neo4j_driver: neo4j.Driver, settings: Settings, tmp_path: Path) -> None:
    import json
    import subprocess

    from tests.ingest.model_home import ROOT, kgrec_command, subprocess_env, trained_home

    home = trained_home(settings, neo4j_driver, tmp_path)
    events = tmp_path / "events.csv"
    events.write_text("user_id,item_id\nw-cli,1\nw-cli,no-such\n")
    env = subprocess_env(settings, home)

    def ingest(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(kgrec_command("ingest", str(events), *flags), env=env,
                              capture_output=True, text=True, cwd=ROOT, timeout=300,
                              check=False)

    failed = ingest("--on-error", "fail")
    assert failed.returncode == 1 and "unknown item 'no-such'" in failed.stderr
    assert _interactions(neo4j_driver, settings, "w-cli") == {}  # checked before writing
    done = ingest("--json")  # --on-error skip is the default of ingest
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["kind"] == "interactions" and summary["file"] == str(events)
    assert (summary["interactions"], summary["users"], summary["rejected"]) == (1, 1, 1)
    assert _interactions(neo4j_driver, settings, "w-cli") == {"1": 1.0}
