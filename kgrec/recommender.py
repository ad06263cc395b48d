"""``Recommender``: the serving facade (recommend, similar items, explain, catalog writes).

It serves one immutable :class:`kgrec.state.ServingState`: a trained model (memory-mapped
from its checkpoint), what changed in Neo4j since the model's graph clock, and the
users folded in since. Scores come from :class:`gnn.scorer.Scorer`, the code the
evaluation harness ranks with, so a served ranking equals the evaluated one.
:meth:`Recommender.refresh` (or a background refresh every ``KGREC_REFRESH_SECONDS``)
picks up what any process wrote, and a newly trained model, by swapping in a new state:
a request sees the old state or the new one, never a mix.

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
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import scipy.sparse as sp

from gnn.infer import embed_new_items, embed_users, user_layer0, user_neighbours
from gnn.model_store import ModelStore
from ingest.validation import ID_RULE
from kg.schema import check_id
from kgrec.errors import GraphError, KGRecError, NotFoundError, RecordError, RequestError
from kgrec.explain import Explanation, explain_score
from kgrec.filters import FilterSpec, parse_filters
from kgrec.inputs import to_interaction_record, to_item_record
from kgrec.rerank import MMR, NewItemSlots, Policy, TailSlots, rank, top_k
from kgrec.results import IngestSummary, InteractionSummary, Recommendation, Recommendations
from kgrec.settings import Settings
from kgrec.state import ServingState, UserState
from kgrec.sync import StateSync, TextFeatures
from kgrec.writes import write_interactions, write_items

if TYPE_CHECKING:
    import neo4j

    from gnn.trained import TrainedModel
    from ingest.validation import RejectLog
    from kg.records import InteractionRecord, ItemRecord
    from llm_bridge import FeatureStore

__all__ = ["Recommender"]

logger = logging.getLogger(__name__)

_MAX_K = 10_000
#: items a session of :meth:`Recommender.recommend_for_session` may hold
_MAX_SESSION_ITEMS = 1_000
#: profile features of anonymous sessions kept in memory (by attribute set)
_SESSION_PROFILES = 1_024


def _check_k(k: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= _MAX_K:
        raise RequestError(f"{name} must be an integer in 1..{_MAX_K}, got {k!r}")
    return k


def _check_filter_values(state: ServingState, spec: FilterSpec) -> None:
    """A filter value that no item carries is a mistake (``genre=comedy`` for ``Comedy``),
    never a silent empty list: raise, naming the closest values that exist."""
    catalog = state.catalog
    wanted = [a for ids in spec.include.values() for a in sorted(ids)] + sorted(spec.exclude)
    for a in wanted:
        if catalog.carries(a):
            continue
        kind, _, value = a.partition(":")
        close = catalog.closest_values(kind, value)
        if close:
            hint = "closest existing values: " + ", ".join(repr(v) for v in close)
        else:
            values = catalog.item_values(kind)
            hint = (f"existing values: {', '.join(repr(v) for v in values[:10])}"
                    + (f" ({len(values)} in all)" if len(values) > 10 else ""))
        raise RequestError(f"filter {kind}={value!r}: no item has this value; {hint}")


def _checked_id(value: object, what: str) -> str:
    """``value`` if it is a valid id (:data:`ingest.validation.ID_RULE`), else a RequestError."""
    if not isinstance(value, str) or not check_id(value):
        raise RequestError(f"{what} {value!r} is not valid ({ID_RULE})")
    return value


def _session_items(items: object) -> list[str]:
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise RequestError(f"items must be a list of item ids, got {type(items).__name__}")
    if len(items) > _MAX_SESSION_ITEMS:
        raise RequestError(f"items: at most {_MAX_SESSION_ITEMS} ids, got {len(items)}")
    return list(dict.fromkeys(_checked_id(i, "items: item id") for i in items))


def _session_attributes(attributes: Mapping[str, object] | None) -> tuple[str, ...]:
    """Profile attributes of a session, by the catalog's rules
    (:func:`ingest.validation.as_attributes`), as sorted attribute ids."""
    from ingest.validation import as_attributes
    from kg.records import attribute_id

    if attributes is None:
        return ()
    if not isinstance(attributes, Mapping):
        raise RequestError("attributes must be a mapping of kind to a value or a list of "
                           f"values, got {type(attributes).__name__}")
    empty = [kind for kind, raw in attributes.items() if raw == [] or raw == ()]
    if empty:
        raise RequestError(f"attributes[{empty[0]!r}] must be a string or a non-empty list "
                           "of strings")
    try:
        by_kind = as_attributes(dict(attributes), "session", 0)
    except RecordError as e:
        raise RequestError(str(e)) from None
    return tuple(sorted({attribute_id(k, v) for k, vs in by_kind.items() for v in vs}))


class Recommender:
    """Recommend, explain and grow the catalog with a trained kgrec model.

    Args:
        settings: configuration (default :meth:`Settings.from_env`).
        version: serve this model version (default: follow ``latest``, also on refresh).
        model_dir: serve the checkpoint in this folder (no refresh to newer models).
        trained: serve this loaded model (no refresh to newer models).
        driver: a connected Neo4j driver (default: connect to the configured server;
            the recommender then owns and closes it).
        interaction_verb: verb of explanation sentences ("liked", "watched", "bought").
        refresh_seconds: refresh in the background this often (default
            ``settings.refresh_seconds``; 0 = only when :meth:`refresh` is called).

    Raises:
        NotFoundError: no trained model.
        ServerError, GraphError: Neo4j is unreachable.

    Example:
        >>> with Recommender() as rec:                            # doctest: +SKIP
        ...     print(rec.recommend("u1", k=3).item_ids)
        ['i5', 'i17', 'i2']
    """

    def __init__(self, settings: Settings | None = None, *, version: str | None = None,
                 model_dir: Path | None = None, trained: TrainedModel | None = None,
                 driver: neo4j.Driver | None = None, interaction_verb: str = "liked",
                 refresh_seconds: float | None = None) -> None:
        t0 = time.perf_counter()
        self.settings = settings or Settings.from_env()
        self.database = self.settings.neo4j.database
        self.models = ModelStore(self.settings.models_dir)
        self.interaction_verb = interaction_verb
        self._follow_latest = trained is None and model_dir is None and version is None
        if trained is None:
            from gnn.checkpoint import load_checkpoint

            trained = load_checkpoint(model_dir) if model_dir is not None else \
                self.models.load(version)
        self._owns_driver = driver is None
        if driver is None:
            from kg.connection import connect

            driver = connect(self.settings)
        self.driver = driver
        self._store: FeatureStore | None = None
        self._profiles: dict[tuple[str, str, tuple[str, ...]], UserState] = {}
        self._session_profiles: dict[tuple[str, ...], np.ndarray] = {}
        self._cache_lock = threading.Lock()
        self._lock = threading.RLock()
        self.sync = StateSync(driver, self.database, TextFeatures(self._encode, self._encode))
        # set before the load: embedding an item left stale by a crash (its text written,
        # not its embedding) reads self.model to open the encoder
        self._state = ServingState.of_model(trained)
        self._state = self.sync.load(self._state)
        #: wall time (Unix s) of the last successful read of Neo4j's changes
        self.refreshed_at = time.time()
        #: refreshes that failed (Neo4j down), and the last one's message (None once a
        #: refresh succeeds again)
        self.refresh_failures = 0
        self.refresh_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        seconds = self.settings.refresh_seconds if refresh_seconds is None else refresh_seconds
        if seconds > 0:
            self._thread = threading.Thread(target=self._refresh_loop, args=(seconds,),
                                            name="kgrec-refresh", daemon=True)
            self._thread.start()
        logger.info("recommender ready in %.2fs: %d items, model %s",
                    time.perf_counter() - t0, len(self._state.catalog), trained.version)

    # ------------------------------------------------------------------ lifecycle
    @property
    def state(self) -> ServingState:
        """The current serving state (immutable; take it once per request)."""
        return self._state

    @property
    def model(self) -> TrainedModel:
        """The model being served."""
        return self._state.model

    def refresh(self) -> bool:
        """Pick up what any process wrote since the last read, and a newer model when
        ``latest`` moved (unless a version was pinned). Atomic for requests.

        Returns:
            True when the model version changed.

        Raises:
            GraphError: Neo4j failed (the current state stays in force).
        """
        with self._lock:
            state = self._state
            latest = self.models.latest() if self._follow_latest else None
            try:
                if latest is not None and latest != state.model.version:
                    fresh = self.sync.load(ServingState.of_model(self.models.load(latest)))
                    logger.info("switched from model %s to %s", state.model.version, latest)
                else:
                    fresh = self.sync.refresh(state)
            except GraphError as e:
                self.refresh_failures += 1
                self.refresh_error = str(e)
                raise
            self._state = fresh
            self.refreshed_at = time.time()
            self.refresh_error = None
            return fresh.model.version != state.model.version

    def _refresh_loop(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.refresh()
            except KGRecError as e:  # Neo4j down, a bad new model: keep serving the last state
                logger.warning("refresh failed, serving the last state: %s", e)
            except Exception:  # a bug: say so, but the loop (and serving) goes on
                logger.exception("refresh failed, serving the last state")

    def close(self) -> None:
        """Stop the background refresh; close the driver if this recommender opened it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._owns_driver:
            self.driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self._state
        return f"Recommender(items={len(s.catalog)}, model={s.model.version!r})"

    def warm_up(self) -> float:
        """Pay a process's first-call costs now instead of in its first request: load the
        text encoder, make sure the vector index exists, have Neo4j run ``add_items``'
        statements for a sentinel item in a transaction that is rolled back
        (:func:`kg.writer.rehearse_item_write`) and explain one user's top item.

        Returns:
            Seconds spent.
        """
        from kg.indexes import ensure_vector_index
        from kg.writer import rehearse_item_write

        t0 = time.perf_counter()
        self.store.encoder.encode(["warm-up"], show_progress=False)
        ensure_vector_index(self.driver, self.model.dim, self.database)
        rehearse_item_write(self.driver, self.model.dim, self.database)
        user = next((u for u in self.model.graph.user_ids
                     if (s := self._state.user(u)) is not None and len(s.seen)), None)
        if user is not None:
            top = self.recommend(user, k=1).item_ids
            if top:
                self.explain(user, top[0])
        seconds = time.perf_counter() - t0
        logger.info("warmed up in %.2fs", seconds)
        return seconds

    @property
    def store(self) -> FeatureStore:
        """The text feature store (the encoder loads on first use: serving trained users
        and stored items never needs it)."""
        if self._store is None:
            from llm_bridge import FeatureStore, TextEncoder

            encoder = TextEncoder(self.settings.encoder)
            fp = self.model.encoder_fingerprint
            if fp and encoder.fingerprint != fp:
                logger.warning("encoder %s differs from the one model %s was trained with; "
                               "new items may embed poorly", encoder.model_id,
                               self.model.version)
            self._store = FeatureStore(self.settings.features_dir, encoder)
        return self._store

    def _encode(self, texts: Sequence[str], kind: str = "passage",
                persist: bool | None = None) -> np.ndarray:
        x, _ = self.store.encode(texts, kind=kind, show_progress=False,  # type: ignore[arg-type]
                                 persist=persist)
        return np.asarray(x, np.float32)

    # ------------------------------------------------------------------ users
    def _user(self, state: ServingState, user_id: str) -> UserState:
        user = state.user(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise NotFoundError(f"unknown user {user_id!r}")
        return user

    def _profile_user(self, state: ServingState, user_id: str, user: UserState
                      ) -> UserState | None:
        """A user without items embedded from profile attributes alone (no ID)."""
        if not user.attribute_ids:
            return None
        key = (state.model.version, user_id, user.attribute_ids)
        cached = self._profiles.get(key)
        if cached is None:
            from kg.records import attributes_by_kind
            from llm_bridge import user_text

            model = state.model
            if not model.config.model.use_text and not any(
                    a in model.graph.attribute_rows for a in user.attribute_ids):
                return None
            feats = self._encode([user_text(attributes_by_kind(user.attribute_ids))])[0] \
                if model.config.model.use_text else None
            layer0 = user_layer0(model, None, feats)
            nbrs = user_neighbours(model, [], user.attribute_ids)
            vector = embed_users(model, layer0[None], [nbrs])[0]
            cached = self._profiles[key] = UserState(user.seen, user.attribute_ids, vector,
                                                     layer0)
        return cached

    def _scores(self, state: ServingState, user_id: str, user: UserState
                ) -> tuple[np.ndarray, str | None]:
        """``float32 [n_items]`` scores of every item for the user, and the fallback."""
        if user.vector is None:
            profile = self._profile_user(state, user_id, user)
            if profile is None or profile.vector is None:
                return state.catalog.popularity.astype(np.float32), "popularity"
            return state.scorer.dot_items(profile.vector), "profile"
        n_model = state.model.num_items
        cols = user.seen[user.seen < n_model]
        seen = sp.csr_matrix((np.ones(len(cols), np.float32), cols, [0, len(cols)]),
                             shape=(1, n_model))
        return state.scorer.score(user.vector[None], seen)[0], None

    # ------------------------------------------------------------------ recommend
    def recommend(self, user_id: str, k: int = 10, *, exclude_seen: bool = True,
                  filters: Mapping[str, object] | None = None, diversity: float = 0.0,
                  long_tail: bool = False, new_items: int = 0,
                  policies: Sequence[Policy] = ()) -> Recommendations:
        """Top-``k`` items for a user.

        Args:
            user_id: a user in the graph.
            k: how many items (1..10000).
            exclude_seen: leave out items the user interacted with.
            filters: ``{"kind": [values]}`` keeps items with any of the values (kinds
                combine with AND), ``{"-kind": [values]}`` drops items with any of them,
                ``{"exclude_items": [ids]}`` drops those items (see :mod:`kgrec.filters`).
                A value no item carries is an error that names the closest ones.
            diversity: 0 = pure relevance; up to 1 = :class:`kgrec.rerank.MMR`.
            long_tail: :class:`kgrec.rerank.TailSlots` (slots per page chosen at training).
            new_items: :class:`kgrec.rerank.NewItemSlots`: up to this many slots for new
                items that fit the user (above a relevance floor).
            policies: more re-ranking policies (see :mod:`kgrec.rerank`).

        Returns:
            :class:`Recommendations`; ``.fallback`` is ``"profile"`` or ``"popularity"``
            for a user without interactions.

        Raises:
            NotFoundError: unknown user.
            RequestError: bad ``k``, ``filters`` (a kind or value no item has: the
                message lists the closest existing values) or policy parameters.

        Example:
            >>> rec.recommend("u7", k=3, filters={"genre": "Comedy"}).item_ids  # doctest: +SKIP
            ['i88', 'i4', 'i120']
        """
        state = self._state
        chosen, spec = self._request(state, k, filters, diversity, long_tail, new_items,
                                     policies)
        user = self._user(state, user_id)
        scores, fallback = self._scores(state, user_id, user)
        return self._rank(state, user.seen if exclude_seen else None, scores, k, spec, chosen,
                          user_id, fallback)

    def recommend_for_session(self, items: Sequence[str],
                              attributes: Mapping[str, object] | None = None, k: int = 10, *,
                              exclude_seen: bool = True,
                              filters: Mapping[str, object] | None = None,
                              diversity: float = 0.0, long_tail: bool = False,
                              new_items: int = 0, policies: Sequence[Policy] = ()
                              ) -> Recommendations:
        """Top-``k`` items for a visitor without an id (an anonymous web session).

        The visitor is folded in as a transient user by the model's inductive rule
        (:func:`gnn.infer.embed_users`), from the items seen in the session and optional
        profile attributes, exactly as a new user is after ``add_interactions``; nothing
        is written anywhere.

        Args:
            items: ids of the items seen in the session (at most 1000; ids the catalog
                does not serve are left out and listed in ``.ignored_items``).
            attributes: profile attributes, ``{"kind": value or [values]}``.
            k, exclude_seen, filters, diversity, long_tail, new_items, policies: as for
                :meth:`recommend` (``exclude_seen`` leaves out the session's items).

        Returns:
            :class:`Recommendations` with ``user_id=None``; ``.fallback`` is
            ``"profile"`` (no known item) or ``"popularity"`` (nothing usable).

        Raises:
            RequestError: bad ``items``, ``attributes``, ``k``, ``filters`` or policy
                parameters.

        Example:
            >>> rec.recommend_for_session(["i12", "i40"], {"age_band": "25-34"}, k=3)  # doctest: +SKIP
        """
        state = self._state
        chosen, spec = self._request(state, k, filters, diversity, long_tail, new_items,
                                     policies)
        ids = _session_items(items)
        attribute_ids = _session_attributes(attributes)
        catalog = state.catalog
        rows_of = {i: catalog.row_of(i) for i in ids}
        ignored = tuple(i for i, r in rows_of.items() if r is None or catalog.deleted[r])
        seen = np.unique(np.asarray([r for r in rows_of.values()
                                     if r is not None and not catalog.deleted[r]], np.int64))
        user = self._session_user(state, seen, attribute_ids)
        fallback: str | None
        if user.vector is None:
            scores, fallback = catalog.popularity.astype(np.float32), "popularity"
        elif not len(seen):
            scores, fallback = state.scorer.dot_items(user.vector), "profile"
        else:
            scores, fallback = self._scores(state, "", user)
        out = self._rank(state, seen if exclude_seen else None, scores, k, spec, chosen, None,
                         fallback)
        return Recommendations(out.items, None, fallback, ignored, out.model_version)

    def _session_user(self, state: ServingState, seen: np.ndarray,
                      attribute_ids: tuple[str, ...]) -> UserState:
        """A transient user: the rule of :meth:`kgrec.sync.StateSync` for a new user."""
        model = state.model
        feats: np.ndarray | None = None
        if attribute_ids and model.config.model.use_text:
            feats = self._session_profile(attribute_ids)
        elif not len(seen) and not any(a in model.graph.attribute_rows for a in attribute_ids):
            return UserState(seen, attribute_ids)
        layer0 = user_layer0(model, None, feats)
        nbrs = user_neighbours(model, seen[seen < model.num_items].tolist(), attribute_ids)
        vector = embed_users(model, layer0[None], [nbrs])[0]
        return UserState(seen, attribute_ids, vector, layer0)

    def _session_profile(self, attribute_ids: tuple[str, ...]) -> np.ndarray:
        """Text features of a session's profile (kept in memory, never on disk)."""
        cached = self._session_profiles.get(attribute_ids)
        if cached is None:
            from kg.records import attributes_by_kind
            from llm_bridge import user_text

            cached = self._encode([user_text(attributes_by_kind(attribute_ids))],
                                  persist=False)[0]
            with self._cache_lock:
                if len(self._session_profiles) >= _SESSION_PROFILES:
                    self._session_profiles.pop(next(iter(self._session_profiles)))
                self._session_profiles[attribute_ids] = cached
        return cached

    def _request(self, state: ServingState, k: int, filters: Mapping[str, object] | None,
                 diversity: float, long_tail: bool, new_items: int,
                 policies: Sequence[Policy]) -> tuple[list[Policy], FilterSpec]:
        """Validate the arguments shared by the ``recommend*`` methods."""
        _check_k(k)
        chosen: list[Policy] = list(policies)
        if new_items:
            chosen.append(NewItemSlots(new_items))
        if long_tail:
            chosen.append(TailSlots())
        if diversity:
            chosen.append(MMR(diversity))
        spec = parse_filters(filters, list(state.catalog.values_by_kind))
        _check_filter_values(state, spec)
        return chosen, spec

    def _rank(self, state: ServingState, seen: np.ndarray | None, scores: np.ndarray, k: int,
              spec: FilterSpec, chosen: Sequence[Policy], user_id: str | None,
              fallback: str | None) -> Recommendations:
        scores = scores.astype(np.float32, copy=True)
        if seen is not None:
            scores[seen] = -np.inf
        scores[state.catalog.unavailable] = -np.inf
        if spec:
            scores[~spec.mask(state.catalog)] = -np.inf
        rows = rank(scores, k, chosen, state.catalog, state.model.tail_slots,
                    state.model.item_has_id)
        return self._results(state, rows, scores, user_id, fallback)

    @staticmethod
    def _results(state: ServingState, rows: np.ndarray, scores: np.ndarray,
                 user_id: str | None = None, fallback: str | None = None) -> Recommendations:
        catalog = state.catalog
        return Recommendations(tuple(Recommendation(catalog.id_of(r), float(scores[r]),
                                                    catalog.title(r))
                                     for r in rows.tolist()),
                               user_id=user_id, fallback=fallback,
                               model_version=state.model.version)

    def recommend_many(self, user_ids: Iterable[str], k: int = 10, **kwargs: Any
                       ) -> dict[str, Recommendations]:
        """:meth:`recommend` for several users (same keyword arguments)."""
        return {u: self.recommend(u, k, **kwargs) for u in user_ids}

    def score(self, user_id: str, item_id: str) -> float:
        """The recommendation score of one pair (as in :meth:`recommend`)."""
        state = self._state
        user = self._user(state, user_id)
        row = state.catalog.row_of(item_id) if isinstance(item_id, str) else None
        if row is None:
            raise NotFoundError(f"unknown item {item_id!r}")
        return float(self._scores(state, user_id, user)[0][row])

    # ------------------------------------------------------------------ similarity
    def _similar(self, state: ServingState, vector: np.ndarray, k: int,
                 exclude_row: int | None = None) -> Recommendations:
        scores = state.scorer.dot_items(vector)
        if exclude_row is not None:
            scores[exclude_row] = -np.inf
        scores[state.catalog.unavailable] = -np.inf
        rows, _ = top_k(scores, k)
        return self._results(state, rows, scores)

    def similar_items(self, item_id: str, k: int = 10) -> Recommendations:
        """Items closest to ``item_id`` by cosine of the model's item embeddings.

        Raises:
            NotFoundError: unknown item. RequestError: bad ``k``.
        """
        state = self._state
        _check_k(k)
        row = state.catalog.row_of(item_id) if isinstance(item_id, str) else None
        if row is None:
            raise NotFoundError(f"unknown item {item_id!r}")
        return self._similar(state, state.scorer.item_emb(np.asarray([row]))[0], k, row)

    def similar_to_text(self, text: str, k: int = 10) -> Recommendations:
        """Items closest to a free-text query: the text, encoded as a query, is embedded
        as an item with no neighbours (:func:`gnn.infer.embed_new_items`).

        Raises:
            RequestError: empty text or bad ``k``. EncoderError: the encoder failed.
        """
        state = self._state
        _check_k(k)
        if not isinstance(text, str) or not text.strip():
            raise RequestError("text must be a non-empty string")
        vector = embed_new_items(state.model, self._encode([text], kind="query"), [[]])[0]
        return self._similar(state, vector, k)

    # ------------------------------------------------------------------ explain
    def explain(self, user_id: str, item_id: str, max_paths: int = 3) -> Explanation:
        """Why an item is recommended to a user: the user's items and profile attributes
        its score comes from, each with the graph path that links it to the item, and
        the share of the score they account for (see :mod:`kgrec.explain`).

        Raises:
            NotFoundError: unknown user or item.
            RequestError: bad ``max_paths``.

        Example:
            >>> e = rec.explain("u7", "i12")                    # doctest: +SKIP
            >>> e.paths[0].reason, e.paths[0].parameters        # doctest: +SKIP
        """
        from kg.explain import existing_paths

        state = self._state
        _check_k(max_paths, "max_paths")
        user = self._user(state, user_id)
        row = state.catalog.row_of(item_id) if isinstance(item_id, str) else None
        if row is None:
            raise NotFoundError(f"unknown item {item_id!r}")
        scores, _ = self._scores(state, user_id, user)
        basis = user if user.vector is not None else \
            (self._profile_user(state, user_id, user) or user)
        return explain_score(
            state, user_id, basis, row, float(scores[row]),
            lambda ps: existing_paths(self.driver, [(p.cypher, p.parameters) for p in ps],
                                      self.database),
            max_paths, self.interaction_verb)

    # ------------------------------------------------------------------ writes
    def add_items(self, records: Iterable[Mapping[str, Any] | ItemRecord], *,
                  on_error: str = "fail", rejects: RejectLog | None = None,
                  batch_size: int = 1_000) -> IngestSummary:
        """Add or update catalog items and make them recommendable at once (no retraining).

        Each record (``{"id", "title", "description", "attributes"}`` as in
        ``items.jsonl``, or an :class:`kg.records.ItemRecord`) is validated, MERGEd into
        Neo4j with its attribute edges, encoded, embedded by the model's inductive rule
        and stored with its content hash (:func:`kgrec.writes.write_items`). An item
        re-sent with the content of its stored embedding is ``unchanged``.

        Args:
            records: the items (the last version of a repeated id wins).
            on_error: ``"fail"`` raises on the first invalid record; ``"skip"`` counts it
                in ``rejected`` (and ``rejects``) and goes on.
            rejects: where skipped records are logged.
            batch_size: items per write/encode batch.

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
        for n, raw in enumerate(records, 1):
            try:
                item = to_item_record(raw, n)
            except RecordError as e:
                if on_error == "fail":
                    raise
                reasons.append(str(e))
                if rejects is not None:
                    rejects.add(e, repr(raw)[:2000])
                continue
            batch[item.id] = item
            if len(batch) >= batch_size:
                total, batch = total + self._write_items(list(batch.values())), {}
        if batch:
            total = total + self._write_items(list(batch.values()))
        return IngestSummary(total.added, total.updated, total.unchanged, len(reasons),
                             tuple(reasons), time.perf_counter() - t0)

    def _write_items(self, items: list[ItemRecord]) -> IngestSummary:
        with self._lock:
            summary, self._state = write_items(self.sync, self._state, items)
        return summary

    def add_interactions(self, records: Iterable[Mapping[str, Any] | InteractionRecord]
                         ) -> InteractionSummary:
        """Record interactions (``{"user_id", "item_id", "weight"?, "ts"?}`` or
        :class:`kg.records.InteractionRecord`; unknown users are created) and fold the
        users in at once, from everything Neo4j holds for them.

        Raises:
            RecordError: an invalid record, or one naming an unknown item.
            WriteError: Neo4j failed.

        Example:
            >>> rec.add_interactions([{"user_id": "u7", "item_id": "new-1"}])  # doctest: +SKIP
        """
        t0 = time.perf_counter()
        recs = [to_interaction_record(r, n) for n, r in enumerate(records, 1)]
        if not recs:
            return InteractionSummary()
        with self._lock:
            written, self._state = write_interactions(self.sync, self._state, recs)
        return InteractionSummary(written, len({r.user_id for r in recs}),
                                  time.perf_counter() - t0)

    def hide_items(self, item_ids: Iterable[str]) -> list[str]:
        """Hide items: never recommended (nor listed as similar) again, in this process at
        once and in every other after its next refresh; they stay in the graph with
        ``hidden = true`` (and keep their interactions) until :meth:`show_items`.

        Returns:
            The ids whose flag changed (an item already hidden is left as it is).

        Raises:
            NotFoundError: an id that is not an item (nothing is written).
            RequestError: a malformed id. GraphError: Neo4j failed.

        Example:
            >>> rec.hide_items(["i12"])                              # doctest: +SKIP
            ['i12']
        """
        return self._set_hidden(item_ids, True)

    def show_items(self, item_ids: Iterable[str]) -> list[str]:
        """Undo :meth:`hide_items`: the items are recommendable again.

        Raises:
            NotFoundError, RequestError, GraphError: as for :meth:`hide_items`.
        """
        return self._set_hidden(item_ids, False)

    def _set_hidden(self, item_ids: Iterable[str], hidden: bool) -> list[str]:
        from kg.admin import set_items_hidden
        from kg.changes import read_items

        ids = list(dict.fromkeys(item_ids)) if not isinstance(item_ids, str) else [item_ids]
        for i in ids:
            _checked_id(i, "item id")
        if not ids:
            return []
        with self._lock:
            changed = set_items_hidden(self.driver, ids, hidden, self.database)
            stored = read_items(self.driver, ids, self.database)
            self._state = self.sync.apply_items(self._state, list(stored.values()))
        logger.info("%s %d items", "hid" if hidden else "showed", len(changed))
        return changed

    def delete_user(self, user_id: str) -> int:
        """Erase a user (a data-subject request): the user node, its interactions and
        profile edges leave Neo4j (and profile attribute nodes nothing else links to),
        the serving state drops the user at once, every other process after its next
        refresh (the node count drops), and every later training, which exports from
        Neo4j, never sees it. A trained user's embedding stays in the checkpoints already
        written, but is never served again; ``kgrec models prune`` after the next
        training removes it from disk.

        Returns:
            How many interactions were erased.

        Raises:
            NotFoundError: no such user in Neo4j. GraphError: Neo4j failed.

        Example:
            >>> rec.delete_user("u7")                                # doctest: +SKIP
            24
        """
        from kg.admin import delete_user

        _checked_id(user_id, "user id")
        with self._lock:
            erased = delete_user(self.driver, user_id, self.database)
            self._state = self._state.without_user(user_id)
            self._profiles = {k: v for k, v in self._profiles.items() if k[1] != user_id}
        logger.info("erased a user with %d interactions", erased.interactions)
        return erased.interactions
