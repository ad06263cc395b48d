"""Cypher of the serving facade: explanation paths, catalog state, content hashes.

Every text is a ``LiteralString`` built from :mod:`kg.schema` constants; every value
is a ``$parameter``. The ``PATH_*`` queries reproduce exactly one path and are what
:class:`kgrec.explain.ExplanationPath` hands to analysts for Neo4j Browser.
"""

from __future__ import annotations

from typing import Final, LiteralString

from kg.schema import ATTRIBUTE, HAS_ATTRIBUTE, INTERACTED, ITEM, USER, USER_EMBEDDING_INDEX

__all__ = [
    "COUNT_ITEMS",
    "COUNT_USERS",
    "CREATE_USER_VECTOR_INDEX",
    "DROP_USER_VECTOR_INDEX",
    "ITEMS_CHANGED_SINCE",
    "ITEM_IDS",
    "ITEM_STATE",
    "PATHS_EXIST",
    "PATH_ATTRIBUTE",
    "PATH_COLLABORATIVE",
    "PATH_PROFILE",
    "USERS_CHANGED_SINCE",
    "USER_IDS",
    "USER_STATE",
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

#: what serving reads of an item (rows of :data:`ITEM_STATE` and :data:`ITEMS_CHANGED_SINCE`)
_ITEM_FIELDS: Final[LiteralString] = (
    "RETURN n.id AS id, coalesce(n.title, '') AS title, "
    "coalesce(n.description, '') AS description, "
    f"[(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | a.id] AS attributes, "
    "n.contentHash AS content_hash, n.embedding AS embedding, "
    "n.embeddingVersion AS version, n.textFeature AS text_feature, "
    "coalesce(n.hidden, false) AS hidden, n.changedAt AS changed_at"
)
_ITEM_USERS: Final[LiteralString] = f", [(n)<-[:{INTERACTED}]-(u:{USER}) | u.id] AS users"
#: params: ``ids``; the stored state of those items, with the ids of their users
ITEM_STATE: Final[LiteralString] = (
    f"UNWIND $ids AS id MATCH (n:{ITEM} {{id: id}}) {_ITEM_FIELDS}{_ITEM_USERS}"
)
#: params: ``since`` (Unix ms, the database clock); items whose serving state changed
#: (without their users: read for the few items that need embedding)
ITEMS_CHANGED_SINCE: Final[LiteralString] = (
    f"MATCH (n:{ITEM}) WHERE n.changedAt >= $since {_ITEM_FIELDS}, [] AS users"
)
_USER_FIELDS: Final[LiteralString] = (
    f"RETURN n.id AS id, [(n)-[:{INTERACTED}]->(i:{ITEM}) | i.id] AS items, "
    f"[(n)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | a.id] AS attributes, n.changedAt AS changed_at"
)
#: params: ``since``; users whose interactions or profile changed, with their item ids
USERS_CHANGED_SINCE: Final[LiteralString] = (
    f"MATCH (n:{USER}) WHERE n.changedAt >= $since {_USER_FIELDS}"
)
#: params: ``ids``; those users' items and profile attributes
USER_STATE: Final[LiteralString] = f"UNWIND $ids AS id MATCH (n:{USER} {{id: id}}) {_USER_FIELDS}"
#: node counts (from Neo4j's count store: constant time)
COUNT_ITEMS: Final[LiteralString] = f"MATCH (n:{ITEM}) RETURN count(n) AS n"
COUNT_USERS: Final[LiteralString] = f"MATCH (n:{USER}) RETURN count(n) AS n"
#: every id of a label (read only when the counts say something was deleted)
ITEM_IDS: Final[LiteralString] = f"MATCH (n:{ITEM}) RETURN n.id AS id"
USER_IDS: Final[LiteralString] = f"MATCH (n:{USER}) RETURN n.id AS id"

CREATE_USER_VECTOR_INDEX: Final[LiteralString] = (
    f"CREATE VECTOR INDEX {USER_EMBEDDING_INDEX} IF NOT EXISTS "
    f"FOR (n:{USER}) ON (n.embedding) "
    "OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine'}}"
)
DROP_USER_VECTOR_INDEX: Final[LiteralString] = f"DROP INDEX {USER_EMBEDDING_INDEX} IF EXISTS"
