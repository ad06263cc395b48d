"""The HTTP service's edges: API keys and scopes, the key file, the body cap, CORS,
health and readiness, metrics, the access log, the CLI's guards, and Neo4j going away
under a running server."""

from __future__ import annotations

import http.client
import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import test_service_processes
from test_service_processes import Server
from test_service_routes import (
    BOTH_KEY,
    KEYS,
    READ_KEY,
    WRITE_KEY,
    Client,
    serve_in_thread,
    user_path,
    with_keys,
)

from kgrec.errors import ConfigError, NotFoundError
from kgrec.settings import ServiceSettings, Settings

server_env = test_service_processes.server_env  # the fixture, shared

ITEM = {"id": "auth-new-1", "title": "Comet Orbit", "description": "A comet in orbit.",
        "attributes": {"genre": ["SciFi"]}}


@contextmanager
def running(rec: Any, settings: Settings, **options: Any) -> Iterator[Client]:
    from kgrec.service import ServeOptions, create_app

    app = create_app(settings, rec, ServeOptions(refresh_seconds=0, warm_up=False, **options))
    with serve_in_thread(app) as address:
        client = Client(address, key=None)
        yield client
        client.close()


@pytest.fixture
def api(rec, settings: Settings) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    with running(rec, with_keys(settings, max_body_bytes=4096,
                                cors_origins=("https://shop.example",))) as client:
        yield client


def test_keys_and_scopes(api: Client) -> None:
    read, write = user_path("ua0", k=3), "/v1/items"
    status, body, headers = api.get(read)
    assert (status, body["error"], headers["www-authenticate"]) == (401, "Unauthorized", "Bearer")
    assert api.get(read, key="not-a-key-0123456789")[0] == 401
    assert api.get(read, headers={"Authorization": f"Basic {READ_KEY}"})[0] == 401
    assert api.get(read, key=READ_KEY)[0] == 200
    assert api.get(read, key=BOTH_KEY)[0] == 200
    status, body, _ = api.get(read, key=WRITE_KEY)
    assert status == 403 and "'read' scope" in body["message"]
    assert api.post(write, {"items": [ITEM]}, key=READ_KEY)[0] == 403
    assert api.request("DELETE", user_path("ua1", "")[:-1], key=READ_KEY)[0] == 403
    assert api.post(write, {"items": [ITEM]}, key=WRITE_KEY)[0] == 200
    assert api.post("/v1/refresh", None, key=WRITE_KEY)[0] == 200


def test_health_readiness_and_docs_need_no_key(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    status, body, _ = api.get("/healthz")
    assert (status, body) == (200, {"status": "ok"})
    status, body, _ = api.get("/readyz")
    assert status == 200 and body["status"] == "ready"
    assert body["model_version"] == rec.model.version and body["items"] == 60
    assert api.get("/openapi.json")[0] == 200


def test_a_keys_file_holds_hashes(rec, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from kgrec.service.auth import hash_key

    keys = tmp_path / "keys"
    keys.write_text(f"# kgrec keys\n{hash_key(READ_KEY)}:read   # the web app\n\n")
    service = ServiceSettings(api_keys_file=keys)
    with running(rec, replace(settings, service=service)) as api:
        assert api.get(user_path("ua0"), key=READ_KEY)[0] == 200
        assert api.get(user_path("ua0"), key=WRITE_KEY)[0] == 401
        assert api.post("/v1/items", {"items": [ITEM]}, key=READ_KEY)[0] == 403


@pytest.mark.parametrize(("service", "message"), [
    ({"api_keys": "short:read"}, r"entry 1: a key must be at least 16"),
    ({"api_keys": f"{READ_KEY}:admin"}, r"entry 1: scopes must be read, write or read\+write"),
    ({"api_keys": f"{READ_KEY}"}, r"entry 1: expected KEY:SCOPES"),
    ({"file": "not-a-digest:read"}, r"keys line 1: expected SHA256HEX:SCOPES"),
    ({"file": None}, r"cannot be read"),
    ({}, r"no API key configured"),
])
def test_bad_key_configuration_refuses_to_start(settings: Settings, tmp_path: Path,
                                               service: dict[str, Any], message: str) -> None:
    from dataclasses import replace

    from pydantic import SecretStr

    from kgrec.service import create_app

    keys_file = None
    if "file" in service:
        keys_file = tmp_path / "keys"
        if service["file"] is not None:
            keys_file.write_text(service["file"] + "\n")
    raw = service.get("api_keys")
    config = replace(settings, service=ServiceSettings(
        api_keys=SecretStr(raw) if raw else None, api_keys_file=keys_file))
    with pytest.raises(ConfigError, match=message) as e:
        create_app(config)
    assert READ_KEY not in str(e.value)


def test_without_keys_a_loopback_server_is_open(rec, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    with running(rec, with_keys(settings, None), open_access=True) as api:
        assert api.get(user_path("ua0", k=2))[0] == 200


@pytest.fixture
def cli(settings: Settings, monkeypatch):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from kgrec.cli import _register, app

    _register()
    for name in ("KGREC_API_KEYS", "KGREC_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KGREC_HOME", str(settings.home))
    return CliRunner(), app


def test_the_cli_refuses_a_network_facing_server_without_keys(cli) -> None:  # type: ignore[no-untyped-def]
    from kgrec.cli.commands_http import is_loopback

    runner, app = cli
    res = runner.invoke(app, ["-q", "serve", "--host", "0.0.0.0"])
    assert isinstance(res.exception, ConfigError)
    assert "refusing to serve on 0.0.0.0 without an API key" in str(res.exception)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


def test_api_key_create_prints_a_key_and_its_hashed_line(cli) -> None:  # type: ignore[no-untyped-def]
    from kgrec.service.auth import hash_key

    runner, app = cli
    res = runner.invoke(app, ["-q", "api-key", "create", "--scopes", "read+write", "--json"])
    out = json.loads(res.stdout)
    assert len(out["key"]) >= 32 and out["keys_file_line"] == f"{hash_key(out['key'])}:read+write"
    res = runner.invoke(app, ["-q", "api-key", "create", "--scopes", "admin"])
    assert isinstance(res.exception, ConfigError)


def test_kgrec_users_delete_erases_in_neo4j(cli, planted_db) -> None:  # type: ignore[no-untyped-def]
    runner, app = cli
    assert runner.invoke(app, ["-q", "users", "delete", "ub7"]).exit_code == 2
    res = runner.invoke(app, ["-q", "users", "delete", "ub7", "--yes", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"user_id": "ub7", "deleted": True, "interactions": 24}
    n = planted_db.execute_query("MATCH (u:User {id: 'ub7'}) RETURN count(u) AS n")
    assert n.records[0]["n"] == 0
    res = runner.invoke(app, ["-q", "users", "delete", "ub7", "--yes"])
    assert isinstance(res.exception, NotFoundError) and "unknown user 'ub7'" in str(res.exception)


def test_request_bodies_are_capped(api: Client) -> None:
    big = {"items": [{**ITEM, "description": "x" * 5000}]}
    status, body, _ = api.post("/v1/items", big, key=WRITE_KEY)
    assert status == 413 and "4096 bytes" in body["message"]
    # a streamed body without Content-Length is cut off as it passes the cap
    conn = http.client.HTTPConnection(*api.address, timeout=60)
    conn.putrequest("POST", "/v1/items")
    conn.putheader("Authorization", f"Bearer {WRITE_KEY}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for chunk in (json.dumps(big).encode()[i:i + 1000] for i in range(0, 6000, 1000)):
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 413 and b"4096 bytes" in resp.read()
    conn.close()


def test_cors_only_for_configured_origins(api: Client, rec, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    status, _, headers = api.request("OPTIONS", user_path("ua0"), headers=preflight)
    assert status == 200 and headers["access-control-allow-origin"] == "https://shop.example"
    _, _, headers = api.get(user_path("ua0"), key=READ_KEY,
                            headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers
    with running(rec, with_keys(settings)) as closed:
        _, _, headers = closed.get(user_path("ua0"), key=READ_KEY,
                                   headers={"Origin": "https://shop.example"})
        assert "access-control-allow-origin" not in headers


def test_metrics_count_requests_by_route_template(api: Client, rec) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert api.get(user_path("ua0", k=2), key=READ_KEY)[0] == 200
    assert api.get(user_path("nobody"), key=READ_KEY)[0] == 404
    assert api.get("/no/such/route", key=READ_KEY)[0] == 404
    status, text, headers = api.get("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    route = "/v1/users/{user_id}/recommendations"
    assert f'kgrec_http_requests_total{{method="GET",route="{route}",status="200"}} 3.0' in text
    assert f'kgrec_http_requests_total{{method="GET",route="{route}",status="404"}} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert f'kgrec_http_request_duration_seconds_count{{method="GET",route="{route}"' in text
    assert f'kgrec_model_info{{version="{rec.model.version}"}} 1.0' in text
    assert "kgrec_catalog_items 60.0" in text and "kgrec_state_refresh_lag_seconds" in text
    assert 'kgrec_neo4j_errors_total{where="request"} 0.0' in text
    assert "ua0" not in text and "nobody" not in text


def test_the_access_log_has_routes_not_users_and_never_a_key(api: Client, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.DEBUG):
        api.get(user_path("secret-user-7"), key=READ_KEY)
        api.post("/v1/items", {"items": [ITEM]}, key=WRITE_KEY)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kgrec.access"]
    # kgrec's own records (the driver's DEBUG protocol trace, on when another test left the
    # neo4j logger at DEBUG, echoes query parameters by design and is not an access log)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kgrec"))
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("GET", "/v1/users/{user_id}/recommendations", 404), ("POST", "/v1/items", 200)]
    assert all(isinstance(x["ms"], float) for x in lines)
    assert "secret-user-7" not in ours and "auth-new-1" not in ours
    for key in KEYS.split(","):
        assert key.rpartition(":")[0] not in caplog.text


def _dead_driver() -> Any:
    import neo4j

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=("neo4j", "x" * 8),
                                      connection_timeout=1, max_transaction_retry_time=1,
                                      connection_acquisition_timeout=1)


def test_with_neo4j_gone_reads_serve_and_writes_answer_503(  # type: ignore[no-untyped-def]
        settings: Settings, planted_db, planted_model) -> None:
    from kgrec.recommender import Recommender

    with Recommender(settings, model_dir=planted_model, driver=planted_db) as rec, \
            running(rec, with_keys(settings)) as api:
        top = rec.recommend("ua0", k=1).item_ids[0]
        dead = _dead_driver()
        rec.driver = rec.sync.driver = dead  # the server went away
        try:
            status, body, _ = api.get(user_path("ua0", k=5), key=READ_KEY)
            assert status == 200 and body["items"][0]["item_id"] == top
            assert api.post("/v1/recommendations", {"items": ["a1"]}, key=READ_KEY)[0] == 200
            status, body, headers = api.post("/v1/items", {"items": [ITEM]}, key=WRITE_KEY)
            assert (status, body["error"], headers["retry-after"]) == (503, "GraphError", "5")
            assert api.get(user_path("ua0", f"explanations/{top}"), key=READ_KEY)[0] == 503
            assert api.post("/v1/refresh", None, key=WRITE_KEY)[0] == 503
            # the failed refresh is remembered: writes now fail without waiting for Neo4j
            status, body, _ = api.request("DELETE", user_path("ua1", "")[:-1], key=WRITE_KEY)
            assert status == 503 and "the last refresh failed" in body["message"]
            assert api.get("/readyz")[0] == 503
            text = api.get("/metrics")[1]
            assert 'kgrec_neo4j_errors_total{where="request"} 4.0' in text
            assert 'kgrec_neo4j_errors_total{where="refresh"} 1.0' in text
        finally:
            rec.driver = rec.sync.driver = planted_db
            dead.close()
        assert api.post("/v1/refresh", None, key=WRITE_KEY)[0] == 200  # back
        assert api.get("/readyz")[0] == 200


def test_a_debug_server_process_logs_no_api_key(server_env: dict[str, str]) -> None:
    """Every line a ``kgrec -vv serve`` process writes (uvicorn, kgrec, the access log)
    at DEBUG, for accepted, refused, wrong-scope and oversized requests."""
    wrong = "wrong-key-0123456789abcdef"
    server = Server({**server_env, "KGREC_MAX_BODY_BYTES": "4096"}, "--refresh-seconds", "0",
                    verbosity="-vv")
    try:
        client = server.wait()
        assert client.get(user_path("ua0", k=2), key=READ_KEY)[0] == 200
        assert client.get(user_path("ua0", k=2), key=wrong)[0] == 401
        assert client.get(user_path("ua0", k=2), key=WRITE_KEY)[0] == 403
        big = {"items": [{**ITEM, "description": "x" * 5000}]}
        status, body, _ = client.post("/v1/items", big, key=WRITE_KEY)
        assert status == 413 and "4096 bytes" in body["message"]
        assert client.post("/v1/items", {"items": [ITEM]}, key=WRITE_KEY)[0] == 200
        client.close()
    finally:
        server.stop()
    log = "".join(server.lines)
    assert '"status": 413' in log and '"route": "/v1/items", "status": 200' in log, log
    assert "DEBUG kg" in log, log  # the project's records were on at DEBUG
    for key in [k.rpartition(":")[0] for k in KEYS.split(",")] + [wrong]:
        assert key not in log
