"""Catalog writes of the facade: items and interactions that count at once.

Both write Neo4j first, then fold what Neo4j now holds into the serving state through
the same path a refresh takes (:class:`kgrec.sync.StateSync`), so the process that wrote
and every process that refreshes later serve the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from gnn.infer import embed_new_items
from kg.changes import StoredItem, read_items, read_users
from kg.embeddings import ItemEmbedding, write_embeddings, write_item_embeddings_if_unchanged
from kg.records import InteractionRecord, ItemRecord, attributes_by_kind, content_hash
from kg.writer import GraphWriter
from kgrec.errors import RecordError
from kgrec.faults import crash_point, pause_point
from kgrec.results import IngestSummary
from kgrec.state import ServingState
from kgrec.sync import StateSync

__all__ = ["write_interactions", "write_items"]

logger = logging.getLogger(__name__)


def _served(state: ServingState, st: StoredItem, digest: str) -> bool:
    """Whether the state already serves ``st``'s content ``digest`` with an embedding
    that was computed from it."""
    row = state.catalog.row_of(st.id)
    if row is None or state.catalog.deleted[row]:
        return False
    if row < state.model.num_items and state.model.graph.item_hash(row) == digest \
            and row not in state.catalog.overlay:
        return True
    return st.content_hash == digest and st.version == state.model.version


def write_items(sync: StateSync, state: ServingState, items: Sequence[ItemRecord]
                ) -> tuple[IngestSummary, ServingState]:
    """MERGE ``items`` (their text and attributes), embed the new and changed ones by the
    model's inductive rule, store the embeddings (compare-and-set on the content), and
    return the summary and the state that serves them.

    An item re-sent with the content its stored embedding was computed from is
    ``unchanged``; one whose stored embedding is stale (a crash between the text and
    the embedding write, say) is re-embedded and counted as ``updated``.

    Raises:
        WriteError, GraphError: Neo4j failed.
        EncoderError: the text encoder failed.
    """
    driver, db, model = sync.driver, sync.database, state.model
    stored = read_items(driver, [i.id for i in items], db)
    digests = {i.id: content_hash(i.title, i.description, i.attribute_ids()) for i in items}
    changed = [i for i in items if i.id not in stored or content_hash(
        stored[i.id].title, stored[i.id].description, stored[i.id].attribute_ids) != digests[i.id]]
    redo = {i.id for i in changed} | {i.id for i in items if i.id in stored
                                      and not _served(state, stored[i.id], digests[i.id])}
    todo = [i for i in items if i.id in redo]
    if changed:
        GraphWriter(driver, db, show_progress=False).write_items(changed)
        crash_point("add_items.after_text")
    if todo:
        from llm_bridge.text import item_text

        x = sync.features.items([item_text(i.title, i.description,
                                           attributes_by_kind(i.attribute_ids()))
                                 for i in todo])
        users = [stored[i.id].users if i.id in stored else () for i in todo]
        emb = embed_new_items(model, x, [i.attribute_ids() for i in todo], users)
        rows = [ItemEmbedding(i, emb[k], digests[i.id], x[k]) for k, i in enumerate(todo)]
        pause_point("add_items.before_embedding")
        written = write_item_embeddings_if_unchanged(driver, rows, model.version or
                                                     "unversioned", db)
        state = _apply_written(sync, state, rows, stored, written)
    added = sum(i.id not in stored for i in todo)
    summary = IngestSummary(added, len(todo) - added, len(items) - len(todo))
    logger.info("add_items: %d added, %d updated, %d unchanged", summary.added,
                summary.updated, summary.unchanged)
    return summary, state


def _apply_written(sync: StateSync, state: ServingState, rows: Sequence[ItemEmbedding],
                   stored: dict[str, StoredItem], written: set[str]) -> ServingState:
    """Fold the written items in as stored; re-read the ones a concurrent writer changed
    meanwhile (their current content is embedded by the sync)."""
    version = state.model.version or "unversioned"
    mine = []
    for r in rows:
        if r.item.id not in written:
            continue
        old = stored.get(r.item.id)
        mine.append(StoredItem(r.item.id, r.item.title, r.item.description,
                               tuple(sorted(r.item.attribute_ids())), r.content_hash,
                               np.asarray(r.embedding, np.float32), version, r.text_feature,
                               old.hidden if old is not None else False, None,
                               old.users if old is not None else ()))
    lost = [r.item.id for r in rows if r.item.id not in written]
    if lost:
        mine += list(read_items(sync.driver, lost, sync.database).values())
    return sync.apply_items(state, mine)


def write_interactions(sync: StateSync, state: ServingState,
                       records: Sequence[InteractionRecord]) -> tuple[int, ServingState]:
    """MERGE interactions (unknown users are created), fold their users in from what Neo4j
    now holds, and store the users' embeddings (for the ``user_embedding`` index).

    Returns:
        ``(relationships written, new state)``.

    Raises:
        RecordError: a record names an item the catalog does not serve.
        WriteError: Neo4j failed.
    """
    catalog = state.catalog
    for r in records:
        row = catalog.row_of(r.item_id)
        if row is None or catalog.deleted[row]:
            where = str(r.source) if r.source is not None else "interaction"
            raise RecordError(f"{where}: field 'item_id' refers to unknown item "
                              f"{r.item_id!r}", field="item_id")
    written = GraphWriter(sync.driver, sync.database, show_progress=False) \
        .write_interactions(records)
    crash_point("add_interactions.after_edges")
    ids = list(dict.fromkeys(r.user_id for r in records))
    state = sync.apply_users(state, list(read_users(sync.driver, ids, sync.database).values()))
    folded = [(u, s.vector) for u in ids if (s := state.users.get(u)) is not None
              and s.vector is not None]
    if folded:
        write_embeddings(sync.driver, "User", [u for u, _ in folded],
                         np.stack([v for _, v in folded]), state.model.version or "unversioned",
                         sync.database, show_progress=False)
    return written, replace(state, version=state.version + 1)
