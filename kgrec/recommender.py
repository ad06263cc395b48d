"""``Recommender``: the serving facade (recommend, similar items, explain, add items).

It holds the trained model's embeddings in memory (:class:`kgrec.index.ItemIndex`), so
top-k retrieval is one matrix-vector product plus ``argpartition``; Neo4j is the
source of truth for the catalog and is read at start-up and for explanations.

Scoring is the model's own: for a user the model was trained on, item scores are
exactly :meth:`gnn.trained.TrainedModel.score` (GNN inner product plus the item–item
term ``β · x_u B``), so served rankings equal evaluated ones. Items added later
(:meth:`Recommender.add_items`) are embedded inductively; their item–item column is
predicted from their content, as for the model's own cold items
(:mod:`gnn.content_columns`). A restarted recommender serves them, and trained items
re-embedded since, from the embeddings stored in Neo4j. Users folded in after
training (new, or with new interactions) are embedded by
:func:`gnn.infer.embed_users`; their item–item term uses their current items.

Example:
    >>> from kgrec import Recommender
    >>> rec = Recommender()                                  # doctest: +SKIP
    >>> rec.recommend("u7", k=5, filters={"-genre": ["Horror"]}).item_ids  # doctest: +SKIP
    ['i12', 'i3', 'i40', 'i9', 'i77']
    >>> rec.explain("u7", "i12").paths[0].reason              # doctest: +SKIP
    'You liked Heat (1995), which shares genre: Crime with Casino (1995).'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from kgrec.errors import NotFoundError, RequestError
from kgrec.explain import Explanation, PathSource, best_paths, search_paths
from kgrec.filters import FilterSpec, parse_filters
from kgrec.growth import CatalogGrowth
from kgrec.index import ItemIndex, top_k
from kgrec.results import Recommendation, Recommendations
from kgrec.settings import Settings

if TYPE_CHECKING:
    import neo4j

    from gnn.trained import TrainedModel
    from llm_bridge import FeatureStore

__all__ = ["Recommender", "load_latest_model"]

logger = logging.getLogger(__name__)

_MAX_K = 10_000


def load_latest_model(settings: Settings, model_dir: Path | None = None) -> TrainedModel:
    """Load ``model_dir`` or the checkpoint ``settings.models_dir/latest`` points at.

    Raises:
        NotFoundError: no checkpoint (the message says to run ``kgrec train``).
    """
    from gnn.checkpoint import load_checkpoint

    path = model_dir if model_dir is not None else settings.models_dir / "latest"
    if model_dir is None and not path.exists():
        raise NotFoundError(f"no trained model under {str(settings.models_dir)!r} (no 'latest' "
                            "pointer): run `kgrec train` first (or `kgrec demo`)")
    return load_checkpoint(path)


def _profile_text(attribute_ids: Sequence[str]) -> str:
    """A user's profile text from its ``kind:value`` attribute keys."""
    from kg.records import attributes_by_kind
    from llm_bridge import user_text

    return user_text(attributes_by_kind(attribute_ids))


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= _MAX_K:
        raise RequestError(f"k must be an integer in 1..{_MAX_K}, got {k!r}")
    return k


class Recommender(CatalogGrowth):
    """Recommend, explain and grow the catalog with a trained kgrec model.

    Args:
        settings: configuration (default :meth:`Settings.from_env`).
        model_dir: a checkpoint folder (default: the latest one ``kgrec train`` wrote).
        driver: a connected Neo4j driver (default: connect to the configured server;
            the recommender then owns and closes it).
        trained: an already loaded model (instead of ``model_dir``).
        interaction_verb: verb of explanation sentences ("liked", "watched", "bought").

    Raises:
        NotFoundError: no trained model.
        ServerError: Neo4j is unreachable.

    Example:
        >>> with Recommender() as rec:                            # doctest: +SKIP
        ...     top = rec.recommend("u1", k=10)
        ...     print(top.fallback, top.item_ids[:3])
        None ['i5', 'i17', 'i2']
    """

    def __init__(self, settings: Settings | None = None, *, model_dir: Path | None = None,
                 driver: neo4j.Driver | None = None, trained: TrainedModel | None = None,
                 interaction_verb: str = "liked") -> None:
        self.settings = settings or Settings.from_env()
        self.database = self.settings.neo4j.database
        self.trained = trained if trained is not None else \
            load_latest_model(self.settings, model_dir)
        self.interaction_verb = interaction_verb
        self._owns_driver = driver is None
        if driver is None:
            from kg.connection import connect

            driver = connect(self.settings)
        self.driver = driver
        self._store: FeatureStore | None = None
        self._index_ready = False
        t0 = time.perf_counter()
        self._load()
        logger.info("recommender ready in %.2fs: %d items (%d trained), %d users, model %s",
                    time.perf_counter() - t0, len(self.items), self.trained.num_items,
                    len(self._graph_users), self.trained.version)

    # ------------------------------------------------------------------ lifecycle
    def _load(self) -> None:
        from kg.export import export_snapshot

        tm = self.trained
        self._n_model = tm.num_items
        self._model_user_index = tm.rows_of("user")
        self._model_attr_index = tm.rows_of("attribute")
        snap = export_snapshot(self.driver, self.database, show_progress=False)
        item_attrs = [[] for _ in snap.item_ids]  # type: list[list[str]]
        for i, a in snap.item_attribute_index.T.tolist():
            item_attrs[i].append(snap.attribute_ids[a])
        graph_attrs = dict(zip(snap.item_ids, item_attrs, strict=True))
        self.titles: dict[str, str] = dict(zip(snap.item_ids, snap.item_title, strict=True))
        self.items = ItemIndex(tm.dim, capacity=max(1024, int(len(snap.item_ids) * 1.25)))
        self.items.upsert(tm.item_ids, tm.item_emb,
                          [graph_attrs.get(i, ()) for i in tm.item_ids])
        # content rows of items added after training (index row -> f_j): their
        # item-item term is x_u W f_j (gnn.content_columns)
        self._new_content: dict[int, np.ndarray] = {}
        self._new_content_stack: tuple[np.ndarray, np.ndarray] | None = None  # (rows, F)
        self._restore(snap, graph_attrs)
        self._graph_users: set[str] = set(snap.user_ids)
        self._user_attrs: dict[str, list[str]] = {}
        for u, a in snap.user_attribute_index.T.tolist():
            self._user_attrs.setdefault(snap.user_ids[u], []).append(snap.attribute_ids[a])
        # users whose embedding was folded in after training: id -> vector
        self._user_override: dict[str, np.ndarray] = {}
        self._cold_cache: dict[str, np.ndarray] = {}
        self._seen: dict[str, set[int]] = {}
        self._users_of: dict[int, set[str]] = {}  # item row -> users (explanations)
        rows_of = self.items.index
        for u, i in snap.interaction_index.T.tolist():
            row = rows_of.get(snap.item_ids[i])
            if row is not None:
                self._seen.setdefault(snap.user_ids[u], set()).add(row)
                self._users_of.setdefault(row, set()).add(snap.user_ids[u])
        counts = np.bincount(snap.interaction_index[1], minlength=snap.num_items) \
            if snap.num_interactions else np.zeros(snap.num_items)
        for item_id, c in zip(snap.item_ids, counts.tolist(), strict=True):
            row = rows_of.get(item_id)
            if row is not None and c:
                self.items.add_popularity([row], float(c))
        self._restore_users(snap)
        # attribute embeddings: the trained layer mean of the attribute nodes
        _, _, off_a = tm.offsets
        attr = tm.layers[:, off_a:off_a + tm.num_attributes].mean(axis=0)
        if tm.config.cosine:
            attr = attr / np.maximum(np.linalg.norm(attr, axis=1, keepdims=True), 1e-12)
        self._attr_emb = attr.astype(np.float32)
        self._paths = PathSource(
            item_ids=self.items.ids, item_attributes=self.items.attributes,
            item_emb=lambda: self.items.emb, seen=self._seen, users_of=self._users_of,
            user_attributes=self._user_attrs, embeddings=self._embeddings)
        graph_items = set(snap.item_ids)
        missing = [i for i in tm.item_ids if i not in graph_items]
        self._hidden_rows = np.asarray([self.items.index[i] for i in missing], np.int64)
        if missing:
            logger.warning("%d trained items are no longer in Neo4j; they are not recommended",
                           len(missing))

    def close(self) -> None:
        """Close the driver if this recommender opened it."""
        if self._owns_driver:
            self.driver.close()

    def warm_up(self) -> float:
        """Pay a process's first-call costs now instead of in its first request.

        Loads the text encoder (``add_items``, ``similar_to_text`` and cold users'
        profiles need it), makes sure the item vector index exists, has Neo4j run
        ``add_items``'s statements for a sentinel item in a transaction that is rolled
        back, so nothing is written (:func:`kg.serving.rehearse_item_write`), and
        explains one user's top item (read-only). A long-running service calls it once
        at start; ``kgrec ingest --watch`` does.

        Returns:
            Seconds spent.

        Raises:
            EncoderError: the text encoder failed to load.
            WriteError, GraphError: Neo4j failed.
        """
        from kg.schema import ensure_vector_index
        from kg.serving import rehearse_item_write

        t0 = time.perf_counter()
        self.store.encoder.encode(["warm-up"], show_progress=False)
        if not self._index_ready:
            ensure_vector_index(self.driver, self.trained.dim, self.database)
            self._index_ready = True
        rehearse_item_write(self.driver, self.trained.dim, self.database)
        user = next((u for u, seen in self._seen.items() if seen), None)
        if user is not None:
            top = self.recommend(user, k=1).item_ids
            if top:
                self.explain(user, top[0])
        seconds = time.perf_counter() - t0
        logger.info("warmed up in %.2fs", seconds)
        return seconds

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Recommender(items={len(self.items)}, users={len(self._graph_users)}, "
                f"model={self.trained.version!r})")

    @property
    def store(self) -> FeatureStore:
        """The text feature store (encoder loaded on first use)."""
        if self._store is None:
            from llm_bridge import FeatureStore, TextEncoder

            encoder = TextEncoder(self.settings.encoder)
            fp = self.trained.encoder_fingerprint
            if fp and encoder.fingerprint != fp:
                logger.warning("encoder %s differs from the one model %s was trained with; "
                               "new items may embed poorly", encoder.model_id,
                               self.trained.version)
            self._store = FeatureStore(self.settings.features_dir, encoder)
        return self._store

    def _encode(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        x, _ = self.store.encode(texts, kind=kind, show_progress=False)  # type: ignore[arg-type]
        return np.asarray(x, np.float32)

    # ------------------------------------------------------------------ users
    def _check_user(self, user_id: str) -> None:
        if not isinstance(user_id, str) or (user_id not in self._graph_users
                                            and user_id not in self._model_user_index):
            raise NotFoundError(f"unknown user {user_id!r}")

    def _profile_vector(self, user_id: str) -> np.ndarray | None:
        """A user's embedding from profile attributes alone (no ID, no items)."""
        from gnn.infer import embed_users

        if user_id in self._cold_cache:
            return self._cold_cache[user_id]
        attrs = self._user_attrs.get(user_id, [])
        if not attrs:
            return None
        feats = None
        if self.trained.config.use_text:
            feats = self._encode([_profile_text(attrs)])
        elif not any(a in self._model_attr_index for a in attrs):
            return None
        vec = np.asarray(embed_users(self.trained, [[]], [attrs], feats)[0], np.float32)
        self._cold_cache[user_id] = vec
        return vec

    def _fold_in(self, user_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Embed users from their current items and profile (:func:`gnn.infer.embed_users`)."""
        from gnn.infer import embed_users

        items = [[self.items.ids[r] for r in sorted(self._seen.get(u, ()))
                  if r < self._n_model] for u in user_ids]
        profiles = [self._user_attrs.get(u, []) for u in user_ids]
        feats = None
        if self.trained.config.use_text:
            texts = [_profile_text(attrs) if attrs else "" for attrs in profiles]
            feats = self._encode(texts) if any(texts) else None
        known = [u if u in self._model_user_index else None for u in user_ids]
        emb = embed_users(self.trained, items, profiles, feats, known)
        return dict(zip(user_ids, emb, strict=True))

    def _user_scores(self, user_id: str) -> tuple[np.ndarray, str | None]:
        """``float32 [n_items]`` scores of every indexed item, and the fallback used."""
        tm = self.trained
        n = len(self.items)
        seen = self._seen.get(user_id)
        if not seen:
            vec = self._profile_vector(user_id)
            if vec is None:
                return self.items.popularity.astype(np.float32), "popularity"
            return self.items.emb @ vec, "profile"
        u = self._model_user_index.get(user_id)
        if u is not None and user_id not in self._user_override:
            scores = np.empty(n, np.float32)
            scores[:self._n_model] = tm.score(np.array([u]))[0]
            if n > self._n_model:
                scores[self._n_model:] = self.items.emb[self._n_model:] @ tm.user_emb[u]
                if tm.interactions is not None:
                    self._add_content_term(scores, tm.interactions[u].indices)
            return scores, None
        vec = self._user_override.get(user_id)
        if vec is None:
            vec = self._fold_in([user_id])[user_id]
            self._user_override[user_id] = vec
        scores = self.items.emb @ vec
        if tm.item_item is not None:
            rows = np.fromiter((r for r in seen if r < self._n_model), np.int64)
            if rows.size:
                scores[:self._n_model] += tm.item_item_weight * tm.item_item[rows].sum(axis=0)
                self._add_content_term(scores, rows)
        return scores, None

    def _add_content_term(self, scores: np.ndarray, rows: np.ndarray) -> None:
        """Add ``β x_u W f_j`` to the scores of items added after training (``rows``:
        the model items the user holds)."""
        tm = self.trained
        if tm.content_map is None or not self._new_content or not len(rows):
            return
        if self._new_content_stack is None:  # rebuilt only after add_items changed it
            self._new_content_stack = (
                np.fromiter(self._new_content, np.int64, len(self._new_content)),
                np.stack(list(self._new_content.values())))
        new, content = self._new_content_stack
        scores[new] += content @ (tm.item_item_weight * tm.content_map[rows].sum(axis=0))

    # ------------------------------------------------------------------ recommend
    def recommend(self, user_id: str, k: int = 20, *, exclude_seen: bool = True,
                  filters: Mapping[str, object] | None = None,
                  diversity: float = 0.0, long_tail: bool = False,
                  new_items: int = 0) -> Recommendations:
        """Top-``k`` items for a user.

        Args:
            user_id: a user in the graph.
            k: how many items (1..10000).
            exclude_seen: leave out items the user interacted with.
            filters: ``{"kind": [values]}`` keeps items with any of the values (kinds
                combine with AND), ``{"-kind": [values]}`` drops items with any of them,
                ``{"exclude_items": [ids]}`` drops those items (see :mod:`kgrec.filters`).
            diversity: 0 = pure relevance; up to 1 = MMR re-ranking that trades
                relevance for attribute-set (Jaccard) dissimilarity to items already
                picked.
            long_tail: close every page of ten positions with the ``m`` best long-tail
                items (outside the top 20% by interactions; brand-new items count as
                tail), with ``m`` chosen at training time within a small
                validation-accuracy budget (see :mod:`gnn.long_tail`). Not combined
                with ``diversity``.
            new_items: guarantee up to this many new items (added after training, or
                without interactions when it trained), the ones the model scores highest
                for the user, at every ``max(2, k // new_items)``-th position. Their
                scores come from text and attributes only, so an accuracy-ranked list
                rarely has room for them (see README, "New items in mixed lists").
                Not combined with ``diversity`` or ``long_tail``.

        Returns:
            :class:`Recommendations`; ``.fallback`` is ``"profile"`` or ``"popularity"``
            for a user without interactions.

        Raises:
            NotFoundError: unknown user.
            RequestError: bad ``k``, ``filters`` or ``diversity``.

        Example:
            >>> rec.recommend("u7", k=3, filters={"genre": "Comedy"}).item_ids  # doctest: +SKIP
            ['i88', 'i4', 'i120']
        """
        _check_k(k)
        if isinstance(diversity, bool) or not isinstance(diversity, int | float) or \
                not 0.0 <= float(diversity) <= 1.0:
            raise RequestError(f"diversity must be a number in [0, 1], got {diversity!r}")
        if isinstance(new_items, bool) or not isinstance(new_items, int) or new_items < 0:
            raise RequestError(f"new_items must be an integer >= 0, got {new_items!r}")
        if sum((bool(long_tail), diversity > 0, new_items > 0)) > 1:
            raise RequestError("long_tail, diversity and new_items re-rank the same list; "
                               "use one")
        spec = parse_filters(filters, self.items.kinds())
        self._check_user(user_id)
        scores, fallback = self._user_scores(user_id)
        scores = scores.astype(np.float32, copy=True)
        if exclude_seen and self._seen.get(user_id):
            scores[np.fromiter(self._seen[user_id], np.int64)] = -np.inf
        if self._hidden_rows.size:
            scores[self._hidden_rows] = -np.inf
        allowed = self._mask(spec)
        per_page = self.trained.tail_slots if long_tail else 0
        if diversity > 0:
            rows, vals = self.items.mmr(scores, k, allowed, float(diversity))
        elif per_page or new_items:
            from gnn.long_tail import every_slots, interleave, page_slots, tail_items

            if allowed is not None:
                scores[~allowed] = -np.inf
            if per_page:
                rows = interleave(scores, tail_items(self.items.popularity),
                                  page_slots(per_page, k))
            else:
                rows = interleave(scores, self._new_rows(),
                                  every_slots(max(2, k // new_items), k), limit=new_items)
            vals = scores[rows]
        else:
            rows, vals = top_k(scores, k, allowed)
        return Recommendations(tuple(Recommendation(self.items.ids[r], float(s))
                                     for r, s in zip(rows.tolist(), vals.tolist(), strict=True)),
                               user_id=user_id, fallback=fallback)

    def _new_rows(self) -> np.ndarray:
        """``bool [n_items]``: items added after training or without training interactions."""
        new = np.ones(len(self.items), dtype=bool)
        new[:self._n_model] = ~self.trained.item_has_id
        return new

    def recommend_many(self, user_ids: Iterable[str], k: int = 20, **kwargs: Any
                       ) -> dict[str, Recommendations]:
        """:meth:`recommend` for several users (same keyword arguments)."""
        return {u: self.recommend(u, k, **kwargs) for u in user_ids}

    def _mask(self, spec: FilterSpec) -> np.ndarray | None:
        if not spec:
            return None
        return spec.mask(len(self.items), self.items.items_with(), self.items.index)

    # ------------------------------------------------------------------ similarity
    def _cosine_top(self, vec: np.ndarray, k: int, exclude_row: int | None = None
                    ) -> Recommendations:
        emb = self.items.emb
        scores = emb @ vec
        if not self.trained.config.cosine:
            scores = scores / np.maximum(np.linalg.norm(emb, axis=1) * np.linalg.norm(vec),
                                         1e-12)
        if exclude_row is not None:
            scores[exclude_row] = -np.inf
        if self._hidden_rows.size:
            scores[self._hidden_rows] = -np.inf
        rows, vals = top_k(scores, k)
        return Recommendations(tuple(Recommendation(self.items.ids[r], float(s))
                                     for r, s in zip(rows.tolist(), vals.tolist(), strict=True)))

    def similar_items(self, item_id: str, k: int = 20) -> Recommendations:
        """Items closest to ``item_id`` by cosine of the model's item embeddings.

        Raises:
            NotFoundError: unknown (or not yet embedded) item.
            RequestError: bad ``k``.

        Example:
            >>> rec.similar_items("i42", k=5).item_ids          # doctest: +SKIP
        """
        _check_k(k)
        row = self.items.index.get(item_id) if isinstance(item_id, str) else None
        if row is None:
            raise NotFoundError(f"unknown item {item_id!r}")
        return self._cosine_top(self.items.emb[row], k, exclude_row=row)

    def similar_to_text(self, text: str, k: int = 20) -> Recommendations:
        """Items closest to a free-text query.

        The text is encoded as a query, projected by the model's item text path as a
        new item with no neighbours (:func:`gnn.infer.embed_new_items`), then matched
        by cosine.

        Example:
            >>> rec.similar_to_text("lightweight waterproof hiking tent", k=5)  # doctest: +SKIP
        """
        from gnn.infer import embed_new_items

        _check_k(k)
        if not isinstance(text, str) or not text.strip():
            raise RequestError("text must be a non-empty string")
        x = self._encode([text], kind="query")
        vec = embed_new_items(self.trained, x, [[]])[0]
        return self._cosine_top(vec, k)

    def score(self, user_id: str, item_id: str) -> float:
        """The recommendation score of one pair (as in :meth:`recommend`)."""
        self._check_user(user_id)
        row = self.items.index.get(item_id)
        if row is None:
            raise NotFoundError(f"unknown item {item_id!r}")
        return float(self._user_scores(user_id)[0][row])

    # ------------------------------------------------------------------ explain
    def _embedding(self, label: str, key: str) -> np.ndarray | None:
        if label == "Item":
            row = self.items.index.get(key)
            return None if row is None else np.asarray(self.items.emb[row])
        if label == "Attribute":
            a = self._model_attr_index.get(key)
            return None if a is None else self._attr_emb[a]
        if key in self._user_override:
            return self._user_override[key]
        u = self._model_user_index.get(key)
        if u is not None:
            return np.asarray(self.trained.user_emb[u], np.float32)
        return self._profile_vector(key) if not self._seen.get(key) else \
            self._fold_in([key])[key]

    def _embeddings(self, label: str, keys: Sequence[str]) -> np.ndarray:
        """``float32 [len(keys), dim]``; trained users in one gather, zero rows for unknown."""
        out = np.zeros((len(keys), self.trained.dim), np.float32)
        index = self._model_user_index if label == "User" else {}
        rows = [(n, index[k]) for n, k in enumerate(keys)
                if k in index and k not in self._user_override]
        if rows:
            at, src = np.asarray(rows, np.int64).T
            out[at] = self.trained.user_emb[src]
        done = {n for n, _ in rows}
        for n, k in enumerate(keys):
            if n not in done:
                vec = self._embedding(label, k)
                if vec is not None:
                    out[n] = vec
        return out

    def explain(self, user_id: str, item_id: str, max_paths: int = 3) -> Explanation:
        """The strongest graph paths from a user to an item.

        Paths of three shapes (a user's item sharing an attribute with the target; a
        user's item shared with another user who has the target; a profile attribute
        the target carries) are ranked by the geometric mean of the model's embedding
        cosines along each path, one path per intermediate node, and the winners are
        confirmed in Neo4j with the parameterised Cypher they carry (see
        :mod:`kgrec.explain`).

        Args:
            user_id: a known user.
            item_id: a known item.
            max_paths: how many paths (1..100).

        Returns:
            :class:`Explanation`; each path has a one-sentence ``reason`` and the
            ``cypher``/``parameters`` that show exactly that path in Neo4j Browser.

        Raises:
            NotFoundError: unknown user or item.
            RequestError: bad ``max_paths``.

        Example:
            >>> e = rec.explain("u7", "i12")                    # doctest: +SKIP
            >>> e.paths[0].reason, e.paths[0].parameters        # doctest: +SKIP
        """
        from kg.explain import existing_paths

        if isinstance(max_paths, bool) or not isinstance(max_paths, int) or \
                not 1 <= max_paths <= 100:
            raise RequestError(f"max_paths must be an integer in 1..100, got {max_paths!r}")
        self._check_user(user_id)
        if not isinstance(item_id, str) or item_id not in self.items.index:
            raise NotFoundError(f"unknown item {item_id!r}")
        candidates = search_paths(self._paths, user_id, self.items.index[item_id], k=max_paths)
        paths = best_paths(
            candidates, user_id, item_id, self.titles,
            lambda ps: existing_paths(self.driver, [(p.cypher, p.parameters) for p in ps],
                                      self.database),
            max_paths, self.interaction_verb)
        return Explanation(user_id, item_id, self.score(user_id, item_id), paths)
