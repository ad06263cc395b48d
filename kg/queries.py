"""All Cypher text of ``kg``, as ``LiteralString`` constants.

Labels, relationship types and index names come from :mod:`kg.schema`; every
value is a ``$parameter``. Row shapes of the ``UNWIND $rows`` writes are noted
next to each query.
"""

from __future__ import annotations

from typing import Final, LiteralString

from kg.schema import (
    ATTRIBUTE,
    HAS_ATTRIBUTE,
    INTERACTED,
    ITEM,
    ITEM_EMBEDDING_INDEX,
    USER,
)

__all__ = [
    "COUNT_NODES",
    "COUNT_RELATIONSHIPS",
    "CREATE_VECTOR_INDEX",
    "DELETE_ALL",
    "DROP_VECTOR_INDEX",
    "EXPORT_ATTRIBUTES",
    "EXPORT_ITEMS",
    "EXPORT_RDF_INTERACTIONS",
    "EXPORT_RDF_ITEMS",
    "EXPORT_RDF_USERS",
    "EXPORT_USERS",
    "MERGE_ATTRIBUTES",
    "MERGE_ATTRIBUTE_EDGES",
    "MERGE_INTERACTIONS",
    "MERGE_ITEMS",
    "MERGE_USERS",
    "MERGE_USER_IDS",
    "MISSING_ITEMS",
    "MISSING_NODES",
    "NOW",
    "QUERY_SIMILAR_ITEMS",
    "READ_EMBEDDINGS",
    "REMOVE_STALE_ATTRIBUTE_EDGES",
    "SCHEMA_STATEMENTS",
    "SET_EMBEDDINGS",
    "SET_ITEM_EMBEDDINGS_AND_HASHES",
    "SET_ITEM_EMBEDDING_IF_UNCHANGED",
    "SHOW_VECTOR_INDEX",
]

# -- schema -----------------------------------------------------------------

SCHEMA_STATEMENTS: Final[tuple[LiteralString, ...]] = (
    f"CREATE CONSTRAINT user_id IF NOT EXISTS FOR (n:{USER}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT item_id IF NOT EXISTS FOR (n:{ITEM}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT attribute_id IF NOT EXISTS FOR (n:{ATTRIBUTE}) REQUIRE n.id IS UNIQUE",
    f"CREATE INDEX attribute_kind IF NOT EXISTS FOR (n:{ATTRIBUTE}) ON (n.kind)",
    f"CREATE INDEX item_created_at IF NOT EXISTS FOR (n:{ITEM}) ON (n.createdAt)",
    f"CREATE INDEX item_updated_at IF NOT EXISTS FOR (n:{ITEM}) ON (n.updatedAt)",
    f"CREATE INDEX item_changed_at IF NOT EXISTS FOR (n:{ITEM}) ON (n.changedAt)",
    f"CREATE INDEX user_changed_at IF NOT EXISTS FOR (n:{USER}) ON (n.changedAt)",
)

SHOW_VECTOR_INDEX: Final[LiteralString] = (
    "SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, options, state "
    "WHERE name = $name RETURN labelsOrTypes, properties, options, state"
)
CREATE_VECTOR_INDEX: Final[LiteralString] = (
    f"CREATE VECTOR INDEX {ITEM_EMBEDDING_INDEX} IF NOT EXISTS "
    f"FOR (n:{ITEM}) ON (n.embedding) "
    "OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine'}}"
)
DROP_VECTOR_INDEX: Final[LiteralString] = f"DROP INDEX {ITEM_EMBEDDING_INDEX} IF EXISTS"

# -- writes -----------------------------------------------------------------

#: rows: ``{id, title, description}``; createdAt/updatedAt/changedAt are Unix
#: milliseconds, and updatedAt/changedAt move only when the text (here) or the attribute
#: edges (below) change
MERGE_ITEMS: Final[LiteralString] = (
    "WITH timestamp() AS now UNWIND $rows AS row "
    f"MERGE (n:{ITEM} {{id: row.id}}) ON CREATE SET n.createdAt = now "
    "WITH n, row, now WHERE n.updatedAt IS NULL OR coalesce(n.title, '') <> row.title "
    "OR coalesce(n.description, '') <> row.description "
    "SET n.title = row.title, n.description = row.description, n.updatedAt = now, "
    "n.changedAt = now"
)
#: rows: ``{id}``; a new user is a change serving must see (it becomes recommendable to)
MERGE_USERS: Final[LiteralString] = (
    f"UNWIND $rows AS row MERGE (n:{USER} {{id: row.id}}) ON CREATE SET n.changedAt = timestamp()"
)
#: rows: ``{id, kind, value}``
MERGE_ATTRIBUTES: Final[LiteralString] = (
    f"UNWIND $rows AS row MERGE (a:{ATTRIBUTE} {{id: row.id}}) "
    "SET a.kind = row.kind, a.value = row.value"
)


def _remove_stale(label: LiteralString) -> LiteralString:
    # rows: {id, attribute_ids}; drops the edges an updated record no longer lists. The
    # hint keeps the plan on one seek per row: after a wipe and reload, stale index
    # samples made the planner scan every Item (or every Attribute's edges) per row
    stamp: LiteralString = (" SET n.updatedAt = timestamp(), n.changedAt = timestamp()"
                            if label == ITEM else " SET n.changedAt = timestamp()")
    return (
        f"UNWIND $rows AS row MATCH (n:{label} {{id: row.id}})-[r:{HAS_ATTRIBUTE}]->"
        f"(a:{ATTRIBUTE}) USING INDEX SEEK n:{label}(id) "
        f"WHERE NOT a.id IN row.attribute_ids DELETE r{stamp}"
    )


def _merge_edges(label: LiteralString) -> LiteralString:
    # rows: [owner_id, attribute_id]
    stamp: LiteralString = (" ON CREATE SET n.updatedAt = timestamp(), n.changedAt = timestamp()"
                            if label == ITEM else " ON CREATE SET n.changedAt = timestamp()")
    return (
        f"UNWIND $rows AS row MATCH (n:{label} {{id: row[0]}}) "
        f"MATCH (a:{ATTRIBUTE} {{id: row[1]}}) MERGE (n)-[:{HAS_ATTRIBUTE}]->(a){stamp}"
    )


REMOVE_STALE_ATTRIBUTE_EDGES: Final[dict[str, LiteralString]] = {
    ITEM: _remove_stale(ITEM), USER: _remove_stale(USER),
}
MERGE_ATTRIBUTE_EDGES: Final[dict[str, LiteralString]] = {
    ITEM: _merge_edges(ITEM), USER: _merge_edges(USER),
}

#: ids: list of item ids; returns those with no Item node
MISSING_ITEMS: Final[LiteralString] = (
    f"UNWIND $ids AS id OPTIONAL MATCH (n:{ITEM} {{id: id}}) "
    "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing"
)
#: ids: distinct user ids of a batch (merged first: no Eager in MERGE_INTERACTIONS); their
#: interactions change, so serving must re-read them
MERGE_USER_IDS: Final[LiteralString] = (
    f"UNWIND $ids AS id MERGE (u:{USER} {{id: id}}) SET u.changedAt = timestamp()"
)
#: rows: ``[user_id, item_id, weight, ts]``; users and items exist
MERGE_INTERACTIONS: Final[LiteralString] = (
    f"UNWIND $rows AS row MATCH (u:{USER} {{id: row[0]}}) MATCH (i:{ITEM} {{id: row[1]}}) "
    f"MERGE (u)-[r:{INTERACTED}]->(i) SET r.weight = row[2], r.ts = row[3]"
)

# -- export -----------------------------------------------------------------

#: the database clock, Unix ms (what ``createdAt``/``updatedAt`` are stamped with)
NOW: Final[LiteralString] = "RETURN timestamp() AS now"
EXPORT_ITEMS: Final[LiteralString] = (
    f"MATCH (n:{ITEM}) RETURN n.id AS id, coalesce(n.title, '') AS title, "
    "coalesce(n.description, '') AS description, "
    f"[(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | a.id] AS attributes"
)
#: only attributes some node links to (replaced attributes may leave orphans)
EXPORT_ATTRIBUTES: Final[LiteralString] = (
    f"MATCH (a:{ATTRIBUTE}) WHERE EXISTS {{ ()-[:{HAS_ATTRIBUTE}]->(a) }} RETURN a.id AS id"
)
EXPORT_USERS: Final[LiteralString] = (
    f"MATCH (n:{USER}) RETURN n.id AS id, "
    f"[(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | a.id] AS attributes, "
    f"[(n)-[r:{INTERACTED}]->(i:{ITEM}) | [i.id, r.weight, r.ts]] AS interactions"
)

# -- stats / admin ------------------------------------------------------------

COUNT_NODES: Final[LiteralString] = (
    "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS count ORDER BY label"
)
COUNT_RELATIONSHIPS: Final[LiteralString] = (
    "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS count ORDER BY type"
)
#: deletes everything in chunks (tests, ``kgrec db`` helpers); auto-commit only
DELETE_ALL: Final[LiteralString] = (
    "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
)

# -- embeddings --------------------------------------------------------------


def _set_embeddings(label: LiteralString) -> LiteralString:
    # rows: [id, vector]; a bulk write-back (a new model), not a change serving re-reads
    return (
        f"UNWIND $rows AS row MATCH (n:{label} {{id: row[0]}}) "
        "SET n.embedding = row[1], n.embeddingVersion = $version"
    )


def _missing_nodes(label: LiteralString) -> LiteralString:
    return (
        f"UNWIND $ids AS id OPTIONAL MATCH (n:{label} {{id: id}}) "
        "WITH id, n WHERE n IS NULL RETURN collect(id) AS missing"
    )


def _read_embeddings(label: LiteralString) -> LiteralString:
    return (
        f"MATCH (n:{label}) WHERE n.embedding IS NOT NULL "
        "RETURN n.id AS id, n.embedding AS embedding"
    )


SET_EMBEDDINGS: Final[dict[str, LiteralString]] = {
    ITEM: _set_embeddings(ITEM), USER: _set_embeddings(USER),
}
#: rows: ``[id, vector, content hash]``: the write-back of a trained model; each item's
#: hash names the content its embedding was computed from (a text feature stored by
#: ``add_items`` is no longer needed: the checkpoint holds the item)
SET_ITEM_EMBEDDINGS_AND_HASHES: Final[LiteralString] = (
    f"UNWIND $rows AS row MATCH (n:{ITEM} {{id: row[0]}}) "
    "SET n.embedding = row[1], n.embeddingVersion = $version, n.contentHash = row[2] "
    "REMOVE n.textFeature"
)
#: rows: ``{id, embedding, hash, feature, title, description, attributes}``: an item
#: embedded after training, written only if its stored content is still the content the
#: embedding was computed from (a compare-and-set: a concurrent writer's newer text
#: never gets this embedding); returns the ids written
SET_ITEM_EMBEDDING_IF_UNCHANGED: Final[LiteralString] = (
    # the write lock on n comes first (SET), so the content compared below cannot change
    # before this transaction commits: a true compare-and-set
    f"UNWIND $rows AS row MATCH (n:{ITEM} {{id: row.id}}) SET n.changedAt = timestamp() "
    f"WITH n, row, [(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | a.id] AS attrs "
    "WHERE coalesce(n.title, '') = row.title AND coalesce(n.description, '') = row.description "
    "AND size(attrs) = size(row.attributes) AND all(a IN attrs WHERE a IN row.attributes) "
    "SET n.embedding = row.embedding, n.embeddingVersion = $version, n.contentHash = row.hash, "
    "n.textFeature = row.feature RETURN n.id AS id"
)
MISSING_NODES: Final[dict[str, LiteralString]] = {
    ITEM: _missing_nodes(ITEM), USER: _missing_nodes(USER),
}
READ_EMBEDDINGS: Final[dict[str, LiteralString]] = {
    ITEM: _read_embeddings(ITEM), USER: _read_embeddings(USER),
}
QUERY_SIMILAR_ITEMS: Final[LiteralString] = (
    "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node, score "
    "RETURN node.id AS id, score ORDER BY score DESC, id"
)

# -- RDF export ----------------------------------------------------------------

EXPORT_RDF_ITEMS: Final[LiteralString] = (
    f"MATCH (n:{ITEM}) RETURN n.id AS id, n.title AS title, n.description AS description, "
    f"[(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | [a.kind, a.value]] AS attributes "
    "ORDER BY id"
)
EXPORT_RDF_USERS: Final[LiteralString] = (
    f"MATCH (n:{USER}) RETURN n.id AS id, "
    f"[(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | [a.kind, a.value]] AS attributes ORDER BY id"
)
EXPORT_RDF_INTERACTIONS: Final[LiteralString] = (
    f"MATCH (u:{USER})-[r:{INTERACTED}]->(i:{ITEM}) "
    "RETURN u.id AS user, i.id AS item, r.weight AS weight, r.ts AS ts ORDER BY user, item"
)
