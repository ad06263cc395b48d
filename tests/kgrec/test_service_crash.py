"""Crashes and races against ``kgrec serve`` processes (issue 29, item 6): a server killed
for real (SIGKILL at a named point, :mod:`kgrec.faults`) with a write in flight, and two
servers writing the same items while one waits between computing and storing an
embedding.

* ``POST /v1/items`` killed after the text was written (before its embedding) or after
  everything was written (before the reply): the client sees a connection error, never
  a 2xx; a restarted server and the re-sent request end in exactly the state a clean
  request gives (text, content hash, embedding and its model version).
* ``POST /v1/interactions`` killed after the edges (before the users' embeddings) or
  before the reply: the events of a request are applied whole or not at all, and a
  re-send is idempotent: an edge's weight and time are *set* from the event, never
  added to (a repeated event replaces the earlier one; repeated pairs *within* one
  request are summed first, as in a catalog load).
* ``kgrec train`` killed after its write-back, before it moves ``models/latest``, under a
  running server: the server goes on answering from the model it serves, and ``kgrec
  models use`` puts that model's embeddings back in Neo4j.
* two servers on the same ids, the first paused after embedding its text: the graph
  ends with the second writer's text, hash and embedding together, and both servers
  serve it.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
import test_service_processes
from test_crash import _env, _hash_of, _kgrec, _run, _stored, _versions
from test_service_processes import Server
from test_service_routes import item_path, user_path

from kgrec.faults import CRASH_ENV, PAUSE_DIR_ENV, PAUSE_ENV
from tests.kgrec.conftest import VERSION, planted_records

server_env = test_service_processes.server_env  # the fixture, shared

NEW = {"id": "svc-crash-new", "title": "Comet Kitchen", "description": "A chef cooks soup "
       "on a comet.", "attributes": {"genre": ["SciFi", "Cooking"]}}
#: a trained item (a3) with a new text: its embedding also depends on its 16 users
UPDATED = {"id": "a3", "title": "Nebula Bakery", "description": "Astronauts bake bread in "
           "a nebula.", "attributes": {"genre": ["Space Opera"], "style": ["homely"]}}
EVENTS = [{"user_id": "svc-crash-user", "item_id": "a1", "weight": 2.0, "timestamp": 1700000100},
          {"user_id": "svc-crash-user", "item_id": "a2", "timestamp": "2024-01-02T03:04:05Z"},
          {"user_id": "svc-crash-user", "item_id": "b5", "weight": 0.5}]
SERVE = ("--refresh-seconds", "0")


def _original(item_id: str) -> dict[str, Any]:
    item = next(i for i in planted_records()[0] if i.id == item_id)
    return {"id": item.id, "title": item.title, "description": item.description,
            "attributes": {k: list(v) for k, v in item.attributes.items()}}


def _content(stored: dict[str, Any]) -> tuple[Any, ...]:
    """What a clean write of the same content must reproduce (the id aside)."""
    return (stored["title"], stored["description"], sorted(stored["attributes"]),
            stored["hash"], stored["version"])


def _killed_in_flight(server: Server, path: str, body: dict[str, Any]) -> None:
    """Send ``body``; the server dies (SIGKILL) with it in flight: no status comes back."""
    client = server.wait()
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        client.post(path, body)
    assert server.proc.wait(timeout=60) == -signal.SIGKILL, "".join(server.lines)[-3000:]
    server.stop()


def _ok(response: tuple[int, Any, dict[str, str]]) -> dict[str, Any]:
    status, body, _ = response
    assert status == 200, body
    return dict(body)


@pytest.mark.parametrize("point", ["add_items.after_text", "serve.items.before_reply"])
def test_items_request_killed_in_flight_then_re_sent_ends_as_a_clean_request(  # type: ignore[no-untyped-def]
        server_env: dict[str, str], planted_db, point: str) -> None:
    _killed_in_flight(Server({**server_env, CRASH_ENV: point}, *SERVE), "/v1/items",
                      {"items": [NEW, UPDATED]})
    half = _stored(planted_db, "a3")
    assert half["title"] == "Nebula Bakery"  # the text was committed in both cases
    if point == "add_items.after_text":
        assert half["hash"] != _hash_of(half)  # ... its embedding not yet
        assert _stored(planted_db, NEW["id"])["embedding"] is None
    server = Server(server_env, *SERVE)
    try:
        client = server.wait()
        # the restarted server already re-embedded what was left stale, so the re-send
        # is "unchanged" either way; it is still safe to send
        out = _ok(client.post("/v1/items", {"items": [NEW, UPDATED]}))
        assert (out["added"], out["updated"], out["unchanged"]) == (0, 0, 2)
        after = {i: _stored(planted_db, i) for i in (NEW["id"], "a3")}
        # clean runs of the same content: a new item under another id, and a3 put back
        # to its original text and then updated again
        _ok(client.post("/v1/items", {"items": [{**NEW, "id": "svc-clean-new"}]}))
        _ok(client.post("/v1/items", {"items": [_original("a3")]}))
        assert _ok(client.post("/v1/items", {"items": [UPDATED]}))["updated"] == 1
        clean = {NEW["id"]: _stored(planted_db, "svc-clean-new"), "a3": _stored(planted_db, "a3")}
        for item_id, got in after.items():
            assert got["hash"] == _hash_of(got) and got["version"] == VERSION, item_id
            assert _content(got) == _content(clean[item_id]), item_id
            assert got["embedding"] == pytest.approx(clean[item_id]["embedding"], abs=1e-5)
    finally:
        server.stop()


def _user(driver: Any, user_id: str) -> dict[str, Any]:
    edges = driver.execute_query(
        "MATCH (u:User {id: $id})-[r:INTERACTED]->(i:Item) RETURN i.id AS i, r.weight AS w, "
        "r.ts AS ts ORDER BY i", id=user_id).records
    node = driver.execute_query("MATCH (u:User {id: $id}) RETURN u.embedding AS e, "
                                "u.embeddingVersion AS v", id=user_id).records
    return {"edges": [tuple(r.values()) for r in edges],
            "embedding": node[0]["e"] if node else None, "version": node[0]["v"] if node else None}


@pytest.mark.parametrize("point", ["add_interactions.after_edges",
                                   "serve.interactions.before_reply"])
def test_interactions_request_killed_in_flight_then_re_sent_counts_nothing_twice(  # type: ignore[no-untyped-def]
        server_env: dict[str, str], planted_db, point: str) -> None:
    user = EVENTS[0]["user_id"]
    _killed_in_flight(Server({**server_env, CRASH_ENV: point}, *SERVE), "/v1/interactions",
                      {"events": EVENTS})
    half = _user(planted_db, user)
    assert len(half["edges"]) == 3  # one transaction: every event of the request, or none
    if point == "add_interactions.after_edges":
        assert half["embedding"] is None  # the user's embedding was not stored yet
    server = Server(server_env, *SERVE)
    try:
        client = server.wait()
        for _ in range(2):  # the re-send, and one more: weights are set, never summed
            assert _ok(client.post("/v1/interactions", {"events": EVENTS})) == {
                "interactions": 3, "users": 1}
            done = _user(planted_db, user)
            assert done["edges"] == [("a1", 2.0, 1700000100), ("a2", 1.0, 1704164645),
                                     ("b5", 0.5, 0)]
        clean_events = [{**e, "user_id": "svc-clean-user"} for e in EVENTS]
        _ok(client.post("/v1/interactions", {"events": clean_events}))
        clean = _user(planted_db, "svc-clean-user")
        assert (done["edges"], done["version"]) == (clean["edges"], clean["version"])
        assert done["embedding"] == pytest.approx(clean["embedding"], abs=1e-5)
        # the contract, spelled out: a later event on the same pair replaces the earlier
        # one; a pair repeated inside one request is summed
        _ok(client.post("/v1/interactions", {"events": [EVENTS[0], EVENTS[0]]}))
        assert _user(planted_db, user)["edges"][0] == ("a1", 4.0, 1700000100)
    finally:
        server.stop()


def _read_reached(folder: Path, server: Server) -> str:
    """Block until the paused server writes into the ``reached`` pipe (no sleep)."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append((folder / "reached").read_text()),
                              daemon=True)
    reader.start()
    reader.join(timeout=300)
    if not got:
        server.stop()
        pytest.fail("the server never reached its pause point:\n" + "".join(server.lines)[-3000:])
    return got[0].strip()


def test_two_servers_writing_the_same_items_end_with_one_writers_text_and_embedding(  # type: ignore[no-untyped-def]
        server_env: dict[str, str], planted_db, tmp_path: Path) -> None:
    point = "add_items.before_embedding"
    os.mkfifo(tmp_path / "reached")
    os.mkfifo(tmp_path / "go")
    first = [{**NEW, "id": "svc-race-new"}, UPDATED]
    second = [{**NEW, "id": "svc-race-new", "title": "Bread Orbit",
               "description": "Bakers on a space station."},
              {**UPDATED, "title": "Galaxy Soup", "description": "Soup for astronauts."}]
    a = Server({**server_env, PAUSE_ENV: point, PAUSE_DIR_ENV: str(tmp_path)}, *SERVE)
    b = Server(server_env, *SERVE)
    try:
        ca, cb = a.wait(), b.wait()
        reply: list[tuple[int, Any, dict[str, str]]] = []
        writer = threading.Thread(target=lambda: reply.append(
            ca.post("/v1/items", {"items": first})))
        writer.start()
        # A wrote its text and computed its embeddings; B overtakes it
        assert _read_reached(tmp_path, a) == point
        assert _ok(cb.post("/v1/items", {"items": second}))["updated"] == 2
        (tmp_path / "go").write_text("go\n")
        writer.join(timeout=300)
        assert _ok(reply[0])["added"] == 1  # A's compare-and-set failed, quietly
        final = {i["id"]: _stored(planted_db, i["id"]) for i in second}
        for item in second:
            got = final[item["id"]]
            assert (got["title"], got["hash"]) == (item["title"], _hash_of(got))
            assert got["version"] == VERSION
        # the embedding is of B's text: a clean write of it gives the same vector
        _ok(cb.post("/v1/items", {"items": [{**second[0], "id": "svc-race-ref"}]}))
        _ok(cb.post("/v1/items", {"items": [first[1]]}))
        _ok(cb.post("/v1/items", {"items": [second[1]]}))
        clean = [_stored(planted_db, "svc-race-ref"), _stored(planted_db, "a3")]
        for item, ref in zip(second, clean, strict=True):
            assert final[item["id"]]["embedding"] == pytest.approx(ref["embedding"], abs=1e-5)
        # and both servers serve it: A re-read what B wrote, B's re-send is unchanged
        _ok(ca.post("/v1/refresh", None))
        path = item_path("svc-race-new", "similar", k=10)
        assert _ok(ca.get(path))["items"] == _ok(cb.get(path))["items"]
        assert _ok(ca.post("/v1/items", {"items": second}))["unchanged"] == 2
    finally:
        a.stop()
        b.stop()


def test_train_killed_before_moving_latest_leaves_a_running_server_on_its_model(  # type: ignore[no-untyped-def]
        server_env: dict[str, str], planted_db, settings) -> None:
    from gnn.model_store import ModelStore

    server = Server(server_env, *SERVE)
    try:
        client = server.wait()
        before = _ok(client.get(user_path("ua1", k=10)))["items"]
        died = _run(_kgrec("train", "--epochs", "1", "--device", "cpu"),
                    _env(settings, **{CRASH_ENV: "publish.before_latest"}))
        assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
        assert ModelStore(settings.models_dir).latest() == VERSION
        assert VERSION not in _versions(planted_db, "User")  # the new model's embeddings
        assert _ok(client.post("/v1/refresh", None))["model_changed"] is False
        assert _ok(client.get(user_path("ua1", k=10)))["items"] == before
        repaired = _run(_kgrec("models", "use", VERSION), _env(settings))
        assert repaired.returncode == 0, repaired.stderr[-2000:]
        assert set(_versions(planted_db, "Item")) == set(_versions(planted_db, "User")) \
            == {VERSION}
        _ok(client.post("/v1/refresh", None))
        assert _ok(client.get(user_path("ua1", k=10)))["items"] == before
    finally:
        server.stop()
