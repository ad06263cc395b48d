"""``kgrec recommend|similar|similar-text|explain|ingest|demo``: serve a trained model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgrec.cli import app
from kgrec.errors import RequestError
from kgrec.filters import filters_from_options
from kgrec.render import print_explanation, print_ingest_summary, print_recommendations
from kgrec.settings import Settings

if TYPE_CHECKING:
    from kgrec.recommender import Recommender

__all__ = ["demo", "explain", "ingest", "parse_filter_options", "recommend", "similar",
           "similar_text"]

logger = logging.getLogger(__name__)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
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
            typer.echo(json.dumps(e.to_dict(), indent=2, ensure_ascii=False))
            return
        print_explanation(rec, e)


@app.command("ingest")
def ingest(
    path: Annotated[Path | None, typer.Argument(help="items.jsonl or items.csv to add.")] = None,
    watch: Annotated[Path | None, typer.Option(help="Poll this folder for *.jsonl files "
                                                    "and ingest each once.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 5.0,
    rejects: Annotated[Path | None, typer.Option(help="Reject file (JSONL); with --watch, "
                                                      "a folder.")] = None,
    quarantine: Annotated[Path | None, typer.Option(
        help="With --watch: where files that cannot be ingested go, each with a "
             "<name>.reason.txt (default: WATCH/quarantine).")] = None,
    once: Annotated[bool, typer.Option(
        "--once", help="With --watch: ingest what is there, then stop.")] = False,
    batch_size: Annotated[int, typer.Option(help="Items per batch.")] = 1_000,
    as_json: JsonOpt = False,
) -> None:
    """Add catalog items and make them recommendable at once (idempotent)."""
    from dataclasses import asdict

    from kgrec.workflows import ingest_file

    if path is None and watch is None:
        raise RequestError("give a file to ingest, or --watch DIR")
    settings = Settings.from_env()
    with _recommender() as rec:
        if path is not None:
            summary = ingest_file(rec, path, rejects_path=rejects, batch_size=batch_size)
            if as_json:
                typer.echo(json.dumps(asdict(summary), indent=2))
            else:
                print_ingest_summary(summary, f"Ingested {path}")
        if watch is not None:
            _watch(rec, watch, settings.home / "ingest_state" / "watch.json", interval,
                   rejects, quarantine, once, warm=path is None)


def _watch(rec: Recommender, folder: Path, state: Path, interval: float, rejects: Path | None,
           quarantine: Path | None, once: bool, warm: bool) -> None:
    from kgrec.workflows import watch_folder

    if warm:  # else the file above already paid the first-call costs
        typer.echo(f"warmed up in {rec.warm_up():.1f}s")
    if not once:
        typer.echo(f"watching {folder} every {interval:g}s (state {state}); Ctrl-C stops")
    try:
        watch_folder(rec, folder, state, interval=interval, rejects_dir=rejects,
                     quarantine_dir=quarantine, max_rounds=1 if once else None,
                     on_file=lambda p, s: print_ingest_summary(s, f"Ingested {p}"),
                     on_quarantine=lambda p, q: typer.echo(
                         f"Quarantined {p} (see {q.name}.reason.txt in {q.parent})"))
    except KeyboardInterrupt:
        typer.echo("stopped")


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
