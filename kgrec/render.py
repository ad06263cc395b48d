"""How the CLI and the demo show results: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from kgrec.explain import Explanation
    from kgrec.recommender import Recommender
    from kgrec.results import IngestSummary, Recommendations

__all__ = ["print_explanation", "print_ingest_summary", "print_recommendations"]


def _title(rec: Recommender, item_id: str) -> str:
    catalog = rec.state.catalog
    row = catalog.row_of(item_id)
    return catalog.title(row) if row is not None else ""


def print_recommendations(rec: Recommender, recs: Recommendations, title: str,
                          as_json: bool = False) -> None:
    """A table of ranked items with their titles (or JSON)."""
    from rich.console import Console
    from rich.table import Table

    if as_json:
        typer.echo(json.dumps(recs.to_dict(), indent=2, ensure_ascii=False))
        return
    if recs.fallback:
        title += f" (fallback: {recs.fallback})"
    table = Table(title=title)
    for col in ("#", "item", "title", "score"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for n, r in enumerate(recs, 1):
        table.add_row(str(n), r.item_id, r.title, f"{r.score:.4f}")
    Console().print(table)


def print_explanation(rec: Recommender, e: Explanation) -> None:
    """A table of an explanation's paths, then the Cypher of each for Neo4j Browser."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Why {e.item_id} ({_title(rec, e.item_id)}) for {e.user_id} — score "
                        f"{e.score:.4f}, {100 * e.explained:.0f}% of it through these paths")
    for col in ("#", "kind", "contribution", "reason"):
        table.add_column(col)
    for n, p in enumerate(e.paths, 1):
        table.add_row(str(n), p.kind, f"{p.contribution:+.4f}", p.reason)
    console.print(table)
    if e.parts:
        console.print("score = " + " + ".join(f"{k} {v:+.4f}" for k, v in e.parts.items()),
                      markup=False)
    if not e.paths:
        console.print("No path of the user's items or profile leads to this item.")
    for n, p in enumerate(e.paths, 1):
        console.print(f"[bold]Path {n} in Neo4j Browser[/bold] (set the parameters first):")
        console.print(f":params {json.dumps(p.parameters, ensure_ascii=False)}", markup=False)
        console.print(p.cypher, markup=False)


def print_ingest_summary(summary: IngestSummary, title: str) -> None:
    """A table of an ingest summary and its reject reasons."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("added", "updated", "unchanged", "rejected", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(str(summary.added), str(summary.updated), str(summary.unchanged),
                  str(summary.rejected), f"{summary.seconds:.2f}")
    console = Console()
    console.print(table)
    for reason in summary.reasons[:20]:
        console.print(f"rejected: {reason}", markup=False)
