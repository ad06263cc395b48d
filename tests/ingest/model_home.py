"""A tiny model trained once per test session on ``tests/data/catalog``, in a
``KGREC_HOME`` of its own, for the tests that run the ingest watcher (it needs a served
model): ``tests/ingest/test_watch.py`` and ``tests/crash/test_ingest_crash.py``.

The model lives in its own home so that the session home's ``models/latest`` (which
other tests move) is never touched. A subprocess reaches the session's Neo4j through
``NEO4J_URI``/``NEO4J_USER``/``NEO4J_PASSWORD`` (:func:`subprocess_env`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import neo4j

from kgrec.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tests" / "data" / "catalog"
VERSION = "kgrec-test-ingest"

_HOME: dict[str, Path] = {}


def reload_catalog(driver: neo4j.Driver, settings: Settings, home: Path | None = None) -> None:
    """Empty the database, load ``tests/data/catalog`` and, with ``home``, write back the
    embeddings of its model (the state the model was trained on)."""
    from ingest.loader import load_catalog
    from kg.queries import DELETE_ALL
    from kg.writer import GraphWriter

    db = settings.neo4j.database
    with driver.session(database=db) as session:
        session.run(DELETE_ALL).consume()
    load_catalog(GraphWriter(driver, db, show_progress=False), CATALOG)
    if home is not None:
        from gnn.checkpoint import load_checkpoint
        from gnn.writeback import write_back
        from kg.indexes import ensure_user_vector_index

        trained = load_checkpoint(model_dir(home))
        write_back(driver, trained, db, show_progress=False)
        ensure_user_vector_index(driver, trained.dim, db)


def model_dir(home: Path) -> Path:
    """The checkpoint folder of the model in ``home``."""
    return home / "models" / VERSION


def trained_home(settings: Settings, driver: neo4j.Driver, folder: Path) -> Path:
    """A home whose ``models/latest`` is a tiny model of ``tests/data/catalog`` (trained
    on the first call of the session, in ``folder``; later calls return the same home)."""
    if "home" in _HOME:
        return _HOME["home"]
    from dataclasses import replace

    from gnn.checkpoint import save_checkpoint
    from gnn.config import KGRecConfig, ModelConfig, TrainConfig
    from gnn.features import node_features
    from gnn.model_store import ModelStore
    from gnn.train import train_model
    from kg.export import export_snapshot
    from llm_bridge import FeatureStore, TextEncoder

    reload_catalog(driver, settings)
    snap = export_snapshot(driver, settings.neo4j.database, show_progress=False)
    encoder = TextEncoder(settings.encoder)
    feats = node_features(snap, FeatureStore(settings.features_dir, encoder),
                          show_progress=False)
    config = KGRecConfig(ModelConfig(dim=8, layers=1),
                         TrainConfig(batch_size=64, max_epochs=2, device="cpu", seed=5))
    trained = train_model(snap, feats, config, None, show_progress=False,
                          encoder_fingerprint=encoder.fingerprint).trained
    save_checkpoint(model_dir(folder), replace(trained, version=VERSION))
    ModelStore(folder / "models").use(VERSION)
    _HOME["home"] = folder
    return folder


def subprocess_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``kgrec`` subprocess on ``home`` and the session's Neo4j."""
    from kg.server import LocalNeo4j

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEO4J_", "KGREC_CRASH_AT", "KGREC_PAUSE"))}
    if settings.neo4j.uri is not None:
        uri, user = settings.neo4j.uri, settings.neo4j.user
        password = settings.neo4j.password.get_secret_value() if settings.neo4j.password else ""
    else:
        creds = LocalNeo4j(settings).credentials()
        uri, user, password = creds.uri, creds.user, creds.password.get_secret_value()
    env.update({"KGREC_HOME": str(home), "NEO4J_URI": uri, "NEO4J_USER": user,
                "NEO4J_PASSWORD": password, "NEO4J_DATABASE": settings.neo4j.database,
                "PYTHONPATH": str(ROOT), **extra})
    return env


def kgrec_command(*args: str) -> list[str]:
    """``kgrec ARGS`` as a subprocess command line (the CLI entry point, quiet)."""
    return [sys.executable, "-c", "from kgrec.cli import main; main()", "-q", *args]


def graph_counts(driver: neo4j.Driver, settings: Settings) -> dict[str, Any]:
    """Nodes per label, relationships per type, and the sum of interaction weights."""
    db = settings.neo4j.database
    labels = driver.execute_query(
        "MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS n ORDER BY l",
        database_=db).records
    types = driver.execute_query(
        "MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n ORDER BY t", database_=db).records
    weight = driver.execute_query(
        "MATCH ()-[r:INTERACTED]->() RETURN sum(r.weight) AS w", database_=db).records[0]["w"]
    return {"labels": {r["l"]: r["n"] for r in labels}, "types": {r["t"]: r["n"] for r in types},
            "weight": weight}
