"""An RDF file never makes the reader fetch a URL (issue 29, item 4), and every broken
file is a RecordError/IngestError naming the file. A local HTTP server counts the requests
a parse makes; no database needed."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from ingest.rdf_reader import read_rdf_items
from kgrec.errors import IngestError, RecordError

XML_HEAD = '<?xml version="1.0"?>'
RDF_NS = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:e="http://e.org/"'


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = b'{"@context": {"g": "http://e.org/genre"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """``(base URL, requests seen)`` of a local HTTP server."""
    hits: list[str] = []
    handler = type("Handler", (_Counter,), {"hits": hits})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", hits
    srv.shutdown()
    srv.server_close()
    thread.join()


def _jsonld(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "items.jsonld"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


NODE = {"@id": "http://e.org/m1", "http://e.org/genre": {"@id": "http://e.org/Drama"}}


@pytest.mark.parametrize(("make", "field"), [
    (lambda url: {"@context": f"{url}/ctx", **NODE}, "@context"),
    (lambda url: {"@context": [{"e": "http://e.org/"}, f"{url}/ctx"], **NODE}, "@context"),
    (lambda url: {"@context": {"@version": 1.1, "@import": f"{url}/ctx"}, **NODE}, "@import"),
    (lambda url: {"@graph": [{"@context": f"{url}/ctx", **NODE}]}, "@context"),
    (lambda url: {"@context": {"@version": 1.1, "g": {"@id": "http://e.org/genre",
                                                      "@context": f"{url}/scoped"}}, **NODE},
     "@context"),
])
def test_remote_jsonld_contexts_are_refused_before_any_request(
        tmp_path: Path, server: tuple[str, list[str]], make: object, field: str) -> None:
    url, hits = server
    path = _jsonld(tmp_path, make(url))  # type: ignore[operator]
    with pytest.raises(RecordError, match=rf"items\.jsonld: field '{field}' refers to .*"
                                          r"127\.0\.0\.1.*would be fetched; give the context "
                                          r"inline") as info:
        read_rdf_items(path)
    assert info.value.path == str(path) and info.value.field == field
    assert hits == []


def test_a_relative_context_is_refused_too_it_would_read_another_file(tmp_path: Path) -> None:
    (tmp_path / "ctx.jsonld").write_text('{"@context": {"g": "http://e.org/genre"}}')
    path = _jsonld(tmp_path, {"@context": "ctx.jsonld", **NODE})
    with pytest.raises(RecordError, match=r"refers to a remote context 'ctx\.jsonld'"):
        read_rdf_items(path)


def test_an_inline_context_is_read(tmp_path: Path) -> None:
    path = _jsonld(tmp_path, {"@context": {"e": "http://e.org/"}, "@id": "http://e.org/m1",
                              "e:genre": {"@id": "http://e.org/Drama"}})
    assert [(r.id, r.attributes) for r in read_rdf_items(path)] == [
        ("http://e.org/m1", {"genre": ("Drama",)})]


@pytest.mark.parametrize(("name", "fmt", "text"), [
    ("entity.rdf", "xml", XML_HEAD + '<!DOCTYPE rdf:RDF [<!ENTITY ext SYSTEM "{url}/ent">]>'
     f"<rdf:RDF {RDF_NS}><rdf:Description rdf:about=\"http://e.org/m1\"><e:note>&ext;</e:note>"
     '<e:genre rdf:resource="http://e.org/Drama"/></rdf:Description></rdf:RDF>'),
    ("dtd.rdf", "xml", XML_HEAD + '<!DOCTYPE rdf:RDF SYSTEM "{url}/dtd">'
     f"<rdf:RDF {RDF_NS}><rdf:Description rdf:about=\"http://e.org/m1\">"
     '<e:genre rdf:resource="http://e.org/Drama"/></rdf:Description></rdf:RDF>'),
    ("imports.ttl", "turtle", ("<http://e.org/m1> <http://www.w3.org/2002/07/owl#imports> "
     "<{url}/onto> ; <http://e.org/genre> <http://e.org/Drama> .")),
    ("base.ttl", "turtle", "@base <{url}/base/> . <m1> <genre> <Drama> ."),
])
def test_other_rdf_formats_fetch_nothing(tmp_path: Path, server: tuple[str, list[str]],
                                         name: str, fmt: str, text: str) -> None:
    url, hits = server
    path = tmp_path / name
    path.write_text(text.replace("{url}", url), encoding="utf-8")
    try:
        read_rdf_items(path, fmt)
    except (RecordError, IngestError):
        pass  # refused is fine too; fetching is not
    assert hits == []


def test_only_known_formats_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text('{"@context": "http://e.org/ctx"}')
    with pytest.raises(IngestError, match=r"unknown RDF format 'hext' \(known: .*json-ld"):
        read_rdf_items(path, "hext")


@pytest.mark.parametrize(("name", "text", "error", "pattern"), [
    ("empty.ttl", "", IngestError, r"empty\.ttl: holds no items \(0 triples"),
    ("classes.ttl", ("<http://e.org/a> <http://e.org/p> <http://e.org/b> . "
     "<http://e.org/b> <http://e.org/p> <http://e.org/a> ."), IngestError, r"holds no items"),
    ("deep.ttl", "<http://e.org/m1> <http://e.org/p> " + "[ <http://e.org/p> " * 3000 + "]" * 3000
     + " .", RecordError, r"deep\.ttl.*is not valid turtle"),
    ("deep.jsonld", '{"@id": "http://e.org/m1", "http://e.org/p": ' + "[" * 100_000
     + "]" * 100_000 + "}", RecordError, (r"deep\.jsonld: is not valid json-ld: it is nested "
                                         r"too deeply")),
    ("latin1.jsonld", b'{"@id": "http://e.org/caf\xe9"}', RecordError, r"is not valid UTF-8"),
])
def test_broken_or_empty_rdf_files_name_the_file(tmp_path: Path, name: str,
                                                 text: str | bytes, error: type[Exception],
                                                 pattern: str) -> None:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(error, match=pattern):
        read_rdf_items(path)
