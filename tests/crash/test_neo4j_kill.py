"""Kill Neo4j itself (SIGKILL of its java process) in the middle of a catalog load.

A disposable local server (its own ``KGREC_HOME``; the session's server is never
touched) loads ``tests/data/catalog`` in transactions of 7 rows. The Nth write
transaction kills the server after its statements ran and before its commit, so the
kill lands with a write open and earlier batches committed but not yet checkpointed.
After a restart (Neo4j recovers from its transaction log) the graph holds a strict,
non-empty part of the catalog; re-running the same load then gives exactly what a
crash-free load gives: the same nodes, relationships and properties.

The kill is injected through a thin wrapper around the real driver's
``session().execute_write`` (no mock: every statement runs on the real server).
"""

from __future__ import annotations

import dataclasses
import os
import select
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import neo4j
import pytest

from ingest.loader import load_catalog
from kg.connection import connect
from kg.server import LocalNeo4j
from kg.writer import GraphWriter
from kgrec.errors import GraphError
from kgrec.settings import Settings

CATALOG = Path(__file__).parents[1] / "data" / "catalog"
BATCH = 7

#: the whole graph, in a form that compares exactly
SNAPSHOT = {
    "labels": "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n ORDER BY label",
    "types": "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n ORDER BY type",
    "items": "MATCH (i:Item) RETURN i.id AS id, i.title AS title, i.description AS d "
             "ORDER BY id",
    "interactions": "MATCH (u:User)-[r:INTERACTED]->(i:Item) RETURN u.id AS u, i.id AS i, "
                    "r.weight AS w, r.ts AS ts ORDER BY u, i",
    "attributes": "MATCH (n)-[:HAS_ATTRIBUTE]->(a:Attribute) RETURN n.id AS n, a.id AS a "
                  "ORDER BY n, a",
}


def _snapshot(driver: neo4j.Driver) -> dict[str, list[dict[str, Any]]]:
    return {name: [dict(r) for r in driver.execute_query(q).records]
            for name, q in SNAPSHOT.items()}


def _size(snapshot: dict[str, list[dict[str, Any]]]) -> int:
    return sum(int(r["n"]) for r in (*snapshot["labels"], *snapshot["types"]))


def _kill_and_wait(pid: int) -> None:
    """SIGKILL ``pid`` and block until it has exited (a pidfd turns readable; no sleep)."""
    fd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        select.select([fd], [], [])
    finally:
        os.close(fd)


class _Session:
    def __init__(self, session: neo4j.Session, before_commit: Callable[[], None]) -> None:
        self._session, self._before_commit = session, before_commit

    def __enter__(self) -> Self:
        self._session.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:  # what neo4j.Session.__exit__ does
        self._session.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def execute_write(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def then_hook(tx: neo4j.ManagedTransaction, *a: Any, **k: Any) -> Any:
            result = work(tx, *a, **k)
            self._before_commit()
            return result

        return self._session.execute_write(then_hook, *args, **kwargs)


class _KillingDriver:
    """The real driver; its ``kill_at``-th write transaction kills the server before commit."""

    def __init__(self, driver: neo4j.Driver, server: LocalNeo4j, kill_at: int) -> None:
        self._driver, self._server, self._kill_at = driver, server, kill_at
        self.writes = 0
        self.killed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    def session(self, **kwargs: Any) -> _Session:
        return _Session(self._driver.session(**kwargs), self._count)

    def _count(self) -> None:
        self.writes += 1
        pid = self._server.status().pid
        if self.writes == self._kill_at and pid is not None:
            _kill_and_wait(pid)
            self.killed = True


def _load(driver: Any, settings: Settings) -> None:
    load_catalog(GraphWriter(driver, settings.neo4j.database, batch_size=BATCH,
                             show_progress=False), CATALOG)


def _empty(driver: neo4j.Driver) -> None:
    driver.execute_query("MATCH (n) DETACH DELETE n")


@pytest.fixture(scope="module")
def disposable(settings: Settings, neo4j_server: object,
               tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[LocalNeo4j, dict[str, list[dict[str, Any]]]]]:
    """A second local server and the snapshot of a crash-free load into it."""
    if neo4j_server is None:
        pytest.skip("NEO4J_URI set: the test kills a local server of its own")
    server = LocalNeo4j(dataclasses.replace(
        settings, home=tmp_path_factory.mktemp("kill_home"),
        neo4j=dataclasses.replace(settings.neo4j, timeout=1.0)))
    server.start(timeout=180)
    with connect(server.settings) as driver:
        _load(driver, server.settings)
        expected = _snapshot(driver)
    yield server, expected
    server.stop()


@pytest.mark.parametrize("kill_at", [2, 8, 20])
def test_kill_neo4j_mid_load_then_rerun_gives_a_crash_free_graph(
        disposable: tuple[LocalNeo4j, dict[str, list[dict[str, Any]]]], kill_at: int) -> None:
    server, expected = disposable
    server.start(timeout=180)
    with connect(server.settings) as driver:
        _empty(driver)
        killing = _KillingDriver(driver, server, kill_at)
        with pytest.raises(GraphError):
            _load(killing, server.settings)
    assert killing.killed and not server.status().running

    server.start(timeout=180)  # recovery from the transaction log
    with connect(server.settings) as driver:
        partial = _snapshot(driver)
        assert 0 < _size(partial) < _size(expected)  # committed batches survived, no more
        _load(driver, server.settings)
        assert _snapshot(driver) == expected
