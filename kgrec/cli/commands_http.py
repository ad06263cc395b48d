"""``kgrec serve``: the HTTP service (:mod:`kgrec.service`); ``kgrec api-key create``.

``serve`` refuses to listen on a non-loopback host without an API key
(``KGREC_API_KEYS`` or ``KGREC_API_KEYS_FILE``) unless ``--insecure`` says so: on
127.0.0.1 a developer may go without keys, a network-facing server may not by accident.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from typing import Annotated

import typer

from kgrec.cli import app
from kgrec.errors import ConfigError, NotFoundError
from kgrec.settings import Settings

__all__ = ["api_key_create", "is_loopback", "serve"]

logger = logging.getLogger(__name__)

api_key_app = typer.Typer(help="API keys of `kgrec serve`.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")

#: background refresh of `kgrec serve` when neither --refresh-seconds nor
#: KGREC_REFRESH_SECONDS says otherwise
DEFAULT_SERVE_REFRESH_S = 1.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every one; "
                                           "needs an API key).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, each with its own "
                                                     "recommender.")] = 1,
    refresh_seconds: Annotated[float | None, typer.Option(
        help="Background refresh of each worker (new writes, a new model); 0 = only on "
             "POST /v1/refresh. Default: KGREC_REFRESH_SECONDS, else 1.")] = None,
    insecure: Annotated[bool, typer.Option(
        help="Serve without API keys on a non-loopback host (never on a network others "
             "reach).")] = False,
    warm_up: Annotated[bool, typer.Option(help="Load the encoder and prepare Neo4j "
                                               "statements before serving.")] = True,
    access_log: Annotated[bool, typer.Option(help="JSON access log on stderr.")] = True,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) with uvicorn."""
    import uvicorn

    from gnn.model_store import ModelStore
    from kgrec.service.app import OPTIONS_ENV, ServeOptions
    from kgrec.service.auth import KeyRing

    settings = Settings.from_env()
    service = settings.service
    has_keys = service.api_keys is not None or service.api_keys_file is not None
    if not has_keys and not is_loopback(host) and not insecure:
        raise ConfigError(f"refusing to serve on {host} without an API key: set "
                          "KGREC_API_KEYS or KGREC_API_KEYS_FILE (kgrec api-key create), "
                          "serve on 127.0.0.1, or pass --insecure")
    KeyRing.from_settings(service, open_access=not has_keys)  # malformed keys: fail here
    if ModelStore(settings.models_dir).latest() is None:
        raise NotFoundError(f"no trained model under {settings.models_dir}: run `kgrec train`")
    if refresh_seconds is None:
        refresh_seconds = settings.refresh_seconds or DEFAULT_SERVE_REFRESH_S
    if refresh_seconds < 0:
        raise ConfigError(f"--refresh-seconds must be >= 0, got {refresh_seconds}")
    options = ServeOptions(open_access=not has_keys, refresh_seconds=refresh_seconds,
                           warm_up=warm_up, access_log=access_log)
    os.environ[OPTIONS_ENV] = options.to_env()  # the workers read it
    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
    uvicorn.run("kgrec.service.app:create_app_from_env", factory=True, host=host, port=port,
                workers=workers, access_log=False, server_header=False,
                log_level="warning" if quiet else "info", timeout_graceful_shutdown=10)


@api_key_app.command("create")
def api_key_create(
    scopes: Annotated[str, typer.Option(help="read, write or read+write.")] = "read",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a new random API key, once, and the line that stores it hashed in
    KGREC_API_KEYS_FILE."""
    from kgrec.service.auth import hash_key, new_key, parse_scopes

    parse_scopes(scopes, "--scopes")
    key = new_key()
    line = f"{hash_key(key)}:{scopes}"
    if as_json:
        typer.echo(json.dumps({"key": key, "scopes": scopes, "keys_file_line": line}))
        return
    typer.echo(f"key (shown once; clients send 'Authorization: Bearer KEY'):\n  {key}\n"
               f"line for KGREC_API_KEYS_FILE:\n  {line}\n"
               f"or in KGREC_API_KEYS:\n  {key}:{scopes}")
