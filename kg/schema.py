"""Labels, relationship types, property keys and the patterns data must match.

Every label/type/key used in Cypher is a constant here; nothing that reaches a
query text ever comes from input data.

The graph::

    (:User {id})-[:INTERACTED {weight, ts}]->(:Item {id, title, description,
                                                    createdAt, updatedAt,
                                                    embedding, embeddingVersion})
    (:Item|User)-[:HAS_ATTRIBUTE]->(:Attribute {id: "kind:value", kind, value})

``createdAt``/``updatedAt`` are Unix milliseconds set by the writer (``updatedAt``
moves only when an item's title, description or attributes change); ``ts`` is
Unix seconds (0 when unknown). :func:`ensure_schema` creates the uniqueness
constraints and indexes, :func:`ensure_vector_index` the cosine vector index
``item_embedding`` on ``Item.embedding``.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Final, LiteralString

from kgrec.errors import SchemaError

if TYPE_CHECKING:
    import neo4j

logger = logging.getLogger(__name__)

__all__ = [  # noqa: RUF022 (grouped by topic, not sorted)
    "SCHEMA_VERSION",
    "USER", "ITEM", "ATTRIBUTE", "INTERACTED", "HAS_ATTRIBUTE",
    "KIND_PATTERN", "VALUE_PATTERN", "ID_PATTERN",
    "check_kind", "check_value", "check_id",
    "ITEM_EMBEDDING_INDEX", "USER_EMBEDDING_INDEX", "ensure_schema", "ensure_vector_index",
    "ensure_user_vector_index",
]

SCHEMA_VERSION: Final = 1

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


def ensure_schema(driver: neo4j.Driver, database: str = "neo4j") -> None:
    """Create the uniqueness constraints on ``User/Item/Attribute.id`` and the indexes
    on ``Attribute.kind``, ``Item.createdAt``, ``Item.updatedAt`` (idempotent).

    Raises:
        SchemaError: a statement failed (e.g. duplicate ids already stored).
    """
    from neo4j.exceptions import DriverError, Neo4jError

    from kg import queries as q

    for statement in q.SCHEMA_STATEMENTS:
        try:
            driver.execute_query(statement, database_=database)
        except (Neo4jError, DriverError) as e:
            raise SchemaError(f"schema statement failed on database {database!r}: "
                              f"{statement}: {e}") from e
    try:
        driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    except (Neo4jError, DriverError) as e:
        raise SchemaError(f"indexes of database {database!r} did not come online: {e}") from e
    logger.debug("schema ensured on %s", database)


def ensure_vector_index(driver: neo4j.Driver, dim: int, database: str = "neo4j") -> bool:
    """Create the cosine vector index ``item_embedding`` on ``Item.embedding``.

    An existing index with another dimension is dropped and recreated.

    Args:
        driver: connected driver.
        dim: vector length, 1..4096.
        database: database name.

    Returns:
        True when the index was (re)created, False when it already matched.

    Raises:
        SchemaError: ``dim`` out of range or Neo4j refused the index.
    """
    from kg import queries as q

    return _ensure_cosine_index(driver, dim, database, ITEM_EMBEDDING_INDEX,
                                q.DROP_VECTOR_INDEX, q.CREATE_VECTOR_INDEX)


def ensure_user_vector_index(driver: neo4j.Driver, dim: int, database: str = "neo4j") -> bool:
    """Create the cosine vector index ``user_embedding`` on ``User.embedding``.

    Same contract as :func:`ensure_vector_index`; it serves "which users is this item
    for" queries (``kg/cypher/new_items_audience.cypher``).
    """
    from kg import queries_explain as qe

    return _ensure_cosine_index(driver, dim, database, USER_EMBEDDING_INDEX,
                                qe.DROP_USER_VECTOR_INDEX, qe.CREATE_USER_VECTOR_INDEX)


def _ensure_cosine_index(driver: neo4j.Driver, dim: int, database: str, name: str,
                         drop: LiteralString, create: LiteralString) -> bool:
    from neo4j.exceptions import DriverError, Neo4jError

    from kg import queries as q

    if not isinstance(dim, int) or not 1 <= dim <= 4096:
        raise SchemaError(f"vector index dimension must be an integer in 1..4096, got {dim!r}")
    try:
        records = driver.execute_query(q.SHOW_VECTOR_INDEX, name=name,
                                       database_=database).records
        if records:
            options: dict[str, Any] = records[0]["options"] or {}
            config = options.get("indexConfig", {})
            if (config.get("vector.dimensions") == dim
                    and config.get("vector.similarity_function", "").lower() == "cosine"):
                return False
            logger.info("recreating vector index %s: dimension %s -> %d",
                        name, config.get("vector.dimensions"), dim)
            driver.execute_query(drop, database_=database)
        driver.execute_query(create, dim=dim, database_=database)
        driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    except (Neo4jError, DriverError) as e:
        raise SchemaError(f"creating vector index {name!r} "
                          f"(dimension {dim}) on database {database!r} failed: {e}") from e
    return True
