"""RDF import (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.rdf_reader import iter_rdf_items, read_rdf_items
from ingest.validation import RejectLog
from kgrec.errors import IngestError, RecordError

DATA = Path(__file__).parents[1] / "data"
EX = "http://example.org/movie/"


def test_turtle_items_titles_descriptions_attributes() -> None:
    items = {r.id: r for r in read_rdf_items(DATA / "rdf" / "movies.ttl")}
    # genres, people and classes are objects, so they are attributes, not items
    assert set(items) == {EX + "alien", EX + "amelie", EX + "blade_runner", EX + "heat",
                          "toy story"}
    alien = items[EX + "alien"]
    assert alien.title == "Alien (1979)"
    assert alien.description == "A crew meets a deadly creature in deep space."
    # an object with an rdfs:label gives the label; others their local name; rdf:type -> type
    assert alien.attributes == {"director": ("Ridley Scott",), "genre": ("Horror", "Science fiction"),
                                "type": ("Movie",)}
    assert items[EX + "blade_runner"].title == "Blade Runner (1982)"  # @en preferred
    assert items[EX + "amelie"].attributes["country"] == ("Françe",)  # URL-unquoted
    assert "year" not in items[EX + "heat"].attributes  # literal facts are ignored
    assert items["toy story"].attributes == {"genre": ("Animation",)}  # kgrec IRIs


@pytest.mark.parametrize("name", ["movies.nt", "movies.jsonld"])
def test_other_formats(name: str) -> None:
    items = {r.id: r for r in read_rdf_items(DATA / "rdf" / name)}
    assert items[EX + "heat"].title == "Heat (1995)"
    assert items[EX + "heat"].attributes == {"genre": ("Crime",)}


def test_explicit_format(tmp_path: Path) -> None:
    target = tmp_path / "facts.txt"
    target.write_bytes((DATA / "rdf" / "movies.nt").read_bytes())
    with pytest.raises(IngestError, match=r"cannot tell the RDF format from '\.txt'"):
        read_rdf_items(target)
    assert len(read_rdf_items(target, format="nt")) == 2


@pytest.mark.parametrize(("name", "pattern"), [
    ("bad_syntax.ttl", r"bad_syntax\.ttl line 4: is not valid turtle"),
    ("bad_syntax.nt", r"bad_syntax\.nt line 3: is not valid nt"),
    ("bad_kind.ttl", (r"bad_kind\.ttl: field 'http://example\.org/has-genre' .*'has-genre' "
                      r"is not a valid attribute kind")),
])
def test_broken_rdf(name: str, pattern: str) -> None:
    with pytest.raises(RecordError, match=pattern):
        read_rdf_items(DATA / "broken" / name)


def test_skip_mode_keeps_good_subjects() -> None:
    rejects = RejectLog()
    items = list(iter_rdf_items(DATA / "broken" / "bad_kind.ttl", on_error="skip",
                                rejects=rejects))
    assert [r.id for r in items] == ["http://example.org/m1"]
    assert rejects.entries[0]["raw"] == "http://example.org/m2"
