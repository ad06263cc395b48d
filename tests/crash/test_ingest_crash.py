"""Kill the loader and the ingest watcher for real (SIGKILL at a named point,
:mod:`kgrec.faults`), then re-run: the graph ends exactly as after a crash-free run.

* ``kgrec load catalog`` killed after the items (or the users) were committed: a re-run
  gives the same nodes, relationships and interaction weights as one clean load (the
  interactions are MERGEd with their weight *set*, so nothing is counted twice).
* ``kgrec ingest --watch`` killed after a file's items were written but before its
  state was saved, or after a bad file was quarantined: a restart ingests what is left,
  re-ingesting the unsaved file changes nothing (``add_items`` is idempotent), and the
  quarantined file stays quarantined.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import neo4j
import pytest

from kgrec.faults import CRASH_ENV
from kgrec.settings import Settings
from tests.ingest.model_home import (
    CATALOG,
    ROOT,
    graph_counts,
    kgrec_command,
    model_dir,
    reload_catalog,
    subprocess_env,
    trained_home,
)

#: the whole graph, in a form that compares exactly
GRAPH = {
    "items": "MATCH (i:Item) RETURN i.id AS id, i.title AS t, i.description AS d ORDER BY id",
    "users": "MATCH (u:User) RETURN u.id AS id ORDER BY id",
    "interactions": "MATCH (u:User)-[r:INTERACTED]->(i:Item) RETURN u.id AS u, i.id AS i, "
                    "r.weight AS w, r.ts AS ts ORDER BY u, i",
    "attributes": "MATCH (n)-[:HAS_ATTRIBUTE]->(a:Attribute) RETURN n.id AS n, a.id AS a "
                  "ORDER BY n, a",
}


def _graph(driver: neo4j.Driver, settings: Settings) -> dict[str, Any]:
    db = settings.neo4j.database
    out: dict[str, Any] = {name: [tuple(r.values()) for r in driver.execute_query(
        query, database_=db).records] for name, query in GRAPH.items()}
    out["counts"] = graph_counts(driver, settings)
    return out


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600,
                          check=False, cwd=ROOT)


def _session_env(settings: Settings, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    return {**base, "KGREC_HOME": str(settings.home), "PYTHONPATH": str(ROOT), **extra}


@pytest.mark.parametrize("point", ["load.after_items", "load.after_users"])
def test_load_killed_between_files_is_completed_exactly_by_a_re_run(
        clean_db: neo4j.Driver, settings: Settings, point: str) -> None:
    from ingest.loader import load_catalog
    from kg.queries import DELETE_ALL
    from kg.writer import GraphWriter

    load_catalog(GraphWriter(clean_db, settings.neo4j.database, show_progress=False), CATALOG)
    reference = _graph(clean_db, settings)
    with clean_db.session(database=settings.neo4j.database) as session:
        session.run(DELETE_ALL).consume()

    died = _run(kgrec_command("load", "catalog", str(CATALOG), "--batch-size", "7"),
                _session_env(settings, **{CRASH_ENV: point}))
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    partial = _graph(clean_db, settings)
    assert partial["items"] == reference["items"]  # the items were committed ...
    assert partial["interactions"] == []  # ... the interactions were not
    for _ in range(2):  # the re-run completes it; running again changes nothing
        again = _run(kgrec_command("load", "catalog", str(CATALOG), "--batch-size", "7"),
                     _session_env(settings))
        assert again.returncode == 0, again.stderr[-2000:]
        assert _graph(clean_db, settings) == reference


def _inbox(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        '{"id": "w-1", "title": "Night Train", "attributes": {"genre": ["Thriller"]}}\n'
        '{"id": "w-2", "title": "Day Boat", "attributes": {"genre": ["Comedy", "Drama"]}}\n')
    (folder / "b.jsonl").write_text("")  # no records: quarantined
    (folder / "c.jsonl").write_text('{"id": "w-3", "title": "Cloud", "attributes": '
                                    '{"mood": ["uplifting"]}}\n{"id": "1", "title": "Movie 1 '
                                    '(1987)"}\n')
    return folder


def _embedded(driver: neo4j.Driver, settings: Settings) -> list[tuple[str, bool]]:
    records = driver.execute_query(
        "MATCH (i:Item) WHERE i.id STARTS WITH 'w-' RETURN i.id AS id, "
        "i.embedding IS NOT NULL AND i.contentHash IS NOT NULL AS done ORDER BY id",
        database_=settings.neo4j.database).records
    return [(r["id"], r["done"]) for r in records]


@pytest.mark.parametrize(("point", "saved"), [("watch.after_file", []),
                                              ("watch.after_quarantine", ["a.jsonl"])])
def test_watcher_killed_mid_queue_resumes_without_counting_anything_twice(
        neo4j_driver: neo4j.Driver, settings: Settings, tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory, point: str, saved: list[str]) -> None:
    from kgrec.recommender import Recommender
    from kgrec.workflows import watch_folder

    home = trained_home(settings, neo4j_driver, tmp_path_factory.mktemp("ingest_model"))
    reload_catalog(neo4j_driver, settings, home)
    with Recommender(settings, model_dir=model_dir(home), driver=neo4j_driver) as rec:
        assert watch_folder(rec, _inbox(tmp_path / "reference"), tmp_path / "ref.json",
                            interval=0, max_rounds=1) == 2
    reference = _graph(neo4j_driver, settings)

    reload_catalog(neo4j_driver, settings, home)
    inbox = _inbox(tmp_path / "in")
    watch = kgrec_command("ingest", "--watch", str(inbox), "--once")
    died = _run(watch, subprocess_env(settings, home, **{CRASH_ENV: point}))
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    state_file = home / "ingest_state" / "watch.json"
    state = json.loads(state_file.read_text())["processed"] if state_file.exists() else {}
    assert sorted(Path(k).name for k in state if Path(k).parent == inbox.resolve()) == saved
    assert ("w-1", True) in _embedded(neo4j_driver, settings)  # a.jsonl was written

    for _ in range(2):  # the restart finishes the queue; another changes nothing
        again = _run(watch, subprocess_env(settings, home))
        assert again.returncode == 0, again.stderr[-2000:]
        assert _graph(neo4j_driver, settings) == reference
    assert _embedded(neo4j_driver, settings) == [("w-1", True), ("w-2", True), ("w-3", True)]
    assert sorted(p.name for p in (inbox / "quarantine").iterdir()) == [
        "b.jsonl", "b.jsonl.reason.txt"]
    shutil.rmtree(inbox)
