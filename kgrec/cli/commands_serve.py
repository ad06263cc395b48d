"""``kgrec recommend|similar|similar-text|explain|ingest|demo``: serve a trained model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgrec.cli import JsonOpt, OnErrorChoice, OnErrorOpt, app, echo_json
from kgrec.errors import RequestError
from kgrec.filters import filters_from_options
from kgrec.render import print_explanation, print_ingest_summary, print_recommendations
from kgrec.settings import Settings

if TYPE_CHECKING:
    from kgrec.recommender import Recommender
    from kgrec.workflows import FileSummary

__all__ = ["demo", "explain", "ingest", "parse_filter_options", "recommend", "similar",
           "similar_text"]

logger = logging.getLogger(__name__)

KOpt = Annotated[int, typer.Option("-k", "--k", help="How many items.")]


def _recommender() -> Recommender:
    from kgrec.recommender import Recommender

    return Recommender(Settings.from_env())


def parse_filter_options(options: list[str]) -> dict[str, list[str]]:
    """``["genre=Comedy", "-genre=Horror", "exclude_items=42"]`` -> a filters mapping.

    Raises:
        RequestError: an option without ``=``.
    """
    return filters_from_options(options, "=", "--filter {option!r}: expected kind=value, "
                                "-kind=value or exclude_items=ID")


@app.command("recommend")
def recommend(
    user: Annotated[str, typer.Argument(help="User id.")],
    k: KOpt = 10,
    filter_: Annotated[list[str] | None, typer.Option(
        "--filter", help="kind=value keeps items with it, -kind=value drops them, "
                         "exclude_items=ID drops an item; repeatable.")] = None,
    diversity: Annotated[float, typer.Option(help="0..1 MMR re-ranking strength.")] = 0.0,
    include_seen: Annotated[bool, typer.Option(help="Keep items the user knows.")] = False,
    long_tail: Annotated[bool, typer.Option(
        help="End each page of ten with the best long-tail items (how many: chosen at "
             "training).")] = False,
    new_items: Annotated[int, typer.Option(
        help="Guarantee up to N items added since training (the best-scored ones).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Top-k recommendations for a user."""
    filters = parse_filter_options(filter_ or [])
    with _recommender() as rec:
        recs = rec.recommend(user, k, exclude_seen=not include_seen, filters=filters or None,
                             diversity=diversity, long_tail=long_tail, new_items=new_items)
        print_recommendations(rec, recs, f"Recommendations for {user}", as_json)


@app.command("similar")
def similar(item: Annotated[str, typer.Argument(help="Item id.")], k: KOpt = 10,
            as_json: JsonOpt = False) -> None:
    """Items most similar to an item (cosine of model embeddings)."""
    with _recommender() as rec:
        print_recommendations(rec, rec.similar_items(item, k), f"Items similar to {item}", as_json)


@app.command("similar-text")
def similar_text(text: Annotated[str, typer.Argument(help="Free-text query.")], k: KOpt = 10,
                 as_json: JsonOpt = False) -> None:
    """Items matching a free-text query (through the model's text path)."""
    with _recommender() as rec:
        print_recommendations(rec, rec.similar_to_text(text, k), f"Items for {text!r}", as_json)


@app.command("explain")
def explain(user: Annotated[str, typer.Argument(help="User id.")],
            item: Annotated[str, typer.Argument(help="Item id.")],
            max_paths: Annotated[int, typer.Option(help="How many paths.")] = 3,
            as_json: JsonOpt = False) -> None:
    """Why an item is recommended to a user: the strongest graph paths, with Cypher."""
    with _recommender() as rec:
        e = rec.explain(user, item, max_paths)
        if as_json:
            echo_json(e.to_dict(), indent=2)
            return
        print_explanation(rec, e)
    if e.paths:
        _say_where_to_paste(Settings.from_env())


def _say_where_to_paste(settings: Settings) -> None:
    """Name the local server's Neo4j Browser, where the Cypher above runs as printed."""
    if settings.neo4j.uri is not None:
        typer.echo("Paste the Cypher above into the Neo4j Browser of NEO4J_URI's server.")
        return
    from kg.server import LocalNeo4j

    server = LocalNeo4j(settings)
    url = server.status().browser_url
    if url is not None:
        typer.echo(f"Paste the Cypher above into Neo4j Browser: {url} (user neo4j, password "
                   f"in {server.credentials_file})")


@app.command("ingest")
def ingest(
    path: Annotated[Path | None, typer.Argument(
        help="A file to add: items (.jsonl or .csv) or interactions (interactions*.csv, "
             "or a CSV with user_id,item_id columns).")] = None,
    watch: Annotated[Path | None, typer.Option(help="Poll this folder for *.jsonl and *.csv "
                                                    "files and ingest each once.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 5.0,
    on_error: OnErrorOpt = OnErrorChoice.skip,
    rejects: Annotated[Path | None, typer.Option(help="Reject file (JSONL) for --on-error "
                                                      "skip; with --watch, a folder.")] = None,
    quarantine: Annotated[Path | None, typer.Option(
        help="With --watch: where files that cannot be ingested go, each with a "
             "<name>.reason.txt (default: WATCH/quarantine).")] = None,
    once: Annotated[bool, typer.Option(
        "--once", help="With --watch: ingest what is there, then stop.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Records per batch.")] = 1_000,
    as_json: JsonOpt = False,
) -> None:
    """Add catalog items, or interactions, and make them count at once (idempotent).

    Items become recommendable; interactions (their items must exist) fold their users in.
    With --json, one JSON object per file (a line each with --watch).
    """
    from kgrec.workflows import ingest_file

    if path is None and watch is None:
        raise RequestError("give a file to ingest, or --watch DIR")
    settings = Settings.from_env()
    with _recommender() as rec:
        if path is not None:
            summary = ingest_file(rec, path, on_error=on_error.mode, rejects_path=rejects,
                                  batch_size=batch_size)
            _print_file_summary(path, summary, as_json, indent=2)
        if watch is not None:
            _watch(rec, watch, settings.home / "ingest_state" / "watch.json", interval,
                   rejects, quarantine, once, warm=path is None, on_error=on_error,
                   as_json=as_json)


def _print_file_summary(path: Path, summary: FileSummary, as_json: bool,
                        indent: int | None = None) -> None:
    from dataclasses import asdict

    from kgrec.workflows import InteractionIngest

    kind = "interactions" if isinstance(summary, InteractionIngest) else "items"
    if as_json:
        echo_json({"file": str(path), "kind": kind, **asdict(summary)}, indent=indent)
    elif isinstance(summary, InteractionIngest):
        typer.echo(f"Ingested {path}: {summary.interactions} interactions of {summary.users} "
                   f"users, {summary.rejected} rejected ({summary.seconds:.2f}s)")
        for reason in summary.reasons[:20]:
            typer.echo(f"rejected: {reason}")
    else:
        print_ingest_summary(summary, f"Ingested {path}")


def _watch(rec: Recommender, folder: Path, state: Path, interval: float, rejects: Path | None,
           quarantine: Path | None, once: bool, warm: bool, on_error: OnErrorChoice,
           as_json: bool) -> None:
    from kgrec.workflows import watch_folder

    def say(text: str) -> None:
        if not as_json:  # --json: JSON lines only
            typer.echo(text)

    if warm:  # else the file above already paid the first-call costs
        say(f"warmed up in {rec.warm_up():.1f}s")
    if not once:
        say(f"watching {folder} every {interval:g}s (state {state}); Ctrl-C stops")
    try:
        watch_folder(rec, folder, state, interval=interval, rejects_dir=rejects,
                     quarantine_dir=quarantine, max_rounds=1 if once else None,
                     on_error=on_error.mode,
                     on_file=lambda p, s: _print_file_summary(p, s, as_json),
                     on_quarantine=lambda p, q: _print_quarantined(p, q, as_json))
    except KeyboardInterrupt:
        say("stopped")


def _print_quarantined(path: Path, moved: Path, as_json: bool) -> None:
    reason = moved.with_name(moved.name + ".reason.txt")
    if as_json:
        echo_json({"file": str(path), "quarantined": str(moved), "reason_file": str(reason)})
    else:
        typer.echo(f"Quarantined {path} (see {reason.name} in {reason.parent})")


@app.command("demo")
def demo(
    dataset: Annotated[str, typer.Option(help="synthetic, or movielens:PATH (ml-100k folder).")
                       ] = "synthetic",
    users: Annotated[int, typer.Option(help="Synthetic users.")] = 2_000,
    items: Annotated[int, typer.Option(help="Synthetic items.")] = 1_000,
    epochs: Annotated[int, typer.Option(help="Max training epochs.")] = 30,
) -> None:
    """End-to-end demo: start Neo4j, load, train, recommend, explain, add a new item."""
    from kgrec.demo import run_demo

    run_demo(Settings.from_env(), dataset=dataset, n_users=users, n_items=items,
             max_epochs=epochs)
