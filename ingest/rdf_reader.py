"""Import item facts from RDF (Turtle, N-Triples, JSON-LD, RDF/XML, N3) with rdflib.

Mapping:

- **Items** are IRI subjects under ``https://kgrec.dev/item/``, plus every other
  IRI subject that is never the object of a triple (a "root" subject). Subjects
  under ``https://kgrec.dev/attribute/`` or ``https://kgrec.dev/user/``, blank
  nodes, and resources used as objects (attribute values, classes) are not items.
- **Item id**: for ``https://kgrec.dev/item/<id>`` the URL-unquoted ``<id>``;
  otherwise the full IRI (it must be at most 200 characters).
- **title**: a literal ``rdfs:label``, ``schema:name`` (http or https
  schema.org) or ``dcterms:title`` (an untagged or ``@en`` literal preferred).
  **description**: ``schema:description`` or ``dcterms:description``.
- **Attributes**: every IRI object ``o`` of a predicate ``p`` gives an attribute
  of kind = local name of ``p`` (after the last ``#`` or ``/``), which must match
  ``[A-Za-z_][A-Za-z0-9_]*``. Its value is ``o``'s literal ``rdfs:label`` when the
  graph has one, else (for ``https://kgrec.dev/attribute/<kind>/<value>``) the
  unquoted ``<value>``, else the URL-unquoted local name of ``o``. So
  ``rdf:type`` facts become attributes of kind ``type`` (``ex:Movie`` ->
  ``type:Movie``). Other literal objects and blank-node objects are ignored.

This reads back what :func:`kg.rdf.export_turtle` writes (item IRIs
``https://kgrec.dev/item/<quoted id>``, predicates ``https://kgrec.dev/schema/<kind>``,
attribute IRIs ``https://kgrec.dev/attribute/<kind>/<quoted value>``).

Nothing in a file makes the reader reach the network or another file. rdflib's JSON-LD
parser fetches a ``@context`` given as a URL (or a relative reference) and a context's
``@import``: :mod:`ingest.jsonld_guard` refuses such a file before rdflib sees it (a
``RecordError``; give the context inline instead). The other formats fetch nothing:
``owl:imports`` is an ordinary triple to rdflib's parsers, and the XML parsers (RDF/XML,
TriX) resolve no external entity or DTD. Only the formats of :data:`RDF_FORMATS` are
accepted.

A file that yields no items at all (no triples, or no item subjects) is an
:class:`~kgrec.errors.IngestError`, as an empty catalog file is.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, RDFS

from ingest.jsonld_guard import check_jsonld
from ingest.validation import (
    ID_RULE,
    KIND_RULE,
    VALUE_RULE,
    OnError,
    Rejected,
    RejectLog,
    record_error,
    resolve,
    shown,
)
from kg.records import ItemRecord, SourceRef
from kg.schema import check_id, check_kind, check_value
from kgrec.errors import IngestError, RecordError

__all__ = [
    "ATTRIBUTE_NS",
    "ITEM_NS",
    "RDF_FORMATS",
    "SCHEMA_NS",
    "iter_rdf_items",
    "rdf_format",
    "read_rdf_items",
]

logger = logging.getLogger(__name__)

ITEM_NS = "https://kgrec.dev/item/"
ATTRIBUTE_NS = "https://kgrec.dev/attribute/"
SCHEMA_NS = "https://kgrec.dev/schema/"
_USER_NS = "https://kgrec.dev/user/"

_TITLE = (RDFS.label, URIRef("https://schema.org/name"), URIRef("http://schema.org/name"),
          DCTERMS.title, URIRef(SCHEMA_NS + "title"))
_DESCRIPTION = (URIRef("https://schema.org/description"), URIRef("http://schema.org/description"),
                DCTERMS.description, URIRef(SCHEMA_NS + "description"))
_FORMATS = {".ttl": "turtle", ".turtle": "turtle", ".nt": "nt", ".ntriples": "nt",
            ".jsonld": "json-ld", ".json": "json-ld", ".rdf": "xml", ".xml": "xml",
            ".owl": "xml", ".n3": "n3", ".trig": "trig", ".nq": "nquads", ".trix": "trix"}
#: the rdflib formats this reader accepts (each checked to fetch nothing; see above)
RDF_FORMATS: frozenset[str] = frozenset({"turtle", "ttl", "nt", "ntriples", "nt11", "json-ld",
                                         "xml", "n3", "trig", "nquads", "trix"})


def rdf_format(path: str | Path, format: str | None = None) -> str:
    """The rdflib format name for ``path`` (from ``format`` or the file extension).

    Raises:
        IngestError: the extension is unknown and no format was given.
    """
    if format:
        if format not in RDF_FORMATS:
            raise IngestError(f"{path}: unknown RDF format {shown(format)} (known: "
                              f"{', '.join(sorted(RDF_FORMATS))})")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise IngestError(f"{path}: cannot tell the RDF format from {suffix!r} (known: "
                          f"{', '.join(sorted(_FORMATS))}); pass format=, e.g. 'turtle'")
    return _FORMATS[suffix]


def _local_name(iri: str) -> str:
    stripped = iri.rstrip("/#")
    for sep in ("#", "/", ":"):
        if sep in stripped:
            return stripped.rsplit(sep, 1)[1]
    return stripped


def _error_line(path: Path, e: Exception) -> int:
    lines = getattr(e, "lines", None)
    if isinstance(lines, int):
        return lines + 1
    if isinstance(e, json.JSONDecodeError):
        return e.lineno
    get_line = getattr(e, "getLineNumber", None)  # XML parsers (SAXParseException)
    if callable(get_line) and isinstance(get_line(), int):
        return int(get_line())
    m = re.match(r"Invalid line: (.*)", str(getattr(e, "msg", "") or e), re.DOTALL)
    if m:
        bad = m.group(1).strip()
        with path.open(encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if bad and line.strip().endswith(bad):
                    return n
    return 0


def _parse(path: Path, fmt: str) -> rdflib.Graph:
    if not path.is_file():
        raise IngestError(f"{path}: file not found")
    if fmt == "json-ld":
        check_jsonld(path)
    graph = rdflib.Graph()
    try:
        graph.parse(path, format=fmt)
    except UnicodeDecodeError as e:
        raise RecordError(f"{path}: is not valid UTF-8 ({e.reason} at byte {e.start}); RDF files "
                          f"must be UTF-8", path=str(path)) from e
    except Exception as e:  # rdflib raises many unrelated types for syntax errors
        if isinstance(e, rdflib.plugin.PluginException):
            raise IngestError(f"{path}: unknown RDF format {fmt!r} ({e})") from e
        line = _error_line(path, e)
        why = getattr(e, "_why", None) or getattr(e, "msg", None) or str(e) or type(e).__name__
        if isinstance(e, RecursionError):
            why = "nested too deeply"
        raise record_error(str(path), line, None,
                           f"is not valid {fmt} ({str(why)[:300]})") from e
    return graph


def _pick_literal(values: list[Literal]) -> str:
    ranked = sorted(values, key=lambda v: (v.language not in (None, "en"), str(v)))
    return str(ranked[0]) if ranked else ""


def _item_subjects(graph: rdflib.Graph) -> list[URIRef]:
    """Item subjects in IRI order: kgrec item IRIs, and IRI subjects never used as objects."""
    objects = {o for o in graph.objects() if isinstance(o, URIRef)}

    def is_item(s: URIRef) -> bool:
        iri = str(s)
        if iri.startswith(ITEM_NS):
            return True
        if iri.startswith((ATTRIBUTE_NS, _USER_NS)):
            return False
        return s not in objects

    return sorted({s for s in graph.subjects() if isinstance(s, URIRef) and is_item(s)},
                  key=str)


class _Facts:
    """The literal and IRI facts of one subject."""

    def __init__(self) -> None:
        self.titles: list[Literal] = []
        self.descriptions: list[Literal] = []
        self.attrs: dict[str, list[str]] = {}
        self.ignored = 0


def _facts(graph: rdflib.Graph, s: URIRef, labels: dict[URIRef, list[Literal]], p: str
           ) -> _Facts:
    iri, facts = str(s), _Facts()
    for pred, obj in sorted(graph.predicate_objects(s),
                            key=lambda po: (str(po[0]), type(po[1]).__name__, str(po[1]))):
        if isinstance(obj, Literal):
            if pred in _TITLE:
                facts.titles.append(obj)
            elif pred in _DESCRIPTION:
                facts.descriptions.append(obj)
            else:
                facts.ignored += 1
            continue
        if not isinstance(obj, URIRef) or not isinstance(pred, URIRef):
            facts.ignored += 1
            continue
        kind = _local_name(str(pred))
        if not check_kind(kind):
            raise record_error(p, 0, str(pred), f"of subject {shown(iri)}: predicate local "
                               f"name {shown(kind)} is not a valid attribute kind: {KIND_RULE}")
        value = _attribute_value(obj, labels)
        if not check_value(value):
            raise record_error(p, 0, str(pred), f"of subject {shown(iri)}: object "
                               f"{shown(str(obj))} gives an invalid value {shown(value)}: "
                               f"{VALUE_RULE}")
        facts.attrs.setdefault(kind, []).append(value)
    return facts


def _scan(path: Path, fmt: str) -> Iterator[ItemRecord | Rejected]:
    graph = _parse(path, fmt)
    p = str(path)
    labels: dict[URIRef, list[Literal]] = {}
    for s, o in graph.subject_objects(RDFS.label):
        if isinstance(s, URIRef) and isinstance(o, Literal):
            labels.setdefault(s, []).append(o)
    subjects = _item_subjects(graph)
    if not subjects:
        raise IngestError(f"{path}: holds no items ({len(graph)} triples, none about an item "
                          f"subject); see ingest.rdf_reader for the mapping")
    ignored = 0
    for s in subjects:
        iri = str(s)
        try:
            item_id = unquote(iri[len(ITEM_NS):]) if iri.startswith(ITEM_NS) else iri
            if not check_id(item_id):
                raise record_error(p, 0, "id", f"subject {shown(iri)} gives an invalid item id "
                                   f"{shown(item_id)}: {ID_RULE}")
            facts = _facts(graph, s, labels, p)
        except RecordError as e:
            yield Rejected(e, iri)
            continue
        ignored += facts.ignored
        yield ItemRecord(item_id, _pick_literal(facts.titles), _pick_literal(facts.descriptions),
                         {k: tuple(v) for k, v in facts.attrs.items()}, SourceRef(p, 0))
    if ignored:
        logger.debug("%s: ignored %d literal or blank-node facts", path, ignored)


def _attribute_value(obj: URIRef, labels: dict[URIRef, list[Literal]]) -> str:
    if obj in labels:
        return _pick_literal(labels[obj])
    iri = str(obj)
    if iri.startswith(ATTRIBUTE_NS):
        _, _, value = iri[len(ATTRIBUTE_NS):].partition("/")
        return unquote(value)
    return unquote(_local_name(iri))


def iter_rdf_items(path: str | Path, format: str | None = None, *, on_error: OnError = "fail",
                   rejects: RejectLog | None = None) -> Iterator[ItemRecord]:
    """Yield the items described in an RDF file (see the module docstring for the mapping).

    The whole graph is parsed first (rdflib holds it in memory), then items are
    yielded in IRI order with ``SourceRef(path, 0)``.

    Args:
        path: the RDF file.
        format: an rdflib format (``turtle``, ``nt``, ``json-ld``, ``xml``...);
            default from the extension.
        on_error: ``"fail"`` raises on the first bad item; ``"skip"`` logs it to ``rejects``.
        rejects: where skipped items go (raw = subject IRI).

    Raises:
        RecordError: a syntax error (naming the line when rdflib reports one) or a bad
            item (``on_error="fail"``).
        IngestError: the file is missing or the format unknown.
    """
    path = Path(path)
    return resolve(_scan(path, rdf_format(path, format)), on_error, rejects)


def read_rdf_items(path: str | Path, format: str | None = None) -> list[ItemRecord]:
    """All items of an RDF file (``on_error="fail"``)."""
    return list(iter_rdf_items(path, format))
