"""Trained models as versions: ``KGREC_HOME/models/<version>/`` and a ``latest`` pointer.

``kgrec train`` saves each model under a new version folder (atomically, see
:mod:`gnn.checkpoint`) and moves the pointer only once the model is complete and its
embeddings are in Neo4j; ``kgrec models list | use VERSION | prune --keep N`` manage
them, and every serving process follows the pointer (``Recommender.refresh``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gnn.checkpoint import load_checkpoint
from gnn.trained import TrainedModel
from kgrec.errors import NotFoundError, RequestError

__all__ = ["ModelStore", "ModelVersion", "new_version"]

logger = logging.getLogger(__name__)

_POINTER = "latest"


def new_version(now: float | None = None) -> str:
    """A version name from the UTC time, e.g. ``kgrec-20261205T183000-123456``."""
    now = time.time() if now is None else now
    return time.strftime("kgrec-%Y%m%dT%H%M%S", time.gmtime(now)) + f"-{int(now % 1 * 1e6):06d}"


@dataclass(frozen=True)
class ModelVersion:
    """One saved model: its version, folder, size and headline facts."""

    version: str
    path: Path
    latest: bool
    users: int
    items: int
    best_val_ndcg: float | None
    trained_at: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"version": self.version, "path": str(self.path), "latest": self.latest,
                "users": self.users, "items": self.items, "best_val_ndcg": self.best_val_ndcg,
                "trained_at": self.trained_at}


class ModelStore:
    """The folder of model versions.

    Args:
        root: ``settings.models_dir``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    def latest(self) -> str | None:
        """The version ``latest`` points at (None when there is none)."""
        try:
            version = (self.root / _POINTER).read_text().strip()
        except FileNotFoundError:
            return None
        return version or None

    def path(self, version: str) -> Path:
        """The folder of ``version``.

        Raises:
            NotFoundError: no such version (the message lists the ones there are).
        """
        folder = self.root / version
        if "/" in version or version.startswith(".") or not (folder / "meta.json").is_file():
            known = ", ".join(v.version for v in self.versions()) or "none"
            raise NotFoundError(f"no model version {version!r} under {str(self.root)!r}; "
                                f"versions: {known}")
        return folder

    def load(self, version: str | None = None) -> TrainedModel:
        """Load ``version`` (default: the latest).

        Raises:
            NotFoundError: no model yet (run ``kgrec train``), or no such version.
        """
        version = version or self.latest()
        if version is None:
            raise NotFoundError(f"no trained model under {str(self.root)!r} (no 'latest' "
                                "pointer): run `kgrec train` first (or `kgrec demo`)")
        return load_checkpoint(self.path(version))

    def use(self, version: str) -> None:
        """Point ``latest`` at ``version`` (atomically)."""
        self.path(version)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{_POINTER}.{os.getpid()}.tmp"
        tmp.write_text(version + "\n")
        os.replace(tmp, self.root / _POINTER)
        logger.info("latest model is now %s", version)

    def versions(self) -> list[ModelVersion]:
        """Every complete version, oldest first."""
        if not self.root.is_dir():
            return []
        latest = self.latest()
        out = []
        for meta_path in self.root.glob("*/meta.json"):
            if meta_path.parent.name.startswith("."):
                continue
            try:
                meta = json.loads(meta_path.read_text())
                n_ids = json.loads((meta_path.parent / "ids.json").read_text())
            except (OSError, ValueError):
                continue
            info = meta.get("info", {})
            out.append(ModelVersion(meta_path.parent.name, meta_path.parent,
                                    meta_path.parent.name == latest, len(n_ids["user_ids"]),
                                    len(n_ids["item_ids"]), info.get("best_val_ndcg"),
                                    meta_path.stat().st_mtime))
        return sorted(out, key=lambda v: (v.trained_at, v.version))

    def prune(self, keep: int) -> list[str]:
        """Delete all but the ``keep`` newest versions; the latest is always kept.

        Returns:
            The versions deleted.
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise RequestError(f"keep must be an integer >= 1, got {keep!r}")
        versions = self.versions()
        doomed = [v for v in versions[:-keep] if not v.latest]
        for v in doomed:
            shutil.rmtree(v.path)
        stale = time.time() - 3600  # a save in progress elsewhere is younger than that
        for tmp in self.root.glob(".*.tmp"):  # leftovers of a crashed save
            if tmp.is_dir() and tmp.stat().st_mtime < stale:
                shutil.rmtree(tmp, ignore_errors=True)
        return [v.version for v in doomed]
