"""Workflows that span ingest and the facade: file ingestion and a polling watcher."""

from __future__ import annotations

import csv
import itertools
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgrec.errors import KGRecError
from kgrec.faults import crash_point
from kgrec.recommender import Recommender
from kgrec.results import IngestSummary

if TYPE_CHECKING:
    import neo4j

    from gnn.trained import TrainedModel
    from ingest.validation import OnError, RejectLog
    from kg.records import InteractionRecord
    from kg.snapshot import GraphSnapshot
    from kgrec.settings import Settings

__all__ = ["FileSummary", "InteractionIngest", "ingest_file", "is_interactions_file",
           "quarantine_file", "train_from_graph", "watch_folder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InteractionIngest:
    """What ingesting an interactions file did (:func:`ingest_file`).

    Attributes:
        interactions: interaction rows written (repeated pairs merged by the writer).
        users: distinct users folded in at once.
        rejected: invalid rows (``on_error="skip"``), an unknown item among them.
        reasons: one message per rejected row (when no reject file was given).
        seconds: wall time.
    """

    interactions: int = 0
    users: int = 0
    rejected: int = 0
    reasons: tuple[str, ...] = field(default=())
    seconds: float = 0.0


#: what :func:`ingest_file` returns for an items file, or for an interactions file
FileSummary = IngestSummary | InteractionIngest

#: the suffixes the watcher picks up (the catalog readers' file types)
WATCHED_SUFFIXES = (".jsonl", ".ndjson", ".csv")


def is_interactions_file(path: Path) -> bool:
    """Whether ``path`` holds interactions rather than items, the way a catalog folder
    tells them apart: a file named ``interactions*`` (which must be a CSV), or a CSV whose
    header has ``user_id`` and ``item_id`` columns (an items CSV has ``id``)."""
    if path.name.lower().startswith("interactions"):
        return True
    if path.suffix.lower() != ".csv":
        return False
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader([f.readline(65_536)]), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False  # the items reader reports what is wrong with it
    return {"user_id", "item_id"} <= {c.strip() for c in header}


class _ServedItems:
    """The items ``rec`` serves, as a container of ids (an interaction with another item
    is a bad record)."""

    def __init__(self, rec: Recommender) -> None:
        self._catalog = rec.state.catalog

    def __contains__(self, item_id: object) -> bool:
        row = self._catalog.row_of(str(item_id))
        return row is not None and not self._catalog.deleted[row]


def ingest_file(rec: Recommender, path: Path, *, on_error: OnError = "skip",
                rejects_path: Path | None = None, batch_size: int = 1_000) -> FileSummary:
    """Validate ``path`` and add what it holds: items (``.jsonl``/``.csv``, see
    :mod:`ingest.catalog`) with :meth:`Recommender.add_items`, or interactions (see
    :func:`is_interactions_file`) with :meth:`Recommender.add_interactions`, whose items
    must be served already.

    Idempotent: a file ingested again (after a crash, say) changes nothing more.

    Args:
        rec: the recommender that adds the records.
        path: the file.
        on_error: ``"skip"`` leaves bad records out (counted, and written to
            ``rejects_path``); ``"fail"`` reads the whole file first and raises at its
            first bad record, writing nothing.
        rejects_path: reject file (JSONL) for ``on_error="skip"``.
        batch_size: records per write/encode batch.

    Returns:
        :class:`~kgrec.results.IngestSummary` for items, :class:`InteractionIngest` for
        interactions.

    Raises:
        RecordError: a bad record with ``on_error="fail"``.
        IngestError: the file is missing, unreadable, holds no records or has a bad
            header (a ``RecordError`` at line 1).
    """
    from ingest.catalog import iter_interactions, iter_items
    from ingest.validation import RejectLog, check_on_error

    check_on_error(on_error)
    interactions = is_interactions_file(path)
    served = _ServedItems(rec) if interactions else None
    if on_error == "fail":  # every record checked before the first write
        for _ in (iter_interactions(path, known_items=served) if served is not None
                  else iter_items(path)):
            pass
    with RejectLog(rejects_path if on_error == "skip" else None) as log:
        if served is not None:
            return _add_interactions(rec, iter_interactions(
                path, known_items=served, on_error="skip", rejects=log), log,
                keep_reasons=rejects_path is None, batch_size=batch_size)
        summary = rec.add_items(iter_items(path, on_error="skip", rejects=log),
                                batch_size=batch_size)
        reasons = tuple(e["reason"] for e in log.entries) if rejects_path is None else ()
        return IngestSummary(summary.added, summary.updated, summary.unchanged,
                             summary.rejected + log.count, summary.reasons + reasons,
                             summary.seconds)


def _add_interactions(rec: Recommender, records: Iterable[InteractionRecord], log: RejectLog,
                      *, keep_reasons: bool, batch_size: int) -> InteractionIngest:
    t0 = time.perf_counter()
    written = 0
    users: set[str] = set()
    it = iter(records)
    while batch := list(itertools.islice(it, batch_size)):
        written += rec.add_interactions(batch).interactions
        users.update(r.user_id for r in batch)
    reasons = tuple(e["reason"] for e in log.entries) if keep_reasons else ()
    return InteractionIngest(written, len(users), log.count, reasons,
                             time.perf_counter() - t0)


def _load_state(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
        return {str(k): float(v) for k, v in data.get("processed", {}).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _save_state(path: Path, state: dict[str, float]) -> None:
    """Write the watcher's state atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"processed": state}, indent=1))
    tmp.replace(path)


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/<stem>.<n><suffix>`` for the first ``n`` not taken."""
    target = folder / name
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
    return target


def quarantine_file(path: Path, quarantine_dir: Path, reason: str) -> Path:
    """Move ``path`` into ``quarantine_dir`` beside ``<name>.reason.txt`` stating ``reason``.

    The reason is written first, then the file moved (a rename): a crash in between
    leaves the file where it was, to be quarantined again on the next poll.

    Returns:
        Where the file now is.
    """
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir, path.name)
    note = target.with_name(target.name + ".reason.txt")
    tmp = note.with_suffix(".tmp")
    tmp.write_text(f"{path}\n{reason}\n", encoding="utf-8")
    tmp.replace(note)
    shutil.move(str(path), target)
    return target


def _why(error: Exception) -> str:
    if isinstance(error, KGRecError):
        return f"{type(error).__name__}: {error}"
    return f"internal error {type(error).__name__}: {error} (a bug; the log has the traceback)"


def _ingest_or_quarantine(rec: Recommender, path: Path, rejects: Path | None,
                          quarantine_dir: Path, on_error: OnError) -> FileSummary | Path:
    """Ingest one file; a file that cannot be ingested is quarantined (its new path
    returned). Errors of Neo4j or the encoder are not the file's fault: they propagate."""
    from kgrec.errors import IngestError

    try:
        return ingest_file(rec, path, on_error=on_error, rejects_path=rejects)
    except IngestError as e:
        error: Exception = e
    except KGRecError:
        raise
    except Exception as e:  # a reader bug must not stop the queue behind this file
        logger.exception("ingesting %s failed", path)
        error = e
    moved = quarantine_file(path, quarantine_dir, _why(error))
    logger.warning("quarantined %s as %s: %s", path, moved, _why(error))
    return moved


def watch_folder(rec: Recommender, folder: Path, state_path: Path, *, interval: float = 5.0,
                 rejects_dir: Path | None = None, quarantine_dir: Path | None = None,
                 on_file: Callable[[Path, FileSummary], None] | None = None,
                 on_quarantine: Callable[[Path, Path], None] | None = None,
                 max_rounds: int | None = None, on_error: OnError = "skip") -> int:
    """Poll ``folder`` for ``*.jsonl``, ``*.ndjson`` and ``*.csv`` files and ingest each
    new (or modified) one once with :func:`ingest_file`: items, or interactions (see
    :func:`is_interactions_file`; each poll takes the item files first, so interactions
    that arrive with their items find them).

    Processed files and their mtimes are kept in ``state_path`` (JSON, written
    atomically after each file), so a restart does not ingest them again; a file whose
    state was not saved (a crash right after its items were written) is ingested again,
    which changes nothing (``add_items`` is idempotent). A file that cannot be ingested
    (not UTF-8 at its start, no records, a bad header, a bad record with
    ``on_error="fail"``, a reader bug) is moved into
    ``quarantine_dir`` with a ``<name>.reason.txt`` beside it, and the watcher goes on
    with the next file. Write a file under another name and rename it into ``folder``,
    so the watcher never reads one half written. Runs until interrupted (or
    ``max_rounds`` polls).

    Args:
        rec: the recommender that adds the items.
        folder: the folder to watch (not recursive).
        state_path: the state file.
        interval: seconds between polls.
        rejects_dir: where each file's rejected records go (``<stem>.rejects.jsonl``).
        quarantine_dir: where bad files go; default ``folder/quarantine``.
        on_file: called with each ingested file and its summary.
        on_quarantine: called with each quarantined file and where it went.
        max_rounds: stop after this many polls.
        on_error: ``"skip"`` (bad records left out) or ``"fail"`` (a file with one is
            quarantined whole), as in :func:`ingest_file`.

    Returns:
        Number of files ingested (quarantined files not counted).

    Raises:
        GraphError, EncoderError: Neo4j or the encoder failed (the state of the files
            done so far is saved; a restart goes on from there).
    """
    quarantine_dir = quarantine_dir or folder / "quarantine"
    state = _load_state(state_path)
    done = 0
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        for path, mtime in _pending(folder, state):
            rejects = rejects_dir / f"{path.stem}.rejects.jsonl" if rejects_dir else None
            key = str(path.resolve())
            result = _ingest_or_quarantine(rec, path, rejects, quarantine_dir, on_error)
            if isinstance(result, Path):
                crash_point("watch.after_quarantine")
                state.pop(key, None)  # gone from the folder; a fixed copy is new
            else:
                crash_point("watch.after_file")
                state[key] = mtime
            _save_state(state_path, state)
            if isinstance(result, Path):
                if on_quarantine is not None:
                    on_quarantine(path, result)
                continue
            done += 1
            logger.info("ingested %s: %s", path, result)
            if on_file is not None:
                on_file(path, result)
        if max_rounds is not None and rounds >= max_rounds:
            break
        time.sleep(interval)
    return done


def _pending(folder: Path, state: dict[str, float]) -> list[tuple[Path, float]]:
    """The files of ``folder`` not yet done at their current mtime: items, then
    interactions, each by name."""
    out = []
    paths = (p for p in folder.iterdir() if p.suffix.lower() in WATCHED_SUFFIXES)
    for path in sorted(paths, key=lambda p: (is_interactions_file(p), p.name)):
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:  # removed since the listing
            continue
        if state.get(str(path.resolve())) != mtime:
            out.append((path, mtime))
    return out


def train_from_graph(settings: Settings, driver: neo4j.Driver, *,
                     max_epochs: int | None = None, device: str | None = None,
                     show_progress: bool | None = None, out: Path | None = None,
                     write: bool = True) -> TrainedModel:
    """Export → encode → train (early-stopped on a 10 % split, then refit on all) →
    checkpoint → write back → catch up → point ``latest`` at it; what ``kgrec train`` runs.

    The order keeps the previous model fully in force until the new one is complete: the
    checkpoint is written under a new version (atomically), its embeddings go to Neo4j,
    items changed since the export are embedded by the new model (so serving processes
    that switch find them ready), and only then does ``latest`` move.

    Args:
        settings, driver: the configuration and an open Neo4j driver.
        max_epochs: epoch cap (early stopping decides below it).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``; default ``KGREC_DEVICE``.
        show_progress: progress bars.
        out: checkpoint folder instead of a new version under ``models_dir`` (it does not
            become ``latest``).
        write: write the embeddings back to Neo4j.

    Returns:
        The :class:`gnn.trained.TrainedModel` (version set; ``info`` adds the validation
        ``history``, ``checkpoint`` folder and ``written`` counts).
    """
    from dataclasses import replace

    from gnn.checkpoint import save_checkpoint
    from gnn.config import KGRecConfig, TrainConfig
    from gnn.curves import plot_history
    from gnn.features import node_features
    from gnn.model_store import ModelStore, new_version
    from gnn.train import refit, train_model
    from kg.export import export_snapshot
    from kgrec.publish import publish_model
    from llm_bridge import FeatureStore, TextEncoder

    database = settings.neo4j.database
    config = KGRecConfig(train=TrainConfig(seed=settings.seed,
                                           device=device or settings.train.device))
    if max_epochs is not None:
        config = config.with_overrides(max_epochs=max_epochs)
    snapshot = export_snapshot(driver, database, show_progress=show_progress)
    encoder = TextEncoder(settings.encoder)
    store = FeatureStore(settings.features_dir, encoder)
    features = node_features(snapshot, store, show_progress=show_progress)
    fit, valid = _validation_split(snapshot, settings.seed)
    result = train_model(fit, features, config, valid, show_progress,
                         encoder_fingerprint=encoder.fingerprint)
    final = refit(result, snapshot, features, show_progress,
                  encoder_fingerprint=encoder.fingerprint)
    models = ModelStore(settings.models_dir)
    version = new_version()
    folder = Path(out) if out is not None else models.root / version
    trained = replace(final.trained, version=version, info={
        **final.trained.info, "history": result.history, "best_epoch": result.best_epoch,
        "seconds": result.seconds + final.seconds, "checkpoint": str(folder),
        "best_val_ndcg": max(result.history["val_ndcg"], default=None)})
    save_checkpoint(folder, trained)
    plot_history(result.history, str(folder / "curves.png"))
    written = {"items": 0, "users": 0}
    if write:
        written = publish_model(settings, driver, trained, store, show_progress=show_progress,
                                make_latest=out is None)
    elif out is None:
        models.use(version)
    return replace(trained, info={**trained.info, "written": written})


def _validation_split(snapshot: GraphSnapshot, seed: int) -> tuple[GraphSnapshot, np.ndarray]:
    """``(fit snapshot, validation pairs)``: 10% of each user's items, the protocol's
    carving (seed + 1)."""
    from gnn.split import FIT_FRACTION, split_pairs

    index = snapshot.interaction_index
    order = np.lexsort((index[1], index[0]))
    fit_mask, valid_mask = split_pairs(index[:, order], seed + 1, FIT_FRACTION)
    keep = np.zeros(snapshot.num_interactions, dtype=bool)
    keep[order[fit_mask]] = True
    return snapshot.with_interactions(keep), index[:, order[valid_mask]]
