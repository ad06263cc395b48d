"""Recommendation filters: a small, validated grammar applied as a boolean item mask.

Grammar (a mapping; values are a string or a list of strings)::

    {"genre": ["Comedy", "Drama"],   # include: the item has ANY of these genres
     "year": "1995",                 # ... AND (different kinds combine with AND)
     "-genre": ["Horror"],           # exclude: the item has NONE of these genres
     "exclude_items": ["42", "7"]}   # these item ids never appear

- ``kind`` must match ``[A-Za-z_][A-Za-z0-9_]*`` and be a kind present in the catalog;
- values follow the attribute value rule (1-200 characters, no control characters,
  no leading/trailing whitespace); a value no item carries is a ``RequestError`` naming
  the closest values that exist (raised by ``Recommender.recommend``);
- ``exclude_items`` lists item ids (unknown ids are ignored).

Nothing of a filter ever reaches Cypher: filters are applied in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.validation import shown
from kg.records import attribute_id
from kg.schema import check_id, check_kind, check_value
from kgrec.catalog import ItemCatalog
from kgrec.errors import RequestError

__all__ = ["EXCLUDE_ITEMS", "FilterSpec", "filters_from_options", "parse_filters"]

EXCLUDE_ITEMS = "exclude_items"
_GRAMMAR = ("allowed keys: '<kind>' (include items with any of the values), '-<kind>' "
            "(exclude items with any of the values), 'exclude_items' (item ids)")
_VALUE_RULE = ("1-200 characters with a visible one, no control or bidirectional-override "
               "characters or leading/trailing whitespace")


@dataclass(frozen=True)
class FilterSpec:
    """Parsed filters: per included kind its attribute ids; excluded attribute ids and items."""

    include: dict[str, frozenset[str]] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()
    exclude_items: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude or self.exclude_items)

    def mask(self, catalog: ItemCatalog) -> np.ndarray:
        """``bool [len(catalog)]``: True where an item passes."""
        n_items = len(catalog)
        keep = np.ones(n_items, dtype=bool)
        for ids in self.include.values():
            any_of = np.zeros(n_items, dtype=bool)
            for a in ids:
                any_of[catalog.rows_with(a)] = True
            keep &= any_of
        for a in self.exclude:
            keep[catalog.rows_with(a)] = False
        for item_id in self.exclude_items:
            row = catalog.row_of(item_id)
            if row is not None:
                keep[row] = False
        return keep


def _values(key: str, raw: object) -> list[str]:
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, Sequence) or isinstance(values, bytes) or not values:
        raise RequestError(f"filters[{shown(key)}] must be a string or a non-empty list of "
                           f"strings, got {shown(raw)}")
    return list(values)


def parse_filters(filters: Mapping[str, object] | None, known_kinds: Sequence[str] | None = None
                  ) -> FilterSpec:
    """Validate ``filters`` (see the module docstring) into a :class:`FilterSpec`.

    Args:
        filters: the mapping, or ``None`` for no filter.
        known_kinds: attribute kinds of the catalog; a kind outside it is an error.

    Raises:
        RequestError: not a mapping, a bad key, kind or value (the message lists what
            is allowed).
    """
    if filters is None:
        return FilterSpec()
    if not isinstance(filters, Mapping):
        raise RequestError(f"filters must be a mapping, got {type(filters).__name__}; "
                           f"{_GRAMMAR}")
    include: dict[str, set[str]] = {}
    exclude: set[str] = set()
    exclude_items: set[str] = set()
    kinds = set(known_kinds) if known_kinds is not None else None
    for key, raw in filters.items():
        if not isinstance(key, str):
            raise RequestError(f"filter key {shown(key)} must be a string; {_GRAMMAR}")
        values = _values(key, raw)
        if key == EXCLUDE_ITEMS:
            for v in values:
                if not isinstance(v, str) or not check_id(v):
                    raise RequestError(f"filters['exclude_items']: {shown(v)} is not a valid "
                                       f"item id ({_VALUE_RULE})")
                exclude_items.add(v)
            continue
        negate = key.startswith("-")
        kind = key[1:] if negate else key
        if not check_kind(kind):
            raise RequestError(f"filter key {shown(key)}: kind {shown(kind)} must match "
                               f"[A-Za-z_][A-Za-z0-9_]*; {_GRAMMAR}")
        if kinds is not None and kind not in kinds:
            raise RequestError(f"filter key {shown(key)}: unknown attribute kind {shown(kind)}; "
                               f"known kinds: {', '.join(sorted(kinds)) or '(none)'}")
        for v in values:
            if not isinstance(v, str) or not check_value(v):
                raise RequestError(f"filters[{shown(key)}]: value {shown(v)} is not allowed "
                                   f"({_VALUE_RULE})")
        ids = {attribute_id(kind, v) for v in values}
        if negate:
            exclude |= ids
        else:
            include.setdefault(kind, set()).update(ids)
    return FilterSpec({k: frozenset(v) for k, v in include.items()}, frozenset(exclude),
                      frozenset(exclude_items))


def filters_from_options(options: Sequence[str], sep: str, usage: str
                         ) -> dict[str, list[str]]:
    """Command-line or query-string filters (``["genre=Comedy", "-genre=Horror"]`` with
    ``sep="="``) -> the mapping :func:`parse_filters` reads.

    Raises:
        RequestError: an option without ``kind<sep>value``; the message is ``usage``
            formatted with the option (``{option!r}``).
    """
    out: dict[str, list[str]] = {}
    for option in options:
        key, found, value = option.partition(sep)
        if not found or not key.strip() or not value.strip():
            raise RequestError(usage.format(option=option))
        out.setdefault(key.strip(), []).append(value.strip())
    return out
