"""API keys of the HTTP service: ``Authorization: Bearer KEY``, scopes ``read`` and ``write``.

Keys come from ``KGREC_API_KEYS`` (comma-separated ``KEY:SCOPES``, e.g.
``k1...:read,k2...:read+write``) and/or ``KGREC_API_KEYS_FILE`` (one ``SHA256HEX:SCOPES``
line per key, ``#`` comments; ``kgrec api-key create`` prints a new key and its line).
Only SHA-256 digests are held in memory; a presented key is hashed and compared with
every configured digest by :func:`hmac.compare_digest` (constant time, and no early exit
that would tell which key came close). Keys are registered as secrets
(:func:`kgrec.settings.register_secret`), so no log record ever shows one.

Missing or unknown key: 401 (with ``WWW-Authenticate: Bearer``); a key without the
route's scope: 403. ``/healthz``, ``/readyz`` and the OpenAPI pages need no key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kgrec.errors import ConfigError
from kgrec.settings import ServiceSettings, register_secret

__all__ = ["MIN_KEY_LENGTH", "ApiKey", "KeyRing", "Scope", "hash_key", "new_key", "parse_scopes",
           "require"]

Scope = Literal["read", "write"]
#: a shorter key is refused at start-up: it could be guessed
MIN_KEY_LENGTH = 16
_SCOPES: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}), "write": frozenset({"write"}),
    "read+write": frozenset({"read", "write"}), "write+read": frozenset({"read", "write"}),
}
_HEX = re.compile(r"[0-9a-f]{64}")


def hash_key(key: str) -> str:
    """The SHA-256 hex digest a keys file stores for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ApiKey:
    """A configured key: its SHA-256 digest, its scopes and where it was configured."""

    digest: bytes
    scopes: frozenset[str]
    source: str


def parse_scopes(text: str, where: str) -> frozenset[str]:
    """``read``, ``write`` or ``read+write`` as a set of scopes.

    Raises:
        ConfigError: anything else (the message starts with ``where``).
    """
    scopes = _SCOPES.get(text.strip())
    if scopes is None:
        raise ConfigError(f"{where}: scopes must be read, write or read+write, got {text!r}")
    return scopes


def _env_keys(raw: str) -> list[ApiKey]:
    out = []
    for n, entry in enumerate((e.strip() for e in raw.split(",")), 1):
        if not entry:
            continue
        key, sep, scopes = entry.rpartition(":")
        where = f"KGREC_API_KEYS entry {n}"  # never the key itself
        if not sep or not key:
            raise ConfigError(f"{where}: expected KEY:SCOPES (scopes read, write or "
                              "read+write)")
        if len(key) < MIN_KEY_LENGTH or not key.isprintable() or key != key.strip():
            raise ConfigError(f"{where}: a key must be at least {MIN_KEY_LENGTH} printable "
                              "characters without surrounding spaces (kgrec api-key create)")
        register_secret(key)
        out.append(ApiKey(hashlib.sha256(key.encode()).digest(), parse_scopes(scopes, where),
                          where))
    return out


def _file_keys(path: Path) -> list[ApiKey]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"KGREC_API_KEYS_FILE {path}: cannot be read: {e}") from e
    out = []
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        digest, sep, scopes = line.partition(":")
        where = f"{path} line {n}"
        if not sep or not _HEX.fullmatch(digest.strip().lower()):
            raise ConfigError(f"{where}: expected SHA256HEX:SCOPES (64 hex digits, then read, "
                              "write or read+write)")
        out.append(ApiKey(bytes.fromhex(digest.strip()), parse_scopes(scopes, where), where))
    return out


class KeyRing:
    """The configured keys, checked in constant time.

    Args:
        keys: the keys.
        open_access: with no key configured, let every request through (a loopback
            development server, or an explicit ``--insecure``); ignored when keys exist.

    Raises:
        ConfigError: no key and not ``open_access``.
    """

    def __init__(self, keys: Sequence[ApiKey], open_access: bool = False) -> None:
        if not keys and not open_access:
            raise ConfigError("no API key configured: set KGREC_API_KEYS or "
                              "KGREC_API_KEYS_FILE (kgrec api-key create), or serve on a "
                              "loopback host")
        self.keys = tuple(keys)
        self.open = not self.keys

    @classmethod
    def from_settings(cls, service: ServiceSettings, open_access: bool = False) -> KeyRing:
        """The keys of ``KGREC_API_KEYS`` and ``KGREC_API_KEYS_FILE``.

        Raises:
            ConfigError: a malformed entry (named by position, never by its key), an
                unreadable file, or no key and not ``open_access``.
        """
        keys: list[ApiKey] = []
        if service.api_keys is not None:
            keys += _env_keys(service.api_keys.get_secret_value())
        if service.api_keys_file is not None:
            keys += _file_keys(service.api_keys_file)
        return cls(keys, open_access)

    def scopes_of(self, token: str) -> frozenset[str] | None:
        """The scopes of ``token``, or None for an unknown key (every digest is compared)."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found: frozenset[str] | None = None
        for key in self.keys:  # no early exit: the time does not depend on which matched
            if hmac.compare_digest(digest, key.digest):
                found = key.scopes
        return found

    def __repr__(self) -> str:
        return f"KeyRing({len(self.keys)} keys)"


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`.")


def require(scope: Scope) -> Callable[..., None]:
    """A FastAPI dependency that lets a request through only with a key of ``scope``."""

    def check(request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        ring: KeyRing = request.app.state.keys
        if ring.open:
            return
        if credentials is None:
            raise HTTPException(401, "missing API key: send 'Authorization: Bearer KEY'",
                                headers={"WWW-Authenticate": "Bearer"})
        scopes = ring.scopes_of(credentials.credentials)
        if scopes is None:
            raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
        if scope not in scopes:
            raise HTTPException(403, f"this API key lacks the {scope!r} scope")

    return check
