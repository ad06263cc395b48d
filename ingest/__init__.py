"""ingest: read CSV, JSONL, RDF, MovieLens and synthetic sources into validated records.

Readers yield :mod:`kg.records` records that carry a ``SourceRef(path, line)``;
loaders hand them to :class:`kg.writer.GraphWriter` in validated batches.
The catalog format is documented in :mod:`ingest.catalog`.
"""

from __future__ import annotations

from ingest.catalog import iter_interactions, iter_items, iter_users, read_catalog
from ingest.dataset import Dataset
from ingest.loader import (
    LoadSummary,
    load_catalog,
    load_movielens,
    load_rdf,
    load_synthetic,
    merge_interactions,
)
from ingest.movielens import read_movielens
from ingest.rdf_reader import iter_rdf_items, read_rdf_items
from ingest.sources import read_dataset
from ingest.synthetic import SyntheticCatalog, generate_synthetic, write_synthetic_catalog
from ingest.validation import OnError, RejectLog

__all__ = [
    "Dataset",
    "LoadSummary",
    "OnError",
    "RejectLog",
    "SyntheticCatalog",
    "generate_synthetic",
    "iter_interactions",
    "iter_items",
    "iter_rdf_items",
    "iter_users",
    "load_catalog",
    "load_movielens",
    "load_rdf",
    "load_synthetic",
    "merge_interactions",
    "read_catalog",
    "read_dataset",
    "read_movielens",
    "read_rdf_items",
    "write_synthetic_catalog",
]
