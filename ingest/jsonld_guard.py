"""Refuse JSON-LD that would make rdflib fetch something: remote contexts and ``@import``.

rdflib's JSON-LD parser loads every context given by reference: ``"@context":
"https://host/ctx.jsonld"`` (or a relative reference, resolved against the file, so a
local file), a string in a context list, and a context's ``"@import"``. That is an
outbound request to a host the file's author chooses, so a file holding any of them
anywhere (the top level, a node, a scoped context inside a term definition) is refused
before rdflib parses it. Inline contexts (objects, ``null``) are accepted: mapping a
prefix to an IRI in an inline context fetches nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.validation import record_error, shown
from kgrec.errors import IngestError

__all__ = ["check_jsonld"]

_CONTEXT = "@context"
_IMPORT = "@import"
_ADVICE = "give the context inline (a JSON object) instead; kgrec never fetches a URL named " \
          "by input data"


def _load(path: Path) -> Any:
    p = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise record_error(p, 0, None, f"is not valid UTF-8 ({e.reason} at byte {e.start}); "
                           f"RDF files must be UTF-8") from None
    except OSError as e:
        raise IngestError(f"{p}: cannot be read ({e.strerror or e})") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise record_error(p, e.lineno, None, f"is not valid json-ld ({e.msg}; column "
                           f"{e.colno})") from None
    except RecursionError:
        raise record_error(p, 0, None, "is not valid json-ld: it is nested too deeply") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise record_error(p, 0, None, f"is not valid json-ld ({e})") from None


def _mappings(doc: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``doc``, depth first, without recursion (any depth is safe)."""
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            yield value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _context_refs(context: Any) -> Iterator[str]:
    """The strings a ``@context`` value refers to (itself, or those in its list)."""
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, str):
            yield entry


def check_jsonld(path: str | Path) -> None:
    """Raise unless the JSON-LD file at ``path`` is safe to hand to rdflib (module docstring).

    Raises:
        RecordError: the file is not JSON, or it names a remote (or relative) context or
            an ``@import``; the message names the file, the key and the reference.
        IngestError: the file cannot be read.
    """
    p = Path(path)
    for obj in _mappings(_load(p)):
        if _IMPORT in obj:
            raise record_error(str(p), 0, _IMPORT, f"refers to the context "
                               f"{shown(obj[_IMPORT])}, which would be fetched; {_ADVICE}")
        for ref in _context_refs(obj.get(_CONTEXT)):
            raise record_error(str(p), 0, _CONTEXT, f"refers to a remote context {shown(ref)}, "
                               f"which would be fetched; {_ADVICE}")
