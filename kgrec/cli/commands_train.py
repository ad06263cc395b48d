"""``kgrec train``: export the graph, encode texts, train the GNN, save, write back."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from kgrec.cli import app
from kgrec.settings import Settings

__all__ = ["train"]

logger = logging.getLogger(__name__)


@app.command("train")
def train(
    epochs: Annotated[int | None, typer.Option(help="Max epochs (early stopping on a 10% "
                                                    "validation split decides).")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N or auto "
                                                    "(default: KGREC_DEVICE).")] = None,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (default: "
                                                  "<KGREC_HOME>/models/<version>).")] = None,
    write: Annotated[bool, typer.Option(help="Write embeddings back to Neo4j.")] = True,
) -> None:
    """Train kgrec on the graph in Neo4j and write the embeddings back."""
    import numpy as np

    from gnn.checkpoint import save_checkpoint, write_latest_pointer
    from gnn.features import node_features
    from gnn.model import ModelConfig
    from gnn.split import FIT_FRACTION, split_pairs
    from gnn.train import plot_history, refit, train_model
    from gnn.writeback import write_back
    from kg.connection import connect
    from kg.export import export_snapshot
    from llm_bridge import FeatureStore, TextEncoder

    settings = Settings.from_env()
    config = ModelConfig(seed=settings.seed, device=device or settings.train.device)
    if epochs is not None:
        config = replace(config, max_epochs=epochs)
    driver = connect(settings)
    try:
        database = settings.neo4j.database
        snapshot = export_snapshot(driver, database)
        encoder = TextEncoder(settings.encoder)
        features = node_features(snapshot, FeatureStore(settings.features_dir, encoder))
        # validation: 10% of each user's items, the protocol's carving (seed + 1)
        index = snapshot.interaction_index
        order = np.lexsort((index[1], index[0]))
        fit_mask, valid_mask = split_pairs(index[:, order], settings.seed + 1, FIT_FRACTION)
        keep = np.zeros(snapshot.num_interactions, dtype=bool)
        keep[order[fit_mask]] = True
        valid = index[:, order[valid_mask]]
        result = train_model(snapshot.with_interactions(keep), features, config, valid,
                             encoder_fingerprint=encoder.fingerprint)
        # refit on all interactions, from the early-stopped weights
        t0 = time.perf_counter()
        final = refit(result, snapshot, features, encoder_fingerprint=encoder.fingerprint)
        trained = final.trained
        version = time.strftime("kgrec-%Y%m%dT%H%M%S", time.gmtime())
        trained.version = version
        trained.info = {**trained.info, "history": result.history,
                        "best_epoch": result.best_epoch,
                        "seconds": result.seconds + time.perf_counter() - t0,
                        "best_val_ndcg": max(result.history["val_ndcg"], default=None)}
        folder = out or settings.models_dir / version
        save_checkpoint(folder, trained)
        if out is None:
            write_latest_pointer(settings.models_dir, version)
        plot_history(result.history, str(Path(folder) / "curves.png"))
        written = write_back(driver, trained, database) if write else {"items": 0, "users": 0}
    finally:
        driver.close()
    typer.echo(f"model {version}: {snapshot.num_users} users, {snapshot.num_items} items, "
               f"{snapshot.num_attributes} attributes, {snapshot.num_interactions} interactions")
    typer.echo(f"best epoch {result.best_epoch}, validation NDCG@20 "
               f"{trained.info['best_val_ndcg']:.4f}, {trained.info['seconds']:.1f}s on "
               f"{final.device}")
    typer.echo(f"checkpoint {folder}; wrote {written['items']} item and {written['users']} "
               f"user embeddings")
