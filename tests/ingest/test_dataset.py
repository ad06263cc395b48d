"""Dataset helpers and dataset specs (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.sources import read_dataset
from kg.records import InteractionRecord
from kg.writer import aggregate_interactions
from kgrec.errors import ConfigError, IngestError
from tests.conftest import ML100K, needs_movielens

DATA = Path(__file__).parents[1] / "data"


def test_aggregate_sums_weights_and_keeps_latest_ts() -> None:
    rows = [InteractionRecord("u", "a", 1.0, 5), InteractionRecord("v", "a", 2.0, 1),
            InteractionRecord("u", "a", 0.5, 9), InteractionRecord("u", "a", 1.0, 2)]
    assert aggregate_interactions(rows) == [InteractionRecord("u", "a", 2.5, 9),
                                            InteractionRecord("v", "a", 2.0, 1)]


def test_read_dataset_specs() -> None:
    assert len(read_dataset(DATA / "catalog").items) == 30
    assert len(read_dataset(str(DATA / "catalog_csv")).items) == 13
    syn = read_dataset("synthetic:20,10,4")
    assert (len(syn.users), len(syn.items)) == (20, 10)
    with pytest.raises(IngestError, match=r"synthetic:USERS,ITEMS"):
        read_dataset("synthetic:lots")
    with pytest.raises(IngestError, match=r"no such folder"):
        read_dataset(DATA / "nope")


def test_with_item_kinds_keeps_only_those_kinds() -> None:
    full = read_dataset(DATA / "catalog")
    genre = full.with_item_kinds(["genre"])
    assert genre.name == "catalog[genre]"
    assert [i.id for i in genre.items] == [i.id for i in full.items]
    assert genre.items[2].attributes == {"genre": ("Horror", "Romance")}
    assert {k for i in genre.items for k in i.attributes} == {"genre"}
    assert genre.interactions == full.interactions and genre.users == full.users
    assert genre.to_snapshot().num_attributes < full.to_snapshot().num_attributes
    with pytest.raises(ConfigError, match=r"\['colour'\] not in dataset 'catalog'; it has"):
        full.with_item_kinds(["genre", "colour"])


@needs_movielens
def test_read_dataset_movielens_snapshot() -> None:
    snap = read_dataset(f"movielens:{ML100K}").to_snapshot()
    assert (snap.num_users, snap.num_items, snap.num_interactions) == (943, 1682, 100000)
