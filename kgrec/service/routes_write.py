"""Write routes (scope ``write``): catalog items, hiding, interaction events, erasure, and
an explicit refresh.

Each write goes to Neo4j first and is folded into this worker's state before the
response, so the client reads its own write from this worker at once; other workers
and replicas serve it after their next background refresh (``KGREC_REFRESH_SECONDS``).
Neo4j down: 503 within the driver's timeout (``KGREC_NEO4J_TIMEOUT``), or at once while
the background refresh keeps failing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ingest.catalog import parse_timestamp
from kgrec.errors import GraphError, RecordError, RequestError
from kgrec.faults import crash_point
from kgrec.service.auth import require
from kgrec.service.routes_read import Rec
from kgrec.service.schemas import (
    EventIn,
    InteractionsIn,
    InteractionsOut,
    ItemHiddenOut,
    ItemsIn,
    ItemsOut,
    UserErasedOut,
)

__all__ = ["check_graph", "router"]

router = APIRouter(prefix="/v1", tags=["write"], dependencies=[Depends(require("write"))])


def check_graph(request: Request) -> None:
    """Fail fast while the background refresh says Neo4j is unreachable: a write would
    only wait for the driver's timeout and fail the same way.

    Raises:
        GraphError: the last background refresh failed.
    """
    error = request.app.state.rec.refresh_error
    if error is not None:
        raise GraphError(f"Neo4j is unavailable (the last refresh failed: {error}); "
                         "writes resume when it is back")


Writable = Depends(check_graph)


def _timestamp(event: EventIn, n: int) -> int:
    """The event's time by the catalog's one rule (:func:`ingest.catalog.parse_timestamp`)."""
    if event.timestamp is None:
        return 0
    try:
        return parse_timestamp(event.timestamp, "events", n, "timestamp")
    except RecordError:
        raise RequestError(f"events[{n}].timestamp must be Unix seconds or ISO-8601 from "
                           f"1970 to 9999, got {event.timestamp!r}") from None


@router.post("/items", response_model=ItemsOut, dependencies=[Writable],
             summary="Add or update catalog items")
def add_items(body: ItemsIn, rec: Rec) -> dict[str, Any]:
    """Records in the catalog format (`items.jsonl`); each is validated on its own: an
    invalid one is rejected with its reason, the others are written, embedded by the
    model's inductive rule and recommendable when the response returns."""
    summary = rec.add_items(body.items, on_error="skip")
    crash_point("serve.items.before_reply")  # written, the reply lost: a client re-sends
    return {"added": summary.added, "updated": summary.updated,
            "unchanged": summary.unchanged, "rejected": summary.rejected,
            "reasons": list(summary.reasons), "model_version": rec.model.version}


@router.delete("/items/{item_id:path}", response_model=ItemHiddenOut, dependencies=[Writable],
               summary="Hide an item")
def hide_item(item_id: str, rec: Rec) -> dict[str, Any]:
    """Never recommended (nor listed as similar) again; kept in the graph with
    `hidden = true`, reversible with `POST /v1/items/{item_id}/show`."""
    changed = rec.hide_items([item_id])
    return {"item_id": item_id, "hidden": True, "changed": bool(changed)}


@router.post("/items/{item_id:path}/show", response_model=ItemHiddenOut,
             dependencies=[Writable], summary="Show a hidden item again")
def show_item(item_id: str, rec: Rec) -> dict[str, Any]:
    """Undo `DELETE /v1/items/{item_id}`."""
    changed = rec.show_items([item_id])
    return {"item_id": item_id, "hidden": False, "changed": bool(changed)}


@router.post("/interactions", response_model=InteractionsOut, dependencies=[Writable],
             summary="Record interaction events")
def add_interactions(body: InteractionsIn, rec: Rec) -> dict[str, Any]:
    """Events `{user_id, item_id, weight?, timestamp?}`; unknown users are created; each
    user's next recommendations reflect them. All or nothing: an event naming an
    unknown item fails the request (422) and nothing is written."""
    records = []
    for n, e in enumerate(body.events):
        record: dict[str, Any] = {"user_id": e.user_id, "item_id": e.item_id,
                                  "ts": _timestamp(e, n)}
        if e.weight is not None:
            record["weight"] = e.weight
        records.append(record)
    summary = rec.add_interactions(records)
    crash_point("serve.interactions.before_reply")
    return {"interactions": summary.interactions, "users": summary.users}


@router.delete("/users/{user_id:path}", response_model=UserErasedOut, dependencies=[Writable],
               summary="Erase a user")
def delete_user(user_id: str, rec: Rec) -> dict[str, Any]:
    """The user, their interactions and profile edges leave Neo4j, this worker's state at
    once, every other worker's after its next refresh, and every later training."""
    erased = rec.delete_user(user_id)
    return {"user_id": user_id, "deleted": True, "interactions": erased}


@router.post("/refresh", summary="Refresh this worker now")
def refresh(rec: Rec) -> dict[str, Any]:
    """Read what other processes wrote, and switch to a newer model when `latest`
    moved (what the background refresh does every `KGREC_REFRESH_SECONDS`)."""
    changed = rec.refresh()
    return {"model_version": rec.model.version, "model_changed": changed}
