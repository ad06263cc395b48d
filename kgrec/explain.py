"""Explanations: graph paths from a user to a recommended item, ranked by the model.

A path's **contribution** is the geometric mean of the cosine similarities of the
model embeddings of consecutive nodes on it (negative cosines count as 0)::

    attribute      u → j → a ← i      (cos(u,j) · cos(j,a) · cos(a,i)) ** (1/3)
    collaborative  u → j ← v → i      (cos(u,j) · cos(j,v) · cos(v,i)) ** (1/3)
    profile        u → a ← i          (cos(u,a) · cos(a,i)) ** (1/2)

so a path is strong when every hop is one the model itself considers close, and
paths of different lengths stay comparable. Attribute embeddings are the trained
layer means of the attribute nodes; a node the model does not know (a brand-new
attribute value) contributes 0.

**Search.** Every path of the three shapes is scored, vectorised, over the serving
process's mirror of the graph (:class:`PathSource`: the users' items, the items'
users and attributes), so the cost is ``O(|items of u| · |users of i|)`` array work,
not a Cypher expansion of up to millions of paths on a dense graph. The best path
per intermediate node is kept, and the winners are **confirmed in Neo4j** with the
exact parameterised query each path carries (:func:`kg.explain.existing_paths`):
an explanation never shows a path the database does not hold, and an analyst can
paste that query into Neo4j Browser to see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kg import queries_explain as qe

__all__ = ["Explanation", "ExplanationPath", "PathSource", "ScoredPath", "best_paths",
           "search_paths", "to_path"]

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


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows (or a vector) scaled to unit length; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.asarray(x / np.maximum(norm, 1e-12), dtype=np.float32)


def _strength(*cosines: np.ndarray | float) -> np.ndarray:
    """Geometric mean of cosines clipped at 0 (broadcasting)."""
    prod = np.ones(1, dtype=np.float32)
    for c in cosines:
        prod = prod * np.maximum(np.asarray(c, dtype=np.float32), 0.0)
    return prod ** (1.0 / len(cosines))


def _label(attribute: str) -> str:
    kind, _, value = attribute.partition(":")
    return f"{kind.replace('_', ' ')}: {value}"


@dataclass(frozen=True)
class PathSource:
    """The serving process's mirror of the graph and the model's embeddings.

    The containers are the facade's live ones (updated by ``add_items`` and
    ``add_interactions``), so a search always sees the current graph.

    Attributes:
        item_ids: row -> item id.
        item_attributes: row -> its attribute ids (``kind:value``).
        item_emb: ``() -> float32 [rows, dim]`` current item embeddings.
        seen: user id -> rows of the items the user interacted with.
        users_of: item row -> ids of the users who interacted with it.
        user_attributes: user id -> profile attribute ids.
        embeddings: ``(label, ids) -> float32 [len(ids), dim]`` of users or attributes
            (zero rows for nodes the model does not know: they contribute 0).
    """

    item_ids: Sequence[str]
    item_attributes: Sequence[tuple[str, ...]]
    item_emb: Callable[[], np.ndarray]
    seen: Mapping[str, set[int]]
    users_of: Mapping[int, set[str]]
    user_attributes: Mapping[str, Sequence[str]]
    embeddings: Callable[[str, Sequence[str]], np.ndarray]


@dataclass(frozen=True, order=True)
class ScoredPath:
    """A scored path before it is turned into an :class:`ExplanationPath` (sorts best
    first: by negated score, then kind and ids)."""

    neg_score: float
    kind: str
    via: str  # intermediate item (attribute, collaborative) or attribute (profile)
    other: str = ""  # attribute (attribute) or user (collaborative)


def _vector(src: PathSource, label: str, key: str) -> np.ndarray:
    return _unit(src.embeddings(label, [key])[0])


def _scored(kind: str, vias: Sequence[str], others: Sequence[str], score: np.ndarray
            ) -> list[ScoredPath]:
    return [ScoredPath(-float(sc), kind, via, other)
            for via, other, sc in zip(vias, others, score.tolist(), strict=True)]


def _attribute_paths(src: PathSource, i_vec: np.ndarray, rows: np.ndarray,
                     cos_uj: np.ndarray, emb_j: np.ndarray, item_attrs: Sequence[str]
                     ) -> list[ScoredPath]:
    """Best ``u → j → a ← i`` per ``j``."""
    best = np.full(len(rows), -1.0, dtype=np.float32)
    best_attr = [""] * len(rows)
    for a in item_attrs:
        has = np.fromiter((a in src.item_attributes[r] for r in rows.tolist()), bool,
                          len(rows))
        if not has.any():
            continue
        a_vec = _vector(src, "Attribute", a)
        score = _strength(cos_uj[has], emb_j[has] @ a_vec, float(a_vec @ i_vec))
        idx = np.flatnonzero(has)
        for pos, sc in zip(idx.tolist(), score.tolist(), strict=True):
            if sc > best[pos] or (sc == best[pos] and a < best_attr[pos]):
                best[pos], best_attr[pos] = sc, a
    keep = np.flatnonzero(best >= 0)
    return _scored("attribute", [src.item_ids[r] for r in rows[keep].tolist()],
                   [best_attr[k] for k in keep.tolist()], best[keep])


def _kth_best(scores: Mapping[tuple[bool, str], float], k: int) -> float:
    """The ``k``-th best score (``-1`` when there are fewer than ``k``)."""
    return sorted(scores.values(), reverse=True)[k - 1] if len(scores) >= k else -1.0


def _collaborative_paths(src: PathSource, user_id: str, i_row: int, i_vec: np.ndarray,
                         rows: np.ndarray, cos_uj: np.ndarray, emb_j: np.ndarray,
                         best: dict[tuple[bool, str], float], k: int | None,
                         chunk: int = 64) -> list[ScoredPath]:
    """Best ``u → j ← v → i`` per ``j`` (``v``: the target's other users).

    ``j`` is visited by decreasing ``cos(u, j)``; since a path's score is at most
    ``cos(u, j) ** (1/3)``, the search stops once that bound falls below the ``k``-th
    best score per intermediate node found so far (``best``, updated in place), so
    the top ``k`` are exact and a dense graph costs a fraction of all paths.
    """
    others = src.users_of.get(i_row, set()) - {user_id}
    if not others:
        return []
    out: list[ScoredPath] = []
    order = np.argsort(-cos_uj, kind="stable")
    bound = np.maximum(cos_uj, 0.0) ** (1.0 / 3.0)
    for start in range(0, len(order), chunk):
        if k is not None and bound[order[start]] < _kth_best(best, k):
            break
        pairs_j: list[int] = []
        pairs_v: list[str] = []
        for pos in order[start:start + chunk].tolist():
            shared = src.users_of.get(int(rows[pos]), set()) & others  # C-level intersection
            pairs_j += [pos] * len(shared)
            pairs_v += shared
        if not pairs_v:
            continue
        vs = sorted(set(pairs_v))
        v_pos = {v: n for n, v in enumerate(vs)}
        emb_v = _unit(src.embeddings("User", vs))
        jj = np.asarray(pairs_j, dtype=np.int64)
        vv = np.fromiter((v_pos[v] for v in pairs_v), np.int64, len(pairs_v))
        score = _strength(cos_uj[jj], np.einsum("nd,nd->n", emb_v[vv], emb_j[jj]),
                          (emb_v @ i_vec)[vv])
        # best v per j; ties: the smallest v id
        order_s = np.lexsort((vv, -score, jj))
        first = order_s[np.r_[True, jj[order_s][1:] != jj[order_s][:-1]]]
        found = _scored("collaborative", [src.item_ids[r] for r in rows[jj[first]].tolist()],
                        [vs[v] for v in vv[first].tolist()], score[first])
        for c in found:
            key = (False, c.via)
            best[key] = max(best.get(key, -1.0), -c.neg_score)
        out += found
    return out


def search_paths(src: PathSource, user_id: str, i_row: int, k: int | None = None
                 ) -> list[ScoredPath]:
    """Each intermediate node's best path from ``user_id`` to item ``i_row``, best first.

    Args:
        src: the graph mirror and embeddings.
        user_id: the user; i_row: the item's row.
        k: only the top ``k`` intermediate nodes must be exact (prunes the
            collaborative search); ``None`` = every node's best path.

    Returns:
        Scored candidates, sorted by score (desc), then kind and ids (deterministic).
    """
    u = _vector(src, "User", user_id)
    i_vec = _unit(src.item_emb()[i_row])
    out: list[ScoredPath] = []
    item_attrs = set(src.item_attributes[i_row])
    for a in sorted(item_attrs.intersection(src.user_attributes.get(user_id, ()))):
        a_vec = _vector(src, "Attribute", a)
        score = float(_strength(a_vec @ u, a_vec @ i_vec)[0])
        out.append(ScoredPath(-score, "profile", a))
    rows = np.asarray(sorted(src.seen.get(user_id, set()) - {i_row}), dtype=np.int64)
    if len(rows):
        emb_j = _unit(src.item_emb()[rows])
        cos_uj = emb_j @ u
        out += _attribute_paths(src, i_vec, rows, cos_uj, emb_j, src.item_attributes[i_row])
        best = {(c.kind == "profile", c.via): -c.neg_score for c in out}
        out += _collaborative_paths(src, user_id, i_row, i_vec, rows, cos_uj, emb_j, best, k)
    out.sort()
    return out


def to_path(c: ScoredPath, user_id: str, item_id: str, titles: Mapping[str, str],
            verb: str = "liked") -> ExplanationPath:
    """The :class:`ExplanationPath` (nodes, reason, Cypher) of a scored candidate."""
    target = titles.get(item_id) or item_id
    via_name = titles.get(c.via) or c.via
    score = -c.neg_score
    if c.kind == "attribute":
        return ExplanationPath(
            "attribute",
            [("User", user_id), ("Item", c.via), ("Attribute", c.other), ("Item", item_id)],
            ["INTERACTED", "HAS_ATTRIBUTE", "HAS_ATTRIBUTE"], score,
            f"You {verb} {via_name}, which shares {_label(c.other)} with {target}.",
            qe.PATH_ATTRIBUTE,
            {"user": user_id, "via": c.via, "attribute": c.other, "item": item_id})
    if c.kind == "collaborative":
        return ExplanationPath(
            "collaborative",
            [("User", user_id), ("Item", c.via), ("User", c.other), ("Item", item_id)],
            ["INTERACTED", "INTERACTED", "INTERACTED"], score,
            f"You {verb} {via_name}; user {c.other}, who also {verb} it, {verb} {target}.",
            qe.PATH_COLLABORATIVE,
            {"user": user_id, "via": c.via, "via_user": c.other, "item": item_id})
    return ExplanationPath(
        "profile", [("User", user_id), ("Attribute", c.via), ("Item", item_id)],
        ["HAS_ATTRIBUTE", "HAS_ATTRIBUTE"], score,
        f"Your profile has {_label(c.via)}, and so does {target}.",
        qe.PATH_PROFILE, {"user": user_id, "attribute": c.via, "item": item_id})


def best_paths(candidates: Sequence[ScoredPath], user_id: str, item_id: str,
               titles: Mapping[str, str], confirm: Callable[[list[ExplanationPath]], list[bool]],
               max_paths: int = 3, verb: str = "liked") -> list[ExplanationPath]:
    """The top ``max_paths`` candidates, one per intermediate node, that ``confirm``
    finds in the graph (checked in batches of ``max_paths``, best first)."""
    chosen: list[ExplanationPath] = []
    used: set[tuple[bool, str]] = set()
    pending: list[ExplanationPath] = []
    for c in [*candidates, None]:
        if c is not None:
            key = (c.kind == "profile", c.via)  # an attribute or an item
            if key in used:
                continue
            used.add(key)
            pending.append(to_path(c, user_id, item_id, titles, verb))
            if len(pending) < max_paths - len(chosen):
                continue
        if pending:
            chosen += [p for p, ok in zip(pending, confirm(pending), strict=True) if ok]
            pending = []
        if len(chosen) >= max_paths:
            break
    return chosen[:max_paths]
