"""The shuffled-KG ablation: degrees kept, edges changed, training snapshot only."""

from __future__ import annotations

from collections import Counter

import numpy as np

from gnn.ablation import shuffle_item_attributes
from gnn.kgrec_ranker import ShuffledKGRanker, kgrec_rankers
from kg.records import InteractionRecord, ItemRecord
from kg.snapshot import GraphSnapshot, snapshot_from_records


def _snapshot() -> GraphSnapshot:
    rng = np.random.default_rng(0)
    items = [ItemRecord(str(i), f"item {i}", attributes={
        "genre": [f"g{g}" for g in rng.choice(6, size=1 + i % 3, replace=False)],
        "year": [str(1990 + i % 7)]}) for i in range(60)]
    inter = [InteractionRecord(str(u), str(i)) for u in range(20)
             for i in rng.choice(60, size=5, replace=False)]
    return snapshot_from_records(items, inter)


def _degrees(snap: GraphSnapshot) -> tuple[Counter[tuple[int, str]], Counter[int]]:
    """(item, kind) degrees and attribute degrees."""
    items, attrs = snap.item_attribute_index
    kinds = [snap.attribute_kind_value(a)[0] for a in attrs.tolist()]
    return Counter(zip(items.tolist(), kinds, strict=True)), Counter(attrs.tolist())


def test_shuffle_keeps_degrees_and_changes_edges() -> None:
    snap = _snapshot()
    shuffled = shuffle_item_attributes(snap, seed=3)
    assert _degrees(shuffled) == _degrees(snap)
    edges = set(map(tuple, shuffled.item_attribute_index.T.tolist()))
    assert len(edges) == shuffled.item_attribute_index.shape[1]  # no duplicate edge
    original = set(map(tuple, snap.item_attribute_index.T.tolist()))
    assert len(edges & original) < 0.6 * len(original)
    # deterministic in the seed; interactions and texts untouched
    again = shuffle_item_attributes(snap, seed=3)
    assert (again.item_attribute_index == shuffled.item_attribute_index).all()
    assert (shuffle_item_attributes(snap, seed=4).item_attribute_index
            != shuffled.item_attribute_index).any()
    assert shuffled.interaction_index is snap.interaction_index
    assert shuffled.item_title == snap.item_title


def test_shuffled_kg_ranker_is_a_kgrec_variant() -> None:
    names = [m.name for m in kgrec_rankers()]
    assert names[-1] == "kgrec-shuffled-kg"
    assert isinstance(kgrec_rankers()[-1], ShuffledKGRanker)
