"""``kgrec serve`` as real server processes on the planted graph: two servers agree after a
write to one of them (once the other refreshed), an erased user is gone from both, and a
model trained by ``kgrec train`` meanwhile is switched to under a running client loop
with no failed request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_service_routes import KEYS, Client, item_path, user_path

from kgrec.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class Server:
    """A ``kgrec serve`` process; its stderr is drained by a thread that notes start-up."""

    def __init__(self, env: dict[str, str], *args: str, verbosity: str = "") -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        cmd = [sys.executable, "-c", "from kgrec.cli import main; main()",
               *([verbosity] if verbosity else []), "serve",
               "--port", str(self.port), "--no-warm-up", *args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: list[str] = []
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "Uvicorn running on" in line:  # logged once it listens
                self.started.set()
        self.started.set()  # the process ended: wait() sees it

    def wait(self) -> Client:
        assert self.started.wait(timeout=180), "server did not start"
        if self.proc.poll() is not None:
            raise AssertionError("server died:\n" + "".join(self.lines)[-3000:])
        return Client(("127.0.0.1", self.port))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=10)


@pytest.fixture
def server_env(planted_db, settings: Settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**os.environ, "KGREC_HOME": str(settings.home), "KGREC_API_KEYS": KEYS,
            "PYTHONPATH": str(ROOT)}


@pytest.fixture
def two_servers(server_env: dict[str, str]) -> Iterator[tuple[Client, Client]]:
    a = Server(server_env, "--refresh-seconds", "0")
    b = Server(server_env, "--refresh-seconds", "0")
    try:
        yield a.wait(), b.wait()
    finally:
        a.stop()
        b.stop()


def _ids(response: tuple[int, Any, dict[str, str]]) -> list[str]:
    status, body, _ = response
    assert status == 200, body
    return [r["item_id"] for r in body["items"]]


def test_two_servers_agree_after_a_write_to_one(two_servers: tuple[Client, Client],  # type: ignore[no-untyped-def]
                                                planted_db) -> None:
    a, b = two_servers
    assert _ids(a.get(user_path("ua0", k=60))) == _ids(b.get(user_path("ua0", k=60)))
    item = {"id": "proc-new-1", "title": "Starship Comet", "description": "Astronauts ride a "
            "starship to a comet.", "attributes": {"genre": ["SciFi"]}}
    assert a.post("/v1/items", {"items": [item]})[1]["added"] == 1
    events = [{"user_id": "proc-user", "item_id": i} for i in ("b1", "b2", "proc-new-1")]
    assert a.post("/v1/interactions", {"events": events})[0] == 200
    hidden = _ids(a.get(user_path("ub0", k=1)))[0]
    assert a.request("DELETE", item_path(hidden))[0] == 200
    assert b.get(user_path("proc-user"))[0] == 404  # not refreshed yet
    assert b.post("/v1/refresh", None)[1]["model_changed"] is False
    for path in (user_path("proc-user", k=10), user_path("ub0", k=60), user_path("ua0", k=60),
                 item_path("proc-new-1", "similar", k=10), item_path("b3", "similar", k=60)):
        assert _ids(a.get(path)) == _ids(b.get(path)), path
    assert hidden not in _ids(b.get(user_path("ub0", k=60)))
    # erasure: gone from Neo4j, from the writing server at once, from the other after refresh
    assert a.request("DELETE", "/v1/users/ua2")[1]["interactions"] == 24
    assert planted_db.execute_query("MATCH (u:User {id: 'ua2'}) RETURN count(u) AS n"
                                    ).records[0]["n"] == 0
    assert a.get(user_path("ua2"))[0] == 404
    assert b.get(user_path("ua2"))[0] == 200  # its trained embedding, until the refresh
    b.post("/v1/refresh", None)
    assert b.get(user_path("ua2"))[0] == 404


def test_a_new_model_is_switched_to_under_load_with_no_failed_request(  # type: ignore[no-untyped-def]
        server_env: dict[str, str], settings: Settings) -> None:
    server = Server(server_env, "--refresh-seconds", "0")
    try:
        client = server.wait()
        old = client.get("/readyz")[1]["model_version"]
        stop, switched = threading.Event(), threading.Event()
        results: dict[str, Any] = {"ok": 0, "failed": [], "versions": set()}

        def loop() -> None:
            c = Client(client.address)
            while not stop.is_set():
                status, body, _ = c.get(user_path("ua1", k=5))
                if status != 200:
                    results["failed"].append((status, body))
                    continue
                results["ok"] += 1
                results["versions"].add(body["model_version"])
                if body["model_version"] != old:
                    switched.set()
            c.close()

        thread = threading.Thread(target=loop)
        thread.start()
        try:
            env = {**os.environ, "KGREC_HOME": str(settings.home)}
            train = subprocess.run([sys.executable, "-c", "from kgrec.cli import main; main()",
                                    "-q", "train", "--epochs", "2", "--device", "cpu"],
                                   env=env, capture_output=True, text=True, timeout=600,
                                   check=False, cwd=ROOT)
            assert train.returncode == 0, train.stderr[-3000:]
            status, body, _ = client.post("/v1/refresh", None)
            assert status == 200 and body["model_changed"] is True
            new = body["model_version"]
            assert new != old
            assert switched.wait(timeout=60)  # the running loop is served by the new model
        finally:
            stop.set()
            thread.join(timeout=60)
        assert results["failed"] == [] and results["ok"] > 0
        assert results["versions"] == {old, new}
    finally:
        server.stop()
