"""Property-based tests of the RDF reader (issue 29): any file, in any accepted format,
ends in items or a KGRecError naming the file; never another exception, and never a
request to a URL the file names (a local server counts them). No database."""

from __future__ import annotations

import http.server
import json
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.rdf_reader import iter_rdf_items
from ingest.validation import RejectLog
from kgrec.errors import KGRecError, RecordError

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FORMATS = {"turtle": ".ttl", "nt": ".nt", "json-ld": ".jsonld", "xml": ".rdf", "n3": ".n3",
           "trig": ".trig", "nquads": ".nq"}


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.end_headers()
        self.wfile.write(b'{"@context": {}}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    thread.join()


NASTY = st.sampled_from(["<", ">", '"', "\\", "\n", "@", "#", ":", "%2F", "%", "\x00",
                         "\u202e", "\u200b", " ", "_:b", "[", "]", "(", ")", ".", ";", "^^",
                         "http://e.org/", "https://kgrec.dev/item/", "https://kgrec.dev/attribute/g/"])
TEXT = st.lists(st.one_of(NASTY, st.text(max_size=6)), max_size=6).map("".join)


def _iri(base: str) -> st.SearchStrategy[str]:
    return st.one_of(TEXT.map(lambda t: "http://e.org/" + t), TEXT,
                     st.just(base + "/ctx"), st.sampled_from(
                         ["https://kgrec.dev/item/1", "http://www.w3.org/2000/01/rdf-schema#label",
                          "https://schema.org/name", "http://e.org/has-genre"]))


def _ntriples(base: str) -> st.SearchStrategy[str]:
    term = st.one_of(_iri(base).map(lambda i: f"<{i}>"), TEXT.map(lambda t: json.dumps(t)),
                     TEXT.map(lambda t: f"_:{t}"))
    triple = st.tuples(term, term, term).map(lambda t: " ".join(t) + " .")
    return st.lists(triple, max_size=6).map("\n".join)


def _jsonld(base: str) -> st.SearchStrategy[str]:
    keys = st.sampled_from(["@context", "@id", "@type", "@graph", "@import", "@value", "@list",
                            "@vocab", "@base", "@version", "http://e.org/genre", "e:genre", "e"])
    leaf = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | _iri(base) | \
        st.just(base + "/ctx")
    value = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(keys, inner, max_size=4), max_leaves=10)
    return st.dictionaries(keys, value, max_size=5).map(json.dumps)


def _with_context_ref(base: str) -> st.SearchStrategy[str]:
    """A JSON-LD document with a context reference (a URL, a relative name or an
    ``@import``) somewhere in it: the reader must refuse it without a request."""
    ref = st.sampled_from([f"{base}/ctx", "ctx.jsonld", f"{base}/other#x"])
    context = st.one_of(ref, st.lists(ref, min_size=1, max_size=2).map(lambda r: [{}, *r]),
                        ref.map(lambda r: {"@version": 1.1, "@import": r}),
                        ref.map(lambda r: {"g": {"@id": "http://e.org/g", "@context": r}}))
    node = context.map(lambda c: {"@context": c, "@id": "http://e.org/1",
                                  "http://e.org/g": {"@id": "http://e.org/x"}})
    wrap = st.sampled_from([lambda n: n, lambda n: {"@graph": [n]},
                            lambda n: {"@context": {}, "@graph": [{"@id": "http://e.org/2"}, n]}])
    return st.tuples(node, wrap).map(lambda nw: json.dumps(nw[1](nw[0])))


def _document(base: str) -> st.SearchStrategy[tuple[str, str | bytes]]:
    any_format = st.sampled_from(sorted(FORMATS))
    return st.one_of(
        st.tuples(any_format, st.binary(max_size=200)),
        st.tuples(any_format, TEXT),
        st.tuples(st.sampled_from(["nt", "turtle", "n3", "trig", "nquads"]), _ntriples(base)),
        st.tuples(st.just("json-ld"), _jsonld(base)),
        st.tuples(st.just("json-ld"), _with_context_ref(base)),
        st.tuples(st.just("json-ld"), st.integers(1, 20_000).map(
            lambda n: '{"@id": "http://e.org/1", "http://e.org/p": ' + "[" * n + "]" * n + "}")),
        st.tuples(st.just("turtle"), st.integers(1, 2_000).map(
            lambda n: "<http://e.org/1> <http://e.org/p> " + "[ <http://e.org/p> " * n
            + "]" * n + " .")),
    )


@FUZZ
@given(data=st.data())
def test_any_rdf_file_ends_in_items_or_a_located_error(server: str,
                                                        data: st.DataObject) -> None:
    fmt, content = data.draw(_document(server))
    before = len(_Counter.hits)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"items{FORMATS[fmt]}"
        path.write_bytes(content if isinstance(content, bytes)
                         else content.encode("utf-8", errors="surrogatepass"))
        for mode in ("fail", "skip"):
            rejects = RejectLog()
            try:
                list(iter_rdf_items(path, fmt, on_error=mode, rejects=rejects))  # type: ignore[arg-type]
            except RecordError as e:
                assert e.path == str(path) and str(e).startswith(str(path)), e
            except KGRecError as e:
                assert str(e).startswith(f"{path}: "), e
            assert all(entry["path"] == str(path) for entry in rejects.entries)
    assert _Counter.hits[before:] == [], "the reader fetched a URL named by the file"
