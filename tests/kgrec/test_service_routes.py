"""The HTTP API route by route: a real uvicorn server (in a thread, on a socket bound
before it starts) over the planted recommender, driven with ``http.client``.

Also home of the helpers the other ``test_service_*`` files import.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from pydantic import SecretStr

from kgrec.errors import NotFoundError, RequestError
from kgrec.settings import ServiceSettings, Settings

READ_KEY = "read-key-0123456789"
WRITE_KEY = "write-key-0123456789"
BOTH_KEY = "both-key-0123456789"
KEYS = f"{READ_KEY}:read,{WRITE_KEY}:write,{BOTH_KEY}:read+write"


class Client:
    """A keep-alive HTTP client for one server (``key``: the default API key)."""

    def __init__(self, address: tuple[str, int], key: str | None = BOTH_KEY) -> None:
        self.address = address
        self.key = key
        self.conn = http.client.HTTPConnection(*address, timeout=120)

    def request(self, method: str, path: str, body: Any = None, *, key: str | None = "",
                headers: dict[str, str] | None = None, raw: bytes | None = None
                ) -> tuple[int, Any, dict[str, str]]:
        """``(status, decoded JSON or text, headers)``."""
        hdrs = dict(headers or {})
        key = self.key if key == "" else key
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        try:
            self.conn.request(method, path, data, hdrs)
            resp = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()  # the server closed a kept-alive connection: once more
            self.conn = http.client.HTTPConnection(*self.address, timeout=120)
            self.conn.request(method, path, data, hdrs)
            resp = self.conn.getresponse()
        text = resp.read().decode()
        ctype = resp.getheader("content-type", "")
        decoded = json.loads(text) if ctype.startswith("application/json") else text
        return resp.status, decoded, {k.lower(): v for k, v in resp.getheaders()}

    def get(self, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("POST", path, body, **kw)

    def close(self) -> None:
        self.conn.close()


def with_keys(settings: Settings, keys: str | None = KEYS, **service: Any) -> Settings:
    """``settings`` with these API keys and service options."""
    return replace(settings, service=ServiceSettings(
        api_keys=SecretStr(keys) if keys else None, **service))


@contextmanager
def serve_in_thread(app: Any) -> Iterator[tuple[str, int]]:
    """Run ``app`` on a loopback socket bound (and listening) before the server starts,
    so requests queue until it serves them."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def user_path(user_id: str, tail: str = "recommendations", **query: Any) -> str:
    path = f"/v1/users/{quote(user_id, safe='')}/{tail}"
    return path + ("?" + urlencode(query, doseq=True) if query else "")


def item_path(item_id: str, tail: str = "", **query: Any) -> str:
    path = f"/v1/items/{quote(item_id, safe='')}" + (f"/{tail}" if tail else "")
    return path + ("?" + urlencode(query, doseq=True) if query else "")


@pytest.fixture
def api(rec, settings: Settings) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    """A client of a server over the planted recommender (keys :data:`KEYS`)."""
    from kgrec.service import ServeOptions, create_app

    app = create_app(with_keys(settings), rec, ServeOptions(refresh_seconds=0, warm_up=False))
    with serve_in_thread(app) as address:
        client = Client(address)
        yield client
        client.close()


def ids(body: dict[str, Any]) -> list[str]:
    return [r["item_id"] for r in body["items"]]


# ---------------------------------------------------------------------- reads
def test_recommendations_are_the_python_apis(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    status, body, _ = api.get(user_path("ua0", k=5))
    assert status == 200, body
    assert ids(body) == rec.recommend("ua0", k=5).item_ids
    assert body["user_id"] == "ua0" and body["model_version"] == rec.model.version
    assert all(r["title"] for r in body["items"]) and body["fallback"] is None
    status, body, _ = api.get(user_path("cold-a", k=3))
    assert (status, body["fallback"]) == (200, "profile")


def test_recommendation_parameters_map_onto_the_facade(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    status, body, _ = api.get(user_path("ua0", k=10, filter=["genre:Cooking", "genre:Baking"]))
    assert status == 200 and ids(body) and all(i.startswith("b") for i in ids(body))
    expected = rec.recommend("ua0", k=10, filters={"-genre": ["SciFi"], "exclude_items": ["a1"]},
                             long_tail=True, new_items=1).item_ids
    status, body, _ = api.get(user_path("ua0", k=10, filter="-genre:SciFi", exclude="a1",
                                        long_tail="true", new_items=1))
    assert (status, ids(body)) == (200, expected)
    status, body, _ = api.get(user_path("ua0", k=10, diversity=0.5))
    assert (status, ids(body)) == (200, rec.recommend("ua0", k=10, diversity=0.5).item_ids)
    status, body, _ = api.get(user_path("ua0", diversity=0.5, long_tail="true"))
    assert status == 422 and "does not combine" in body["message"]
    status, body, _ = api.get(user_path("ua0", k=40, include_seen="true"))
    seen = rec.state.catalog.ids_of(rec.state.user("ua0").seen)
    assert status == 200 and set(seen) & set(ids(body))


def test_a_filter_value_no_item_has_lists_the_closest_ones(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    status, body, _ = api.get(user_path("ua0", filter="genre:scifi"))
    assert status == 422 and body["error"] == "RequestError"
    assert "no item has" in body["message"] and "'SciFi'" in body["message"]
    with pytest.raises(RequestError, match=r"genre='Bakng'.*closest existing values: 'Baking'"):
        rec.recommend("ua0", filters={"-genre": ["Bakng"]})
    with pytest.raises(RequestError, match=r"existing values: 'Baking', 'Cooking'"):
        rec.recommend("ua0", filters={"genre": ["zzzzzzzz"]})


@pytest.mark.parametrize(("query", "field"), [
    ({"k": 0}, "k"), ({"k": "ten"}, "k"), ({"k": 10_001}, "k"), ({"diversity": 2}, "diversity"),
    ({"fitler": "genre:SciFi"}, "fitler"), ({"new_items": -1}, "new_items"),
])
def test_malformed_parameters_name_the_field(api: Client, query: dict[str, Any],
                                             field: str) -> None:
    status, body, _ = api.get(user_path("ua0", **query))
    assert status == 422 and body["field"] == field, body
    assert body["message"].startswith(f"query parameter '{field}'")


def test_a_filter_without_kind_value_is_a_422(api: Client) -> None:
    status, body, _ = api.get(user_path("ua0", filter="SciFi"))
    assert status == 422 and "expected kind:value" in body["message"]
    status, body, _ = api.get(user_path("ua0", filter="colour:red"))
    assert status == 422 and "unknown attribute kind 'colour'" in body["message"]


def test_unknown_users_and_items_are_404(api: Client) -> None:
    for path in (user_path("nobody"), item_path("nothing", "similar"),
                 user_path("ua0", "explanations/nothing"), user_path("nobody", "explanations/a0")):
        status, body, _ = api.get(path)
        assert status == 404 and body["error"] == "NotFoundError", (path, body)
    status, body, _ = api.get("/v1/nothing-here")
    assert status == 404


def test_similar_items_and_text_search(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    status, body, _ = api.get(item_path("a0", "similar", k=5))
    assert status == 200 and ids(body) == rec.similar_items("a0", k=5).item_ids
    assert body["item_id"] == "a0" and "a0" not in ids(body)
    status, body, _ = api.post("/v1/search", {"text": "astronauts on a rocket to a nebula",
                                              "k": 5})
    assert status == 200 and sum(i.startswith("a") for i in ids(body)) >= 4
    for bad in ({"text": ""}, {"text": "x", "k": 0}, {"query": "x"}, {"text": 3}):
        status, body, _ = api.post("/v1/search", bad)
        assert status == 422 and body["field"], (bad, body)


def test_explanations_carry_paths_and_cypher(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    top = rec.recommend("ua0", k=1).item_ids[0]
    status, body, _ = api.get(user_path("ua0", f"explanations/{quote(top, safe='')}"))
    assert status == 200, body
    assert body["item_id"] == top and body["paths"]
    path = body["paths"][0]
    assert path["cypher"].startswith("MATCH p =") and path["parameters"]["user"] == "ua0"
    status, body, _ = api.get(user_path("ua0", f"explanations/{top}", max_paths=0))
    assert status == 422 and body["field"] == "max_paths"


def test_an_anonymous_session_is_folded_in_like_a_new_user(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    session = {"items": ["a0", "a1", "a2", "a3"], "k": 5}
    status, body, _ = api.post("/v1/recommendations", session)
    assert status == 200 and body["user_id"] is None and body["fallback"] is None
    assert all(i.startswith("a") for i in ids(body)) and not {"a0", "a1"} & set(ids(body))
    # the same items as a new user's events (written) rank the same
    events = [{"user_id": "anon-twin", "item_id": i} for i in session["items"]]
    assert api.post("/v1/interactions", {"events": events})[0] == 200
    assert ids(api.get(user_path("anon-twin", k=5))[1]) == ids(body)
    status, body, _ = api.post("/v1/recommendations", {"attributes": {"genre": "SciFi"}})
    assert (status, body["fallback"]) == (200, "profile")
    assert ids(body) == rec.recommend("cold-a").item_ids  # cold-a: that profile, no items
    status, body, _ = api.post("/v1/recommendations", {"items": ["gone", "b1"], "k": 3})
    assert status == 200 and body["ignored_items"] == ["gone"] and body["fallback"] is None
    status, body, _ = api.post("/v1/recommendations", {})
    assert (status, body["fallback"]) == (200, "popularity")


@pytest.mark.parametrize("bad", [
    {"items": "a0"}, {"items": [" a0"]}, {"attributes": {"bad kind": ["x"]}},
    {"attributes": {"genre": []}}, {"user_id": "u1"}, {"items": ["a0"], "k": -1},
])
def test_a_malformed_session_is_a_422(api: Client, bad: dict[str, Any]) -> None:
    status, body, _ = api.post("/v1/recommendations", bad)
    assert status == 422 and body["error"] == "RequestError", body


# ---------------------------------------------------------------------- writes
def test_a_posted_item_is_recommended_and_listed_as_similar(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    item = {"id": "http-new-1", "title": "Rocket Galaxy Astronaut",
            "description": "Astronauts fly a rocket across the galaxy to a nebula.",
            "attributes": {"genre": ["SciFi"], "style": ["futuristic"]}}
    broken = {"id": "http-new-2", "title": 42}
    status, body, _ = api.post("/v1/items", {"items": [item, broken]})
    assert status == 200, body
    assert (body["added"], body["updated"], body["unchanged"], body["rejected"]) == (1, 0, 0, 1)
    assert "record 2: field 'title'" in body["reasons"][0]
    assert "http-new-1" in ids(api.get(item_path("a0", "similar", k=60))[1])
    assert "http-new-1" in ids(api.get(user_path("ua0", k=60))[1])
    assert api.post("/v1/items", {"items": [item]})[1]["unchanged"] == 1
    for bad in ({"items": []}, {"records": [item]}, {"items": [item] * 1001}):
        assert api.post("/v1/items", bad)[0] == 422


def test_a_hidden_item_disappears_and_comes_back(api: Client, rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    top = ids(api.get(user_path("ua0", k=1))[1])[0]
    status, body, _ = api.request("DELETE", item_path(top))
    assert status == 200 and body == {"item_id": top, "hidden": True, "changed": True}
    assert top not in ids(api.get(user_path("ua0", k=60))[1])
    neighbour = rec.similar_items(top, k=1).item_ids[0]
    assert top not in ids(api.get(item_path(neighbour, "similar", k=60))[1])
    stored = neo4j_driver.execute_query("MATCH (i:Item {id: $id}) RETURN i.hidden AS h",
                                        id=top).records[0]["h"]
    assert stored is True
    assert api.request("DELETE", item_path(top))[1]["changed"] is False
    status, body, _ = api.post(item_path(top, "show"), None)
    assert status == 200 and body["hidden"] is False
    assert ids(api.get(user_path("ua0", k=1))[1]) == [top]
    assert api.request("DELETE", item_path("nothing"))[0] == 404


def test_an_event_changes_that_users_list(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    before = ids(api.get(user_path("ub0", k=10))[1])
    events = [{"user_id": "ub0", "item_id": f"a{j}", "weight": 3.0,
               "timestamp": "2026-05-01T12:00:00Z"} for j in range(12)]
    events.append({"user_id": "ub0", "item_id": "a12", "timestamp": 1_760_000_000})
    status, body, _ = api.post("/v1/interactions", {"events": events})
    assert status == 200 and body == {"interactions": 13, "users": 1}
    after = ids(api.get(user_path("ub0", k=10))[1])
    assert sum(i.startswith("a") for i in after) > sum(i.startswith("a") for i in before)
    assert after == rec.recommend("ub0", k=10).item_ids


@pytest.mark.parametrize(("event", "field"), [
    ({"user_id": "ub0", "item_id": "no-such-item"}, "item_id"),
    ({"user_id": "ub0", "item_id": "a1", "timestamp": "yesterday"}, None),
    ({"user_id": "ub0", "item_id": "a1", "weight": 0}, "events[1].weight"),
    ({"user_id": "ub0"}, "events[1].item_id"),
    ({"user_id": "ub0", "item_id": "a1", "rating": 5}, "events[1].rating"),
])
def test_a_bad_event_writes_nothing(api: Client, rec, event: dict[str, Any],  # type: ignore[no-untyped-def]
                                    field: str | None) -> None:
    before = rec.state.user("ub0").seen.tolist()
    status, body, _ = api.post("/v1/interactions",
                               {"events": [{"user_id": "ub0", "item_id": "a2"}, event]})
    assert status == 422 and body["field"] == field, body
    assert rec.state.user("ub0").seen.tolist() == before


def test_deleting_a_user_erases_it(api: Client, rec, neo4j_driver, settings,  # type: ignore[no-untyped-def]
                                   planted_model) -> None:
    from kgrec.recommender import Recommender

    with Recommender(settings, model_dir=planted_model, driver=neo4j_driver) as other:
        assert other.recommend("ua3", k=1)
        status, body, _ = api.request("DELETE", user_path("ua3", "")[:-1])
        assert status == 200 and body == {"user_id": "ua3", "deleted": True, "interactions": 24}
        assert neo4j_driver.execute_query("MATCH (u:User {id: 'ua3'}) RETURN count(u) AS n"
                                          ).records[0]["n"] == 0
        assert api.get(user_path("ua3"))[0] == 404
        assert api.request("DELETE", user_path("ua3", "")[:-1])[0] == 404
        assert "ua3" in rec.model.graph.user_rows  # the checkpoint holds it, never served
        other.refresh()  # another process, after its refresh
        with pytest.raises(NotFoundError):
            other.recommend("ua3")


def test_the_profile_attribute_only_an_erased_user_had_leaves_too(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    rec.add_interactions([{"user_id": "zip-user", "item_id": "a1"}])
    neo4j_driver.execute_query(
        "MATCH (u:User {id: 'zip-user'}) MERGE (a:Attribute {id: 'zip:99999', kind: 'zip', "
        "value: '99999'}) MERGE (u)-[:HAS_ATTRIBUTE]->(a) "
        "WITH u MATCH (g:Attribute {id: 'genre:SciFi'}) MERGE (u)-[:HAS_ATTRIBUTE]->(g)")
    assert rec.delete_user("zip-user") == 1
    left = neo4j_driver.execute_query("MATCH (a:Attribute) WHERE a.id IN ['zip:99999', "
                                      "'genre:SciFi'] RETURN a.id AS id").records
    assert [r["id"] for r in left] == ["genre:SciFi"]


def test_injection_shaped_ids_stay_inert(api: Client, neo4j_driver) -> None:
    count = "MATCH (n) RETURN count(n) AS n"
    n0 = neo4j_driver.execute_query(count).records[0]["n"]
    evil = "x'}) MATCH (n) DETACH DELETE n //"
    assert api.get(user_path(evil))[0] == 404
    assert api.get(user_path("ua0", filter=f"genre:{evil}"))[0] == 422
    item = {"id": "a/b?c=1&d=<script>", "title": evil, "description": "$id {x} `y`",
            "attributes": {"genre": ["SciFi"]}}
    assert api.post("/v1/items", {"items": [item]})[1]["added"] == 1
    status, body, _ = api.get(item_path(item["id"], "similar", k=3))
    assert status == 200 and body["item_id"] == item["id"]
    assert neo4j_driver.execute_query(count).records[0]["n"] == n0 + 1
    stored = neo4j_driver.execute_query("MATCH (i:Item {id: $id}) RETURN i.title AS t",
                                        id=item["id"]).records[0]["t"]
    assert stored == evil


def test_openapi_lists_every_route_without_a_key(api: Client) -> None:
    status, spec, _ = api.get("/openapi.json", key=None)
    assert status == 200
    paths = set(spec["paths"])
    assert {"/v1/users/{user_id}/recommendations", "/v1/recommendations",
            "/v1/items/{item_id}/similar", "/v1/search", "/v1/items", "/v1/items/{item_id}",
            "/v1/items/{item_id}/show", "/v1/interactions", "/v1/users/{user_id}",
            "/v1/users/{user_id}/explanations/{item_id}", "/healthz", "/readyz",
            "/metrics"} <= paths, paths
    assert api.get("/docs", key=None)[0] == 200
