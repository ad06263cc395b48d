"""Read routes (scope ``read``): recommendations, anonymous sessions, similar items, text
search, explanations, and a few user ids for a picker. Thin: validate, call the
:class:`kgrec.Recommender`, shape JSON.

They need only the model and the serving state, so they keep answering while Neo4j is
down; explanations confirm their paths in Neo4j and answer 503 then.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, islice
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from kgrec.filters import EXCLUDE_ITEMS, filters_from_options
from kgrec.recommender import Recommender
from kgrec.results import Recommendations
from kgrec.service.auth import require
from kgrec.service.schemas import (
    ExplanationOut,
    RecommendationsOut,
    RecommendQuery,
    SearchIn,
    SessionIn,
    SimilarQuery,
    UsersOut,
    UsersQuery,
)
from kgrec.state import ServingState

__all__ = ["parse_filter_params", "recommender", "router", "to_json"]


def recommender(request: Request) -> Recommender:
    """The app's recommender (a FastAPI dependency)."""
    rec: Recommender = request.app.state.rec
    return rec


Rec = Annotated[Recommender, Depends(recommender)]
router = APIRouter(prefix="/v1", tags=["read"], dependencies=[Depends(require("read"))])


def parse_filter_params(filters: Sequence[str], exclude: Sequence[str]
                        ) -> dict[str, list[str]] | None:
    """``["genre:Comedy", "-genre:Horror"]`` and excluded ids -> the facade's filters.

    Raises:
        RequestError: a filter without ``kind:value``.
    """
    out = filters_from_options(filters, ":", "filter {option!r}: expected kind:value (keep "
                               "items with the value) or -kind:value (drop them)")
    if exclude:
        out[EXCLUDE_ITEMS] = list(exclude)
    return out or None


def to_json(recs: Recommendations, item_id: str | None = None) -> dict[str, Any]:
    """A :class:`RecommendationsOut` body."""
    return {**recs.to_dict(), "item_id": item_id, "model_version": recs.model_version,
            "ignored_items": list(recs.ignored_items)}


def _ranking(q: RecommendQuery | SessionIn) -> dict[str, Any]:
    return {"exclude_seen": not q.include_seen,
            "filters": parse_filter_params(q.filter, q.exclude), "diversity": q.diversity,
            "long_tail": q.long_tail, "new_items": q.new_items}


@router.get("/users/{user_id:path}/recommendations", response_model=RecommendationsOut,
            summary="Top-k recommendations for a user")
def recommendations(user_id: str, q: Annotated[RecommendQuery, Query()], rec: Rec
                    ) -> dict[str, Any]:
    """The user's top-k items, ranked by the model (users without interactions: from
    their profile, else by popularity, as ``fallback`` says)."""
    return to_json(rec.recommend(user_id, q.k, **_ranking(q)))


@router.post("/recommendations", response_model=RecommendationsOut,
             summary="Recommendations for an anonymous visitor")
def session_recommendations(body: SessionIn, rec: Rec) -> dict[str, Any]:
    """A visitor without an id: the items seen in this session (and optional profile
    attributes) fold in a transient user by the model's inductive rule; nothing is
    written."""
    return to_json(rec.recommend_for_session(body.items, body.attributes, body.k,
                                             **_ranking(body)))


@router.get("/items/{item_id:path}/similar", response_model=RecommendationsOut,
            summary="Items similar to an item")
def similar(item_id: str, q: Annotated[SimilarQuery, Query()], rec: Rec) -> dict[str, Any]:
    """Items closest to the item by the model's embeddings (hidden items never appear)."""
    return to_json(rec.similar_items(item_id, q.k), item_id)


@router.post("/search", response_model=RecommendationsOut,
             summary="Items matching a free-text query")
def search(body: SearchIn, rec: Rec) -> dict[str, Any]:
    """The text is encoded as a query and embedded as an item with no neighbours."""
    return to_json(rec.similar_to_text(body.text, body.k))


@router.get("/users/{user_id:path}/explanations/{item_id:path}",
            response_model=ExplanationOut, summary="Why an item is recommended to a user")
def explanation(user_id: str, item_id: str, rec: Rec,
                max_paths: Annotated[int, Query(ge=1, le=20)] = 3) -> dict[str, Any]:
    """The user's items and profile attributes the score comes from, each with the graph
    path that links it to the item, its share of the score and the Cypher that shows it
    (paths are confirmed in Neo4j: 503 while Neo4j is down)."""
    return rec.explain(user_id, item_id, max_paths).to_dict()


def _user_ids(state: ServingState, prefix: str) -> Iterator[str]:
    """Known, not erased user ids starting with ``prefix``: the model's, then those
    folded in since (a lazy scan, so a short page stays cheap with many users)."""
    trained = state.model.graph.user_rows
    added = (u for u in state.users if u not in trained)
    return (u for u in chain(state.model.graph.user_ids, added)
            if u.startswith(prefix) and u not in state.deleted_users)


@router.get("/users", response_model=UsersOut, summary="Some user ids (for a picker)")
def users(q: Annotated[UsersQuery, Query()], rec: Rec) -> dict[str, Any]:
    """Up to `limit` known user ids that start with `prefix`, sorted (the first ones
    found, not the first in sort order, when more match: `truncated` says so)."""
    found = list(islice(_user_ids(rec.state, q.prefix), q.limit + 1))
    return {"users": sorted(found[:q.limit]), "truncated": len(found) > q.limit}
