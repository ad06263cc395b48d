"""``ItemCatalog``: what serving knows of the items besides their scores.

Ids, titles, attribute sets (filters, diversity, explanations), popularity and the
hidden items, for the model's items (from the checkpoint's training graph) and for the
items changed or added after training (a small overlay). Immutable: a change builds a
new catalog, sharing the model's arrays.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from gnn.trained import TrainingGraph

__all__ = ["CatalogItem", "ItemCatalog"]


@dataclass(frozen=True)
class CatalogItem:
    """An item changed or added after training, as the catalog shows it."""

    id: str
    title: str
    attribute_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ItemCatalog:
    """The items of a serving state (rows: model items, then items added since).

    Attributes:
        graph: the model's training graph.
        new_ids: ids of the items added after training (rows ``num_model + k``).
        overlay: row -> the item as changed or added after training.
        hidden: ``bool [num_items]`` rows hidden in the graph (``Item.hidden``).
        deleted: ``bool [num_items]`` rows whose item left the graph.
        popularity: ``float64 [num_items]`` interaction counts.
    """

    graph: TrainingGraph
    new_ids: tuple[str, ...] = ()
    overlay: Mapping[int, CatalogItem] = field(default_factory=dict)
    hidden: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of_model(cls, graph: TrainingGraph) -> ItemCatalog:
        """The catalog as the model was trained on it."""
        n = len(graph.item_ids)
        popularity = np.diff(graph.users_by_item.indptr).astype(np.float64)
        return cls(graph, (), {}, np.zeros(n, bool), np.zeros(n, bool), popularity)

    @property
    def unavailable(self) -> np.ndarray:
        """``bool [num_items]`` rows never recommended: hidden or deleted."""
        return np.asarray(self.hidden | self.deleted, bool)

    def __len__(self) -> int:
        return len(self.graph.item_ids) + len(self.new_ids)

    @property
    def num_model_items(self) -> int:
        return len(self.graph.item_ids)

    @cached_property
    def _new_rows(self) -> dict[str, int]:
        n = self.num_model_items
        return {k: n + i for i, k in enumerate(self.new_ids)}

    def row_of(self, item_id: str) -> int | None:
        """The row of ``item_id`` (None when unknown)."""
        row = self.graph.item_rows.get(item_id)
        return row if row is not None else self._new_rows.get(item_id)

    def id_of(self, row: int) -> str:
        """The id of item ``row``."""
        n = self.num_model_items
        return self.graph.item_ids[row] if row < n else self.new_ids[row - n]

    def ids_of(self, rows: Iterable[int]) -> list[str]:
        """The ids of item ``rows``."""
        return [self.id_of(int(r)) for r in rows]

    def title(self, row: int) -> str:
        """The title of item ``row``."""
        item = self.overlay.get(row)
        return item.title if item is not None else self.graph.item_titles[row]

    def attributes(self, row: int) -> tuple[str, ...]:
        """The ``kind:value`` keys of item ``row``."""
        item = self.overlay.get(row)
        if item is not None:
            return item.attribute_ids
        m = self.graph.item_attributes
        ids = self.graph.attribute_ids
        return tuple(ids[a] for a in m.indices[m.indptr[row]:m.indptr[row + 1]])

    @cached_property
    def _model_postings(self) -> tuple[np.ndarray, np.ndarray]:
        csc = self.graph.item_attributes.tocsc()
        return np.asarray(csc.indptr), np.asarray(csc.indices)

    @cached_property
    def _overlay_postings(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for row, item in self.overlay.items():
            for a in item.attribute_ids:
                out.setdefault(a, []).append(row)
        return out

    def rows_with(self, attribute_id: str) -> np.ndarray:
        """``int64`` rows of the items carrying ``attribute_id``."""
        col = self.graph.attribute_rows.get(attribute_id)
        rows: list[int] = []
        if col is not None:
            indptr, indices = self._model_postings
            rows = indices[indptr[col]:indptr[col + 1]].tolist()
            if self.overlay:  # overlaid rows list their attributes themselves
                rows = [r for r in rows if r not in self.overlay]
        extra = self._overlay_postings.get(attribute_id, [])
        return np.asarray([*rows, *extra], np.int64)

    @cached_property
    def values_by_kind(self) -> dict[str, list[str]]:
        """Attribute kind -> its values present in the catalog (sorted)."""
        keys = set(self.graph.attribute_ids) | set(self._overlay_postings)
        out: dict[str, set[str]] = {}
        for key in keys:
            kind, _, value = key.partition(":")
            out.setdefault(kind, set()).add(value)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def carries(self, attribute_id: str) -> bool:
        """Whether any item carries ``attribute_id`` (stops at the first one found)."""
        if self._overlay_postings.get(attribute_id):
            return True
        col = self.graph.attribute_rows.get(attribute_id)
        if col is None:
            return False
        indptr, indices = self._model_postings
        return any(int(r) not in self.overlay for r in indices[indptr[col]:indptr[col + 1]])

    def item_values(self, kind: str) -> list[str]:
        """The values of ``kind`` that at least one item carries (sorted): a kind's values
        in :attr:`values_by_kind` may also come from user profiles."""
        return [v for v in self.values_by_kind.get(kind, [])
                if self.carries(f"{kind}:{v}")]

    def closest_values(self, kind: str, value: str, n: int = 5) -> list[str]:
        """Item values of ``kind`` closest to ``value``: equal but for case first, then by
        :func:`difflib.get_close_matches`; at most ``n``."""
        values = self.item_values(kind)
        by_lower: dict[str, list[str]] = {}
        for v in values:
            by_lower.setdefault(v.casefold(), []).append(v)
        out = list(by_lower.get(value.casefold(), []))
        for m in difflib.get_close_matches(value.casefold(), list(by_lower), n=n, cutoff=0.6):
            out += [v for v in by_lower[m] if v not in out]
        return out[:n]

    def with_items(self, items: Mapping[str, CatalogItem]) -> tuple[ItemCatalog, list[int]]:
        """A catalog holding ``items`` (new ids get new rows); returns it and their rows."""
        new_ids = list(self.new_ids)
        rows = []
        for item_id in items:
            row = self.row_of(item_id)
            if row is None:
                row = self.num_model_items + len(new_ids)
                new_ids.append(item_id)
            rows.append(row)
        grow = len(new_ids) - len(self.new_ids)
        overlay = {**self.overlay, **dict(zip(rows, items.values(), strict=True))}
        deleted = np.concatenate([self.deleted, np.zeros(grow, bool)])
        deleted[rows] = False  # an item deleted, then added again
        return replace(self, new_ids=tuple(new_ids), overlay=overlay,
                       hidden=np.concatenate([self.hidden, np.zeros(grow, bool)]),
                       deleted=deleted,
                       popularity=np.concatenate([self.popularity, np.zeros(grow)])), rows

    def without(self, rows: Iterable[int]) -> ItemCatalog:
        """A catalog where model ``rows`` show their trained content again."""
        gone = set(rows)
        return replace(self, overlay={r: v for r, v in self.overlay.items() if r not in gone})

    def with_hidden(self, rows: Iterable[int], hidden: bool = True) -> ItemCatalog:
        """A catalog where ``rows`` are hidden (or shown again)."""
        mask = self.hidden.copy()
        mask[np.asarray(list(rows), np.int64)] = hidden
        return replace(self, hidden=mask)

    def with_deleted(self, rows: Iterable[int]) -> ItemCatalog:
        """A catalog where ``rows`` left the graph."""
        mask = self.deleted.copy()
        mask[np.asarray(list(rows), np.int64)] = True
        return replace(self, deleted=mask)

    def with_popularity(self, popularity: np.ndarray) -> ItemCatalog:
        """A catalog with these interaction counts."""
        return replace(self, popularity=popularity)
