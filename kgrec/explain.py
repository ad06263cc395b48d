"""Explanations: graph paths from a user to a recommended item, ranked by the model.

A path's **contribution** is the geometric mean of the cosine similarities of the
model embeddings of consecutive nodes on it (negative cosines count as 0)::

    attribute      u → j → a ← i      (cos(u,j) · cos(j,a) · cos(a,i)) ** (1/3)
    collaborative  u → j ← v → i      (cos(u,j) · cos(j,v) · cos(v,i)) ** (1/3)
    profile        u → a ← i          (cos(u,a) · cos(a,i)) ** (1/2)

so a path is strong when every hop is one the model itself considers close, and
paths of different lengths stay comparable. Attribute embeddings are the trained
layer means of the attribute nodes; a node the model does not know (a brand-new
attribute value) contributes 0. Every path carries a Cypher query and parameters
that return exactly that path in Neo4j Browser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kg import queries_explain as qe
from kg.explain import PathCandidate

__all__ = ["Explanation", "ExplanationPath", "rank_paths"]

Embedding = Callable[[str, str], np.ndarray | None]


@dataclass(frozen=True)
class ExplanationPath:
    """One user→item path.

    Attributes:
        kind: ``attribute``, ``collaborative`` or ``profile``.
        nodes: ``[(label, id), ...]`` from the user to the item.
        relationships: relationship types between consecutive nodes.
        score: contribution (see module docstring), in ``[0, 1]``.
        reason: one sentence for people.
        cypher: a query returning exactly this path (column ``p``).
        parameters: its parameters.
    """

    kind: str
    nodes: list[tuple[str, str]]
    relationships: list[str]
    score: float
    reason: str
    cypher: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "nodes": [list(n) for n in self.nodes],
                "relationships": list(self.relationships), "score": self.score,
                "reason": self.reason, "cypher": self.cypher, "parameters": self.parameters}


@dataclass(frozen=True)
class Explanation:
    """Why ``item_id`` is recommended to ``user_id``: the strongest paths, best first.

    Attributes:
        user_id, item_id: the pair.
        score: the recommendation score of the pair (same scale as ``recommend``).
        paths: ranked paths (scores non-increasing); empty when none connect them.
    """

    user_id: str
    item_id: str
    score: float
    paths: list[ExplanationPath]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"user_id": self.user_id, "item_id": self.item_id, "score": self.score,
                "paths": [p.to_dict() for p in self.paths]}


def _cos(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return 0.0
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return max(0.0, float(a @ b) / (na * nb))


def _strength(vectors: Sequence[np.ndarray | None]) -> float:
    cosines = [_cos(a, b) for a, b in pairwise(vectors)]
    return float(np.prod(cosines) ** (1.0 / len(cosines)))


def _name(title: str, key: str) -> str:
    return title or key


def _label(kind: str, value: str) -> str:
    return f"{kind.replace('_', ' ')}: {value}"


def _build(c: PathCandidate, user_id: str, item_id: str, item_title: str,
           emb: Embedding, verb: str) -> ExplanationPath:
    u, i = emb("User", user_id), emb("Item", item_id)
    target = _name(item_title, item_id)
    if c.shape == "attribute":
        assert c.via_item is not None and c.attribute is not None
        score = _strength([u, emb("Item", c.via_item), emb("Attribute", c.attribute), i])
        return ExplanationPath(
            "attribute",
            [("User", user_id), ("Item", c.via_item), ("Attribute", c.attribute),
             ("Item", item_id)],
            ["INTERACTED", "HAS_ATTRIBUTE", "HAS_ATTRIBUTE"], score,
            f"You {verb} {_name(c.via_title, c.via_item)}, which shares "
            f"{_label(c.kind, c.value)} with {target}.",
            qe.PATH_ATTRIBUTE,
            {"user": user_id, "via": c.via_item, "attribute": c.attribute, "item": item_id})
    if c.shape == "collaborative":
        assert c.via_item is not None and c.via_user is not None
        score = _strength([u, emb("Item", c.via_item), emb("User", c.via_user), i])
        return ExplanationPath(
            "collaborative",
            [("User", user_id), ("Item", c.via_item), ("User", c.via_user), ("Item", item_id)],
            ["INTERACTED", "INTERACTED", "INTERACTED"], score,
            f"You {verb} {_name(c.via_title, c.via_item)}; user {c.via_user}, who also "
            f"{verb} it, {verb} {target}.",
            qe.PATH_COLLABORATIVE,
            {"user": user_id, "via": c.via_item, "via_user": c.via_user, "item": item_id})
    assert c.attribute is not None
    score = _strength([u, emb("Attribute", c.attribute), i])
    return ExplanationPath(
        "profile", [("User", user_id), ("Attribute", c.attribute), ("Item", item_id)],
        ["HAS_ATTRIBUTE", "HAS_ATTRIBUTE"], score,
        f"Your profile has {_label(c.kind, c.value)}, and so does {target}.",
        qe.PATH_PROFILE, {"user": user_id, "attribute": c.attribute, "item": item_id})


def rank_paths(candidates: Sequence[PathCandidate], user_id: str, item_id: str,
               item_title: str, embedding: Embedding, max_paths: int = 3,
               verb: str = "liked") -> list[ExplanationPath]:
    """Score candidates, keep the best path per intermediate node, return the top ones.

    Args:
        candidates: paths found by :func:`kg.explain.fetch_path_candidates`.
        user_id, item_id, item_title: the pair (the title is used in reasons).
        embedding: ``(label, id) -> vector or None`` (the model's embeddings).
        max_paths: how many paths to return.
        verb: the interaction verb of the reasons ("liked", "watched", "bought").

    Returns:
        Up to ``max_paths`` paths, scores non-increasing; ties broken by the reason text.
    """
    paths = [_build(c, user_id, item_id, item_title, embedding, verb) for c in candidates]
    paths.sort(key=lambda p: (-p.score, p.kind, p.reason))
    best: list[ExplanationPath] = []
    used: set[tuple[str, str]] = set()
    for p in paths:
        via = p.nodes[1]  # one path per intermediate item/attribute keeps them varied
        if via in used:
            continue
        used.add(via)
        best.append(p)
        if len(best) >= max_paths:
            break
    return best
