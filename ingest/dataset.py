"""``Dataset``: a whole source held in memory.

``kgrec evaluate`` reads datasets with the same readers the loaders use
(:func:`ingest.sources.read_dataset`), then builds a :class:`kg.snapshot.GraphSnapshot`
in memory (:meth:`Dataset.to_snapshot`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from kg.records import InteractionRecord, ItemRecord, UserRecord
from kg.snapshot import GraphSnapshot, snapshot_from_records
from kg.writer import aggregate_interactions
from kgrec.errors import ConfigError

__all__ = ["Dataset"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """Items, users and interactions of one source.

    Attributes:
        items: validated items (ids distinct).
        users: users with profile attributes (users that only appear in
            interactions are not listed).
        interactions: one record per source row (repeats not merged).
        name: a short name of the source (folder or file name).
    """

    items: list[ItemRecord]
    users: list[UserRecord]
    interactions: list[InteractionRecord]
    name: str

    def aggregate_interactions(self) -> list[InteractionRecord]:
        """The interactions with repeated pairs merged (weights summed, latest ``ts``;
        :func:`kg.writer.aggregate_interactions`)."""
        return aggregate_interactions(self.interactions)

    def to_snapshot(self) -> GraphSnapshot:
        """The in-memory snapshot of this dataset, as an export of the loaded graph would be."""
        return snapshot_from_records(self.items, self.interactions, self.users)

    def with_item_kinds(self, kinds: Iterable[str]) -> Dataset:
        """This dataset with only the item attribute kinds ``kinds`` (user attributes kept).

        An ablation of the knowledge graph: e.g. MovieLens with genres only, its year
        and decade left in the text alone.

        Raises:
            ConfigError: a kind no item has (the message lists the kinds there are).
        """
        keep = set(kinds)
        present = {k for item in self.items for k in item.attributes}
        if not keep or keep - present:
            raise ConfigError(f"item attribute kinds {sorted(keep - present) or '[]'} not in "
                              f"dataset {self.name!r}; it has {sorted(present)}")
        items = [replace(item, attributes={k: v for k, v in item.attributes.items() if k in keep})
                 for item in self.items]
        return replace(self, items=items, name=f"{self.name}[{','.join(sorted(keep))}]")

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, items={len(self.items)}, users={len(self.users)}, "
                f"interactions={len(self.interactions)})")
