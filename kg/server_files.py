"""Files of the local Neo4j server: private modes, and the initial password set on disk.

Everything under a server's home is this user's only: folders 0700, files 0600. The
server runs with ``umask 077`` so what Neo4j writes (stores, transaction logs, logs)
is private from the start; :func:`secure_tree` tightens a home created by an older
kgrec (755/644) on its next start.

:func:`set_initial_password` writes the generated password into the fresh data
directory with Neo4j's own ``neo4j-admin dbms set-initial-password`` (from the same
jars) before the first start, so it never travels over Bolt (where the driver would log
it at DEBUG) and never shows on a command line: the arguments go through an argument
file (``@file``, mode 600) that is deleted at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.resources
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from kgrec.errors import ServerError

__all__ = ["PRIVATE_UMASK", "fetch_jars", "jar_cache_dir", "open_private", "secure_tree",
           "set_initial_password", "tail", "write_private"]

logger = logging.getLogger(__name__)

#: the umask of the server process: folders 0700, files 0600
PRIVATE_UMASK = 0o077
_ADMIN_CLASS = "org.neo4j.cli.AdminTool"
_MARKER = "COMPLETE"


def open_private(path: Path, append: bool = False) -> int:
    """Open ``path`` for writing (truncating unless ``append``) as a 0600 file; return the fd."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on open
    return fd


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a 0600 file."""
    with os.fdopen(open_private(path), "w", encoding="utf-8") as f:
        f.write(text)


def secure_tree(root: Path) -> int:
    """Make every folder under ``root`` 0700 and every file 0600 (links are left alone).

    Returns:
        How many modes were changed.
    """
    changed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (".", *dirnames, *filenames):
            path = Path(dirpath, name)
            with contextlib.suppress(FileNotFoundError):
                st = path.lstat()
                if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
                    continue
                want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
                if stat.S_IMODE(st.st_mode) & ~want:
                    path.chmod(stat.S_IMODE(st.st_mode) & want)
                    changed += 1
    return changed


def set_initial_password(java: str, lib: Path, home: Path, conf_dir: Path,
                         password: str, log: Path) -> None:
    """Store ``password`` as the initial password of user ``neo4j`` in a fresh data folder.

    Takes effect only before the server's first start (Neo4j's rule); ``conf_dir`` must
    hold the ``neo4j.conf`` that names the data folder. The command's output (the
    password masked) is appended to ``log``.

    Raises:
        ServerError: the password has other characters than letters, digits, ``-`` and
            ``_``, or the admin command failed.
    """
    if not password or not all(c.isascii() and (c.isalnum() or c in "-_") for c in password):
        raise ServerError("the initial password must be made of letters, digits, '-' and '_' "
                          "(kgrec generates one); run 'kgrec db reset --yes'")
    args = home / "run" / "set-initial-password.args"
    write_private(args, f'dbms\nset-initial-password\n"{password}"\n')
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(conf_dir)}
    try:
        proc = subprocess.run(
            [java, "-Xmx256m", "-cp", f"{lib}/*", _ADMIN_CLASS, f"@{args}"],
            cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=120, check=False, umask=PRIVATE_UMASK)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ServerError(f"neo4j-admin dbms set-initial-password failed: {e}") from e
    finally:
        args.unlink(missing_ok=True)
    with os.fdopen(open_private(log, append=True), "a", encoding="utf-8") as f:
        f.write(proc.stdout.replace(password, "***"))
    if proc.returncode != 0:
        raise ServerError(f"neo4j-admin dbms set-initial-password exited {proc.returncode}")


def _pom() -> bytes:
    return importlib.resources.files("kg").joinpath("neo4j/pom.xml").read_bytes()


def jar_cache_dir(cache_dir: Path, version: str) -> Path:
    """The ``lib`` folder of Neo4j ``version``'s jars: ``cache_dir/neo4j/<version>-<pom
    hash>/lib``. Keyed by the pom's content too, so a jar added to ``kg/neo4j/pom.xml``
    (Neo4j Browser, say) is fetched once by an install that cached the older list."""
    digest = hashlib.sha256(_pom()).hexdigest()[:12]
    return cache_dir / "neo4j" / f"{version}-{digest}" / "lib"


def fetch_jars(lib_dir: Path, version: str) -> Path:
    """Fetch Neo4j ``version``'s jars into ``lib_dir`` with Maven unless a complete copy is there.

    Concurrent fetches of one ``lib_dir`` (two test sessions, say) take turns on a lock
    file beside it: the second finds the first one's copy complete.

    Returns:
        The ``lib`` folder holding the jars.

    Raises:
        ServerError: ``mvn`` is missing or the download failed.
    """
    marker = lib_dir.parent / _MARKER
    if marker.is_file() and lib_dir.is_dir():
        return lib_dir
    lib_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(lib_dir.parent / "fetch.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and lib_dir.is_dir():
            return lib_dir
        return _fetch_unlocked(lib_dir, version, marker)


def _fetch_unlocked(lib_dir: Path, version: str, marker: Path) -> Path:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServerError("Apache Maven ('mvn') is needed to fetch the Neo4j jars once; "
                          f"install it or put the jars into {lib_dir} and create {marker}")
    logger.info("fetching Neo4j %s jars into %s", version, lib_dir)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=lib_dir.parent) as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_bytes(_pom())
        out = Path(tmp) / "lib"
        cmd = [mvn, "-q", "-B", "-f", str(pom), f"-Dneo4j.version={version}",
               "dependency:copy-dependencies", f"-DoutputDirectory={out}"]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        jars = list(out.glob("*.jar")) if out.is_dir() else []
        if proc.returncode != 0 or not jars:
            last = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
            raise ServerError(f"fetching Neo4j {version} jars with Maven failed "
                              f"(exit {proc.returncode}):\n{last}")
        if lib_dir.exists():  # a partial copy without marker
            shutil.rmtree(lib_dir)
        out.rename(lib_dir)
    marker.write_text(f"{len(jars)} jars\n")
    logger.info("fetched %d jars in %.1fs", len(jars), time.perf_counter() - t0)
    return lib_dir


def tail(path: Path, n: int) -> str:
    """The last ``n`` lines of a text file ("" when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16_384))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])
