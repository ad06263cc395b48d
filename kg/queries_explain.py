"""Cypher of the serving facade: explanation paths, catalog state, content hashes.

Every text is a ``LiteralString`` built from :mod:`kg.schema` constants; every value
is a ``$parameter``. The ``PATH_*`` queries reproduce exactly one path and are what
:class:`kgrec.explain.ExplanationPath` hands to analysts for Neo4j Browser.
"""

from __future__ import annotations

from typing import Final, LiteralString

from kg.schema import ATTRIBUTE, HAS_ATTRIBUTE, INTERACTED, ITEM, USER, USER_EMBEDDING_INDEX

__all__ = [
    "CREATE_USER_VECTOR_INDEX",
    "DROP_USER_VECTOR_INDEX",
    "ITEMS_UPDATED_SINCE",
    "ITEM_STATE",
    "PATHS_EXIST",
    "PATH_ATTRIBUTE",
    "PATH_COLLABORATIVE",
    "PATH_PROFILE",
    "READ_ITEM_EMBEDDINGS",
]

def _attribute_path(p: LiteralString) -> LiteralString:
    return (f"(u:{USER} {{id: {p}user}})-[:{INTERACTED}]->(j:{ITEM} {{id: {p}via}})"
            f"-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE} {{id: {p}attribute}})"
            f"<-[:{HAS_ATTRIBUTE}]-(i:{ITEM} {{id: {p}item}})")


def _collaborative_path(p: LiteralString) -> LiteralString:
    return (f"(u:{USER} {{id: {p}user}})-[:{INTERACTED}]->(j:{ITEM} {{id: {p}via}})"
            f"<-[:{INTERACTED}]-(v:{USER} {{id: {p}via_user}})-[:{INTERACTED}]->"
            f"(i:{ITEM} {{id: {p}item}})")


def _profile_path(p: LiteralString) -> LiteralString:
    return (f"(u:{USER} {{id: {p}user}})-[:{HAS_ATTRIBUTE}]->"
            f"(a:{ATTRIBUTE} {{id: {p}attribute}})<-[:{HAS_ATTRIBUTE}]-(i:{ITEM} {{id: {p}item}})")


#: params: ``user``, ``via``, ``attribute``, ``item``
PATH_ATTRIBUTE: Final[LiteralString] = f"MATCH p = {_attribute_path('$')} RETURN p"
#: params: ``user``, ``via``, ``via_user``, ``item``
PATH_COLLABORATIVE: Final[LiteralString] = f"MATCH p = {_collaborative_path('$')} RETURN p"
#: params: ``user``, ``attribute``, ``item``
PATH_PROFILE: Final[LiteralString] = f"MATCH p = {_profile_path('$')} RETURN p"
#: params: ``checks``, a list of ``{kind, user, item, via?, attribute?, via_user?}`` with
#: the parameters of a ``PATH_*`` query; one row, ``found``: a boolean per check
PATHS_EXIST: Final[LiteralString] = (
    "RETURN [c IN $checks | CASE c.kind "
    f"WHEN 'attribute' THEN EXISTS {{ MATCH {_attribute_path('c.')} }} "
    f"WHEN 'collaborative' THEN EXISTS {{ MATCH {_collaborative_path('c.')} }} "
    f"WHEN 'profile' THEN EXISTS {{ MATCH {_profile_path('c.')} }} "
    "ELSE false END] AS found"
)

#: params: ``ids``; rows: id, title, description, attributes, content_hash, has_embedding,
#: version, users (ids of users that interacted with it)
ITEM_STATE: Final[LiteralString] = (
    f"UNWIND $ids AS id MATCH (n:{ITEM} {{id: id}}) "
    "RETURN n.id AS id, coalesce(n.title, '') AS title, "
    "coalesce(n.description, '') AS description, "
    f"[(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | a.id] AS attributes, "
    "n.contentHash AS content_hash, n.embedding IS NOT NULL AS has_embedding, "
    "n.embeddingVersion AS version, "
    f"[(n)<-[:{INTERACTED}]-(u:{USER}) | u.id] AS users"
)
#: items (re-)written at or after ``$since`` (Unix ms) that hold an embedding of ``$version``
ITEMS_UPDATED_SINCE: Final[LiteralString] = (
    f"MATCH (n:{ITEM}) WHERE n.updatedAt >= $since AND n.embeddingVersion = $version "
    "RETURN n.id AS id"
)
#: params: ``ids``, ``version``; the stored embeddings of those items written by ``version``
READ_ITEM_EMBEDDINGS: Final[LiteralString] = (
    f"UNWIND $ids AS id MATCH (n:{ITEM} {{id: id}}) "
    "WHERE n.embedding IS NOT NULL AND n.embeddingVersion = $version "
    "RETURN n.id AS id, n.embedding AS embedding"
)

CREATE_USER_VECTOR_INDEX: Final[LiteralString] = (
    f"CREATE VECTOR INDEX {USER_EMBEDDING_INDEX} IF NOT EXISTS "
    f"FOR (n:{USER}) ON (n.embedding) "
    "OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine'}}"
)
DROP_USER_VECTOR_INDEX: Final[LiteralString] = f"DROP INDEX {USER_EMBEDDING_INDEX} IF EXISTS"
