"""Catalog growth for :class:`kgrec.Recommender`: ``add_items`` and ``add_interactions``.

The write path of the facade, kept apart from its read path (recommend, similar
items, explain): validate → MERGE into Neo4j → encode → embed inductively
(:mod:`gnn.infer`) → write the embedding back → update the in-memory index, so a new
item or a user's new interactions count at once, with no retraining.
``Recommender`` inherits these methods; they use its state (driver, index, model).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import scipy.sparse as sp

from kg.records import attributes_by_kind
from kgrec.errors import RecordError, RequestError
from kgrec.records import content_hash, to_interaction_record, to_item_record
from kgrec.results import IngestSummary, InteractionSummary

if TYPE_CHECKING:
    import neo4j

    from gnn.trained import TrainedModel
    from ingest.validation import RejectLog
    from kg.records import InteractionRecord, ItemRecord
    from kg.snapshot import GraphSnapshot
    from kgrec.index import ItemIndex

__all__ = ["CatalogGrowth"]

logger = logging.getLogger(__name__)


class _Host(Protocol):
    """What the methods below use of :class:`kgrec.Recommender`."""

    driver: neo4j.Driver
    database: str
    trained: TrainedModel
    items: ItemIndex
    titles: dict[str, str]
    _n_model: int
    _index_ready: bool
    _hidden_rows: np.ndarray
    _seen: dict[str, set[int]]
    _users_of: dict[int, set[str]]
    _graph_users: set[str]
    _model_user_index: dict[str, int]
    _user_override: dict[str, np.ndarray]
    _cold_cache: dict[str, np.ndarray]
    _new_content: dict[int, np.ndarray]
    _new_content_stack: tuple[np.ndarray, np.ndarray] | None

    def _encode(self, texts: Sequence[str], kind: str = ...) -> np.ndarray: ...

    def _fold_in(self, user_ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def _add_batch(self, items: list[ItemRecord]) -> IngestSummary: ...

    def _place(self, ids: Sequence[str], emb: np.ndarray, attrs: Sequence[Sequence[str]],
               text: np.ndarray | None) -> list[int]: ...


class CatalogGrowth:
    """``add_items`` / ``add_interactions``, mixed into :class:`kgrec.Recommender`."""

    _new_content_stack: tuple[np.ndarray, np.ndarray] | None

    def add_items(self: _Host, records: Iterable[Mapping[str, Any] | ItemRecord], *,
                  on_error: str = "fail", rejects: RejectLog | None = None,
                  batch_size: int = 1_000) -> IngestSummary:
        """Add or update catalog items and make them recommendable at once (no retraining).

        Each record (``{"id", "title", "description", "attributes"}`` as in
        ``items.jsonl``, or an :class:`kg.records.ItemRecord`) is validated, MERGEd into
        Neo4j with its attribute edges, encoded, embedded by the model's inductive rule
        from its text, attributes and any interacting users
        (:func:`gnn.infer.embed_new_items`), written back (``embedding``,
        ``embeddingVersion``, ``contentHash``; the vector index picks it up) and added to
        the in-memory index. An item re-sent with the same text and attributes is
        ``unchanged``: nothing is written or re-embedded. Attribute values the model has
        never seen get their nodes in Neo4j; the item's text still places it.

        Args:
            records: the items.
            on_error: ``"fail"`` raises on the first invalid record; ``"skip"`` counts
                it in ``rejected`` (and ``rejects``) and goes on.
            rejects: where skipped records are logged.
            batch_size: items per write/encode batch.

        Returns:
            :class:`IngestSummary` (added, updated, unchanged, rejected).

        Raises:
            RecordError: an invalid record (``on_error="fail"``), naming the field.
            WriteError, GraphError: Neo4j failed.

        Example:
            >>> rec.add_items([{"id": "new-1", "title": "Trail Tent",
            ...                 "description": "A lightweight waterproof tent.",
            ...                 "attributes": {"category": ["tents"]}}])   # doctest: +SKIP
            IngestSummary(added=1, updated=0, unchanged=0, rejected=0, ...)
        """
        if on_error not in ("fail", "skip"):
            raise RequestError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
        t0 = time.perf_counter()
        total = IngestSummary()
        batch: dict[str, ItemRecord] = {}
        reasons: list[str] = []
        for n, rec in enumerate(records, 1):
            try:
                item = to_item_record(rec, n)
            except RecordError as e:
                if on_error == "fail":
                    raise
                reasons.append(str(e))
                if rejects is not None:
                    rejects.add(e, repr(rec)[:2000])
                continue
            batch[item.id] = item  # the last version of a repeated id wins
            if len(batch) >= batch_size:
                total = total + self._add_batch(list(batch.values()))
                batch = {}
        if batch:
            total = total + self._add_batch(list(batch.values()))
        return IngestSummary(total.added, total.updated, total.unchanged, len(reasons),
                             tuple(reasons), time.perf_counter() - t0)

    def _add_batch(self: _Host, items: list[ItemRecord]) -> IngestSummary:
        from gnn.infer import embed_new_items
        from kg.embeddings import write_embeddings
        from kg.schema import ensure_vector_index
        from kg.serving import read_items
        from kg.writer import GraphWriter
        from llm_bridge import item_text

        stored = read_items(self.driver, [i.id for i in items], self.database)
        changed: list[ItemRecord] = []
        hashes: dict[str, str] = {}
        added = updated = unchanged = 0
        for item in items:
            h = content_hash(item.title, item.description, item.attribute_ids())
            st = stored.get(item.id)
            if st is not None:
                old = st.content_hash or content_hash(st.title, st.description, st.attribute_ids)
                if old == h and item.id in self.items.index:
                    unchanged += 1
                    continue
                updated += 1
            else:
                added += 1
            changed.append(item)
            hashes[item.id] = h
        if changed:
            GraphWriter(self.driver, self.database, show_progress=False).write_items(changed)
            # the text a retrain will encode from the graph (attributes in its order)
            x = self._encode([item_text(i.title, i.description,
                                        attributes_by_kind(i.attribute_ids()))
                              for i in changed])
            users = [list(stored[i.id].users) if i.id in stored else [] for i in changed]
            attrs = [i.attribute_ids() for i in changed]
            emb = embed_new_items(self.trained, x, attrs, users)
            if not self._index_ready:
                ensure_vector_index(self.driver, self.trained.dim, self.database)
                self._index_ready = True
            write_embeddings(self.driver, "Item", [i.id for i in changed], emb,
                             self.trained.version or "unversioned", self.database,
                             show_progress=False,
                             content_hashes=[hashes[i.id] for i in changed])
            rows = self._place([i.id for i in changed], emb, attrs, x)
            self.titles.update((i.id, i.title) for i in changed)
            self._hidden_rows = self._hidden_rows[~np.isin(self._hidden_rows, rows)]
        logger.info("add_items: %d added, %d updated, %d unchanged", added, updated, unchanged)
        return IngestSummary(added, updated, unchanged)

    def _place(self: _Host, ids: Sequence[str], emb: np.ndarray,
               attrs: Sequence[Sequence[str]], text: np.ndarray | None) -> list[int]:
        """Put embedded items into the serving state; returns their index rows.

        A trained item's row of the model is overwritten too (``TrainedModel.score``
        stays in step) and, when it had no ID embedding, its item–item column is
        predicted again from its content; an item added after training keeps its
        content row ``f_j`` for the term ``x_u W f_j``. ``text`` (the items' text
        features) is needed only when the model has content columns.
        """
        rows = self.items.upsert(ids, emb, attrs)
        tm = self.trained
        content = None
        if tm.content_map is not None and text is not None:
            content = tm.content_rows(text, attrs)
            self._new_content_stack = None
        for k, (row, vec) in enumerate(zip(rows, emb, strict=True)):
            if row < self._n_model:
                tm.item_emb[row] = vec
                if content is not None and tm.item_item is not None \
                        and not tm.item_has_id[row]:
                    tm.item_item[:, row] = tm.content_map @ content[k]
            elif content is not None:
                self._new_content[row] = content[k]
        return rows

    def _restore(self: _Host, snap: GraphSnapshot, graph_attrs: Mapping[str, list[str]]
                 ) -> None:
        """Bring back what ``add_items`` did in an earlier process: items added after
        training, and trained items re-embedded since, are served with their stored
        embeddings (and content rows) instead of being dropped or left at the
        checkpoint's vectors."""
        from kg.serving import items_updated_since, read_item_embeddings
        from llm_bridge import item_text

        tm = self.trained
        wanted = [i for i in snap.item_ids if i not in self.items.index]
        since = tm.info.get("graph_read_at")
        if since is not None and tm.version:  # the index holds the trained items so far
            wanted += [i for i in items_updated_since(self.driver, int(since), tm.version,
                                                      self.database) if i in self.items.index]
        if not wanted:
            return
        ids, emb = read_item_embeddings(self.driver, wanted, tm.version, self.database)
        missing = len(wanted) - len(ids)
        if missing:
            logger.warning("%d items in Neo4j have no embedding of model %s and are not "
                           "recommendable: re-send them with add_items/`kgrec ingest` or "
                           "retrain", missing, tm.version)
        if not ids:
            return
        # content rows only where they score: new items and trained items without ID
        # (a bulk re-load re-stamps the trained items it changed: no text to encode)
        index = self.items.index
        scored = np.asarray([tm.content_map is not None and
                             (i not in index or not tm.item_has_id[index[i]]) for i in ids])
        for part, encode in ((np.flatnonzero(~scored), False), (np.flatnonzero(scored), True)):
            if not part.size:
                continue
            sub = [ids[k] for k in part]
            attrs = [graph_attrs[i] for i in sub]
            text = None
            if encode:
                row_of = snap.item_index()
                text = self._encode([item_text(snap.item_title[row_of[i]],
                                               snap.item_description[row_of[i]],
                                               attributes_by_kind(a))
                                     for i, a in zip(sub, attrs, strict=True)])
            self._place(sub, emb[part], attrs, text)
        logger.info("restored %d items embedded after training", len(ids))

    def _restore_users(self: _Host, snap: GraphSnapshot) -> None:
        """Fold in the trained users whose items in the graph (``snap``) differ from their
        training items (``add_interactions`` in an earlier process, or a load since), so
        a restarted recommender scores them as the process that added the items did."""
        tm = self.trained
        if tm.interactions is None or not snap.num_interactions:
            return
        users, items = self._model_user_index, self.items.index
        u = np.fromiter((users.get(k, -1) for k in snap.user_ids), np.int64,
                        snap.num_users)[snap.interaction_index[0]]
        i = np.fromiter((items.get(k, -1) for k in snap.item_ids), np.int64,
                        snap.num_items)[snap.interaction_index[1]]
        known = (u >= 0) & (i >= 0)
        trained = known & (i < self._n_model)
        graph = sp.csr_matrix((np.ones(int(trained.sum()), np.float32),
                               (u[trained], i[trained])), shape=tm.interactions.shape)
        changed = set(u[known & ~trained].tolist())  # users holding items added since
        changed.update(np.unique(((graph > 0) != (tm.interactions > 0)).nonzero()[0]).tolist())
        if changed:
            ids = [tm.user_ids[k] for k in sorted(changed)]
            self._user_override.update(self._fold_in(ids))
            logger.info("folded in %d users whose items changed after training", len(ids))

    def add_interactions(self: _Host, records: Iterable[Mapping[str, Any] | InteractionRecord]
                         ) -> InteractionSummary:
        """Record interactions and fold the affected users in (no retraining).

        Each record is ``{"user_id", "item_id", "weight"?, "ts"?}`` (or an
        :class:`kg.records.InteractionRecord`); unknown users are created. The users are
        re-embedded with :func:`gnn.infer.embed_users` from all their items and profile,
        and their embeddings written to Neo4j.

        Raises:
            RecordError: an invalid record, or one naming an unknown item.
            WriteError: Neo4j failed.

        Example:
            >>> rec.add_interactions([{"user_id": "u7", "item_id": "new-1"}])  # doctest: +SKIP
        """
        from kg.embeddings import write_embeddings
        from kg.writer import GraphWriter

        t0 = time.perf_counter()
        recs: list[InteractionRecord] = []
        for n, r in enumerate(records, 1):
            rec = to_interaction_record(r, n)
            if rec.item_id not in self.items.index:
                raise RecordError(f"add_interactions record {n}: field 'item_id' refers to "
                                  f"unknown item {rec.item_id!r}", field="item_id")
            recs.append(rec)
        if not recs:
            return InteractionSummary()
        written = GraphWriter(self.driver, self.database,
                              show_progress=False).write_interactions(recs)
        users = list(dict.fromkeys(r.user_id for r in recs))
        for r in recs:
            row = self.items.index[r.item_id]
            seen = self._seen.setdefault(r.user_id, set())
            if row not in seen:
                seen.add(row)
                self._users_of.setdefault(row, set()).add(r.user_id)
                self.items.add_popularity([row])
        self._graph_users.update(users)
        emb = self._fold_in(users)
        for u in users:
            self._user_override[u] = emb[u]
            self._cold_cache.pop(u, None)
        write_embeddings(self.driver, "User", users, np.stack([emb[u] for u in users]),
                         self.trained.version or "unversioned", self.database,
                         show_progress=False)
        return InteractionSummary(written, len(users), time.perf_counter() - t0)
