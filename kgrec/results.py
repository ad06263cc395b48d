"""Result records of the facade: recommendations and ingest summaries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

__all__ = ["IngestSummary", "InteractionSummary", "Recommendation", "Recommendations"]


@dataclass(frozen=True)
class Recommendation:
    """One recommended item, its score (higher is better; scale depends on the path) and
    its title (empty when the catalog has none)."""

    item_id: str
    score: float
    title: str = ""


@dataclass(frozen=True)
class Recommendations(Sequence[Recommendation]):
    """A ranked, list-like result.

    Attributes:
        items: the recommendations, best first.
        user_id: whom they are for (``None`` for item/text similarity).
        fallback: ``None`` (the trained model ranked them), ``"profile"`` (a user
            without interactions, ranked from profile attributes) or ``"popularity"``.
        ignored_items: item ids of a session (:meth:`kgrec.Recommender.recommend_for_session`)
            that the catalog does not serve (unknown or deleted), left out of the fold-in.
        model_version: the model version that ranked them (None where not recorded).
    """

    items: tuple[Recommendation, ...] = ()
    user_id: str | None = None
    fallback: str | None = None
    ignored_items: tuple[str, ...] = ()
    model_version: str | None = None

    @overload
    def __getitem__(self, i: int) -> Recommendation: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Recommendation]: ...

    def __getitem__(self, i: int | slice) -> Recommendation | Sequence[Recommendation]:
        return self.items[i]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self.items)

    @property
    def item_ids(self) -> list[str]:
        """The item ids, best first."""
        return [r.item_id for r in self.items]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "user_id": self.user_id, "fallback": self.fallback,
            "items": [{"item_id": r.item_id, "score": r.score, "title": r.title}
                      for r in self.items]}
        if self.ignored_items:
            out["ignored_items"] = list(self.ignored_items)
        return out


@dataclass(frozen=True)
class IngestSummary:
    """What :meth:`kgrec.Recommender.add_items` did.

    Attributes:
        added: new items, now recommendable.
        updated: existing items whose text or attributes changed (re-embedded).
        unchanged: items re-sent unchanged (nothing written, nothing re-embedded).
        rejected: invalid records (``on_error="skip"``).
        reasons: one message per rejected record.
        seconds: wall time.
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    reasons: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    def __add__(self, other: IngestSummary) -> IngestSummary:
        return IngestSummary(self.added + other.added, self.updated + other.updated,
                             self.unchanged + other.unchanged, self.rejected + other.rejected,
                             self.reasons + other.reasons, self.seconds + other.seconds)


@dataclass(frozen=True)
class InteractionSummary:
    """What :meth:`kgrec.Recommender.add_interactions` did."""

    interactions: int = 0
    users: int = 0
    seconds: float = 0.0
