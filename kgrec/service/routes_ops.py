"""Operations routes (no key): liveness, readiness, Prometheus metrics.

- ``GET /healthz``: the process answers (liveness: restart it when this fails).
- ``GET /readyz``: a model is loaded and Neo4j is reachable (readiness: send traffic
  only when this is 200). While Neo4j is down it answers 503, though reads that need only
  the model keep being served.
- ``GET /metrics``: Prometheus text format (:mod:`kgrec.service.metrics`). It names the
  model version and counts, never users or items; put it behind the network boundary
  like the rest of the service.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["router"]

router = APIRouter(tags=["operations"])

#: a readiness probe reuses a Neo4j check this recent
_READY_CACHE_S = 1.0


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    """200 while the process answers."""
    return {"status": "ok"}


def _neo4j_ok(request: Request) -> str | None:
    """None when Neo4j answers, else why not (checked at most once a second)."""
    state = request.app.state
    now = time.monotonic()
    cached = getattr(state, "ready_check", None)
    if cached is not None and now - cached[0] < _READY_CACHE_S:
        return cached[1]  # type: ignore[no-any-return]
    rec = state.rec
    problem: str | None
    if rec.refresh_error is not None:  # the background refresh just failed: no new wait
        return "Neo4j unreachable: the last refresh failed"
    try:
        rec.driver.verify_connectivity()
        problem = None
    except Exception as e:  # noqa: BLE001  (any driver failure means "not ready")
        problem = f"Neo4j unreachable: {type(e).__name__}"
    state.ready_check = (now, problem)
    return problem


@router.get("/readyz", summary="Readiness")
def readyz(request: Request) -> Response:
    """200 when a model is loaded and Neo4j is reachable, else 503 with the reason."""
    rec = request.app.state.rec
    body: dict[str, Any] = {"model_version": rec.model.version,
                            "items": len(rec.state.catalog),
                            "refresh_lag_s": round(time.time() - rec.refreshed_at, 3)}
    problem = _neo4j_ok(request)
    if problem is not None:
        return JSONResponse({"status": "unavailable", "reason": problem, **body}, 503)
    return JSONResponse({"status": "ready", **body})


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=True)
def metrics(request: Request) -> Response:
    """Request counts and latencies per route and status, model version, catalog size,
    refresh lag, Neo4j errors."""
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
