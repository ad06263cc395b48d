"""Validated records that cross from ``ingest`` into ``kg``.

Readers in ``ingest`` produce these; :class:`kg.writer.GraphWriter` writes them;
:func:`kg.snapshot.snapshot_from_records` turns them into a training snapshot
without a database. Each record remembers where it came from (``SourceRef``)
so that errors can name the file and line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["InteractionRecord", "ItemRecord", "SourceRef", "UserRecord", "attribute_id",
           "attributes_by_kind", "content_hash"]


@dataclass(frozen=True)
class SourceRef:
    """Where a record was read: ``path`` and 1-based ``line`` (0 when not line based)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path} line {self.line}" if self.line else self.path


def attribute_id(kind: str, value: str) -> str:
    """Business key of an Attribute node: ``"<kind>:<value>"``."""
    return f"{kind}:{value}"


def attributes_by_kind(attribute_ids: Iterable[str]) -> dict[str, list[str]]:
    """``{kind: [values]}`` from ``kind:value`` keys, in sorted key order: the order an
    exported snapshot lists a node's attributes in, so texts built from either match."""
    out: dict[str, list[str]] = {}
    for key in sorted(attribute_ids):
        kind, _, value = key.partition(":")
        out.setdefault(kind, []).append(value)
    return out


def content_hash(title: str, description: str, attribute_ids: Iterable[str]) -> str:
    """SHA-256 of an item's text and attribute set: what its embedding depends on."""
    payload = json.dumps([title, description, sorted(set(attribute_ids))], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _freeze(attributes: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(dict.fromkeys(v)) for k, v in sorted(attributes.items()) if len(v)}


@dataclass(frozen=True)
class ItemRecord:
    """A catalog item. ``attributes`` maps kind -> distinct values (kinds sorted)."""

    id: str
    title: str = ""
    description: str = ""
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: SourceRef | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _freeze(self.attributes))

    def attribute_ids(self) -> list[str]:
        """All ``kind:value`` keys of this item, in a stable order."""
        return [attribute_id(k, v) for k, vs in self.attributes.items() for v in vs]


@dataclass(frozen=True)
class UserRecord:
    """A user with optional profile attributes (age band, occupation, ...)."""

    id: str
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: SourceRef | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _freeze(self.attributes))

    def attribute_ids(self) -> list[str]:
        """All ``kind:value`` keys of this user, in a stable order."""
        return [attribute_id(k, v) for k, vs in self.attributes.items() for v in vs]


@dataclass(frozen=True)
class InteractionRecord:
    """One implicit-feedback event. ``ts`` is Unix seconds, 0 when unknown."""

    user_id: str
    item_id: str
    weight: float = 1.0
    ts: int = 0
    source: SourceRef | None = field(default=None, compare=False)
