"""kg: the Neo4j side of kgrec (server launcher, schema, writes, export, embeddings).

Public names are imported lazily (PEP 562), so ``import kg.records`` stays cheap
and ``kg`` never pulls in torch.

Example:
    >>> from kg import GraphWriter, connect, ensure_schema, export_snapshot
    >>> with connect(settings, start=True) as driver:         # doctest: +SKIP
    ...     ensure_schema(driver)
    ...     GraphWriter(driver).write_items(items)
    ...     snapshot = export_snapshot(driver)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [  # noqa: RUF022 (grouped by topic, not sorted)
    # records and snapshots
    "SourceRef", "ItemRecord", "UserRecord", "InteractionRecord", "attribute_id",
    "GraphSnapshot", "id_sort_key", "snapshot_from_records",
    # server and connection
    "LocalNeo4j", "ServerStatus", "Credentials", "connect",
    # schema
    "ensure_schema", "ensure_vector_index",
    # writes, export, embeddings, RDF
    "GraphWriter", "aggregate_interactions", "export_snapshot",
    "write_embeddings", "read_embeddings", "query_similar_items", "export_turtle",
    # analyst Cypher files
    "cypher_file", "cypher_files",
]

_WHERE = {
    "SourceRef": "kg.records", "ItemRecord": "kg.records", "UserRecord": "kg.records",
    "InteractionRecord": "kg.records", "attribute_id": "kg.records",
    "GraphSnapshot": "kg.snapshot", "id_sort_key": "kg.snapshot",
    "snapshot_from_records": "kg.snapshot",
    "LocalNeo4j": "kg.server", "ServerStatus": "kg.server", "Credentials": "kg.server",
    "connect": "kg.connection",
    "ensure_schema": "kg.indexes", "ensure_vector_index": "kg.indexes",
    "GraphWriter": "kg.writer", "aggregate_interactions": "kg.writer",
    "export_snapshot": "kg.export",
    "write_embeddings": "kg.embeddings", "read_embeddings": "kg.embeddings",
    "query_similar_items": "kg.embeddings",
    "export_turtle": "kg.rdf",
    "cypher_file": "kg.cypher_library", "cypher_files": "kg.cypher_library",
}

if TYPE_CHECKING:
    from kg.connection import connect
    from kg.cypher_library import cypher_file, cypher_files
    from kg.embeddings import query_similar_items, read_embeddings, write_embeddings
    from kg.export import export_snapshot
    from kg.indexes import ensure_schema, ensure_vector_index
    from kg.rdf import export_turtle
    from kg.records import InteractionRecord, ItemRecord, SourceRef, UserRecord, attribute_id
    from kg.server import Credentials, LocalNeo4j, ServerStatus
    from kg.snapshot import GraphSnapshot, id_sort_key, snapshot_from_records
    from kg.writer import GraphWriter, aggregate_interactions


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
