"""``kgrec evaluate``: kgrec and the baselines on the protocol of ``EVALUATION.md``.

Registers its command on :data:`kgrec.cli.app` on import. Heavy imports happen inside
the command so that ``kgrec --help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from kgrec.cli import JsonOpt, app, echo_json
from kgrec.errors import ConfigError
from kgrec.settings import Settings

__all__ = ["evaluate_command", "parse_list"]

logger = logging.getLogger(__name__)


def parse_list(text: str, what: str, cast: type = str) -> list:  # type: ignore[type-arg]
    """Split ``"a,b, c"``; ``cast`` each part.

    Raises:
        ConfigError: an empty list or a part that ``cast`` rejects, naming ``what``.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        out = [cast(p) for p in parts]
    except ValueError:
        raise ConfigError(f"{what}: expected a comma-separated list of {cast.__name__}, "
                          f"got {text!r}") from None
    if not out:
        raise ConfigError(f"{what}: empty list")
    return out


@app.command("evaluate")
def evaluate_command(
    dataset: Annotated[str, typer.Option(
        "--dataset", help="Catalog folder, movielens:PATH or synthetic:USERS,ITEMS[,SEED].")],
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file for the results.")],
    protocol: Annotated[str, typer.Option(help="Protocols among w,c,l,h.")] = "w,c,l",
    seeds: Annotated[str, typer.Option(help="Split seeds, e.g. 2026,2027,2028.")] = "2026",
    k: Annotated[int, typer.Option("--k", help="Cutoff shown in the table.")] = 20,
    models: Annotated[str | None, typer.Option(
        help="Only these models, e.g. EASE,kgrec (default: all of each protocol).")] = None,
    attribute_kinds: Annotated[str | None, typer.Option(
        help="Keep only these item attribute kinds, e.g. genre (an ablation of the graph).")
    ] = None,
    fast: Annotated[bool, typer.Option(help="Skip the slow baselines (ALS, LightGCN).")] = False,
    plot: Annotated[Path | None, typer.Option(help="Also write a PNG bar chart.")] = None,
    device: Annotated[str | None, typer.Option(
        help="cpu or cuda (default: KGREC_DEVICE, auto = cuda when available).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate every model on the same splits; print a Markdown table (with --json, the
    rows as a JSON list), write JSON lines."""
    from gnn.evaluate import evaluate, format_table, plot_results, write_jsonl
    from ingest import read_dataset

    settings = Settings.from_env()
    ks = sorted({10, 20, 50, k})
    dev = device or settings.train.device
    if dev == "auto":
        import torch

        dev = "cuda" if torch.cuda.is_available() else "cpu"
    data = read_dataset(dataset)
    if attribute_kinds:
        data = data.with_item_kinds(parse_list(attribute_kinds, "--attribute-kinds"))
    snapshot = data.to_snapshot()
    rows = evaluate(
        snapshot, dataset=data.name, protocols=parse_list(protocol.lower(), "--protocol"),
        seeds=parse_list(seeds, "--seeds", int), ks=ks,
        models=parse_list(models, "--models") if models else None, fast=fast,
        settings=settings, device=dev)
    write_jsonl(rows, out)
    if as_json:
        echo_json([r.as_dict() for r in rows])
    else:
        typer.echo(format_table(rows, k=k))
    if plot is not None:
        plot_results(rows, plot, k=k)
    logger.info("wrote %d rows to %s", len(rows), out)
