"""Publishing a trained model: its embeddings into Neo4j, then the ``latest`` pointer.

The order keeps the previous model fully in force until the new one is complete: the
checkpoint already exists (written atomically under its version); its item and user
embeddings go to Neo4j, items written since its export are embedded by it (so serving
processes that switch find them ready), and only then does ``latest`` move. A crash
anywhere before the move leaves ``latest`` on the previous model; Neo4j may then hold a
mix of both models' embeddings, which ``kgrec models use VERSION`` (this module's
:func:`publish_model` on the stored checkpoint) re-writes completely.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kgrec.faults import crash_point

if TYPE_CHECKING:
    import neo4j

    from gnn.trained import TrainedModel
    from kgrec.settings import Settings
    from llm_bridge import FeatureStore

__all__ = ["publish_model", "use_model"]


def publish_model(settings: Settings, driver: neo4j.Driver, trained: TrainedModel,
                  store: FeatureStore, *, show_progress: bool | None = None,
                  make_latest: bool = True) -> dict[str, int]:
    """Write ``trained``'s embeddings (and the vector indexes), embed the items added since
    its export, then point ``latest`` at it (unless ``make_latest`` is false).

    Returns:
        ``{"items": n, "users": n}`` embeddings written.
    """
    from gnn.model_store import ModelStore
    from gnn.writeback import write_back
    from kg.indexes import ensure_user_vector_index

    database = settings.neo4j.database
    written = write_back(driver, trained, database, show_progress=show_progress)
    ensure_user_vector_index(driver, trained.dim, database)
    _catch_up(driver, database, trained, store)
    crash_point("publish.before_latest")
    if make_latest and trained.version:
        ModelStore(settings.models_dir).use(trained.version)
    return written


def use_model(settings: Settings, driver: neo4j.Driver, version: str, *,
              show_progress: bool | None = None) -> dict[str, int]:
    """Serve the stored model ``version``: re-write all its embeddings, then move ``latest``
    (what ``kgrec models use`` runs; also the repair after a crash mid-publish).

    Raises:
        NotFoundError: no such version.
    """
    from gnn.model_store import ModelStore
    from llm_bridge import FeatureStore, TextEncoder

    trained = ModelStore(settings.models_dir).load(version)
    store = FeatureStore(settings.features_dir, TextEncoder(settings.encoder))
    return publish_model(settings, driver, trained, store, show_progress=show_progress)


def _catch_up(driver: neo4j.Driver, database: str, trained: TrainedModel,
              store: FeatureStore) -> None:
    """Embed (and store) with ``trained`` the items written since its export."""
    from kgrec.state import ServingState
    from kgrec.sync import StateSync, TextFeatures

    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(store.encode(texts, show_progress=False)[0], np.float32)

    StateSync(driver, database, TextFeatures(encode, encode)).load(
        ServingState.of_model(trained))
