"""A local Neo4j Community server for development and tests.

:class:`LocalNeo4j` runs a real Neo4j server (default 5.26) as a detached child
process. Everything it writes lives under ``settings.home / "neo4j"``::

    neo4j/
    ├── conf/neo4j.conf      generated on every start (bolt port, memory, directories)
    ├── data/                databases and the auth store (deleted by ``reset``)
    ├── logs/                neo4j.log, debug.log, console.log (JVM stdout/stderr)
    ├── run/server.pid       pid of the java process we started
    └── credentials.json     user, generated password, bolt port (mode 600)

The jars come from Maven Central through ``kg/neo4j/pom.xml`` into
``settings.cache_dir / "neo4j" / <version>-<pom hash> / "lib"``, shared by every home.
Bolt and HTTP (Neo4j Browser at ``/browser/``, and the HTTP API) listen on ``127.0.0.1``
only, each on a free port, so several homes can run servers side by side; both ask for
the generated password (HTTPS stays off). Production deployments set ``NEO4J_URI``
instead.

The home is private (``KGREC_HOME`` and every folder 0700, every file 0600: the server
runs with umask 077, and a start tightens an older home), and the generated password is
set on disk before the first start (:func:`kg.server_files.set_initial_password`), never
sent over Bolt.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable
from pydantic import SecretStr

from kg.server_files import (
    PRIVATE_UMASK,
    fetch_jars,
    jar_cache_dir,
    open_private,
    secure_tree,
    set_initial_password,
    tail,
    write_private,
)
from kgrec.errors import ServerError
from kgrec.settings import Settings, private_dir, register_secret

__all__ = ["Credentials", "LocalNeo4j", "ServerStatus", "browser_url"]

logger = logging.getLogger(__name__)

_MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
_DEFAULT_PASSWORD = "neo4j"
_JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+ExitOnOutOfMemoryError",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dlog4j2.disable.jmx=true",
]


@dataclass(frozen=True)
class ServerStatus:
    """State of a local server: ``running`` is True only for a live process of ours."""

    running: bool
    pid: int | None
    uri: str | None
    home: Path
    log_path: Path
    #: Neo4j Browser on the loopback HTTP connector (None when not running)
    browser_url: str | None = None


@dataclass(frozen=True)
class Credentials:
    """How to log in to the local server. The password never appears in ``repr``."""

    uri: str
    user: str
    password: SecretStr


class LocalNeo4j:
    """Start, stop and inspect the Neo4j server that belongs to ``settings.home``.

    Args:
        settings: ``home`` (state), ``cache_dir`` (jars) and ``neo4j.version``,
            ``neo4j.heap``, ``neo4j.pagecache`` are used.

    Example:
        >>> server = LocalNeo4j(Settings.from_env())
        >>> uri = server.start()          # doctest: +SKIP
        >>> server.stop()                 # doctest: +SKIP
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home / "neo4j"
        self.lib_dir = jar_cache_dir(settings.cache_dir, settings.neo4j.version)
        self.conf_dir = self.home / "conf"
        self.data_dir = self.home / "data"
        self.logs_dir = self.home / "logs"
        self.run_dir = self.home / "run"
        self.pid_file = self.run_dir / "server.pid"
        self.credentials_file = self.home / "credentials.json"
        self.log_path = self.logs_dir / "neo4j.log"
        self.console_log = self.logs_dir / "console.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"LocalNeo4j(home={str(self.home)!r}, version={self.settings.neo4j.version!r})"

    # -- jars -----------------------------------------------------------------

    def ensure_jars(self) -> Path:
        """Fetch the server jars with Maven unless a complete copy is cached.

        Returns:
            The ``lib`` folder holding the jars.

        Raises:
            ServerError: ``mvn`` is missing or the download failed.
        """
        return fetch_jars(self.lib_dir, self.settings.neo4j.version)

    # -- state ----------------------------------------------------------------

    def _read_state(self) -> dict[str, object]:
        try:
            data = json.loads(self.credentials_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise ServerError(f"{self.credentials_file}: unreadable ({e}); "
                              "delete it and run 'kgrec db reset --yes'") from e
        return data if isinstance(data, dict) else {}

    def _write_state(self, state: dict[str, object]) -> None:
        private_dir(self.home)
        tmp = self.credentials_file.with_suffix(".tmp")
        write_private(tmp, json.dumps(state, indent=2))
        tmp.replace(self.credentials_file)

    def _pid(self) -> int | None:
        """Pid from the pid file when that process is alive and is our server."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _is_our_server(pid, self.home) else None

    def credentials(self) -> Credentials:
        """User, password and Bolt URI of this home's server.

        Raises:
            ServerError: the server was never started under this home.
        """
        state = self._read_state()
        if not state.get("initialized") or not isinstance(state.get("password"), str):
            raise ServerError(f"no local Neo4j under {self.home}: run 'kgrec db start'")
        register_secret(str(state["password"]))
        return Credentials(uri=str(state["uri"]), user=str(state.get("user", "neo4j")),
                           password=SecretStr(str(state["password"])))

    def status(self) -> ServerStatus:
        """Whether this home's server process is alive, with its pid, Bolt URI and the
        URL of Neo4j Browser (log in as ``neo4j`` with the password of
        ``credentials.json``)."""
        pid = self._pid()
        state = self._read_state()
        uri, http_port = state.get("uri"), state.get("http_port")
        running = pid is not None
        return ServerStatus(running=running, pid=pid,
                            uri=str(uri) if uri and running else None,
                            home=self.home, log_path=self.log_path,
                            browser_url=browser_url(http_port) if running else None)

    # -- lifecycle ------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        private_dir(self.run_dir)
        with os.fdopen(open_private(self.run_dir / "lock", append=True), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def start(self, timeout: float = 120) -> str:
        """Start the server (or find it running) and wait until Bolt accepts a login.

        On the first start a random password is generated, stored in
        ``credentials.json`` (mode 600) and set in the fresh data folder before the
        server runs (``neo4j-admin dbms set-initial-password``), never over Bolt. The
        home is made private (0700/0600) before every start.

        Args:
            timeout: seconds to wait for an authenticated ``RETURN 1``.

        Returns:
            The Bolt URI, e.g. ``bolt://127.0.0.1:41234``.

        Raises:
            ServerError: java is missing, the process died or did not answer in
                time; the message names the log file and quotes its last lines.
        """
        with self._lock():
            state = self._read_state()
            if self._pid() is not None and state.get("initialized"):
                uri = str(state["uri"])
                self._wait_ready(uri, state, time.monotonic() + timeout)
                return uri
            lib = self.ensure_jars()
            java = shutil.which("java")
            if java is None:
                raise ServerError("Java 17 or 21 is needed to run Neo4j; 'java' is not on PATH")
            uri, state = self._prepare(java, lib, state)
            heap = self.settings.neo4j.heap
            cmd = [java, f"-Xms{heap}", f"-Xmx{heap}", *_JVM_FLAGS, "-cp", f"{lib}/*",
                   _MAIN_CLASS, f"--home-dir={self.home}", f"--config-dir={self.conf_dir}"]
            logger.info("starting Neo4j %s on %s (home %s)", self.settings.neo4j.version, uri,
                        self.home)
            t0 = time.perf_counter()
            with os.fdopen(open_private(self.console_log, append=True), "ab") as console:
                self._proc = subprocess.Popen(
                    cmd, cwd=self.home, stdin=subprocess.DEVNULL, stdout=console,
                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                    umask=PRIVATE_UMASK)
            write_private(self.pid_file, f"{self._proc.pid}\n")
            try:
                self._wait_ready(uri, state, time.monotonic() + timeout)
            except ServerError:
                self._terminate(self._proc.pid, 10)
                raise
            logger.info("Neo4j ready after %.1fs (pid %d)", time.perf_counter() - t0,
                        self._proc.pid)
            return uri

    def _prepare(self, java: str, lib: Path, state: dict[str, object]
                 ) -> tuple[str, dict[str, object]]:
        """Private folders, port, state and conf before a start; the password of a fresh
        data folder is set on disk. Returns the Bolt URI and the updated state."""
        private_dir(self.settings.home)
        fixed = secure_tree(self.settings.home)
        if fixed:
            logger.info("made %d files and folders under %s private (0700/0600)", fixed,
                        self.settings.home)
        for d in (self.conf_dir, self.data_dir, self.logs_dir, self.run_dir,
                  self.home / "import", self.home / "plugins"):
            private_dir(d)
        port = _free_port(state.get("port"))
        http_port = _free_port(state.get("http_port"), taken=port)
        uri = f"bolt://127.0.0.1:{port}"
        state.update(port=port, http_port=http_port, uri=uri, user="neo4j",
                     version=self.settings.neo4j.version)
        if not isinstance(state.get("password"), str):
            # hex: a password starting with "-" would read as an option of neo4j-admin
            state["password"] = secrets.token_hex(24)
            state["initialized"] = False
        register_secret(str(state["password"]))
        self._write_state(state)
        self._write_conf(port, http_port)
        if not state.get("initialized") and not (self.data_dir / "databases" / "system").exists():
            try:
                set_initial_password(java, lib, self.home, self.conf_dir,
                                     str(state["password"]), self.console_log)
            except ServerError as e:
                raise ServerError(self._failure(f"setting the initial password failed ({e})")
                                  ) from e
        return uri, state

    def _write_conf(self, port: int, http_port: int) -> None:
        s = self.settings.neo4j
        h = self.home
        lines = [
            "# generated by kgrec (kg/server.py) on every start; edits are overwritten",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{port}",
            f"server.bolt.advertised_address=127.0.0.1:{port}",
            # Neo4j Browser for analysts: loopback only, behind the same login as Bolt
            "server.http.enabled=true",
            f"server.http.listen_address=127.0.0.1:{http_port}",
            f"server.http.advertised_address=127.0.0.1:{http_port}",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            "dbms.security.auth_max_failed_attempts=0",
            f"server.memory.heap.initial_size={s.heap}",
            f"server.memory.heap.max_size={s.heap}",
            f"server.memory.pagecache.size={s.pagecache}",
            f"server.directories.data={h / 'data'}",
            f"server.directories.logs={h / 'logs'}",
            f"server.directories.run={h / 'run'}",
            f"server.directories.import={h / 'import'}",
            f"server.directories.plugins={h / 'plugins'}",
            "db.tx_log.rotation.retention_policy=2 files",
            "db.tx_log.rotation.size=64M",
            "db.logs.query.enabled=OFF",
            "dbms.usage_report.enabled=false",
            "",
        ]
        write_private(self.conf_dir / "neo4j.conf", "\n".join(lines))

    def _wait_ready(self, uri: str, state: dict[str, object], deadline: float) -> None:
        """Poll until an authenticated ``RETURN 1`` works; set the password on first use."""
        password = str(state["password"])
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._pid() is None and (self._proc is None or self._proc.poll() is not None):
                raise ServerError(self._failure("the Neo4j process exited during start"))
            try:
                _check_login(uri, password)
                if not state.get("initialized"):
                    state["initialized"] = True
                    self._write_state(state)
                return
            except AuthError as e:
                last = e
                try:  # a data folder first started by an older kgrec: change the shipped one
                    _set_initial_password(uri, password)
                except AuthError as e2:
                    raise ServerError(self._failure(
                        f"cannot log in to {uri}: the stored password in "
                        f"{self.credentials_file} is wrong and the default one was changed "
                        f"({e2.message}); run 'kgrec db reset --yes'")) from e2
                except (ServiceUnavailable, Neo4jError, OSError) as e2:
                    last = e2
            except Neo4jError as e:
                if not e.is_retryable():
                    raise ServerError(self._failure(f"Neo4j on {uri} refused 'RETURN 1': "
                                                    f"{e.message}")) from e
                last = e
            except (ServiceUnavailable, OSError) as e:
                last = e
            time.sleep(0.5)
        raise ServerError(self._failure(f"Neo4j did not accept a login on {uri} in time "
                                        f"(last error: {last})"))

    def _failure(self, what: str) -> str:
        parts = [f"{what}; see {self.log_path}"]
        for path in (self.log_path, self.console_log):
            lines = tail(path, 15)
            if lines:
                parts.append(f"--- last lines of {path} ---\n{lines}")
        return "\n".join(parts)

    def stop(self, timeout: float = 30) -> bool:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds.

        Returns:
            True when a running server was stopped, False when none was running.

        Raises:
            ServerError: the process survived SIGKILL.
        """
        with self._lock():
            pid = self._pid()
            if pid is None:
                self.pid_file.unlink(missing_ok=True)
                return False
            logger.info("stopping Neo4j (pid %d)", pid)
            self._terminate(pid, timeout)
            self.pid_file.unlink(missing_ok=True)
            return True

    def _terminate(self, pid: int, timeout: float) -> None:
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if self._wait_gone(pid, wait):
                return
            if sig == signal.SIGTERM:
                logger.warning("Neo4j (pid %d) ignored SIGTERM for %.0fs; killing it", pid, wait)
        raise ServerError(f"Neo4j process {pid} did not exit after SIGKILL")

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    self._proc = None
                    return True
            elif not _alive(pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def reset(self) -> None:
        """Stop the server and delete its databases (the password is regenerated on start)."""
        self.stop()
        with self._lock():
            shutil.rmtree(self.data_dir, ignore_errors=True)
            state = self._read_state()
            if state:
                state["initialized"] = False
                state.pop("password", None)
                self._write_state(state)
        logger.info("deleted Neo4j data under %s", self.data_dir)


def _check_login(uri: str, password: str) -> None:
    with neo4j.GraphDatabase.driver(uri, auth=("neo4j", password),
                                    connection_timeout=5) as driver, \
            driver.session() as session:  # session.run: no retries, we poll ourselves
        session.run("RETURN 1 AS ok").consume()


def _set_initial_password(uri: str, password: str) -> None:
    with neo4j.GraphDatabase.driver(uri, auth=("neo4j", _DEFAULT_PASSWORD),
                                    connection_timeout=5) as driver, \
            driver.session(database="system") as session:
        session.run("ALTER CURRENT USER SET PASSWORD FROM $old TO $new",
                    old=_DEFAULT_PASSWORD, new=password).consume()
    logger.info("set the generated password of the local Neo4j user 'neo4j'")


def browser_url(http_port: object) -> str | None:
    """``http://127.0.0.1:PORT/browser/`` for a stored HTTP port (None for none: a server
    started by an older kgrec, HTTP off, until its next start)."""
    return f"http://127.0.0.1:{http_port}/browser/" if isinstance(http_port, int) else None


def _free_port(preferred: object = None, taken: int | None = None) -> int:
    """``preferred`` when it is free on 127.0.0.1, else one the kernel picks; never
    ``taken`` (the port just chosen for another connector)."""
    if isinstance(preferred, int) and preferred > 0 and preferred != taken:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != taken:
            return port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
    return True


def _is_our_server(pid: int, home: Path) -> bool:
    """True when ``pid`` is alive and is a Neo4j started for ``home`` (not a reused pid)."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid file
    return _MAIN_CLASS.encode() in cmdline and f"--home-dir={home}".encode() in cmdline
