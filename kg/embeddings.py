"""Write node embeddings back to Neo4j, read them, and query the vector index.

Embeddings are stored as ``embedding`` (list of float) plus ``embeddingVersion``
(the model version string) on ``Item`` or ``User`` nodes, keyed by business id.
``Item.embedding`` is served by the cosine vector index ``item_embedding``
(create it with :func:`kg.indexes.ensure_vector_index`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import neo4j
import numpy as np
from neo4j.exceptions import DriverError, Neo4jError
from tqdm.auto import tqdm

from kg import queries as q
from kg.connection import graph_error
from kg.records import ItemRecord
from kg.schema import ITEM, ITEM_EMBEDDING_INDEX, USER
from kgrec.errors import GraphError, NotFoundError, SchemaError, TrainingError, WriteError

__all__ = ["ItemEmbedding", "query_similar_items", "read_embeddings", "set_item_embeddings_tx",
           "write_embeddings", "write_item_embeddings_if_unchanged"]

logger = logging.getLogger(__name__)

NodeLabel = Literal["Item", "User"]


def _label(label: str) -> Literal["Item", "User"]:
    if label == ITEM:
        return "Item"
    if label == USER:
        return "User"
    raise SchemaError(f"embedding label must be one of 'Item', 'User'; got {label!r}")


@dataclass(frozen=True, eq=False)
class ItemEmbedding:
    """An item embedded after training, as :func:`write_item_embeddings_if_unchanged`
    writes it.

    Attributes:
        item: the content the embedding was computed from.
        embedding: ``float [dim]``.
        content_hash: :func:`kg.records.content_hash` of ``item``.
        text_feature: ``float [D]`` the item's text features (serving processes rebuild
            its item–item term from them without a text encoder), or None.
    """

    item: ItemRecord
    embedding: np.ndarray
    content_hash: str
    text_feature: np.ndarray | None = None

    def row(self) -> dict[str, object]:
        """The query row of :data:`kg.queries.SET_ITEM_EMBEDDING_IF_UNCHANGED`."""
        i = self.item
        feature = None if self.text_feature is None else \
            np.asarray(self.text_feature, np.float64).tolist()
        return {"id": i.id, "embedding": np.asarray(self.embedding, np.float64).tolist(),
                "hash": self.content_hash, "feature": feature, "title": i.title,
                "description": i.description, "attributes": sorted(i.attribute_ids())}


def set_item_embeddings_tx(tx: neo4j.ManagedTransaction, rows: list[dict[str, object]],
                           model_version: str) -> set[str]:
    """Transaction function of :func:`write_item_embeddings_if_unchanged`."""
    result = tx.run(q.SET_ITEM_EMBEDDING_IF_UNCHANGED, rows=rows, version=model_version)
    return {r["id"] for r in result}


def write_item_embeddings_if_unchanged(driver: neo4j.Driver, items: Sequence[ItemEmbedding],
                                       model_version: str, database: str = "neo4j"
                                       ) -> set[str]:
    """Store the embeddings of items embedded after training (with their content hash
    and text features, stamping ``changedAt``), each only if the item's stored title,
    description and attributes are still the ones it was computed from.

    Returns:
        The ids written; an item left out changed meanwhile (its new content is
        embedded by whoever changed it, or by the next refresh).

    Raises:
        TrainingError: an embedding is not finite.
        WriteError: Neo4j failed (nothing was written).
    """
    for it in items:
        if not np.isfinite(it.embedding).all():
            raise TrainingError(f"item {it.item.id!r}: embedding contains NaN or inf")
    if not items:
        return set()
    try:
        with driver.session(database=database) as session:
            return session.execute_write(set_item_embeddings_tx, [it.row() for it in items],
                                         model_version)
    except (Neo4jError, DriverError) as e:
        raise WriteError(f"writing {len(items)} item embeddings failed: {e}") from e


def _set_embeddings_tx(tx: neo4j.ManagedTransaction, label: NodeLabel,
                       rows: list[list[object]], model_version: str, skip_missing: bool
                       ) -> None:
    """Set ``embedding``/``embeddingVersion`` from ``[id, vector]`` rows (items:
    ``[id, vector, content hash]``); an unknown id raises :class:`NotFoundError` (and the
    transaction rolls back) unless ``skip_missing``."""
    ids = [r[0] for r in rows]
    missing = [] if skip_missing else \
        tx.run(q.MISSING_NODES[label], ids=ids).single(strict=True)["missing"]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        raise NotFoundError(f"{label} embeddings: {len(missing)} unknown {label.lower()} "
                            f"id(s): {shown}")
    query = q.SET_ITEM_EMBEDDINGS_AND_HASHES if len(rows[0]) == 3 else q.SET_EMBEDDINGS[label]
    tx.run(query, rows=rows, version=model_version).consume()


def write_embeddings(driver: neo4j.Driver, label: NodeLabel, ids: Sequence[str],
                     vectors: np.ndarray, model_version: str, database: str = "neo4j",
                     batch_size: int = 5_000, show_progress: bool | None = None,
                     content_hashes: Sequence[str] | None = None,
                     skip_missing: bool = False) -> int:
    """Set ``embedding`` and ``embeddingVersion`` on existing nodes.

    Args:
        driver: connected driver.
        label: ``"Item"`` or ``"User"``.
        ids: business keys, one per row of ``vectors``.
        vectors: ``float [N, D]``, finite.
        model_version: stored as ``embeddingVersion``.
        database: target database.
        batch_size: nodes per transaction.
        show_progress: progress bar; ``None`` = on when this logger is at INFO or below.
        content_hashes: items only: ``contentHash`` per row, set with the embedding (so
            a stored hash always names the content its embedding was computed from).
        skip_missing: ids without a node are skipped instead of raising.

    A bulk write-back of a trained model: it does not stamp ``changedAt`` (serving
    processes take a new model's embeddings from its checkpoint).

    Returns:
        Number of nodes updated.

    Raises:
        TrainingError: ``vectors`` contains NaN or inf, or its shape does not match ``ids``.
        NotFoundError: some id has no node (nothing of that batch is written).
        SchemaError: ``label`` is not ``Item``/``User``, or ``content_hashes`` is given
            for users or does not match ``ids``.
        WriteError: Neo4j failed.
    """
    lbl = _label(label)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(ids):
        raise TrainingError(f"{lbl} embeddings: expected shape [{len(ids)}, D], "
                            f"got {list(vectors.shape)}")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise TrainingError(f"{lbl} embeddings: {int((~finite).sum())} rows contain NaN or inf "
                            f"(first: row {bad}, id {ids[bad]!r}); refusing to write them")
    if content_hashes is not None and (lbl != ITEM or len(content_hashes) != len(ids)):
        raise SchemaError(f"{lbl} embeddings: content hashes are for items, one per id")
    progress = logger.isEnabledFor(logging.INFO) if show_progress is None else show_progress
    values = vectors.astype(np.float64).tolist()
    t0 = time.perf_counter()
    n = 0
    with driver.session(database=database) as session, \
            tqdm(total=len(ids), desc=f"writing {lbl} embeddings", unit="rows",
                 disable=not progress) as bar:
        for start in range(0, len(ids), batch_size):
            rows: list[list[object]] = [
                [ids[j], values[j]] + ([content_hashes[j]] if content_hashes is not None else [])
                for j in range(start, min(start + batch_size, len(ids)))]
            try:
                session.execute_write(_set_embeddings_tx, lbl, rows, model_version,
                                      skip_missing)
            except (Neo4jError, DriverError) as e:
                raise WriteError(f"writing {len(rows)} {lbl} embedding rows failed: {e}") from e
            n += len(rows)
            bar.update(len(rows))
    logger.info("wrote %d %s embeddings (version %s) in %.1fs", n, lbl, model_version,
                time.perf_counter() - t0)
    return n


def read_embeddings(driver: neo4j.Driver, label: NodeLabel,
                    database: str = "neo4j") -> tuple[list[str], np.ndarray]:
    """All stored embeddings of ``label``.

    Returns:
        ``(ids, vectors)``: ids in :func:`kg.snapshot.id_sort_key` order and
        ``float32 [N, D]`` (``[0, 0]`` when none are stored).

    Raises:
        GraphError: Neo4j failed, or the stored vectors have different lengths.
    """
    from kg.snapshot import id_sort_key

    lbl = _label(label)
    try:
        records = driver.execute_query(q.READ_EMBEDDINGS[lbl], database_=database,
                                       routing_=neo4j.RoutingControl.READ).records
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"reading {lbl} embeddings", e, driver) from e
    pairs = sorted(((r["id"], r["embedding"]) for r in records), key=lambda p: id_sort_key(p[0]))
    if not pairs:
        return [], np.zeros((0, 0), dtype=np.float32)
    dims = {len(v) for _, v in pairs}
    if len(dims) != 1:
        raise GraphError(f"{lbl} embeddings have mixed dimensions {sorted(dims)}; "
                         "write all of them with one model version")
    return [p[0] for p in pairs], np.asarray([p[1] for p in pairs], dtype=np.float32)


def query_similar_items(driver: neo4j.Driver, vector: Sequence[float] | np.ndarray, k: int,
                        database: str = "neo4j") -> list[tuple[str, float]]:
    """Nearest items by cosine similarity through the ``item_embedding`` vector index.

    Args:
        driver: connected driver.
        vector: query vector ``float [D]`` with the index's dimension.
        k: number of neighbours (>= 1).
        database: database name.

    Returns:
        ``[(item_id, score), ...]`` best first; Neo4j's cosine score is in ``[0, 1]``.

    Raises:
        TrainingError: ``vector`` is not finite.
        GraphError: the index is missing, or the dimension does not match.
    """
    vec = np.asarray(vector, dtype=np.float64).reshape(-1)
    if not np.isfinite(vec).all():
        raise TrainingError("query vector contains NaN or inf")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    try:
        records = driver.execute_query(q.QUERY_SIMILAR_ITEMS, index=ITEM_EMBEDDING_INDEX, k=k,
                                       vector=vec.tolist(), database_=database,
                                       routing_=neo4j.RoutingControl.READ).records
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"vector query on index {ITEM_EMBEDDING_INDEX!r}", e, driver) from e
    return [(str(r["id"]), float(r["score"])) for r in records]
