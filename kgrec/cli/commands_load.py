"""``kgrec load ...``: load a catalog, MovieLens, RDF or a synthetic catalog into Neo4j."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgrec.cli import JsonOpt, OnErrorChoice, OnErrorOpt, app, echo_json
from kgrec.settings import Settings

if TYPE_CHECKING:
    from ingest.loader import LoadSummary
    from kg.writer import GraphWriter

__all__ = ["load_app"]

logger = logging.getLogger(__name__)

load_app = typer.Typer(name="load", help="Load data into the knowledge graph.",
                       no_args_is_help=True)
app.add_typer(load_app, name="load")

_BatchSize = Annotated[int | None, typer.Option(
    "--batch-size", min=1, help="Records per write transaction (default: KGREC_BATCH_SIZE).")]
_Rejects = Annotated[Path | None, typer.Option(
    "--rejects", help="Reject file (JSONL) for --on-error skip [default: rejects.jsonl].")]


def _reject_path(on_error: OnErrorChoice, rejects: Path | None) -> Path | None:
    return (rejects or Path("rejects.jsonl")) if on_error is OnErrorChoice.skip else None


def _writer_run(batch_size: int | None, job: Callable[[GraphWriter], LoadSummary],
                as_json: bool = False) -> None:
    """Connect (starting the local server if needed), run ``job(writer)``, print its summary."""
    from kg.connection import connect
    from kg.writer import GraphWriter

    settings = Settings.from_env()
    with connect(settings, start=True) as driver:
        writer = GraphWriter(driver, database=settings.neo4j.database,
                             batch_size=batch_size or settings.batch_size)
        summary = job(writer)
    if as_json:
        echo_json(asdict(summary))
    else:
        typer.echo(f"Loaded {summary}")


@load_app.command("catalog")
def load_catalog_cmd(
    directory: Annotated[Path, typer.Argument(help="Catalog folder (items.jsonl|csv, ...).")],
    on_error: OnErrorOpt = OnErrorChoice.fail,
    rejects: _Rejects = None,
    batch_size: _BatchSize = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a catalog folder in the generic format (see README: catalog format).

    All files are read and validated before the first write, so a bad header, record or
    empty file fails the load with nothing written.
    """
    from ingest.loader import load_catalog

    reject_path = _reject_path(on_error, rejects)
    _writer_run(batch_size, lambda w: load_catalog(w, directory, on_error.mode, reject_path),
                as_json)


@load_app.command("movielens")
def load_movielens_cmd(
    path: Annotated[Path, typer.Argument(help="MovieLens 100K folder (u.item, u.user, ...).")],
    rating_weights: Annotated[bool, typer.Option(
        "--rating-weights", help="weight = rating / 5 instead of 1.0")] = False,
    batch_size: _BatchSize = None,
    as_json: JsonOpt = False,
) -> None:
    """Load MovieLens 100K: 1682 movies, 943 users, 100000 ratings."""
    from ingest.loader import load_movielens

    _writer_run(batch_size, lambda w: load_movielens(w, path, rating_weights=rating_weights),
                as_json)


@load_app.command("rdf")
def load_rdf_cmd(
    file: Annotated[Path, typer.Argument(help="Turtle, N-Triples, JSON-LD or RDF/XML file.")],
    format: Annotated[str | None, typer.Option(
        "--format", help="rdflib format (turtle, nt, json-ld, xml); default from the extension."
    )] = None,
    on_error: OnErrorOpt = OnErrorChoice.fail,
    rejects: _Rejects = None,
    batch_size: _BatchSize = None,
    as_json: JsonOpt = False,
) -> None:
    """Load item facts from an RDF file."""
    from ingest.loader import load_rdf

    reject_path = _reject_path(on_error, rejects)
    _writer_run(batch_size, lambda w: load_rdf(w, file, format, on_error=on_error.mode,
                                               reject_path=reject_path), as_json)


@load_app.command("synthetic")
def load_synthetic_cmd(
    users: Annotated[int, typer.Option("--users", min=1, help="Number of users.")],
    items: Annotated[int, typer.Option("--items", min=1, help="Number of items.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    per_user: Annotated[float, typer.Option(
        "--per-user", min=1.0, help="Mean interactions per user.")] = 20.0,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write catalog files to this folder instead of loading into Neo4j.")
    ] = None,
    batch_size: _BatchSize = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a deterministic synthetic catalog; load it, or write it with --out."""
    from ingest.loader import load_synthetic
    from ingest.synthetic import write_synthetic_catalog

    if out is not None:
        counts = write_synthetic_catalog(out, users, items, seed, interactions_per_user=per_user)
        if as_json:
            echo_json({"out": str(out), **counts})
        else:
            typer.echo(f"Wrote {out}: {counts['items']} items, {counts['users']} users, "
                       f"{counts['interactions']} interactions")
        return
    _writer_run(batch_size, lambda w: load_synthetic(w, users, items, seed,
                                                     interactions_per_user=per_user), as_json)
