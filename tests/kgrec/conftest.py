"""A small trained model on a planted catalog, in the session's Neo4j (built once per module).

Two taste communities: "space" (A) and "cooking" (B), 30 items and 16 users each, with
disjoint attributes and texts a real encoder separates. Each user knows 24 of its
community's 30 items. Users ``cold-a`` (profile genre SciFi, no interactions) and
``cold-none`` (nothing) exercise the fallbacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kg.records import InteractionRecord, ItemRecord, UserRecord
from kgrec.settings import Settings

SPACE = ["rocket", "galaxy", "astronaut", "nebula", "orbit", "starship", "alien", "comet"]
FOOD = ["bread", "recipe", "oven", "chef", "pasta", "soup", "spice", "dessert"]
VERSION = "kgrec-test-planted"


def planted_records() -> tuple[list[ItemRecord], list[UserRecord], list[InteractionRecord]]:
    rng = np.random.default_rng(3)
    items, users, inter = [], [], []
    for c, words, genres, style in (("a", SPACE, ("SciFi", "Space Opera"), "futuristic"),
                                    ("b", FOOD, ("Cooking", "Baking"), "homely")):
        for k in range(30):
            w = [words[(k + j) % len(words)] for j in range(3)]
            items.append(ItemRecord(
                f"{c}{k}", f"{w[0].title()} {w[1].title()} {k}",
                f"A story about {w[0]}, {w[1]} and {w[2]}.",
                {"genre": (genres[k % 2],), "style": (style,)}))
        for k in range(16):
            uid = f"u{c}{k}"
            users.append(UserRecord(uid, {"genre": (genres[0],)} if c == "a" else {}))
            for j in rng.choice(30, 24, replace=False):
                inter.append(InteractionRecord(uid, f"{c}{j}", 1.0, 1_700_000_000 + int(j)))
    users.append(UserRecord("cold-a", {"genre": ("SciFi",)}))
    users.append(UserRecord("cold-none", {}))
    return items, users, inter


@pytest.fixture(scope="module")
def planted_model(settings: Settings, neo4j_driver) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Load the planted catalog, train a tiny model, checkpoint it as ``latest`` and
    write the embeddings back. Yields the checkpoint folder."""
    from gnn.checkpoint import save_checkpoint, write_latest_pointer
    from gnn.features import node_features
    from gnn.model import ModelConfig
    from gnn.train import train_model
    from gnn.writeback import write_back
    from kg.export import export_snapshot
    from kg.queries import DELETE_ALL
    from kg.indexes import ensure_schema, ensure_user_vector_index
    from kg.writer import GraphWriter
    from llm_bridge import FeatureStore, TextEncoder

    db = settings.neo4j.database
    with neo4j_driver.session(database=db) as session:
        session.run(DELETE_ALL).consume()
    ensure_schema(neo4j_driver, db)
    items, users, inter = planted_records()
    writer = GraphWriter(neo4j_driver, db, show_progress=False)
    writer.write_items(items)
    writer.write_users(users)
    writer.write_interactions(inter)
    snap = export_snapshot(neo4j_driver, db, show_progress=False)
    encoder = TextEncoder(settings.encoder)
    feats = node_features(snap, FeatureStore(settings.features_dir, encoder),
                          show_progress=False)
    config = ModelConfig(dim=16, layers=2, batch_size=64, max_epochs=40, lr=0.02,
                         device="cpu", seed=7)
    trained = train_model(snap, feats, config, None, show_progress=False,
                          encoder_fingerprint=encoder.fingerprint).trained
    trained.version = VERSION
    folder = save_checkpoint(settings.models_dir / VERSION, trained)
    write_latest_pointer(settings.models_dir, VERSION)
    write_back(neo4j_driver, trained, db, show_progress=False)
    ensure_user_vector_index(neo4j_driver, trained.dim, db)
    yield folder


@pytest.fixture(scope="module")
def rec(settings: Settings, neo4j_driver, planted_model: Path):  # type: ignore[no-untyped-def]
    from kgrec.recommender import Recommender

    return Recommender(settings, model_dir=planted_model, driver=neo4j_driver)
