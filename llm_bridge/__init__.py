"""llm_bridge: node texts -> float32 feature matrices, with a persistent feature cache.

Never imports ``neo4j`` or ``kg``; rows of every matrix follow the caller's text order.
"""

from __future__ import annotations

from llm_bridge.cache import CacheStats, FeatureStore
from llm_bridge.encoder import LengthReport, LongText, TextEncoder, TextKind
from llm_bridge.text import (
    DEFAULT_ITEM_TEMPLATE,
    attribute_text,
    attributes_text,
    item_text,
    normalize_text,
    user_text,
)

__all__ = [
    "DEFAULT_ITEM_TEMPLATE",
    "CacheStats",
    "FeatureStore",
    "LengthReport",
    "LongText",
    "TextEncoder",
    "TextKind",
    "attribute_text",
    "attributes_text",
    "item_text",
    "normalize_text",
    "user_text",
]
