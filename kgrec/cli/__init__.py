"""The ``kgrec`` command line.

Each command group lives in its own module and registers itself on ``app``.
Only ``KGRecError`` is caught: it prints ``ErrorType: message`` and exits 1.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import warnings
from enum import Enum
from typing import Annotated, Any, Literal

import typer

from kgrec.errors import KGRecError

__all__ = ["ON_ERROR_HELP", "JsonOpt", "OnErrorChoice", "OnErrorOpt", "app", "echo_json",
           "finite", "main"]

app = typer.Typer(
    name="kgrec",
    help="Knowledge-graph recommender: load a catalog into Neo4j, train, recommend, explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OnErrorChoice(str, Enum):
    """``--on-error``: what a bad record does, in every command that reads records."""

    fail = "fail"
    skip = "skip"

    @property
    def mode(self) -> Literal["fail", "skip"]:
        """The value as the readers' ``on_error`` argument."""
        return "skip" if self is OnErrorChoice.skip else "fail"


#: the one wording of ``--on-error`` (load catalog, load rdf, ingest, encode)
ON_ERROR_HELP = ("fail: stop at the first bad record, before anything is written; skip: "
                 "leave bad records out (each logged, and kept in the reject file where "
                 "the command writes one) and go on.")
OnErrorOpt = Annotated[OnErrorChoice, typer.Option("--on-error", help=ON_ERROR_HELP)]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print JSON instead of text (NaN and infinite numbers as null).")]


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def echo_json(data: Any, indent: int | None = None) -> None:
    """Print ``data`` as strict JSON (RFC 8259): a NaN or infinite float prints as null."""
    typer.echo(json.dumps(finite(data), indent=indent, ensure_ascii=False, allow_nan=False))


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"kgrec {version('kgrec')}")
        raise typer.Exit()


#: commands whose log is their output (``serve`` logs where it listens): INFO by default
_LOGGING_COMMANDS = frozenset({"serve"})


@app.callback()
def _root(
    ctx: typer.Context,
    _version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                  help="Print the version and exit."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, show_default=False,
                                help="-v: log at INFO (and show progress bars off a terminal); -vv: DEBUG."),
    quiet: bool = typer.Option(False, "-q", "--quiet",
                               help="Log warnings only, for every command (serve too)."),
) -> None:
    """Logs go to stderr: warnings only by default (``serve``: INFO), more with -v.
    Progress bars show on a terminal (and with -v), never with -q."""
    default = logging.INFO if ctx.invoked_subcommand in _LOGGING_COMMANDS else logging.WARNING
    shown = (logging.WARNING if quiet else logging.DEBUG if verbose >= 2
             else logging.INFO if verbose == 1 else default)
    # Progress bars follow ``logger.isEnabledFor(INFO)``: the loggers run at INFO on a
    # terminal while the handler still prints only ``shown`` and above.
    progress = not quiet and (verbose > 0 or sys.stderr.isatty())
    level = min(shown, logging.INFO) if progress else shown
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.setLevel(shown)
    # the driver's notifications are off at the driver (kg.connection); its own INFO
    # lines (pool, routing) say nothing to a user
    logging.getLogger("neo4j").setLevel(max(shown, logging.WARNING))


def _register() -> None:
    # Each module adds its commands to ``app`` on import.
    from kgrec.cli import (
        commands_batch,  # noqa: F401
        commands_db,  # noqa: F401
        commands_encode,  # noqa: F401
        commands_evaluate,  # noqa: F401
        commands_http,  # noqa: F401
        commands_load,  # noqa: F401
        commands_models,  # noqa: F401
        commands_serve,  # noqa: F401
        commands_train,  # noqa: F401
        commands_users,  # noqa: F401
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``kgrec`` script."""
    _register()
    # a deprecation notice of torch that PyG's import triggers says nothing to a user
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated",
                            category=FutureWarning)
    try:
        # standalone mode: click prints usage errors (exit 2) and honours typer.Exit codes
        app(args=argv, prog_name="kgrec")
    except KGRecError as e:
        typer.echo(f"{type(e).__name__}: {e}", err=True)
        sys.exit(1)
