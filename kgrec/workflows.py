"""Workflows that span ingest and the facade: file ingestion and a polling watcher."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgrec.recommender import Recommender
from kgrec.results import IngestSummary

if TYPE_CHECKING:
    import neo4j

    from gnn.trained import TrainedModel
    from kg.snapshot import GraphSnapshot
    from kgrec.settings import Settings

__all__ = ["ingest_file", "train_from_graph", "watch_folder"]

logger = logging.getLogger(__name__)


def ingest_file(rec: Recommender, path: Path, *, rejects_path: Path | None = None,
                batch_size: int = 1_000) -> IngestSummary:
    """Validate ``path`` (``.jsonl`` or ``.csv`` items, see :mod:`ingest.catalog`) and add
    its items with :meth:`Recommender.add_items`; bad records are skipped and logged.

    Raises:
        IngestError: the file is missing or has a bad header.
    """
    from ingest.catalog import iter_items
    from ingest.validation import RejectLog

    with RejectLog(rejects_path) as log:
        summary = rec.add_items(iter_items(path, on_error="skip", rejects=log),
                                batch_size=batch_size)
        reasons = tuple(e["reason"] for e in log.entries) if rejects_path is None else ()
        return IngestSummary(summary.added, summary.updated, summary.unchanged,
                             summary.rejected + log.count, summary.reasons + reasons,
                             summary.seconds)


def _load_state(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
        return {str(k): float(v) for k, v in data.get("processed", {}).items()}
    except (OSError, ValueError):
        return {}


def watch_folder(rec: Recommender, folder: Path, state_path: Path, *, interval: float = 5.0,
                 rejects_dir: Path | None = None,
                 on_file: Callable[[Path, IngestSummary], None] | None = None,
                 max_rounds: int | None = None) -> int:
    """Poll ``folder`` for ``*.jsonl`` files and ingest each new (or modified) one once.

    Processed files and their mtimes are kept in ``state_path`` (JSON), so a restart
    does not ingest them again. Runs until interrupted (or ``max_rounds`` polls).

    Returns:
        Number of files processed.
    """
    state = _load_state(state_path)
    done = 0
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        for path in sorted(folder.glob("*.jsonl")):
            key = str(path.resolve())
            mtime = path.stat().st_mtime
            if state.get(key) == mtime:
                continue
            rejects = rejects_dir / f"{path.stem}.rejects.jsonl" if rejects_dir else None
            summary = ingest_file(rec, path, rejects_path=rejects)
            state[key] = mtime
            state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"processed": state}, indent=1))
            tmp.replace(state_path)
            done += 1
            logger.info("ingested %s: %s", path, summary)
            if on_file is not None:
                on_file(path, summary)
        if max_rounds is not None and rounds >= max_rounds:
            break
        time.sleep(interval)
    return done


def train_from_graph(settings: Settings, driver: neo4j.Driver, *,
                     max_epochs: int | None = None, device: str | None = None,
                     show_progress: bool | None = None, out: Path | None = None,
                     write: bool = True) -> TrainedModel:
    """Export → encode → train (early-stopped on a 10 % split, then refit on all) →
    checkpoint → write back → catch up → point ``latest`` at it; what ``kgrec train`` runs.

    The order keeps the previous model fully in force until the new one is complete: the
    checkpoint is written under a new version (atomically), its embeddings go to Neo4j,
    items changed since the export are embedded by the new model (so serving processes
    that switch find them ready), and only then does ``latest`` move.

    Args:
        settings, driver: the configuration and an open Neo4j driver.
        max_epochs: epoch cap (early stopping decides below it).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``; default ``KGREC_DEVICE``.
        show_progress: progress bars.
        out: checkpoint folder instead of a new version under ``models_dir`` (it does not
            become ``latest``).
        write: write the embeddings back to Neo4j.

    Returns:
        The :class:`gnn.trained.TrainedModel` (version set; ``info`` adds the validation
        ``history``, ``checkpoint`` folder and ``written`` counts).
    """
    from dataclasses import replace

    from gnn.checkpoint import save_checkpoint
    from gnn.config import KGRecConfig, TrainConfig
    from gnn.curves import plot_history
    from gnn.features import node_features
    from gnn.model_store import ModelStore, new_version
    from gnn.train import refit, train_model
    from kg.export import export_snapshot
    from kgrec.publish import publish_model
    from llm_bridge import FeatureStore, TextEncoder

    database = settings.neo4j.database
    config = KGRecConfig(train=TrainConfig(seed=settings.seed,
                                           device=device or settings.train.device))
    if max_epochs is not None:
        config = config.with_overrides(max_epochs=max_epochs)
    snapshot = export_snapshot(driver, database, show_progress=show_progress)
    encoder = TextEncoder(settings.encoder)
    store = FeatureStore(settings.features_dir, encoder)
    features = node_features(snapshot, store, show_progress=show_progress)
    fit, valid = _validation_split(snapshot, settings.seed)
    result = train_model(fit, features, config, valid, show_progress,
                         encoder_fingerprint=encoder.fingerprint)
    final = refit(result, snapshot, features, show_progress,
                  encoder_fingerprint=encoder.fingerprint)
    models = ModelStore(settings.models_dir)
    version = new_version()
    folder = Path(out) if out is not None else models.root / version
    trained = replace(final.trained, version=version, info={
        **final.trained.info, "history": result.history, "best_epoch": result.best_epoch,
        "seconds": result.seconds + final.seconds, "checkpoint": str(folder),
        "best_val_ndcg": max(result.history["val_ndcg"], default=None)})
    save_checkpoint(folder, trained)
    plot_history(result.history, str(folder / "curves.png"))
    written = {"items": 0, "users": 0}
    if write:
        written = publish_model(settings, driver, trained, store, show_progress=show_progress,
                                make_latest=out is None)
    elif out is None:
        models.use(version)
    return replace(trained, info={**trained.info, "written": written})


def _validation_split(snapshot: GraphSnapshot, seed: int) -> tuple[GraphSnapshot, np.ndarray]:
    """``(fit snapshot, validation pairs)``: 10% of each user's items, the protocol's
    carving (seed + 1)."""
    from gnn.split import FIT_FRACTION, split_pairs

    index = snapshot.interaction_index
    order = np.lexsort((index[1], index[0]))
    fit_mask, valid_mask = split_pairs(index[:, order], seed + 1, FIT_FRACTION)
    keep = np.zeros(snapshot.num_interactions, dtype=bool)
    keep[order[fit_mask]] = True
    return snapshot.with_interactions(keep), index[:, order[valid_mask]]
