"""Synthetic catalog generator (no database needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ingest.catalog import read_catalog
from ingest.synthetic import TOPICS, generate_synthetic, write_synthetic_catalog


def test_deterministic_for_a_seed_and_different_for_another() -> None:
    a, b, c = (generate_synthetic(60, 40, s, chunk_size=16) for s in (5, 5, 6))
    assert list(a.items()) == list(b.items())
    assert list(a.users()) == list(b.users())
    assert list(a.interactions()) == list(b.interactions())
    assert list(a.interactions()) == list(a.interactions())  # re-iterable
    assert list(a.items()) != list(c.items())


def test_records_are_valid_and_pairs_unique() -> None:
    cat = generate_synthetic(120, 80, 3, interactions_per_user=6)
    items = list(cat.items())
    assert [r.id for r in items] == [f"i{k}" for k in range(80)]
    assert all(set(r.attributes) == {"brand", "category", "price_band", "style"} for r in items)
    pairs = [(r.user_id, r.item_id) for r in cat.interactions()]
    assert len(pairs) == len(set(pairs)) > 120
    by_user: dict[str, list[int]] = {}
    for r in cat.interactions():
        by_user.setdefault(r.user_id, []).append(r.ts)
    assert all(ts == sorted(ts) for ts in by_user.values())
    snap = cat.to_dataset().to_snapshot()
    assert snap.num_items == 80 and snap.num_users == 120


def test_description_reflects_the_main_topic() -> None:
    cat = generate_synthetic(10, 300, 1)
    hits = 0
    for r, topic in zip(cat.items(), cat.item_topic.tolist(), strict=True):
        vocab = TOPICS[topic][2]
        hits += sum(w in r.description for w in vocab) >= 2
        assert r.attributes["category"][0] in TOPICS[topic][1]
    assert hits > 0.6 * 300


def test_popularity_is_long_tailed() -> None:
    cat = generate_synthetic(2000, 1000, 11)
    items = np.concatenate([i for _, i, _ in cat.interaction_arrays()])
    counts = np.sort(np.bincount(items, minlength=1000))[::-1]
    assert counts[:200].sum() / counts.sum() > 0.5  # top 20 % of items: over half the events
    assert counts[-500:].sum() / counts.sum() < 0.2


def test_write_catalog_reads_back(tmp_path: Path) -> None:
    counts = write_synthetic_catalog(tmp_path, 50, 30, seed=9, interactions_per_user=4)
    ds = read_catalog(tmp_path)
    assert (len(ds.items), len(ds.users), len(ds.interactions)) == (
        counts["items"], counts["users"], counts["interactions"])
    assert ds.items == list(generate_synthetic(50, 30, 9, interactions_per_user=4).items())
