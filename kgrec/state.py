"""``ServingState``: one immutable snapshot of everything a request reads.

A state is a trained model, a :class:`gnn.scorer.Scorer` over the model and its
:class:`gnn.delta.Delta` (items embedded after training), the :class:`ItemCatalog`, and
the users folded in after training (:class:`UserState`). The facade holds one state
and replaces it whole (:mod:`kgrec.sync`), so a request that took the state at its start
sees the old catalog or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from gnn.delta import Delta
from gnn.scorer import Scorer
from gnn.trained import TrainedModel
from kgrec.catalog import ItemCatalog

__all__ = ["ServingState", "UserState"]


@dataclass(frozen=True, eq=False)
class UserState:
    """A user as the scorer sees them.

    Attributes:
        seen: ``int64`` item rows the user interacted with (sorted).
        attribute_ids: profile attributes (``kind:value``).
        vector: ``float32 [dim]`` final embedding; None for a user without items (the
            facade then ranks by profile or popularity).
        layer0: ``float32 [dim]`` the layer 0 the vector was propagated from (None with
            ``vector``): what :func:`gnn.infer.decompose_user` splits.
        pending_items: ids of items the user interacted with that are not embedded yet
            (the user is folded in again when they are).
    """

    seen: np.ndarray
    attribute_ids: tuple[str, ...] = ()
    vector: np.ndarray | None = None
    layer0: np.ndarray | None = None
    pending_items: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class ServingState:
    """Everything a request reads (immutable; see the module docstring).

    Attributes:
        model: the trained model.
        scorer: scores over the model's items and the delta's.
        catalog: ids, titles, attributes, popularity, hidden items.
        users: users folded in after training (new users, or trained users whose items
            or profile changed).
        deleted_users: users erased since training.
        unembedded: ids of items in the graph that could not be embedded yet.
        clock: the database clock (Unix ms) of the last read of changes.
        version: increases with every change of the state in this process.
    """

    model: TrainedModel
    scorer: Scorer
    catalog: ItemCatalog
    users: Mapping[str, UserState] = field(default_factory=dict)
    deleted_users: frozenset[str] = frozenset()
    unembedded: frozenset[str] = frozenset()
    clock: int = 0
    version: int = 0

    @classmethod
    def of_model(cls, model: TrainedModel) -> ServingState:
        """The state of ``model`` with nothing changed since training."""
        return cls(model, Scorer(model), ItemCatalog.of_model(model.graph),
                   clock=model.graph.read_at or 0)

    @property
    def delta(self) -> Delta:
        return self.scorer.delta

    def has_user(self, user_id: str) -> bool:
        """Whether ``user_id`` is a known, not erased user."""
        return (user_id in self.users or user_id in self.model.graph.user_rows) \
            and user_id not in self.deleted_users

    def user(self, user_id: str) -> UserState | None:
        """The user's state (a trained user unchanged since training is read from the
        model), or None for an unknown or erased user."""
        if user_id in self.deleted_users:
            return None
        state = self.users.get(user_id)
        if state is not None:
            return state
        row = self.model.graph.user_rows.get(user_id)
        if row is None:
            return None
        graph = self.model.graph
        attrs = graph.user_attributes
        seen = graph.interactions.indices[graph.interactions.indptr[row]:
                                          graph.interactions.indptr[row + 1]]
        profile = tuple(graph.attribute_ids[a]
                        for a in attrs.indices[attrs.indptr[row]:attrs.indptr[row + 1]])
        if not len(seen):
            return UserState(np.zeros(0, np.int64), profile)
        return UserState(seen.astype(np.int64), profile, self.model.user_emb[row],
                         self.model.layers[0, row])

    def without_user(self, user_id: str) -> ServingState:
        """The state after ``user_id`` was erased: never served again (a trained user's
        embedding stays in the checkpoint, unused), and the user's items lose its count
        in the popularity."""
        old = self.user(user_id)
        if old is None:
            return self
        popularity = self.catalog.popularity.copy()
        np.subtract.at(popularity, old.seen, 1.0)
        return replace(self, users={k: v for k, v in self.users.items() if k != user_id},
                       deleted_users=self.deleted_users | {user_id},
                       catalog=self.catalog.with_popularity(popularity),
                       version=self.version + 1)

    def known_user_ids(self) -> set[str]:
        """Every user this state knows (model users and users folded in, not erased)."""
        return (set(self.model.graph.user_ids) | set(self.users)) - set(self.deleted_users)

    def users_of(self, row: int) -> list[str]:
        """Ids of the users who interacted with item ``row``, sorted."""
        out: set[str] = set()
        if row < self.model.num_items:
            csc = self.model.graph.users_by_item
            ids = self.model.graph.user_ids
            out = {ids[u] for u in csc.indices[csc.indptr[row]:csc.indptr[row + 1]]}
            out -= set(self.users)
        out |= {u for u, s in self.users.items() if row in set(s.seen.tolist())}
        return sorted(out - set(self.deleted_users))
