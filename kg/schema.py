"""Labels, relationship types, property keys and the patterns data must match.

Every label/type/key used in Cypher is a constant here; nothing that reaches a
query text ever comes from input data.

The graph::

    (:User {id})-[:INTERACTED {weight, ts}]->(:Item {id, title, description,
                                                    createdAt, updatedAt,
                                                    embedding, embeddingVersion})
    (:Item|User)-[:HAS_ATTRIBUTE]->(:Attribute {id: "kind:value", kind, value})

``createdAt``/``updatedAt`` are Unix milliseconds set by the writer (``updatedAt``
moves only when an item's title, description or attributes change); ``changedAt``
(items and users) moves with every write a serving process must see: an item's
content, embedding or ``hidden`` flag, a user's interactions or profile
(:mod:`kg.changes`). ``ts`` is Unix seconds (0 when unknown). :mod:`kg.indexes`
creates the constraints and indexes, and the cosine vector index ``item_embedding``.
"""

from __future__ import annotations

import re
from typing import Final, LiteralString

__all__ = [  # noqa: RUF022 (grouped by topic, not sorted)
    "SCHEMA_VERSION",
    "USER", "ITEM", "ATTRIBUTE", "INTERACTED", "HAS_ATTRIBUTE",
    "KIND_PATTERN", "VALUE_PATTERN", "ID_PATTERN", "FORBIDDEN_CHARS", "VISIBLE_CHAR",
    "check_kind", "check_value", "check_id",
    "ITEM_EMBEDDING_INDEX", "USER_EMBEDDING_INDEX",
]

#: 2: ``changedAt`` on items and users, ``contentHash`` on every embedded item
SCHEMA_VERSION: Final = 2

USER: Final[LiteralString] = "User"
ITEM: Final[LiteralString] = "Item"
ATTRIBUTE: Final[LiteralString] = "Attribute"
INTERACTED: Final[LiteralString] = "INTERACTED"
HAS_ATTRIBUTE: Final[LiteralString] = "HAS_ATTRIBUTE"
#: cosine vector index on ``Item.embedding``
ITEM_EMBEDDING_INDEX: Final[LiteralString] = "item_embedding"
#: cosine vector index on ``User.embedding`` ("whom is a new item for?")
USER_EMBEDDING_INDEX: Final[LiteralString] = "user_embedding"

#: attribute kinds become part of keys and may be shown as property-like names
KIND_PATTERN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: characters no id or value may hold: C0/C1 controls, DEL, bidirectional overrides and
#: isolates (they reorder how text displays), lone surrogates
FORBIDDEN_CHARS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
                                    "\ud800-\udfff]")
#: a visible character: not whitespace, not zero-width (an id of only those is refused)
VISIBLE_CHAR: Final = re.compile("[^\\s\u200b-\u200f\u2060-\u2064\ufeff]")
#: attribute values: 1-200 characters
VALUE_PATTERN: Final = re.compile(r".{1,200}", re.DOTALL)
#: business keys of users and items: 1-200 characters
ID_PATTERN: Final = re.compile(r".{1,200}", re.DOTALL)


def _allowed_text(text: object, pattern: re.Pattern[str]) -> bool:
    return (isinstance(text, str) and text.strip() == text
            and pattern.fullmatch(text) is not None and FORBIDDEN_CHARS.search(text) is None
            and VISIBLE_CHAR.search(text) is not None)


def check_kind(kind: str) -> bool:
    """True when ``kind`` is an allowed attribute kind (``[A-Za-z_][A-Za-z0-9_]*``)."""
    return isinstance(kind, str) and KIND_PATTERN.fullmatch(kind) is not None


def check_value(value: str) -> bool:
    """True when ``value`` is an allowed attribute value: 1-200 characters with a visible
    one, no leading/trailing whitespace and none of :data:`FORBIDDEN_CHARS`."""
    return _allowed_text(value, VALUE_PATTERN)


def check_id(key: str) -> bool:
    """True when ``key`` is an allowed user/item id (the rule of :func:`check_value`)."""
    return _allowed_text(key, ID_PATTERN)
