"""Constraints and indexes of the kgrec schema (:mod:`kg.schema`), created idempotently.

:func:`ensure_schema` creates the uniqueness constraints and the range indexes (every
load runs it; a concurrent creator is tolerated), :func:`ensure_vector_index` and
:func:`ensure_user_vector_index` the cosine vector indexes on the embeddings.
"""

from __future__ import annotations

import logging
from typing import Any, LiteralString

import neo4j
from neo4j.exceptions import ClientError, DriverError, Neo4jError

from kg import queries as q
from kg import queries_serving as qe
from kg.schema import ITEM_EMBEDDING_INDEX, USER_EMBEDDING_INDEX
from kgrec.errors import SchemaError

__all__ = ["ensure_schema", "ensure_user_vector_index", "ensure_vector_index"]

logger = logging.getLogger(__name__)

#: raised when another session created the same rule between our check and our create
_RACE_CODES = ("Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
               "Neo.ClientError.Schema.IndexAlreadyExists",
               "Neo.ClientError.Schema.ConstraintAlreadyExists")


def _run_schema(driver: neo4j.Driver, statement: LiteralString, database: str,
                **params: Any) -> None:
    try:
        driver.execute_query(statement, params, database_=database)
    except ClientError as e:
        if e.code not in _RACE_CODES:  # a concurrent `IF NOT EXISTS` won the race: fine
            raise


def ensure_schema(driver: neo4j.Driver, database: str = "neo4j") -> None:
    """Create the uniqueness constraints on ``User/Item/Attribute.id`` and the indexes
    on ``Attribute.kind``, ``Item.createdAt/updatedAt/changedAt`` and ``User.changedAt``
    (idempotent; safe when several processes run it at once).

    Raises:
        SchemaError: a statement failed (e.g. duplicate ids already stored).
    """
    for statement in q.SCHEMA_STATEMENTS:
        try:
            _run_schema(driver, statement, database)
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
    return _ensure_cosine_index(driver, dim, database, ITEM_EMBEDDING_INDEX,
                                q.DROP_VECTOR_INDEX, q.CREATE_VECTOR_INDEX)


def ensure_user_vector_index(driver: neo4j.Driver, dim: int, database: str = "neo4j") -> bool:
    """Create the cosine vector index ``user_embedding`` on ``User.embedding``.

    Same contract as :func:`ensure_vector_index`; it serves "which users is this item
    for" queries (``kg/cypher/new_items_audience.cypher``).
    """
    return _ensure_cosine_index(driver, dim, database, USER_EMBEDDING_INDEX,
                                qe.DROP_USER_VECTOR_INDEX, qe.CREATE_USER_VECTOR_INDEX)


def _ensure_cosine_index(driver: neo4j.Driver, dim: int, database: str, name: str,
                         drop: LiteralString, create: LiteralString) -> bool:
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 4096:
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
        _run_schema(driver, create, database, dim=dim)
        driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    except (Neo4jError, DriverError) as e:
        raise SchemaError(f"creating vector index {name!r} "
                          f"(dimension {dim}) on database {database!r} failed: {e}") from e
    return True
