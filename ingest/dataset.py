"""``Dataset``: a whole source held in memory, and :func:`read_dataset`.

``kgrec evaluate`` reads datasets with the same readers the loaders use, then
builds a :class:`kg.snapshot.GraphSnapshot` in memory (:meth:`Dataset.to_snapshot`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from kg.records import InteractionRecord, ItemRecord, UserRecord
from kg.snapshot import GraphSnapshot, snapshot_from_records
from kgrec.errors import ConfigError, IngestError

__all__ = ["Dataset", "aggregate_interactions", "read_dataset"]

logger = logging.getLogger(__name__)


def aggregate_interactions(interactions: Iterable[InteractionRecord]) -> list[InteractionRecord]:
    """Merge repeated ``(user_id, item_id)`` pairs: weights summed, latest ``ts`` kept.

    The writer SETs weight and ts on the relationship, so a load must merge repeats
    itself; this matches :func:`kg.snapshot.snapshot_from_records`. Pairs keep the
    order of their first occurrence, and the source of their first record.
    """
    merged: dict[tuple[str, str], InteractionRecord] = {}
    for r in interactions:
        key = (r.user_id, r.item_id)
        prev = merged.get(key)
        merged[key] = r if prev is None else InteractionRecord(
            r.user_id, r.item_id, prev.weight + r.weight, max(prev.ts, r.ts), prev.source)
    return list(merged.values())


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
        """The interactions with repeated pairs merged (see :func:`aggregate_interactions`)."""
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


def read_dataset(spec: str | Path) -> Dataset:
    """Read a dataset from a spec.

    Args:
        spec: a catalog folder (see :mod:`ingest.catalog`), ``movielens:PATH`` for a
            MovieLens 100K folder, or ``synthetic:USERS,ITEMS[,SEED]`` for the
            synthetic generator (e.g. ``synthetic:1000,500,7``).

    Raises:
        IngestError: the spec names nothing readable.
        RecordError: a record is malformed.

    Example:
        >>> ds = read_dataset("movielens:../shared/datasets/ml-100k")  # doctest: +SKIP
        >>> snap = ds.to_snapshot()  # doctest: +SKIP
    """
    text = str(spec)
    scheme, sep, rest = text.partition(":")
    if sep and scheme == "movielens":
        from ingest.movielens import read_movielens

        return read_movielens(rest)
    if sep and scheme == "synthetic":
        from ingest.synthetic import generate_synthetic

        try:
            nums = [int(x) for x in rest.split(",")]
            if len(nums) not in (2, 3):
                raise ValueError
        except ValueError:
            raise IngestError(f"dataset spec {text!r}: expected synthetic:USERS,ITEMS[,SEED] "
                              f"with integers") from None
        return generate_synthetic(nums[0], nums[1], nums[2] if len(nums) == 3 else 0).to_dataset()
    from ingest.catalog import read_catalog

    path = Path(text)
    if not path.exists():
        raise IngestError(f"dataset spec {text!r}: no such folder (expected a catalog folder, "
                          f"movielens:PATH or synthetic:USERS,ITEMS[,SEED])")
    return read_catalog(path)
