"""Turn facade inputs (mappings or records) into validated ``kg.records`` records.

Validation reuses :mod:`ingest.validation`, so a bad mapping fails exactly as a bad
``items.jsonl`` line would: ``add_items record 3: field 'title' must be a string, got 42 (int)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.catalog import parse_timestamp
from ingest.validation import (
    as_attributes,
    as_id,
    as_text,
    check_weight,
    describe,
    record_error,
    unknown_key_error,
)
from kg.records import InteractionRecord, ItemRecord, SourceRef

__all__ = ["to_interaction_record", "to_item_record"]

_ITEM_KEYS = ("id", "title", "description", "attributes")
_INTERACTION_KEYS = ("user_id", "item_id", "weight", "ts")


def to_item_record(record: Mapping[str, Any] | ItemRecord, n: int,
                   where: str = "add_items record") -> ItemRecord:
    """Validate one item (``{"id", "title", "description", "attributes"}`` or an ItemRecord).

    Raises:
        RecordError: naming the record number and the field.
    """
    if isinstance(record, ItemRecord):
        return record
    path = f"{where} {n}"
    if not isinstance(record, Mapping):
        raise record_error(path, 0, None, f"must be a mapping, got {describe(record)}")
    unknown = unknown_key_error(record, _ITEM_KEYS, path, 0)
    if unknown is not None:
        raise unknown
    return ItemRecord(as_id(record.get("id"), path, 0),
                      as_text(record.get("title"), path, 0, "title"),
                      as_text(record.get("description"), path, 0, "description"),
                      as_attributes(record.get("attributes"), path, 0), SourceRef(path))


def to_interaction_record(record: Mapping[str, Any] | InteractionRecord, n: int,
                          where: str = "add_interactions record") -> InteractionRecord:
    """Validate one interaction (``{"user_id", "item_id", "weight"?, "ts"?}``).

    Raises:
        RecordError: naming the record number and the field.
    """
    if isinstance(record, InteractionRecord):
        return record
    path = f"{where} {n}"
    if not isinstance(record, Mapping):
        raise record_error(path, 0, None, f"must be a mapping, got {describe(record)}")
    unknown = unknown_key_error(record, _INTERACTION_KEYS, path, 0)
    if unknown is not None:
        raise unknown
    weight = record.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise record_error(path, 0, "weight", f"must be a number, got {describe(weight)}")
    ts = record.get("ts", 0)
    if not isinstance(ts, int | float | str):
        raise record_error(path, 0, "ts", f"must be Unix seconds or an ISO-8601 date-time, "
                           f"got {describe(ts)}")
    return InteractionRecord(as_id(record.get("user_id"), path, 0, "user_id"),
                             as_id(record.get("item_id"), path, 0, "item_id"),
                             check_weight(float(weight), path, 0),
                             parse_timestamp(ts, path, 0, "ts"), SourceRef(path))
