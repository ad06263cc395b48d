"""The web page at ``/``: pick a user, read their recommendations and why, add an item.

Three static files (``static/index.html``, ``page.js``, ``page.css``: no framework, no
build step) that call the ``/v1`` JSON routes with ``fetch`` and the API key the
visitor types (kept in ``sessionStorage``, sent as ``Authorization: Bearer``). The page
and its files need no key: they hold no data.

Nothing loads from outside the server: every response here carries a
``Content-Security-Policy`` of ``default-src 'self'`` (no inline script or style, no
framing), so even a hostile title that reached the DOM as markup could not run. The
page itself only ever writes data as text (``textContent``), never as HTML.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

__all__ = ["CONTENT_SECURITY_POLICY", "router"]

#: every page response's policy: only this origin, no inline code, no framing
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache"}
#: the files served under ``/static`` (a fixed set: no path reaches the file system)
_STATIC = {"page.js": "text/javascript; charset=utf-8",
           "page.css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@cache
def _read(name: str) -> bytes:
    return files("kgrec.service").joinpath("static", name).read_bytes()


def _file(name: str, media_type: str) -> Response:
    return Response(_read(name), media_type=media_type, headers=_HEADERS)


@router.get("/")
def page() -> Response:
    """The page."""
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The page's script and style sheet."""
    media_type = _STATIC.get(name)
    if media_type is None:
        raise HTTPException(404, f"no static file {name!r}")
    return _file(name, media_type)
