"""Build node texts and normalise raw text before it reaches the tokenizer.

Text handling, decided once and applied everywhere (encoder and feature cache):

- ``bytes`` are decoded as UTF-8 with ``errors="replace"``: invalid sequences become
  U+FFFD, never an exception. Lone surrogates in ``str`` input are replaced the same way.
- Text is NFC-normalised, so composed and decomposed accents encode identically.
- Control characters (C0/C1), zero-width spaces and BOMs become a space; runs of
  whitespace collapse to one space; the ends are stripped.
- Text is clipped to ``max_chars`` characters (default 10,000, about 2,500 word pieces)
  before tokenisation, which bounds the time one text can take. The encoder then reads
  up to its window of tokens, or every window with ``long_text="chunk"``
  (``llm_bridge.encoder``; the rule and its measurement: docs/item_text.md).
- Text that is empty after this encodes to an all-zero vector (see ``TextEncoder``).

Builders render graph nodes as short, stable sentences. An item reads title, then
attributes, then description: the short, dense fields come first, so they sit in the
first window even when a long description runs over it (docs/item_text.md)::

    >>> item_text("Heat", "A thief and a detective.", {"genre": ["Action", "Crime"]})
    'Heat. genre: Action, Crime. A thief and a detective.'
    >>> attribute_text("release_year", "1995")
    'release year: 1995'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_ITEM_TEMPLATE",
    "MAX_CHARS",
    "TEXT_RULE",
    "attribute_text",
    "attributes_text",
    "item_text",
    "normalize_text",
    "user_text",
]

MAX_CHARS = 10_000
"""Characters kept per text before tokenisation."""

DEFAULT_ITEM_TEMPLATE = "{title}\n{attributes}\n{description}"
"""Lines that come out empty are dropped; the rest are joined into one sentence run.
Title and attributes lead: measured on the Office catalog (docs/item_text.md), putting
them before the description lifts the cold-item NDCG@20 of text similarity."""

TEXT_RULE = "text-v2"
"""Version of what the encoder reads (normalisation, item template, long-text windows);
part of ``TextEncoder.fingerprint``, so a changed rule never serves cached features."""

# Control characters, zero-width space, BOM and any whitespace collapse to one space.
_SPACE_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b\ufeff]+")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_SENTENCE_END = (".", "!", "?", ":", ";", "…")


def normalize_text(text: str | bytes, *, max_chars: int = MAX_CHARS) -> str:
    """Return the canonical form of ``text`` that the encoder sees.

    Args:
        text: raw text; ``bytes`` are decoded as UTF-8 with ``errors="replace"``.
        max_chars: keep at most this many characters.

    Returns:
        NFC-normalised text with control characters and whitespace runs replaced by a
        single space, stripped, at most ``max_chars`` long. Idempotent.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", errors="replace")
    # Clip early (with slack for NFC and whitespace collapsing) so huge inputs stay cheap.
    text = text[: 4 * max_chars]
    if _SURROGATE_RE.search(text):
        text = _SURROGATE_RE.sub("\ufffd", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = _SPACE_RE.sub(" ", text).strip()
    return text[:max_chars].rstrip()


def _kind_label(kind: str) -> str:
    return normalize_text(kind.replace("_", " "))


def attribute_text(kind: str, value: str) -> str:
    """Text of one attribute node, e.g. ``attribute_text("genre", "Film-Noir")`` ->
    ``"genre: Film-Noir"``. Underscores in ``kind`` become spaces.

    Args:
        kind: attribute kind (``genre``, ``release_year``).
        value: attribute value.

    Returns:
        ``"<kind>: <value>"``, normalised; just the value when ``kind`` is empty.
    """
    label, value = _kind_label(kind), normalize_text(value)
    return f"{label}: {value}" if label else value


def attributes_text(attributes: Mapping[str, Sequence[str]]) -> str:
    """Render attributes as ``"genre: Comedy, Drama; year: 1995"``.

    Kinds keep the mapping's order, values their sequence order; empty values and
    kinds without values are skipped.

    Args:
        attributes: kind -> values.

    Returns:
        The rendered text, ``""`` when there is nothing to render.
    """
    parts: list[str] = []
    for kind, values in attributes.items():
        if isinstance(values, str):  # a bare string is one value, not its characters
            values = [values]
        rendered = [v for v in (normalize_text(str(x)) for x in values) if v]
        if rendered:
            label = _kind_label(kind)
            joined = ", ".join(rendered)
            parts.append(f"{label}: {joined}" if label else joined)
    return "; ".join(parts)


def item_text(
    title: str,
    description: str = "",
    attributes: Mapping[str, Sequence[str]] | None = None,
    template: str = DEFAULT_ITEM_TEMPLATE,
) -> str:
    """Text of an item node.

    ``template`` is filled with ``{title}``, ``{description}`` and ``{attributes}``
    (rendered by :func:`attributes_text`). The result is split into lines; empty lines
    are dropped and the rest joined with ``". "`` (just ``" "`` after a line that already
    ends in ``.!?:;…``), so missing fields leave no dangling punctuation.

    Args:
        title: item title.
        description: free text; may be empty.
        attributes: kind -> values; may be empty.
        template: a ``str.format`` template using the three placeholders above.

    Returns:
        One normalised line of text (``""`` when all fields are empty).
    """
    rendered = template.format(
        title=normalize_text(title),
        description=normalize_text(description),
        attributes=attributes_text(attributes or {}),
    )
    lines = [s for s in (normalize_text(line) for line in rendered.splitlines()) if s]
    out = ""
    for line in lines:
        if out:
            out += " " if out.endswith(_SENTENCE_END) else ". "
        out += line
    return out


def user_text(attributes: Mapping[str, Sequence[str]]) -> str:
    """Text of a user profile, e.g. ``"age: 25-34; occupation: engineer"``.

    Args:
        attributes: profile kind -> values.

    Returns:
        The rendered attributes; ``""`` (an all-zero feature vector) when there are none.
    """
    return attributes_text(attributes)
