"""Export the knowledge graph as Turtle (rdflib).

Format (read back by :mod:`ingest.rdf_reader`, which round-trips items and their
attributes)::

    @prefix kgs: <https://kgrec.dev/schema/> .

    <https://kgrec.dev/item/42> rdfs:label "Heat" ; schema:name "Heat" ;
        schema:description "..." ;
        kgs:genre <https://kgrec.dev/attribute/genre/Crime> .      # one per attribute
    <https://kgrec.dev/attribute/genre/Crime> rdfs:label "Crime" ; kgs:kind "genre" .
    <https://kgrec.dev/user/7> kgs:occupation <https://kgrec.dev/attribute/occupation/...> .
    [] a kgs:Interaction ; kgs:user <https://kgrec.dev/user/7> ;
        kgs:item <https://kgrec.dev/item/42> ; kgs:weight 1.0 ; kgs:ts 881250949 .

Ids and values are percent-encoded (``urllib.parse.quote(x, safe="")``) in IRIs.
Items carry no ``rdf:type`` so that an importer mapping every IRI object to an
attribute does not invent a ``type:Item`` attribute. Interactions are reified as
blank nodes (the importer ignores blank-node subjects).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import quote

import neo4j
from neo4j.exceptions import DriverError, Neo4jError
from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import XSD

from kg import queries as q
from kgrec.errors import ExportError

__all__ = [
    "KGREC",
    "SCHEMA_ORG",
    "attribute_iri",
    "export_turtle",
    "item_iri",
    "kind_predicate",
    "user_iri",
]

logger = logging.getLogger(__name__)

KGREC = Namespace("https://kgrec.dev/schema/")
SCHEMA_ORG = Namespace("https://schema.org/")
_BASE = "https://kgrec.dev/"


def item_iri(item_id: str) -> URIRef:
    """``https://kgrec.dev/item/<quoted id>``."""
    return URIRef(f"{_BASE}item/{quote(item_id, safe='')}")


def user_iri(user_id: str) -> URIRef:
    """``https://kgrec.dev/user/<quoted id>``."""
    return URIRef(f"{_BASE}user/{quote(user_id, safe='')}")


def attribute_iri(kind: str, value: str) -> URIRef:
    """``https://kgrec.dev/attribute/<kind>/<quoted value>``."""
    return URIRef(f"{_BASE}attribute/{kind}/{quote(value, safe='')}")


def kind_predicate(kind: str) -> URIRef:
    """``https://kgrec.dev/schema/<kind>``."""
    return URIRef(f"{KGREC}{kind}")


def _build(tx: neo4j.ManagedTransaction) -> Graph:
    g = Graph()
    g.bind("kgs", KGREC)
    g.bind("schema", SCHEMA_ORG)
    g.bind("rdfs", RDFS)
    seen: set[tuple[str, str]] = set()

    def attributes(subject: URIRef, pairs: list[list[str]]) -> None:
        for kind, value in pairs:
            obj = attribute_iri(kind, value)
            g.add((subject, kind_predicate(kind), obj))
            if (kind, value) not in seen:
                seen.add((kind, value))
                g.add((obj, RDFS.label, Literal(value)))
                g.add((obj, KGREC.kind, Literal(kind)))

    for r in tx.run(q.EXPORT_RDF_ITEMS):
        s = item_iri(r["id"])
        if r["title"]:
            g.add((s, RDFS.label, Literal(r["title"])))
            g.add((s, SCHEMA_ORG.name, Literal(r["title"])))
        if r["description"]:
            g.add((s, SCHEMA_ORG.description, Literal(r["description"])))
        if not r["title"] and not r["description"] and not r["attributes"]:
            g.add((s, KGREC.id, Literal(r["id"])))  # keep bare items visible
        attributes(s, r["attributes"])
    for r in tx.run(q.EXPORT_RDF_USERS):
        s = user_iri(r["id"])
        g.add((s, KGREC.id, Literal(r["id"])))
        attributes(s, r["attributes"])
    for r in tx.run(q.EXPORT_RDF_INTERACTIONS):
        b = BNode()
        g.add((b, RDF.type, KGREC.Interaction))
        g.add((b, KGREC.user, user_iri(r["user"])))
        g.add((b, KGREC.item, item_iri(r["item"])))
        g.add((b, KGREC.weight, Literal(float(r["weight"] or 0.0), datatype=XSD.double)))
        g.add((b, KGREC.ts, Literal(int(r["ts"] or 0), datatype=XSD.integer)))
    return g


def export_turtle(driver: neo4j.Driver, path: str | Path, database: str = "neo4j") -> int:
    """Write the whole graph to ``path`` as Turtle.

    Args:
        driver: connected driver.
        path: output file (parent folders are created).
        database: source database.

    Returns:
        Number of triples written.

    Raises:
        ExportError: reading the graph or writing the file failed.
    """
    t0 = time.perf_counter()
    try:
        with driver.session(database=database,
                            default_access_mode=neo4j.READ_ACCESS) as session:
            graph = session.execute_read(_build)
    except (Neo4jError, DriverError) as e:
        raise ExportError(f"reading database {database!r} for RDF export failed: {e}") from e
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        graph.serialize(destination=out, format="turtle", encoding="utf-8")
    except OSError as e:
        raise ExportError(f"{out}: cannot write Turtle file ({e.strerror})") from e
    logger.info("wrote %d triples to %s in %.1fs", len(graph), out, time.perf_counter() - t0)
    return len(graph)
