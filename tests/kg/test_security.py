"""The local server keeps its secrets and files to itself, and a lost server fails fast.

One disposable server (module scope, its own ``KGREC_HOME``, never the session's) is
started with every logger at DEBUG and its records kept: from a home an older kgrec left
world-readable, through the initial password, to a write and a read.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import os
import stat
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import neo4j
import numpy as np
import pytest

from kg.connection import connect
from kg.embeddings import read_embeddings, write_embeddings
from kg.explain import run_path
from kg.queries_serving import PATH_PROFILE
from kg.records import InteractionRecord, ItemRecord, UserRecord
from kg.server import LocalNeo4j
from kg.writer import GraphWriter
from kgrec.cli.commands_db import graph_stats
from kgrec.errors import ConfigError, GraphError, SchemaError, ServerError
from kgrec.settings import REDACTED, Settings, register_secret


@dataclass
class _Fresh:
    server: LocalNeo4j
    lines: list[str]  # every log record of the start, formatted with its traceback
    cmdline: str  # the running server's command line


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _old_world_readable_home(home: Path) -> Path:
    logs = home / "neo4j" / "logs"
    logs.mkdir(parents=True)
    old = logs / "old.log"
    old.write_text("from an older kgrec\n")
    for path, mode in ((home, 0o755), (home / "neo4j", 0o755), (logs, 0o755), (old, 0o644)):
        path.chmod(mode)
    return old


@pytest.fixture(scope="module")
def fresh(settings: Settings, neo4j_server: object,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Fresh]:
    if neo4j_server is None:
        pytest.skip("NEO4J_URI set: no local server")
    home = tmp_path_factory.mktemp("fresh_home")
    _old_world_readable_home(home)
    server = LocalNeo4j(dataclasses.replace(
        settings, home=home, neo4j=dataclasses.replace(settings.neo4j, timeout=1.0)))
    keep = _Keep()
    root, driver_log = logging.getLogger(), logging.getLogger("neo4j")
    levels = root.level, driver_log.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    driver_log.setLevel(logging.DEBUG)
    try:
        server.start(timeout=180)
        pid = server.status().pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        with connect(server.settings) as driver:
            driver.execute_query("CREATE (:Item {id: 'kept'})")
            driver.execute_query("MATCH (i:Item) RETURN i.id AS id")
    finally:
        root.removeHandler(keep)
        root.setLevel(levels[0])
        driver_log.setLevel(levels[1])
    yield _Fresh(server, keep.lines, cmdline)
    server.stop()


def test_password_never_in_debug_logs_command_lines_or_files(fresh: _Fresh) -> None:
    password = fresh.server.credentials().password.get_secret_value()
    assert any("C: RUN" in line for line in fresh.lines)  # the driver's DEBUG was captured
    assert not [line for line in fresh.lines if password in line]
    assert "--home-dir=" in fresh.cmdline and password not in fresh.cmdline
    for folder in (fresh.server.logs_dir, fresh.server.conf_dir, fresh.server.run_dir):
        for path in folder.iterdir():  # the admin command's argument file is gone too
            assert password not in path.read_text(errors="replace"), path


def _loose_modes(root: Path) -> list[str]:
    loose = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (".", *dirnames, *filenames):
            st = Path(dirpath, name).lstat()
            want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != want:
                loose.append(f"{Path(dirpath, name)} {oct(stat.S_IMODE(st.st_mode))}")
    return loose


def test_fresh_home_is_private_and_an_old_home_is_fixed(fresh: _Fresh) -> None:
    home = fresh.server.settings.home
    assert (fresh.server.data_dir / "databases" / "neo4j").is_dir()  # Neo4j's own store
    assert _loose_modes(home) == []


def test_session_server_home_is_private(settings: Settings, neo4j_server: object) -> None:
    if neo4j_server is None:
        pytest.skip("NEO4J_URI set: no local server")
    assert isinstance(neo4j_server, LocalNeo4j)
    assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
    assert _loose_modes(neo4j_server.home) == []


def test_a_lost_server_fails_with_graph_error_naming_it(fresh: _Fresh) -> None:
    with connect(fresh.server.settings) as driver:
        uri = fresh.server.credentials().uri
        assert graph_stats(driver, "neo4j")["nodes"]["Item"] == 1
        fresh.server.stop()
        with pytest.raises(GraphError, match=f"Neo4j at {uri} is unreachable"):
            graph_stats(driver, "neo4j")
        with pytest.raises(GraphError, match="explanation path failed"):
            run_path(driver, PATH_PROFILE, {"user": "u", "attribute": "a", "item": "kept"})
    with pytest.raises(ServerError, match="is not running"):
        connect(fresh.server.settings)


def test_registered_secrets_are_redacted_from_every_record(
        neo4j_driver: neo4j.Driver, caplog: pytest.LogCaptureFixture) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    register_secret(secret)
    register_secret("short")  # too short to redact safely: ignored
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="neo4j"):
        rows = neo4j_driver.execute_query("RETURN $p AS p", p=secret).records
        try:
            raise ValueError(f"bad key {secret}")
        except ValueError:
            logging.getLogger("anything").exception("failed with %s", secret)
        logging.getLogger("anything").info("a short value stays: %s", "short")
    assert rows[0]["p"] == secret  # data is untouched, only log records
    assert any("C: RUN" in r.getMessage() and REDACTED in r.getMessage()
               for r in caplog.records)
    assert secret not in caplog.text and "ValueError: bad key ***" in caplog.text
    assert "a short value stays: short" in caplog.text


def test_neo4j_timeout_setting() -> None:
    assert Settings.from_env({}).neo4j.timeout == 5.0
    assert Settings.from_env({"KGREC_NEO4J_TIMEOUT": "2.5"}).neo4j.timeout == 2.5
    for bad in ("0", "-1", "soon", "inf"):
        with pytest.raises(ConfigError, match="KGREC_NEO4J_TIMEOUT"):
            Settings.from_env({"KGREC_NEO4J_TIMEOUT": bad})


#: 127.0.0.1, ::ffff:127.0.0.1 and ::1 as /proc/net/tcp{,6} spell them
_LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def _listening(pid: int) -> set[tuple[str, int]]:
    """(hex address, port) of every TCP socket ``pid`` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                address, port = cols[1].rsplit(":", 1)
                found.add((address, int(port, 16)))
    return found


def _http_status(url: str, body: bytes | None = None, user: str | None = None,
                 password: str = "") -> tuple[int, str]:
    """(status, body) of a GET (or a JSON POST of ``body``), with basic auth for ``user``."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with no_proxy.open(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def test_local_server_listens_on_loopback_only_with_auth(
        settings: Settings, neo4j_server: object) -> None:
    if neo4j_server is None:
        pytest.skip("NEO4J_URI set: no local server")
    assert isinstance(neo4j_server, LocalNeo4j)
    status = neo4j_server.status()
    assert status.pid is not None and status.uri is not None and status.browser_url
    bolt_port = int(status.uri.rsplit(":", 1)[1])
    http_base = status.browser_url.removesuffix("/browser/")
    assert http_base.startswith("http://127.0.0.1:")
    http_port = int(http_base.rsplit(":", 1)[1])
    listening = _listening(status.pid)
    # Bolt and HTTP (Neo4j Browser), nothing else, and nothing beyond loopback
    assert {port for _, port in listening} == {bolt_port, http_port}
    assert {address for address, _ in listening} <= _LOOPBACK
    with neo4j.GraphDatabase.driver(status.uri, auth=("neo4j", "wrong-password")) as driver:
        assert driver.verify_authentication() is False
        with pytest.raises(neo4j.exceptions.AuthError):
            driver.execute_query("RETURN 1")
    # the Browser's static page is public (it asks for the login); the HTTP API is not
    code, page = _http_status(status.browser_url)
    assert code == 200 and "<title>Neo4j Browser</title>" in page
    tx = f"{http_base}/db/{settings.neo4j.database}/tx/commit"
    query = json.dumps({"statements": [{"statement": "RETURN 1 AS one"}]}).encode()
    assert _http_status(tx, query)[0] == 401
    assert _http_status(tx, query, "neo4j", "wrong-password")[0] == 401
    password = neo4j_server.credentials().password.get_secret_value()
    code, answer = _http_status(tx, query, "neo4j", password)
    assert code == 200 and json.loads(answer)["results"][0]["data"][0]["row"] == [1]


INJECTION = "x'}) DETACH DELETE n //"


def test_injection_shaped_records_are_stored_as_inert_data(clean_db: neo4j.Driver) -> None:
    writer = GraphWriter(clean_db, show_progress=False)
    writer.write_items([ItemRecord(INJECTION, f"{INJECTION} title", "` MATCH (n) DELETE n",
                                   {"genre": (INJECTION, "$param {x}")}),
                        ItemRecord("plain", "Plain")])
    writer.write_users([UserRecord("u) SET u.admin = true //", {"genre": (INJECTION,)})])
    writer.write_interactions([InteractionRecord("u) SET u.admin = true //", INJECTION)])
    stats = graph_stats(clean_db, "neo4j")
    assert stats["nodes"] == {"Item": 2, "User": 1, "Attribute": 2}
    assert stats["relationships"] == {"HAS_ATTRIBUTE": 3, "INTERACTED": 1}
    row = clean_db.execute_query("MATCH (i:Item {id: $id}) RETURN i.description AS d",
                                 id=INJECTION).records[0]
    assert row["d"] == "` MATCH (n) DELETE n"
    assert clean_db.execute_query("MATCH (u:User) WHERE u.admin IS NOT NULL "
                                  "RETURN count(u) AS n").records[0]["n"] == 0
    with pytest.raises(SchemaError, match="must be one of 'Item', 'User'"):
        write_embeddings(clean_db, "Item) DETACH DELETE (n", [INJECTION],  # type: ignore[arg-type]
                         np.ones((1, 2), np.float32), "v")
    with pytest.raises(SchemaError, match="must be one of 'Item', 'User'"):
        read_embeddings(clean_db, "Attribute")  # type: ignore[arg-type]
