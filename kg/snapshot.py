"""``GraphSnapshot``: the graph as plain NumPy arrays, the input of ``gnn``.

Rows of every node type are ordered by :func:`id_sort_key` (numeric ids in
numeric order, then the rest as strings), so "ascending id order" in the
evaluation protocol is simply ascending row order.

Shapes:
    - ``interaction_index``: ``int64 [2, E]`` rows ``(user_idx, item_idx)``
    - ``interaction_weight``: ``float32 [E]``
    - ``interaction_ts``: ``int64 [E]`` Unix seconds, 0 when unknown
    - ``item_attribute_index``: ``int64 [2, E_ia]`` rows ``(item_idx, attribute_idx)``
    - ``user_attribute_index``: ``int64 [2, E_ua]`` rows ``(user_idx, attribute_idx)``
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from kg.records import InteractionRecord, ItemRecord, UserRecord, attribute_id
from kgrec.errors import ExportError

__all__ = ["GraphSnapshot", "id_sort_key", "snapshot_from_records"]


def id_sort_key(key: str) -> tuple[int, int, str]:
    """Sort numeric ids numerically (``"2" < "10"``) and other ids as strings after them."""
    return (0, int(key), "") if key.isdigit() and len(key) < 19 else (1, 0, key)


@dataclass(frozen=True, eq=False)
class GraphSnapshot:
    """The whole knowledge graph as arrays plus row -> business-key lists."""

    user_ids: list[str]
    item_ids: list[str]
    attribute_ids: list[str]
    item_title: list[str]
    item_description: list[str]
    interaction_index: np.ndarray
    interaction_weight: np.ndarray
    interaction_ts: np.ndarray
    item_attribute_index: np.ndarray
    user_attribute_index: np.ndarray
    #: Neo4j's clock (Unix ms) when the export read the graph; None when built from files
    read_at: int | None = None

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_ids)

    @property
    def num_interactions(self) -> int:
        return int(self.interaction_index.shape[1])

    def user_index(self) -> dict[str, int]:
        """Map ``user_id`` -> row."""
        return {k: i for i, k in enumerate(self.user_ids)}

    def item_index(self) -> dict[str, int]:
        """Map ``item_id`` -> row."""
        return {k: i for i, k in enumerate(self.item_ids)}

    def attribute_kind_value(self, attribute_idx: int) -> tuple[str, str]:
        """Split an attribute row's key into ``(kind, value)``."""
        kind, _, value = self.attribute_ids[attribute_idx].partition(":")
        return kind, value

    def item_attributes(self) -> list[dict[str, list[str]]]:
        """Per item row, its attributes as ``{kind: [values]}``."""
        out: list[dict[str, list[str]]] = [{} for _ in self.item_ids]
        for item_idx, attr_idx in self.item_attribute_index.T.tolist():
            kind, value = self.attribute_kind_value(attr_idx)
            out[item_idx].setdefault(kind, []).append(value)
        return out

    def with_interactions(self, keep: np.ndarray) -> GraphSnapshot:
        """A copy that keeps only the interactions where boolean ``keep [E]`` is True.

        Nodes, texts and attribute edges are unchanged (cold items stay in the graph).
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.num_interactions,):
            raise ExportError(f"keep mask must have shape ({self.num_interactions},), "
                              f"got {keep.shape}")
        return replace(
            self,
            interaction_index=self.interaction_index[:, keep],
            interaction_weight=self.interaction_weight[keep],
            interaction_ts=self.interaction_ts[keep],
        )

    def validate(self) -> None:
        """Check shapes, dtypes and that every edge index is in range.

        Raises:
            ExportError: naming the relation, what was expected and what was found.
        """
        n_u, n_i, n_a = self.num_users, self.num_items, self.num_attributes
        if len(self.item_title) != n_i or len(self.item_description) != n_i:
            raise ExportError(f"item texts: expected {n_i} titles/descriptions, got "
                              f"{len(self.item_title)}/{len(self.item_description)}")
        for name, idx, (n_src, n_dst) in (
            ("INTERACTED", self.interaction_index, (n_u, n_i)),
            ("Item-HAS_ATTRIBUTE", self.item_attribute_index, (n_i, n_a)),
            ("User-HAS_ATTRIBUTE", self.user_attribute_index, (n_u, n_a)),
        ):
            if idx.dtype != np.int64 or idx.ndim != 2 or idx.shape[0] != 2:
                raise ExportError(f"{name}: expected int64 [2, E], got {idx.dtype} {idx.shape}")
            if idx.shape[1] and (idx.min() < 0 or idx[0].max() >= n_src or idx[1].max() >= n_dst):
                raise ExportError(f"{name}: edge index out of range (expected < ({n_src}, "
                                  f"{n_dst}), found max ({idx[0].max()}, {idx[1].max()}))")
        e = self.num_interactions
        if self.interaction_weight.shape != (e,) or self.interaction_ts.shape != (e,):
            raise ExportError(f"INTERACTED: weight/ts must have shape ({e},), got "
                              f"{self.interaction_weight.shape}/{self.interaction_ts.shape}")


def _edges(pairs: list[tuple[int, int]]) -> np.ndarray:
    if not pairs:
        return np.zeros((2, 0), dtype=np.int64)
    return np.asarray(sorted(set(pairs)), dtype=np.int64).T.copy()


def snapshot_from_records(
    items: Iterable[ItemRecord],
    interactions: Iterable[InteractionRecord],
    users: Iterable[UserRecord] = (),
) -> GraphSnapshot:
    """Build a snapshot in memory, exactly as :func:`kg.export.export_snapshot` would
    from a database holding the same records (used by ``kgrec evaluate``).

    Repeated (user, item) pairs collapse to one edge (weights summed, latest ts).
    Interactions with an unknown item raise ``ExportError``; unknown users are created.
    """
    item_list = {r.id: r for r in items}
    user_attrs = {r.id: r for r in users}
    inter: dict[tuple[str, str], tuple[float, int]] = {}
    for r in interactions:
        if r.item_id not in item_list:
            raise ExportError(f"{r.source or 'interaction'}: unknown item_id {r.item_id!r}")
        w, ts = inter.get((r.user_id, r.item_id), (0.0, 0))
        inter[(r.user_id, r.item_id)] = (w + r.weight, max(ts, r.ts))
    user_ids = sorted(set(user_attrs) | {u for u, _ in inter}, key=id_sort_key)
    item_ids = sorted(item_list, key=id_sort_key)
    attr_keys = {a for r in item_list.values() for a in r.attribute_ids()}
    attr_keys |= {a for r in user_attrs.values() for a in r.attribute_ids()}
    attribute_ids = sorted(attr_keys)
    u_idx = {k: i for i, k in enumerate(user_ids)}
    i_idx = {k: i for i, k in enumerate(item_ids)}
    a_idx = {k: i for i, k in enumerate(attribute_ids)}
    keys = sorted(inter, key=lambda p: (u_idx[p[0]], i_idx[p[1]]))
    snap = GraphSnapshot(
        user_ids=user_ids,
        item_ids=item_ids,
        attribute_ids=attribute_ids,
        item_title=[item_list[k].title for k in item_ids],
        item_description=[item_list[k].description for k in item_ids],
        interaction_index=np.asarray([[u_idx[u] for u, _ in keys], [i_idx[i] for _, i in keys]],
                                     dtype=np.int64).reshape(2, -1),
        interaction_weight=np.asarray([inter[k][0] for k in keys], dtype=np.float32),
        interaction_ts=np.asarray([inter[k][1] for k in keys], dtype=np.int64),
        item_attribute_index=_edges([(i_idx[r.id], a_idx[attribute_id(k, v)])
                                     for r in item_list.values()
                                     for k, vs in r.attributes.items() for v in vs]),
        user_attribute_index=_edges([(u_idx[r.id], a_idx[attribute_id(k, v)])
                                     for r in user_attrs.values()
                                     for k, vs in r.attributes.items() for v in vs]),
    )
    snap.validate()
    return snap
