"""Write trained embeddings back to Neo4j (through ``kg``) and ensure the vector index."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from gnn.trained import TrainedModel
from kgrec.errors import TrainingError
from kgrec.faults import crash_point

__all__ = ["write_back"]

logger = logging.getLogger(__name__)


def write_back(driver: Any, trained: TrainedModel, database: str = "neo4j",
               show_progress: bool | None = None) -> dict[str, int]:
    """Store item and user embeddings as node properties (items with the hash of the
    content each was trained on) and create the vector index.

    Args:
        driver: a connected ``neo4j.Driver`` (from :func:`kg.connection.connect`).
        trained: the model; ``trained.version`` becomes ``embeddingVersion``.
        database: target database.
        show_progress: progress bars of the batched writes.

    Returns:
        ``{"items": n, "users": n}`` nodes updated.

    Raises:
        TrainingError: an embedding is NaN/inf, or the model has no version.
    """
    from kg.embeddings import write_embeddings
    from kg.indexes import ensure_vector_index

    if not trained.version:
        raise TrainingError("write_back: the model has no version (save it with a version "
                            "first, e.g. by `kgrec train`)")
    for name, arr in (("item", trained.item_emb), ("user", trained.user_emb)):
        if not np.isfinite(arr).all():
            raise TrainingError(f"write_back: {name} embeddings contain NaN or inf; "
                                f"refusing to write model {trained.version!r}")
    ensure_vector_index(driver, trained.dim, database=database)
    graph = trained.graph
    hashes = [graph.item_hash(row) for row in range(trained.num_items)]
    # items or users deleted since the export are skipped: they left the catalog
    n_items = write_embeddings(driver, "Item", graph.item_ids, trained.item_emb,
                               trained.version, database=database, show_progress=show_progress,
                               content_hashes=hashes, skip_missing=True)
    crash_point("write_back.after_items")
    n_users = write_embeddings(driver, "User", graph.user_ids, trained.user_emb,
                               trained.version, database=database, show_progress=show_progress,
                               skip_missing=True)
    logger.info("wrote %d item and %d user embeddings (model %s)", n_items, n_users,
                trained.version)
    return {"items": n_items, "users": n_users}
