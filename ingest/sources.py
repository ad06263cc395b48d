"""Read a dataset from a spec: a catalog folder, ``movielens:PATH`` or
``synthetic:USERS,ITEMS[,SEED]``."""

from __future__ import annotations

from pathlib import Path

from ingest.catalog import read_catalog
from ingest.dataset import Dataset
from ingest.movielens import read_movielens
from ingest.synthetic import generate_synthetic
from kgrec.errors import IngestError

__all__ = ["read_dataset"]


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
        return read_movielens(rest)
    if sep and scheme == "synthetic":
        try:
            nums = [int(x) for x in rest.split(",")]
            if len(nums) not in (2, 3):
                raise ValueError
        except ValueError:
            raise IngestError(f"dataset spec {text!r}: expected synthetic:USERS,ITEMS[,SEED] "
                              f"with integers") from None
        return generate_synthetic(nums[0], nums[1], nums[2] if len(nums) == 3 else 0).to_dataset()
    path = Path(text)
    if not path.exists():
        raise IngestError(f"dataset spec {text!r}: no such folder (expected a catalog folder, "
                          f"movielens:PATH or synthetic:USERS,ITEMS[,SEED])")
    return read_catalog(path)
