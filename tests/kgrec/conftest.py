"""A small trained model on a planted catalog, in the session's Neo4j: trained once per
session, the graph reloaded for a test whenever an earlier test changed it.

Two taste communities: "space" (A) and "cooking" (B), 30 items and 16 users each, with
disjoint attributes and texts a real encoder separates. Each user knows 24 of its
community's 30 items. Users ``cold-a`` (profile genre SciFi, no interactions) and
``cold-none`` (nothing) exercise the fallbacks.
"""

from __future__ import annotations

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


def _load_planted(driver, database: str) -> None:  # type: ignore[no-untyped-def]
    from kg.indexes import ensure_schema
    from kg.queries import DELETE_ALL
    from kg.writer import GraphWriter

    with driver.session(database=database) as session:
        session.run(DELETE_ALL).consume()
    ensure_schema(driver, database)
    items, users, inter = planted_records()
    writer = GraphWriter(driver, database, show_progress=False)
    writer.write_items(items)
    writer.write_users(users)
    writer.write_interactions(inter)


def _signature(driver, database: str) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    """What a test that writes changes: node and edge counts, the latest change, and
    embeddings another model wrote."""
    # Every returned expression aggregates, so an empty database still gives one row.
    r = driver.execute_query(
        "MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS n, "
        "max(n.changedAt) AS t, count(r) AS e, "
        "count(DISTINCT CASE WHEN n.embeddingVersion IS NULL OR n.embeddingVersion = $v "
        "THEN NULL ELSE n END) AS other", v=VERSION, database_=database).records[0]
    return tuple(r.values())


@pytest.fixture(scope="session")
def planted_model(settings: Settings, neo4j_driver) -> Path:  # type: ignore[no-untyped-def]
    """Train a tiny model on the planted catalog once per session and checkpoint it."""
    from dataclasses import replace

    from gnn.checkpoint import save_checkpoint
    from gnn.config import KGRecConfig, ModelConfig, TrainConfig
    from gnn.features import node_features
    from gnn.train import train_model
    from kg.export import export_snapshot
    from llm_bridge import FeatureStore, TextEncoder

    db = settings.neo4j.database
    _load_planted(neo4j_driver, db)
    snap = export_snapshot(neo4j_driver, db, show_progress=False)
    encoder = TextEncoder(settings.encoder)
    feats = node_features(snap, FeatureStore(settings.features_dir, encoder),
                          show_progress=False)
    config = KGRecConfig(ModelConfig(dim=16, layers=2),
                         TrainConfig(batch_size=64, max_epochs=40, lr=0.02, device="cpu", seed=7))
    trained = train_model(snap, feats, config, None, show_progress=False,
                          encoder_fingerprint=encoder.fingerprint).trained
    return save_checkpoint(settings.models_dir / VERSION, replace(trained, version=VERSION))


_LAST: dict[str, object] = {}


@pytest.fixture
def planted_db(settings: Settings, neo4j_driver, planted_model: Path):  # type: ignore[no-untyped-def]
    """The planted graph with the planted model's embeddings in Neo4j and ``latest``
    pointing at it; reloaded whenever another test changed the graph."""
    from gnn.checkpoint import load_checkpoint
    from gnn.model_store import ModelStore
    from gnn.writeback import write_back
    from kg.indexes import ensure_user_vector_index

    db = settings.neo4j.database
    if _LAST.get("signature") != _signature(neo4j_driver, db):
        _load_planted(neo4j_driver, db)
        trained = load_checkpoint(planted_model)
        write_back(neo4j_driver, trained, db, show_progress=False)
        ensure_user_vector_index(neo4j_driver, trained.dim, db)
        _LAST["signature"] = _signature(neo4j_driver, db)
    ModelStore(settings.models_dir).use(VERSION)
    return neo4j_driver


@pytest.fixture
def rec(settings: Settings, planted_db, planted_model: Path):  # type: ignore[no-untyped-def]
    """A fresh recommender on the planted model and graph (tests may change both)."""
    from kgrec.recommender import Recommender

    with Recommender(settings, model_dir=planted_model, driver=planted_db) as r:
        yield r
