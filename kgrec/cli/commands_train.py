"""``kgrec train``: export the graph, encode texts, train the GNN, save, write back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgrec.cli import JsonOpt, app, echo_json
from kgrec.settings import Settings

__all__ = ["train"]


@app.command("train")
def train(
    epochs: Annotated[int | None, typer.Option(help="Max epochs (early stopping on a 10% "
                                                    "validation split decides).")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N or auto "
                                                    "(default: KGREC_DEVICE).")] = None,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (default: "
                                                  "<KGREC_HOME>/models/<version>).")] = None,
    write: Annotated[bool, typer.Option(help="Write embeddings back to Neo4j.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Train kgrec on the graph in Neo4j and write the embeddings back."""
    from kg.connection import connect
    from kgrec.workflows import train_from_graph

    settings = Settings.from_env()
    driver = connect(settings)
    try:
        trained = train_from_graph(settings, driver, max_epochs=epochs, device=device,
                                   out=out, write=write)
    finally:
        driver.close()
    info = trained.info
    if as_json:
        echo_json({"version": trained.version, "users": trained.num_users,
                   "items": trained.num_items, "attributes": trained.num_attributes,
                   "best_epoch": info["best_epoch"], "best_val_ndcg": info["best_val_ndcg"],
                   "seconds": info["seconds"], "device": info["device"],
                   "checkpoint": str(info["checkpoint"]), "written": info["written"]})
        return
    typer.echo(f"model {trained.version}: {trained.num_users} users, "
               f"{trained.num_items} items, {trained.num_attributes} attributes")
    typer.echo(f"best epoch {info['best_epoch']}, validation NDCG@20 "
               f"{info['best_val_ndcg']:.4f}, {info['seconds']:.1f}s on {info['device']}")
    typer.echo(f"checkpoint {info['checkpoint']}; wrote {info['written']['items']} item and "
               f"{info['written']['users']} user embeddings")
