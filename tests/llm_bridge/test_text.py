from __future__ import annotations

from llm_bridge.text import (
    MAX_CHARS,
    attribute_text,
    attributes_text,
    item_text,
    normalize_text,
    user_text,
)


def test_normalize_text_rules() -> None:
    assert normalize_text("  a\tb\n\x00c\x7f  d\u200b ") == "a b c d"
    assert normalize_text("cafe\u0301") == "caf\u00e9"  # NFC
    assert normalize_text(b"caf\xc3\xa9 \xff") == "caf\u00e9 \ufffd"  # bad byte -> U+FFFD
    assert normalize_text("x\udcffy") == "x\ufffdy"  # lone surrogate
    assert normalize_text(" \n\t ") == ""
    assert len(normalize_text("word " * 10_000)) == MAX_CHARS - 1  # clipped, then rstripped
    once = normalize_text(" A  b\x01")
    assert normalize_text(once) == once  # idempotent


def test_attribute_and_user_text() -> None:
    assert attribute_text("genre", "Film-Noir") == "genre: Film-Noir"
    assert attribute_text("release_year", " 1995 ") == "release year: 1995"
    attrs = {"genre": ["Comedy", "Drama"], "year": ["1995"], "empty": []}
    assert attributes_text(attrs) == "genre: Comedy, Drama; year: 1995"
    assert user_text({"age_band": ["25-34"], "occupation": ("engineer",)}) == (
        "age band: 25-34; occupation: engineer")
    assert user_text({}) == ""


def test_item_text_drops_empty_fields() -> None:
    attrs = {"genre": ["Action", "Crime"]}
    assert item_text("Heat", "A thief and a detective.", attrs) == (
        "Heat. genre: Action, Crime. A thief and a detective.")
    assert item_text("Heat", "A thief and a detective.", attrs,
                     template="{title}\n{description}\n{attributes}") == (
        "Heat. A thief and a detective. genre: Action, Crime")
    assert item_text("Heat", "", attrs) == "Heat. genre: Action, Crime"
    assert item_text("", "", {}) == ""
    assert item_text("Heat", "Los\nAngeles", None, template="{title} ({description})") == (
        "Heat (Los Angeles)")
