"""Shared fixtures: one real Neo4j server per test session.

* ``neo4j_server`` (session): a :class:`kg.server.LocalNeo4j` under a temporary
  ``KGREC_HOME`` (jars from the normal cache, ``~/.cache/kgrec`` or
  ``KGREC_CACHE``), stopped at the end of the session. ``None`` when
  ``NEO4J_URI`` is set: then that server is used (it must be disposable: tests
  delete everything in it).
* ``settings`` (session): the :class:`~kgrec.settings.Settings` for that server.
* ``neo4j_driver`` (session): a connected driver.
* ``clean_db`` (function): empties the database, ensures the schema, yields the driver.

If Neo4j cannot be started the Neo4j tests are skipped, unless ``CI`` is set
("true"/"1"), then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import neo4j
import pytest

from kgrec.errors import KGRecError
from kgrec.settings import Settings


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


#: MovieLens 100K beside the repository (``../shared/datasets/ml-100k``)
ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "ml-100k"
#: tests on MovieLens 100K are skipped only where the data is truly absent; CI has it, so
#: there they run (and fail if it is missing)
needs_movielens = pytest.mark.skipif(not ML100K.is_dir() and not _in_ci(),
                                     reason=f"MovieLens 100K is not at {ML100K}")


def _unavailable(reason: str) -> NoReturn:
    if _in_ci():
        pytest.fail(f"Neo4j unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"Neo4j unavailable: {reason}")


def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for a ``kgrec`` command run against the session's Neo4j."""
    env = {"KGREC_HOME": str(settings.home), "NEO4J_DATABASE": settings.neo4j.database}
    if settings.neo4j.uri:
        env["NEO4J_URI"] = settings.neo4j.uri
        env["NEO4J_USER"] = settings.neo4j.user
        env["NEO4J_PASSWORD"] = settings.neo4j.password.get_secret_value() \
            if settings.neo4j.password else ""
    return env


def _test_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith(("NEO4J_", "KGREC_", "HF_"))}
    env["KGREC_HOME"] = str(home)
    env.setdefault("KGREC_NEO4J_HEAP", "512m")
    env.setdefault("KGREC_NEO4J_PAGECACHE", "256m")
    return env


@pytest.fixture(scope="session")
def _neo4j_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, object]]:
    from kg.server import LocalNeo4j

    home = tmp_path_factory.mktemp("kgrec_home")
    settings = Settings.from_env(_test_env(home))
    server = None
    error: str | None = None
    if settings.neo4j.uri is None:
        server = LocalNeo4j(settings)
        try:
            server.start(timeout=180)
        except KGRecError as e:
            error = str(e)
    yield settings, (server if error is None else error)
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def neo4j_server(_neo4j_state: tuple[Settings, object]) -> object:
    """The session's :class:`kg.server.LocalNeo4j`, or ``None`` with ``NEO4J_URI``."""
    state = _neo4j_state[1]
    if isinstance(state, str):
        _unavailable(state)
    return state


@pytest.fixture(scope="session")
def settings(_neo4j_state: tuple[Settings, object], neo4j_server: object) -> Settings:
    """Settings whose ``home`` is the session's temporary KGREC_HOME and that reach its Neo4j."""
    return _neo4j_state[0]


@pytest.fixture(scope="session")
def neo4j_driver(settings: Settings) -> Iterator[neo4j.Driver]:
    """A session-scoped driver connected to the test server."""
    from kg.connection import connect

    try:
        driver = connect(settings)
    except KGRecError as e:
        _unavailable(str(e))
    with driver:
        yield driver


@pytest.fixture
def clean_db(neo4j_driver: neo4j.Driver, settings: Settings) -> neo4j.Driver:
    """An empty database with the kgrec schema (constraints and indexes) in place."""
    from kg.indexes import ensure_schema
    from kg.queries import DELETE_ALL

    with neo4j_driver.session(database=settings.neo4j.database) as session:
        session.run(DELETE_ALL).consume()
    ensure_schema(neo4j_driver, database=settings.neo4j.database)
    return neo4j_driver
