"""The ``kgrec`` command line.

Each command group lives in its own module and registers itself on ``app``.
Only ``KGRecError`` is caught: it prints ``ErrorType: message`` and exits 1.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from kgrec.errors import KGRecError

__all__ = ["app", "main"]

app = typer.Typer(
    name="kgrec",
    help="Knowledge-graph recommender: load a catalog into Neo4j, train, recommend, explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"kgrec {version('kgrec')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                  help="Print the version and exit."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Log at DEBUG level."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Log warnings only; no progress bars."),
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    # the driver logs every "index already exists" notice at INFO
    logging.getLogger("neo4j").setLevel(max(level, logging.WARNING))


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
    try:
        # standalone mode: click prints usage errors (exit 2) and honours typer.Exit codes
        app(args=argv, prog_name="kgrec")
    except KGRecError as e:
        typer.echo(f"{type(e).__name__}: {e}", err=True)
        sys.exit(1)
