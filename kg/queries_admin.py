"""Cypher of catalog and user administration: hiding items, erasing users.

Every text is a ``LiteralString`` built from :mod:`kg.schema` constants; every value is a
``$parameter``. The statements run inside one write transaction each
(:mod:`kg.admin`), so a hide of several items or an erasure is all or nothing.
"""

from __future__ import annotations

from typing import Final, LiteralString

from kg.schema import ATTRIBUTE, HAS_ATTRIBUTE, INTERACTED, ITEM, USER

__all__ = [
    "DELETE_ORPHAN_ATTRIBUTES",
    "DELETE_USER",
    "EXISTING_ITEMS",
    "SET_ITEMS_HIDDEN",
    "USER_FOOTPRINT",
]

#: params: ``ids``; the ids among them that exist as items
EXISTING_ITEMS: Final[LiteralString] = (
    f"UNWIND $ids AS id MATCH (n:{ITEM} {{id: id}}) RETURN n.id AS id"
)
#: params: ``ids``, ``hidden``; sets the flag where it differs and stamps ``changedAt`` (so
#: every serving process folds it in on its next refresh); returns the ids it changed
SET_ITEMS_HIDDEN: Final[LiteralString] = (
    f"UNWIND $ids AS id MATCH (n:{ITEM} {{id: id}}) "
    "WHERE coalesce(n.hidden, false) <> $hidden "
    "SET n.hidden = $hidden, n.changedAt = timestamp() RETURN n.id AS id"
)
#: params: ``id``; one row for an existing user: how many interactions it has, and the
#: ids of its profile attributes (candidates for :data:`DELETE_ORPHAN_ATTRIBUTES`)
USER_FOOTPRINT: Final[LiteralString] = (
    f"MATCH (u:{USER} {{id: $id}}) "
    f"RETURN COUNT {{ (u)-[:{INTERACTED}]->(:{ITEM}) }} AS interactions, "
    f"[(u)-[:{HAS_ATTRIBUTE}]->(a:{ATTRIBUTE}) | a.id] AS attributes"
)
#: params: ``id``; the user node with its interactions and profile edges
DELETE_USER: Final[LiteralString] = f"MATCH (u:{USER} {{id: $id}}) DETACH DELETE u"
#: params: ``ids``; attribute nodes among them that nothing links to any more (a profile
#: value only this user had, say a postcode, leaves with the user)
DELETE_ORPHAN_ATTRIBUTES: Final[LiteralString] = (
    f"UNWIND $ids AS id MATCH (a:{ATTRIBUTE} {{id: id}}) WHERE NOT (a)--() DELETE a"
)
