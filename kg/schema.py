"""Labels, relationship types, property keys and the patterns data must match.

Every label/type/key used in Cypher is a constant here; nothing that reaches a
query text ever comes from input data.
"""

from __future__ import annotations

import re
from typing import Final, LiteralString

__all__ = [
    "SCHEMA_VERSION",
    "USER", "ITEM", "ATTRIBUTE", "INTERACTED", "HAS_ATTRIBUTE",
    "KIND_PATTERN", "VALUE_PATTERN", "ID_PATTERN",
    "check_kind", "check_value", "check_id",
]

SCHEMA_VERSION: Final = 1

USER: Final[LiteralString] = "User"
ITEM: Final[LiteralString] = "Item"
ATTRIBUTE: Final[LiteralString] = "Attribute"
INTERACTED: Final[LiteralString] = "INTERACTED"
HAS_ATTRIBUTE: Final[LiteralString] = "HAS_ATTRIBUTE"

#: attribute kinds become part of keys and may be shown as property-like names
KIND_PATTERN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: attribute values: 1-200 printable characters, no control characters
VALUE_PATTERN: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
#: business keys of users and items: 1-200 printable characters, no control characters
ID_PATTERN: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def check_kind(kind: str) -> bool:
    """True when ``kind`` is an allowed attribute kind (``[A-Za-z_][A-Za-z0-9_]*``)."""
    return isinstance(kind, str) and KIND_PATTERN.fullmatch(kind) is not None


def check_value(value: str) -> bool:
    """True when ``value`` is an allowed attribute value."""
    return isinstance(value, str) and value.strip() == value and \
        VALUE_PATTERN.fullmatch(value) is not None


def check_id(key: str) -> bool:
    """True when ``key`` is an allowed user/item id."""
    return isinstance(key, str) and key.strip() == key and ID_PATTERN.fullmatch(key) is not None
