"""Request and response bodies of the HTTP API (pydantic, ``extra="forbid"``).

Request models validate shapes and bounds at the edge; the facade validates the
contents again (ids, attribute kinds and values, filter values), so a bad value gets
the same message over HTTP, in Python and in the CLI. Catalog records of ``POST
/v1/items`` are validated per record by the catalog-format validator
(:func:`kgrec.inputs.to_item_record`), so one bad record is rejected with its reason
while the others are written.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EventIn",
    "ExplanationOut",
    "InteractionsIn",
    "InteractionsOut",
    "ItemHiddenOut",
    "ItemsIn",
    "ItemsOut",
    "PathOut",
    "RecommendQuery",
    "RecommendationsOut",
    "ScoredItem",
    "SearchIn",
    "SessionIn",
    "SimilarQuery",
    "UserErasedOut",
    "UsersOut",
    "UsersQuery",
]

#: the most items one ``POST /v1/items`` may carry
MAX_ITEMS_PER_REQUEST = 1_000
#: the most events one ``POST /v1/interactions`` may carry
MAX_EVENTS_PER_REQUEST = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Ranking(_Strict):
    """What every ranked list takes besides the user."""

    k: int = Field(10, ge=1, le=10_000, description="How many items.")
    filter: list[str] = Field(
        default_factory=list,
        description="`kind:value` keeps items with that value (values of one kind OR, "
                    "kinds AND); `-kind:value` drops items with it. Repeatable. A value no "
                    "item has is a 422 that lists the closest existing values.")
    exclude: list[str] = Field(default_factory=list, description="Item ids never returned.")
    diversity: float = Field(0.0, ge=0.0, le=1.0, description="0 = relevance; up to 1 = MMR.")
    long_tail: bool = Field(False, description="End each page of ten with long-tail items.")
    new_items: int = Field(0, ge=0, le=100, description="Up to N slots for new items that "
                                                        "fit (above a relevance floor).")
    include_seen: bool = Field(False, description="Keep items the user already has.")


class RecommendQuery(_Ranking):
    """Query string of ``GET /v1/users/{user_id}/recommendations``."""


class SessionIn(_Ranking):
    """``POST /v1/recommendations``: a visitor without an id."""

    items: list[str] = Field(default_factory=list, max_length=1_000,
                             description="Ids of the items seen in this session.")
    attributes: dict[str, list[str] | str] | None = Field(
        None, description="Profile attributes, e.g. `{\"age_band\": [\"25-34\"]}`.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": ["1", "50"], "attributes": {"age_band": ["25-34"]}, "k": 10}]})


class SimilarQuery(_Strict):
    """Query string of ``GET /v1/items/{item_id}/similar``."""

    k: int = Field(10, ge=1, le=10_000, description="How many items.")


class UsersQuery(_Strict):
    """Query string of ``GET /v1/users``."""

    prefix: str = Field("", max_length=200, description="Only ids that start with this.")
    limit: int = Field(50, ge=1, le=1_000, description="At most this many ids.")


class UsersOut(_Strict):
    """Some known user ids (for a picker), sorted; not every user when ``truncated``."""

    users: list[str]
    truncated: bool


class SearchIn(_Strict):
    """``POST /v1/search``: items matching a free-text query (through the text encoder)."""

    text: str = Field(..., min_length=1, max_length=2_000)
    k: int = Field(10, ge=1, le=10_000)


class ScoredItem(_Strict):
    item_id: str
    score: float
    title: str


class RecommendationsOut(_Strict):
    """A ranked list. ``fallback``: null (the trained model ranked it), ``profile`` or
    ``popularity``."""

    user_id: str | None = None
    item_id: str | None = None
    fallback: str | None = None
    model_version: str | None = None
    items: list[ScoredItem]
    ignored_items: list[str] = Field(default_factory=list,
                                     description="Session item ids the catalog does not serve.")


class PathOut(_Strict):
    kind: str
    nodes: list[list[str]]
    relationships: list[str]
    contribution: float
    reason: str
    cypher: str
    parameters: dict[str, Any]


class ExplanationOut(_Strict):
    """Why an item is recommended: paths (each with runnable Cypher), by contribution."""

    user_id: str
    item_id: str
    score: float
    explained: float
    parts: dict[str, float]
    paths: list[PathOut]


class ItemsIn(_Strict):
    """``POST /v1/items``: catalog-format records (as in ``items.jsonl``)."""

    items: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_ITEMS_PER_REQUEST)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"items": [
        {"id": "new-1", "title": "Night Train", "description": "A neo-noir thriller.",
         "attributes": {"genre": ["Thriller", "Crime"]}}]}]})


class ItemsOut(_Strict):
    added: int
    updated: int
    unchanged: int
    rejected: int
    reasons: list[str] = Field(description="One message per rejected record, naming the "
                                           "record number and field.")
    model_version: str | None = None


class ItemHiddenOut(_Strict):
    item_id: str
    hidden: bool
    changed: bool


class EventIn(_Strict):
    user_id: str
    item_id: str
    weight: float | None = Field(None, gt=0)
    timestamp: int | str | None = Field(None, description="Unix seconds or ISO-8601.")


class InteractionsIn(_Strict):
    """``POST /v1/interactions``: events; unknown users are created."""

    events: list[EventIn] = Field(..., min_length=1, max_length=MAX_EVENTS_PER_REQUEST)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [
        {"user_id": "42", "item_id": "new-1", "weight": 1.0,
         "timestamp": "2026-05-01T12:00:00Z"}]}]})


class InteractionsOut(_Strict):
    interactions: int
    users: int


class UserErasedOut(_Strict):
    user_id: str
    deleted: bool
    interactions: int
