from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg.connection import connect
from kg.server import LocalNeo4j, _alive
from kgrec.errors import ServerError
from kgrec.settings import Settings


def test_import_kg_does_not_import_torch() -> None:
    code = ("import sys, kg, kg.writer, kg.export, kg.embeddings, kg.rdf, kg.server, "
            "kg.connection\n"
            "for n in kg.__all__: getattr(kg, n)\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_all_is_honest() -> None:
    import kg

    for name in kg.__all__:
        assert getattr(kg, name) is not None
    assert not hasattr(kg, "nonexistent_thing")


def test_credentials_file_is_private(settings: Settings, neo4j_server: object) -> None:
    if neo4j_server is None:
        pytest.skip("NEO4J_URI set: no local server")
    assert isinstance(neo4j_server, LocalNeo4j)
    mode = stat.S_IMODE(os.stat(neo4j_server.credentials_file).st_mode)
    assert mode == 0o600
    assert "password=***" in repr(settings.neo4j) or "**" in repr(neo4j_server.credentials())


def test_second_server_side_by_side(settings: Settings, neo4j_server: object,
                                    tmp_path: Path) -> None:
    if neo4j_server is None:
        pytest.skip("NEO4J_URI set: no local server")
    assert isinstance(neo4j_server, LocalNeo4j)
    other = LocalNeo4j(Settings(home=tmp_path / "home2", cache_dir=settings.cache_dir,
                                neo4j=settings.neo4j))
    with pytest.raises(ServerError, match="kgrec db start"):
        connect(other.settings)
    uri = other.start(timeout=180)
    try:
        first = neo4j_server.status()
        second = other.status()
        assert first.running and second.running and first.pid != second.pid
        assert first.uri != second.uri == uri
        # each its own Neo4j Browser, on loopback
        assert first.browser_url and second.browser_url
        assert first.browser_url != second.browser_url
        assert second.browser_url.startswith("http://127.0.0.1:")
        assert other.start() == uri  # idempotent
        with connect(other.settings) as driver:
            driver.execute_query("CREATE (:Item {id: 'only-here'})")
            assert driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 1
    finally:
        pid = other.status().pid
        assert other.stop() is True
    assert pid is not None and not _alive(pid)
    assert not other.status().running and neo4j_server.status().running
    assert other.stop() is False
    # restarting keeps the stored password and data
    other.start(timeout=180)
    with connect(other.settings) as driver:
        assert driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 1
    pid = other.status().pid
    other.reset()
    assert pid is not None and not _alive(pid)
    assert not (other.home / "data").exists()


def test_start_failure_names_log(settings: Settings, tmp_path: Path,
                                 neo4j_server: object) -> None:
    if neo4j_server is None:
        pytest.skip("NEO4J_URI set: no local server")
    from kgrec.settings import Neo4jSettings

    bad = LocalNeo4j(Settings(home=tmp_path / "bad", cache_dir=settings.cache_dir,
                              neo4j=Neo4jSettings(heap="1g", pagecache="notasize")))
    t0 = time.monotonic()
    with pytest.raises(ServerError, match=r"logs/(neo4j|console)\.log") as info:
        bad.start(timeout=120)
    assert "last lines" in str(info.value) and time.monotonic() - t0 < 120
    assert not bad.status().running


def test_jar_cache_is_keyed_by_the_pom(tmp_path: Path) -> None:
    """An install that cached the jars of an older pom fetches the new list once (the
    Browser jar, say): the cache folder names the pom's hash, and the pom lists it."""
    import hashlib
    import importlib.resources

    from kg.server_files import jar_cache_dir

    pom = importlib.resources.files("kg").joinpath("neo4j/pom.xml").read_bytes()
    lib = jar_cache_dir(tmp_path, "5.26.0")
    assert lib == tmp_path / "neo4j" / f"5.26.0-{hashlib.sha256(pom).hexdigest()[:12]}" / "lib"
    assert b"<artifactId>neo4j-browser</artifactId>" in pom
    assert LocalNeo4j(Settings(home=tmp_path / "h", cache_dir=tmp_path)).lib_dir == lib
