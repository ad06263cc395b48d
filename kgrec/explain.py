"""Explanations that explain the score: which of the user's items and profile attributes
a recommendation's score comes from, and the graph path that links each to the item.

A score (:mod:`gnn.scorer`) is ``v · e_i + β x_u B[:, i]``. Both parts split exactly
over the user's neighbours: the user's embedding is its layer 0 plus one share per
neighbour (:func:`gnn.infer.decompose_user`), and the item–item term is one ``β B[j, i]``
per held item ``j`` (``β W[j] · f_i`` for a new item). So every held item ``j`` has a
contribution ``c_j`` (embedding share plus item–item share), every profile attribute
``a`` one ``c_a``, and the rest is the user's own layer 0 (its ID embedding and
profile text)::

    score = own + Σ_j c_j + Σ_a c_a

The strongest positive contributions become paths: a held item that shares an attribute
with the target (``u → j → a ← i``), or, failing that, one that a co-user also holds
(``u → j ← v → i``); a profile attribute the target carries (``u → a ← i``). Each path is
confirmed in Neo4j with the parameterised Cypher it carries, and the explanation states
the share of the score its paths account for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gnn.infer import decompose_user, user_neighbours
from kg import queries_serving as qs
from kgrec.state import ServingState, UserState

__all__ = ["Explanation", "ExplanationPath", "explain_score"]


@dataclass(frozen=True)
class ExplanationPath:
    """One user→item path and the part of the score it carries.

    Attributes:
        kind: ``attribute``, ``collaborative`` or ``profile``.
        nodes: ``[(label, id), ...]`` from the user to the item.
        relationships: relationship types between consecutive nodes.
        contribution: the part of the score that comes through this path's first node
            (a held item or a profile attribute), on the score's scale.
        reason: one sentence for people.
        cypher: a query returning exactly this path (column ``p``).
        parameters: its parameters.
    """

    kind: str
    nodes: list[tuple[str, str]]
    relationships: list[str]
    contribution: float
    reason: str
    cypher: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "nodes": [list(n) for n in self.nodes],
                "relationships": list(self.relationships), "contribution": self.contribution,
                "reason": self.reason, "cypher": self.cypher, "parameters": self.parameters}


@dataclass(frozen=True)
class Explanation:
    """Why ``item_id`` is recommended to ``user_id``.

    Attributes:
        user_id, item_id: the pair.
        score: the recommendation score (as in ``recommend``).
        paths: the paths, by contribution (largest first).
        explained: the share of ``score`` the paths' contributions account for.
        parts: the score split: ``items`` (all held items), ``profile`` (profile
            attributes), ``own`` (the user's layer 0).
    """

    user_id: str
    item_id: str
    score: float
    paths: list[ExplanationPath]
    explained: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"user_id": self.user_id, "item_id": self.item_id, "score": self.score,
                "explained": self.explained, "parts": dict(self.parts),
                "paths": [p.to_dict() for p in self.paths]}


@dataclass(frozen=True)
class _Source:
    """A held item (``row``) or a profile attribute (``attribute``) and its contribution."""

    contribution: float
    row: int = -1
    attribute: str = ""


def _contributions(state: ServingState, user: UserState, row: int) -> tuple[
        list[_Source], dict[str, float]]:
    """Each neighbour's contribution to the score of item ``row``, and the split."""
    model, scorer = state.model, state.scorer
    if user.vector is None or user.layer0 is None:
        return [], {}
    model_rows = user.seen[user.seen < model.num_items]
    nbrs = user_neighbours(model, model_rows.tolist(), user.attribute_ids)
    parts = decompose_user(model, user.layer0, nbrs)
    e_i = scorer.item_emb(np.asarray([row]))[0]
    emb = (parts.parts @ e_i) / parts.norm
    _, off_i, off_a = model.offsets
    by_row = {int(n) - off_i: float(c) for n, c in zip(parts.neighbours, emb, strict=True)
              if off_i <= n < off_a}
    ii = scorer.item_item_contributions(model_rows, row)
    for j, c in zip(model_rows.tolist(), ii.tolist(), strict=True):
        by_row[j] = by_row.get(j, 0.0) + c
    attrs = model.graph.attribute_ids
    by_attr = {attrs[int(n) - off_a]: float(c)
               for n, c in zip(parts.neighbours, emb, strict=True) if n >= off_a}
    sources = [_Source(c, row=j) for j, c in by_row.items()] + \
        [_Source(c, attribute=a) for a, c in by_attr.items()]
    split = {"items": float(sum(by_row.values())), "profile": float(sum(by_attr.values())),
             "own": float(parts.own @ e_i / parts.norm)}
    sources.sort(key=lambda s: (-s.contribution, s.row, s.attribute))
    return [s for s in sources if s.contribution > 0], split


def _label(attribute: str) -> str:
    kind, _, value = attribute.partition(":")
    return f"{kind.replace('_', ' ')}: {value}"


def _shared_attribute(state: ServingState, j: int, row: int) -> str | None:
    """The attribute ``j`` and the target share that the model finds closest to the
    target (None when they share none)."""
    shared = sorted(set(state.catalog.attributes(j)) & set(state.catalog.attributes(row)))
    if not shared:
        return None
    rows = state.model.graph.attribute_rows
    known = [a for a in shared if a in rows]
    if not known:
        return shared[0]
    e_i = state.scorer.item_emb(np.asarray([row]))[0]
    sims = state.model.attribute_emb[[rows[a] for a in known]] @ e_i
    return known[int(np.argmax(sims))]


def _path(state: ServingState, user_id: str, source: _Source, row: int, verb: str,
          co_users: Callable[[int], set[str]]) -> ExplanationPath | None:
    catalog = state.catalog
    item_id, target = catalog.id_of(row), catalog.title(row) or catalog.id_of(row)
    if source.attribute:
        a = source.attribute
        if a not in catalog.attributes(row):
            return None
        return ExplanationPath(
            "profile", [("User", user_id), ("Attribute", a), ("Item", item_id)],
            ["HAS_ATTRIBUTE", "HAS_ATTRIBUTE"], source.contribution,
            f"Your profile has {_label(a)}, and so does {target}.", qs.PATH_PROFILE,
            {"user": user_id, "attribute": a, "item": item_id})
    via_id = catalog.id_of(source.row)
    via = catalog.title(source.row) or via_id
    shared = _shared_attribute(state, source.row, row)
    if shared is not None:
        return ExplanationPath(
            "attribute", [("User", user_id), ("Item", via_id), ("Attribute", shared),
                          ("Item", item_id)], ["INTERACTED", "HAS_ATTRIBUTE", "HAS_ATTRIBUTE"],
            source.contribution, f"You {verb} {via}, which shares {_label(shared)} with {target}.",
            qs.PATH_ATTRIBUTE, {"user": user_id, "via": via_id, "attribute": shared,
                                "item": item_id})
    others = sorted((co_users(source.row) & co_users(row)) - {user_id})
    if not others:
        return None
    v = others[0]
    return ExplanationPath(
        "collaborative", [("User", user_id), ("Item", via_id), ("User", v), ("Item", item_id)],
        ["INTERACTED", "INTERACTED", "INTERACTED"], source.contribution,
        f"You {verb} {via}; user {v}, who also {verb} it, {verb} {target}.",
        qs.PATH_COLLABORATIVE, {"user": user_id, "via": via_id, "via_user": v, "item": item_id})


def explain_score(state: ServingState, user_id: str, user: UserState, row: int, score: float,
                  confirm: Callable[[list[ExplanationPath]], list[bool]],
                  max_paths: int = 3, verb: str = "liked") -> Explanation:
    """The explanation of the score of item ``row`` for ``user`` (see the module
    docstring); ``confirm`` checks candidate paths in the graph, in batches."""
    sources, split = _contributions(state, user, row)
    cache: dict[int, set[str]] = {}

    def co_users(r: int) -> set[str]:
        if r not in cache:
            cache[r] = set(state.users_of(r))
        return cache[r]

    chosen: list[ExplanationPath] = []
    for start in range(0, len(sources), max_paths):
        batch = [p for s in sources[start:start + max_paths]
                 if (p := _path(state, user_id, s, row, verb, co_users)) is not None]
        chosen += [p for p, ok in zip(batch, confirm(batch) if batch else [], strict=True) if ok]
        if len(chosen) >= max_paths or start > 20 * max_paths:  # enough, or far down the tail
            break
    chosen = chosen[:max_paths]
    explained = sum(p.contribution for p in chosen) / score if score > 0 else 0.0
    return Explanation(user_id, state.catalog.id_of(row), score, chosen, float(explained),
                       split)


def to_rows(paths: Sequence[ExplanationPath]) -> list[tuple[str, Mapping[str, Any]]]:
    """``(cypher, parameters)`` of each path (what :func:`kg.explain.existing_paths` takes)."""
    return [(p.cypher, p.parameters) for p in paths]
