"""Keep a :class:`kgrec.state.ServingState` in step with Neo4j, the source of truth.

A state starts from a model checkpoint; :meth:`StateSync.load` and
:meth:`StateSync.refresh` then read only what changed (``changedAt`` at or after the
last read's clock, minus :data:`CLOCK_OVERLAP_MS`) and fold it in:

- an item whose content still hashes to what the model was trained on keeps its
  trained embedding; one whose stored embedding was written by this model for its
  current content (``add_items`` in any process) is served with it; any other changed
  or new item is embedded here, by the model's inductive rule, and written back with a
  compare-and-set on its content (:func:`kg.embeddings.write_item_embeddings_if_unchanged`);
- a user whose items or profile differ from training is folded in
  (:func:`gnn.infer.embed_users`); one that matches training again is reverted;
- deletions: the node counts are compared with what the state knows, and only when
  they disagree are the ids read.

Applying the same changes twice gives the same state, so the overlap between reads
(which catches transactions that committed after a read but stamped an earlier time)
costs a re-read and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import neo4j
import numpy as np

from gnn.infer import embed_new_items, embed_users, user_layer0, user_neighbours
from gnn.scorer import Scorer
from kg.changes import (
    Changes,
    StoredItem,
    StoredUser,
    read_changes,
    read_ids,
    read_items,
    read_users,
)
from kg.embeddings import ItemEmbedding, write_item_embeddings_if_unchanged
from kg.records import ItemRecord, attributes_by_kind, content_hash
from kgrec.catalog import CatalogItem
from kgrec.errors import EncoderError
from kgrec.state import ServingState, UserState

__all__ = ["CLOCK_OVERLAP_MS", "StateSync", "TextFeatures"]

logger = logging.getLogger(__name__)

#: how far back each read of changes reaches before the previous read's clock: a write
#: stamps the time its statement started, and may commit after a read that began later
CLOCK_OVERLAP_MS = 30_000


@dataclass(frozen=True)
class TextFeatures:
    """Where the text features of new items and profiles come from (the facade's
    feature store; called only when something needs encoding).

    Attributes:
        items: ``(texts) -> float32 [n, D]`` passage features.
        profiles: ``(texts) -> float32 [n, D]`` features of user profile texts.
    """

    items: Callable[[Sequence[str]], np.ndarray]
    profiles: Callable[[Sequence[str]], np.ndarray]


def _item_text(it: StoredItem) -> str:
    from llm_bridge.text import item_text

    return item_text(it.title, it.description, attributes_by_kind(it.attribute_ids))


class StateSync:
    """Builds serving states from a model and what Neo4j says changed.

    Args:
        driver: a connected driver.
        database: database name.
        features: text features for items and profiles that need encoding.
        write: write embeddings computed here back to Neo4j (compare-and-set).
    """

    def __init__(self, driver: neo4j.Driver, database: str, features: TextFeatures,
                 write: bool = True) -> None:
        self.driver = driver
        self.database = database
        self.features = features
        self.write = write

    def load(self, state: ServingState) -> ServingState:
        """``state`` (a model's, :meth:`ServingState.of_model`) with every change since
        the model's graph clock."""
        return self.apply(state, read_changes(self.driver, state.clock - CLOCK_OVERLAP_MS,
                                              self.database))

    def refresh(self, state: ServingState) -> ServingState:
        """``state`` with what changed since its last read."""
        return self.load(state)

    def apply(self, state: ServingState, changes: Changes) -> ServingState:
        """Fold ``changes`` into ``state`` (idempotent)."""
        state = self.apply_items(state, changes.items)
        state = self.apply_users(state, changes.users)
        state = self._reconcile(state, changes.item_count, changes.user_count)
        return replace(state, clock=max(state.clock, changes.clock), version=state.version + 1)

    # ------------------------------------------------------------------ items
    def apply_items(self, state: ServingState, items: Sequence[StoredItem]) -> ServingState:
        """Fold changed items in (see the module docstring)."""
        if not items:
            return state
        model, catalog = state.model, state.catalog
        revert: list[int] = []
        ready: list[tuple[StoredItem, np.ndarray, np.ndarray | None]] = []
        pending: list[StoredItem] = []
        for it in items:
            digest = content_hash(it.title, it.description, it.attribute_ids)
            row = catalog.row_of(it.id)
            if row is not None and row < model.num_items and model.graph.item_hash(row) == digest:
                if row in catalog.overlay:
                    revert.append(row)
            elif self._usable(state, it, digest, row):
                assert it.embedding is not None
                ready.append((it, it.embedding, it.text_feature))
            else:
                pending.append(it)
        ready += self._embed(state, pending)
        state = _with_items(state, ready, revert)
        state = self._resolve_pending_users(state, {it.id for it, _, _ in ready})
        unembedded = state.unembedded - {it.id for it, _, _ in ready}
        unembedded |= {it.id for it in pending} - {it.id for it, _, _ in ready}
        hidden = [(row, it.hidden) for it in items
                  if (row := state.catalog.row_of(it.id)) is not None]
        catalog = state.catalog
        for flag in (True, False):
            rows = [r for r, h in hidden if h == flag and catalog.hidden[r] != flag]
            if rows:
                catalog = catalog.with_hidden(rows, flag)
        return replace(state, catalog=catalog, unembedded=frozenset(unembedded))

    def _resolve_pending_users(self, state: ServingState, added: set[str]) -> ServingState:
        """Fold in again the users who interacted with ``added`` items before those were
        embedded."""
        waiting = [StoredUser(u, tuple(state.catalog.ids_of(s.seen)) + s.pending_items,
                              s.attribute_ids, None)
                   for u, s in state.users.items() if added.intersection(s.pending_items)]
        return self.apply_users(state, waiting) if waiting else state

    def _usable(self, state: ServingState, it: StoredItem, digest: str, row: int | None
                ) -> bool:
        """Whether the stored embedding serves as is: written by this model for the
        item's current content (and with text features where its term needs them)."""
        model = state.model
        if it.embedding is None or it.version != model.version or it.content_hash != digest:
            return False
        needs_text = _needs_content(state, row) and model.config.model.use_text
        return not needs_text or it.text_feature is not None

    def _embed(self, state: ServingState, items: Sequence[StoredItem]
               ) -> list[tuple[StoredItem, np.ndarray, np.ndarray | None]]:
        """Embed items by the model's inductive rule (text, attributes, users) and write
        them back; an item that cannot be encoded now is left out (and retried)."""
        if not items:
            return []
        model = state.model
        fresh = read_items(self.driver, [it.id for it in items], self.database)
        todo = [fresh[it.id] for it in items if it.id in fresh]
        try:
            x = self.features.items([_item_text(it) for it in todo]) if todo else None
        except EncoderError as e:
            logger.warning("%d items are not recommendable yet: %s", len(todo), e)
            return []
        if x is None:
            return []
        emb = embed_new_items(model, x, [it.attribute_ids for it in todo],
                              [it.users for it in todo])
        if self.write and model.version:
            rows = [ItemEmbedding(ItemRecord(it.id, it.title, it.description,
                                             _by_kind(it.attribute_ids)),
                                  emb[k], content_hash(it.title, it.description,
                                                       it.attribute_ids), x[k])
                    for k, it in enumerate(todo)]
            written = write_item_embeddings_if_unchanged(self.driver, rows, model.version,
                                                         self.database)
            if len(written) < len(rows):
                logger.info("%d items changed while being embedded; the next refresh "
                            "embeds their new content", len(rows) - len(written))
        logger.info("embedded %d items with model %s", len(todo), model.version)
        return [(it, emb[k], x[k]) for k, it in enumerate(todo)]

    # ------------------------------------------------------------------ users
    def apply_users(self, state: ServingState, users: Sequence[StoredUser]) -> ServingState:
        """Fold changed users in: re-embedded from their items and profile, or reverted
        to their trained embedding when they match training again."""
        if not users:
            return state
        catalog = state.catalog
        overrides = dict(state.users)
        fold: list[tuple[StoredUser, np.ndarray]] = []
        before = {u.id: state.user(u.id) for u in users}
        for u in users:
            rows = np.unique(np.asarray([r for r in map(catalog.row_of, u.item_ids)
                                         if r is not None], np.int64))
            trained = state.model.graph.user_rows.get(u.id)
            if trained is not None and _same_as_training(state, trained, rows, u):
                overrides.pop(u.id, None)
            else:
                fold.append((u, rows))
        overrides.update(self._fold_in(state, fold))
        for u, rows in fold:  # interactions with items not embedded yet wait for them
            missing = tuple(i for i in u.item_ids if catalog.row_of(i) is None)
            if missing:
                overrides[u.id] = replace(overrides[u.id], pending_items=missing)
        deleted = state.deleted_users - {u.id for u in users}
        new = replace(state, users=overrides, deleted_users=frozenset(deleted))
        return _with_popularity(new, before, [u.id for u in users])

    def _fold_in(self, state: ServingState, users: Sequence[tuple[StoredUser, np.ndarray]]
                 ) -> dict[str, UserState]:
        model = state.model
        if not users:
            return {}
        new_profiles = [k for k, (u, _) in enumerate(users)
                        if u.id not in model.graph.user_rows and u.attribute_ids]
        feats: dict[int, np.ndarray] = {}
        if new_profiles and model.config.model.use_text:
            from llm_bridge.text import user_text

            texts = [user_text(attributes_by_kind(users[k][0].attribute_ids))
                     for k in new_profiles]
            feats = dict(zip(new_profiles, self.features.profiles(texts), strict=True))
        out: dict[str, UserState] = {}
        with_items = [k for k, (_, rows) in enumerate(users) if len(rows)]
        layer0 = [user_layer0(model, users[k][0].id, feats.get(k)) for k in with_items]
        nbrs = [user_neighbours(model, users[k][1][users[k][1] < model.num_items].tolist(),
                                users[k][0].attribute_ids) for k in with_items]
        vectors = embed_users(model, np.stack(layer0), nbrs) if with_items else \
            np.zeros((0, model.dim), np.float32)
        for n, k in enumerate(with_items):
            u, rows = users[k]
            out[u.id] = UserState(rows, u.attribute_ids, vectors[n], layer0[n])
        for u, rows in users:
            out.setdefault(u.id, UserState(rows, u.attribute_ids))
        return out

    # ------------------------------------------------------------------ deletions
    def _reconcile(self, state: ServingState, n_items: int, n_users: int) -> ServingState:
        """Find deleted (and unseen) items and users when the node counts disagree with
        what the state knows."""
        catalog = state.catalog
        known_items = len(catalog) - int(catalog.deleted.sum()) + len(state.unembedded)
        if n_items != known_items:
            ids = read_ids(self.driver, "Item", self.database)
            gone_rows = [r for r in range(len(catalog)) if not catalog.deleted[r]
                         and catalog.id_of(r) not in ids]
            state = replace(state, catalog=catalog.with_deleted(gone_rows),
                            unembedded=frozenset(state.unembedded & ids))
            known = {catalog.id_of(r) for r in range(len(catalog))} | state.unembedded
            unseen = sorted(ids - known)
            if unseen:
                state = self.apply_items(state, list(read_items(self.driver, unseen,
                                                                self.database).values()))
        known_users = state.known_user_ids()
        if n_users != len(known_users):
            ids = read_ids(self.driver, "User", self.database)
            gone = known_users - ids
            if gone:
                before = {u: state.user(u) for u in gone}
                users = {k: v for k, v in state.users.items() if k not in gone}
                state = replace(state, users=users,
                                deleted_users=state.deleted_users | frozenset(gone))
                state = _with_popularity(state, before, sorted(gone))
            unseen = sorted(ids - known_users)
            if unseen:
                state = self.apply_users(state, list(read_users(self.driver, unseen,
                                                                self.database).values()))
        return state


def _by_kind(attribute_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in attributes_by_kind(attribute_ids).items()}


def _needs_content(state: ServingState, row: int | None) -> bool:
    """Whether item ``row`` (None: a new item) takes its item–item term from content."""
    term = state.model.item_item
    if term is None or term.content_map is None:
        return False
    return row is None or row >= state.model.num_items or not state.model.item_has_id[row]


def _same_as_training(state: ServingState, row: int, rows: np.ndarray, u: StoredUser) -> bool:
    graph = state.model.graph
    seen = graph.interactions.indices[graph.interactions.indptr[row]:
                                      graph.interactions.indptr[row + 1]]
    attrs = graph.user_attributes
    profile = {graph.attribute_ids[a]
               for a in attrs.indices[attrs.indptr[row]:attrs.indptr[row + 1]]}
    return np.array_equal(np.sort(seen), rows) and profile == set(u.attribute_ids)


def _with_items(state: ServingState,
                ready: Sequence[tuple[StoredItem, np.ndarray, np.ndarray | None]],
                revert: Sequence[int]) -> ServingState:
    """``state`` with ``ready`` items embedded and the ``revert`` rows back to training."""
    catalog = state.catalog.without(revert) if revert else state.catalog
    delta = state.delta.without(list(revert)) if revert else state.delta
    if ready:
        catalog, rows = catalog.with_items({it.id: CatalogItem(it.id, it.title,
                                                                 it.attribute_ids)
                                            for it, _, _ in ready})
        num_new = len(catalog) - state.model.num_items
        model = state.model
        emb = np.stack([e for _, e, _ in ready]).astype(np.float32)
        by_content = np.asarray([_needs_content(state, r) for r in rows], bool)
        if (~by_content).any():
            delta = delta.with_items(np.asarray(rows)[~by_content], emb[~by_content], None,
                                     num_new)
        if by_content.any():
            idx = np.flatnonzero(by_content).tolist()
            text = np.stack([np.asarray(ready[k][2]) for k in idx]) \
                if model.config.model.use_text else None
            content = model.content_rows(text, [ready[k][0].attribute_ids for k in idx])
            delta = delta.with_items(np.asarray(rows)[idx], emb[idx], content, num_new)
    return replace(state, catalog=catalog, scorer=Scorer(state.model, delta))


def _with_popularity(state: ServingState, before: dict[str, UserState | None],
                     user_ids: Sequence[str]) -> ServingState:
    """Interaction counts after ``user_ids`` changed from ``before``."""
    pop = state.catalog.popularity.copy()
    for u in user_ids:
        old, new = before.get(u), state.user(u)
        if old is not None:
            np.subtract.at(pop, old.seen, 1.0)
        if new is not None:
            np.add.at(pop, new.seen, 1.0)
    return replace(state, catalog=state.catalog.with_popularity(pop))
