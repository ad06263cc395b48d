"""``FeatureStore``: a persistent, content-addressed cache of text features.

What is cached where:

- **Passages** (``kind="passage"``: item texts, attribute texts, user-profile texts, i.e.
  catalog data, bounded by the catalog) are written to disk and shared by every process.
- **Queries** (``kind="query"``: ad-hoc texts such as ``similar_to_text``) are never
  written to disk: each process keeps the last ``query_cache_size`` (default 1024) in
  memory (LRU). A query text that is also a cached passage is still read from disk.
- ``encode(..., persist=True/False)`` overrides the rule per call; :meth:`FeatureStore.put`
  always writes. Files are private (folders 0700, files 0600).

Key of a text = ``sha256(encoder.fingerprint, kind, normalised text)``. The fingerprint
covers the model files, ``max_length`` and the window it gives, what is done with a text
longer than the window (``long_text``: chunked and pooled, or truncated), the text rule's
version (``llm_bridge.text.TEXT_RULE``: normalisation, item template), prefixes, pooling
and compute dtype, so changing any of them misses the cache (features of an older rule are
never served); changing one description misses for that text only.

Storage design::

    <root>/<fingerprint[:32]>/
        encoder.json                       what wrote this folder (for humans)
        shard-<time_ns>-<rand>.vec.npy     float32 [n, D] vectors
        shard-<time_ns>-<rand>.keys.npy    uint8   [n, 32] sha256 keys, same row order
        shard-<time_ns>-<rand>.json        manifest: n, D, byte sizes, sha256 of both files

Why this shape:

- **One folder per encoder fingerprint.** Invalidation is free (a new model writes a new
  folder) and old folders can be deleted wholesale.
- **Append-only, immutable shards.** Each ``encode`` call that misses writes one new shard
  of its misses; nothing is ever rewritten in place, so there is no shared manifest to
  lock and concurrent writers (processes or threads) cannot clobber each other. A key
  written twice by racing writers is harmless: the older shard wins.
- **Atomic publication.** Every file is written to a temporary name in the same folder,
  fsynced and ``os.replace``-d; the shard's JSON manifest is published last and is its
  commit marker. Readers only trust shards whose manifest exists, so they never see a
  half-written shard. Unpublished leftovers of a crashed writer are removed after an hour.
- **Checksums.** When a process first opens a shard it checks byte sizes and sha256 of both
  files against the manifest (~0.1 s per 150 MB). A corrupt or truncated shard is logged
  as a warning and deleted, and its texts are simply re-encoded. Shards are then
  memory-mapped (``np.load(mmap_mode="r")``), so a small lookup against a large cache
  reads only the rows it needs.
- **Float32.** Cached vectors are bit-identical to a fresh encode on the same device.
- **In-memory index.** All keys are loaded into one ``dict`` key -> global row; lookups
  are one dict probe per text and the gather is one fancy-index per shard. Re-encoding an
  unchanged 100k catalogue costs normalising + hashing + gathering (about a second).

:meth:`FeatureStore.compact` merges many small shards into one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kgrec.errors import EncoderError
from kgrec.settings import private_dir
from llm_bridge.encoder import TextEncoder, TextKind
from llm_bridge.text import TEXT_RULE

__all__ = ["CacheStats", "FeatureStore"]

logger = logging.getLogger(__name__)

_FORMAT = 1
_KEY_BYTES = 32
_ORPHAN_AGE_S = 3600.0
_QUERY_CACHE_SIZE = 1024


@dataclass(frozen=True)
class CacheStats:
    """What one :meth:`FeatureStore.encode` call did.

    Attributes:
        n: texts requested.
        hits: texts served from the cache.
        misses: texts not in the cache (``n - hits``).
        encoded: distinct texts actually run through the model (duplicates encode once).
        seconds: wall time of the call.
        sentences_per_s: ``n / seconds``.
    """

    n: int
    hits: int
    misses: int
    encoded: int
    seconds: float
    sentences_per_s: float


@dataclass
class _Shard:
    name: str
    offset: int
    vectors: np.ndarray  # float32 [n, D], memory-mapped


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not supported on every platform
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


class FeatureStore:
    """Encode through a persistent cache; only unseen texts reach the model.

    Args:
        root: cache root (``Settings.features_dir``); one sub-folder per encoder fingerprint.
        encoder: the encoder whose vectors are cached. Its model is loaded only on a miss.
        query_cache_size: vectors encoded without persisting (queries, by default) kept
            in memory, least recently used dropped first; 0 keeps none.

    Raises:
        EncoderError: the cache folder cannot be created or written.

    Example::

        store = FeatureStore(settings.features_dir, TextEncoder(settings.encoder))
        x, stats = store.encode(texts)   # x: float32 [len(texts), D]
    """

    def __init__(self, root: Path, encoder: TextEncoder, *,
                 query_cache_size: int = _QUERY_CACHE_SIZE) -> None:
        self.root = Path(root)
        self.encoder = encoder
        self.path = self.root / encoder.fingerprint[:32]
        self.query_cache_size = query_cache_size
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()
        try:
            private_dir(self.path)
            info = self.path / "encoder.json"
            if not info.exists():
                _atomic_write(info, json.dumps({
                    "format": _FORMAT, "fingerprint": encoder.fingerprint,
                    "model_id": encoder.model_id, "max_length": encoder.settings.max_length,
                    "window": encoder.window, "long_text": encoder.long_text,
                    "text_rule": TEXT_RULE,
                    "query_prefix": encoder.settings.query_prefix,
                    "passage_prefix": encoder.settings.passage_prefix,
                }, indent=2).encode())
        except OSError as e:
            raise EncoderError(f"feature cache {str(self.path)!r}: cannot create: {e}") from e
        self._lock = threading.RLock()
        self._shards: list[_Shard] = []
        self._known: set[str] = set()
        self._index: dict[bytes, int] = {}
        self._size = 0
        self.refresh()

    def __repr__(self) -> str:
        return f"FeatureStore(path={str(self.path)!r}, vectors={len(self)}, shards={len(self._shards)})"

    def __len__(self) -> int:
        """Distinct cached vectors known to this process."""
        return len(self._index)

    # -- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Pick up shards that other processes published since the last call."""
        with self._lock:
            names = sorted(p.name[: -len(".json")] for p in self.path.glob("shard-*.json"))
            for name in names:
                if name not in self._known:
                    self._open_shard(name)
            self._remove_orphans(set(names))

    def _open_shard(self, name: str) -> None:
        self._known.add(name)
        try:
            vectors, keys = self._verified_arrays(name)
        except _Corrupt as e:
            logger.warning("feature cache %s: shard %s is corrupt (%s); deleting it, its texts "
                           "will be re-encoded", self.path, name, e)
            self._delete_shard(name)
            return
        offset = self._size
        shard_rows = keys.tobytes()
        index = self._index
        for row in range(keys.shape[0]):
            index.setdefault(shard_rows[row * _KEY_BYTES:(row + 1) * _KEY_BYTES], offset + row)
        self._shards.append(_Shard(name, offset, vectors))
        self._size += keys.shape[0]

    def _verified_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            meta: dict[str, Any] = json.loads((self.path / f"{name}.json").read_text())
            n, dim = int(meta["n"]), int(meta["dim"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise _Corrupt(f"unreadable manifest: {e}") from e
        for part in ("vec", "keys"):
            f = self.path / f"{name}.{part}.npy"
            try:
                size = f.stat().st_size
            except OSError:
                raise _Corrupt(f"{f.name} is missing") from None
            if size != meta.get(f"{part}_bytes"):
                raise _Corrupt(f"{f.name} has {size} bytes, manifest says {meta.get(f'{part}_bytes')}")
            if _sha256_file(f) != meta.get(f"{part}_sha256"):
                raise _Corrupt(f"{f.name} checksum mismatch")
        try:
            vectors = np.load(self.path / f"{name}.vec.npy", mmap_mode="r", allow_pickle=False)
            keys = np.load(self.path / f"{name}.keys.npy", allow_pickle=False)
        except (OSError, ValueError) as e:
            raise _Corrupt(f"cannot load: {e}") from e
        if vectors.shape != (n, dim) or vectors.dtype != np.float32:
            raise _Corrupt(f"vectors: expected float32 {(n, dim)}, found {vectors.dtype} "
                           f"{vectors.shape}")
        if keys.shape != (n, _KEY_BYTES) or keys.dtype != np.uint8:
            raise _Corrupt(f"keys: expected uint8 {(n, _KEY_BYTES)}, found {keys.dtype} {keys.shape}")
        return vectors, keys

    def _delete_shard(self, name: str) -> None:
        for suffix in (".json", ".vec.npy", ".keys.npy"):  # manifest first: unpublish
            with contextlib.suppress(FileNotFoundError):
                (self.path / f"{name}{suffix}").unlink()

    def _remove_orphans(self, published: set[str]) -> None:
        now = time.time()
        for p in self.path.iterdir():
            stem = p.name.split(".", 1)[0]
            orphan = p.name.startswith(".tmp-") or (p.name.startswith("shard-")
                                                    and stem not in published)
            if orphan:
                with contextlib.suppress(OSError):
                    if now - p.stat().st_mtime > _ORPHAN_AGE_S:
                        p.unlink()
                        logger.info("feature cache %s: removed stale %s", self.path, p.name)

    def keys(self, texts: Sequence[str], kind: TextKind = "passage") -> list[bytes]:
        """Cache keys (32-byte sha256 digests) of texts already passed through
        :meth:`TextEncoder.prepare`."""
        base = hashlib.sha256(f"{self.encoder.fingerprint}\0{kind}\0".encode())
        out: list[bytes] = []
        for t in texts:
            h = base.copy()
            h.update(t.encode("utf-8"))
            out.append(h.digest())
        return out

    def _gather(self, rows: np.ndarray, out: np.ndarray, positions: np.ndarray) -> None:
        if not positions.size:
            return
        offsets = np.fromiter((s.offset for s in self._shards), dtype=np.int64,
                              count=len(self._shards))
        wanted = rows[positions]
        shard_of = np.searchsorted(offsets, wanted, side="right") - 1
        for s in np.unique(shard_of).tolist():
            sel = shard_of == s
            shard = self._shards[s]
            local = wanted[sel] - shard.offset
            # Sorted reads from the memory map, then scatter back to the callers' order.
            order = np.argsort(local, kind="stable")
            block = np.empty((local.size, shard.vectors.shape[1]), dtype=np.float32)
            block[order] = shard.vectors[local[order]]
            out[positions[sel]] = block

    # -- encoding and writing -----------------------------------------------------------

    def encode(
        self,
        texts: Sequence[str | bytes],
        *,
        kind: TextKind = "passage",
        batch_size: int | None = None,
        show_progress: bool | None = None,
        persist: bool | None = None,
    ) -> tuple[np.ndarray, CacheStats]:
        """Encode ``texts``, reading cached vectors and encoding (then storing) the rest.

        Args:
            texts: as for :meth:`TextEncoder.encode`.
            kind: ``"passage"`` or ``"query"`` (prefixes differ, so keys differ).
            batch_size: forwarded to the encoder for the misses.
            show_progress: progress bar over the misses; ``None`` = on at INFO level.
            persist: write the misses to disk; ``None`` = passages yes, queries no (those
                go to the in-memory LRU instead, so ad-hoc texts never grow the cache).

        Returns:
            ``(x, stats)``: ``x`` is ``float32 [len(texts), D]`` in input order, equal to
            ``encoder.encode(texts)``; ``stats`` counts hits and misses.

        Raises:
            EncoderError: bad input, model failure, or the new shard cannot be written.
        """
        t0 = time.perf_counter()
        if kind not in ("passage", "query"):
            raise EncoderError(f"kind must be 'passage' or 'query', got {kind!r}")
        keep = kind == "passage" if persist is None else persist
        clean = self.encoder.prepare(texts)
        keys = self.keys(clean, kind)
        n = len(keys)
        with self._lock:
            self.refresh()
            index = self._index
            rows = np.fromiter((index.get(k, -1) for k in keys), dtype=np.int64, count=n)
            miss = np.flatnonzero(rows < 0)
            hit = np.flatnonzero(rows >= 0)
            dim = self._shards[0].vectors.shape[1] if self._shards else None
        recent = {} if keep else self._recall(keys[p] for p in miss.tolist())
        new_pos: dict[bytes, int] = {}
        for p in miss.tolist():
            if keys[p] not in recent:
                new_pos.setdefault(keys[p], p)
        if new_pos:
            vecs = self.encoder.encode_prepared([clean[p] for p in new_pos.values()], kind=kind,
                                                batch_size=batch_size, show_progress=show_progress)
            dim = vecs.shape[1]
        elif dim is None:
            dim = next(iter(recent.values())).shape[0] if recent else self.encoder.dim
        out = np.empty((n, dim), dtype=np.float32)
        with self._lock:
            self._gather(rows, out, hit)
        fresh = [p for p in miss.tolist() if keys[p] in new_pos]
        for p in miss.tolist() if recent else ():
            if keys[p] in recent:
                out[p] = recent[keys[p]]
        if new_pos:
            slot = {k: i for i, k in enumerate(new_pos)}
            out[fresh] = vecs[[slot[keys[p]] for p in fresh]]
            if keep:
                self._write_shard(list(new_pos), vecs)
            else:
                self._remember(list(new_pos), vecs)
        seconds = time.perf_counter() - t0
        hits = n - len(fresh)  # from disk or, for queries, from memory
        stats = CacheStats(n=n, hits=hits, misses=n - hits, encoded=len(new_pos),
                           seconds=seconds, sentences_per_s=n / seconds if seconds > 0 else 0.0)
        logger.debug("feature cache %s: %d texts, %d hits, %d encoded in %.2fs", self.path, n,
                     stats.hits, stats.encoded, seconds)
        return out, stats

    def _recall(self, keys: Iterable[bytes]) -> dict[bytes, np.ndarray]:
        """Query vectors of ``keys`` held in memory (each one becomes most recent)."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for k in keys:
                v = self._recent.get(k)
                if v is not None:
                    self._recent.move_to_end(k)
                    found[k] = v
        return found

    def _remember(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Keep ``vectors`` in memory only, dropping the least recently used past the bound."""
        with self._lock:
            for k, v in zip(keys, vectors, strict=True):
                self._recent[k] = np.array(v, dtype=np.float32)
                self._recent.move_to_end(k)
            while len(self._recent) > self.query_cache_size:
                self._recent.popitem(last=False)

    def put(self, texts: Sequence[str | bytes], vectors: np.ndarray, *,
            kind: TextKind = "passage") -> int:
        """Store precomputed vectors for ``texts`` (e.g. encoded on another machine with an
        identical encoder). The caller vouches that they match this store's encoder.

        Args:
            texts: the texts, as they would be passed to :meth:`encode`.
            vectors: ``float32 [len(texts), D]``, finite.
            kind: ``"passage"`` or ``"query"``.

        Returns:
            How many new vectors were written (texts already cached are skipped).

        Raises:
            EncoderError: shape mismatch or non-finite values.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise EncoderError(f"put(): vectors must be [{len(texts)}, D], got {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise EncoderError("put(): vectors contain NaN or inf")
        keys = self.keys(self.encoder.prepare(texts), kind)
        with self._lock:
            self.refresh()
            fresh: dict[bytes, int] = {}
            for i, k in enumerate(keys):
                if k not in self._index:
                    fresh.setdefault(k, i)
        if fresh:
            self._write_shard(list(fresh), vectors[list(fresh.values())])
        return len(fresh)

    def _write_shard(self, keys: list[bytes], vectors: np.ndarray) -> None:
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        vec_bytes = _npy_bytes(np.ascontiguousarray(vectors, dtype=np.float32))
        key_bytes = _npy_bytes(np.frombuffer(b"".join(keys), dtype=np.uint8)
                               .reshape(len(keys), _KEY_BYTES))
        meta = {
            "format": _FORMAT, "n": len(keys), "dim": int(vectors.shape[1]), "dtype": "float32",
            "vec_bytes": len(vec_bytes), "vec_sha256": hashlib.sha256(vec_bytes).hexdigest(),
            "keys_bytes": len(key_bytes), "keys_sha256": hashlib.sha256(key_bytes).hexdigest(),
            "fingerprint": self.encoder.fingerprint, "created": time.time(),
        }
        try:
            _atomic_write(self.path / f"{name}.vec.npy", vec_bytes)
            _atomic_write(self.path / f"{name}.keys.npy", key_bytes)
            _atomic_write(self.path / f"{name}.json", json.dumps(meta).encode())
            _fsync_dir(self.path)
        except OSError as e:
            self._delete_shard(name)
            raise EncoderError(f"feature cache {str(self.path)!r}: writing shard {name} "
                               f"({len(keys)} vectors) failed: {e}") from e
        with self._lock:
            self._open_shard(name)
        logger.debug("feature cache %s: wrote %s (%d vectors)", self.path, name, len(keys))

    def compact(self) -> int:
        """Merge all shards of this fingerprint into one; returns the number merged.

        Safe with concurrent readers (they keep their memory maps of the unlinked files);
        run it when no other process is writing to this cache.
        """
        with self._lock:
            self.refresh()
            if len(self._shards) < 2:
                return 0
            old = [s.name for s in self._shards]
            keys = list(self._index)
            rows = np.fromiter(self._index.values(), dtype=np.int64, count=len(keys))
            vectors = np.empty((len(keys), self._shards[0].vectors.shape[1]), dtype=np.float32)
            self._gather(rows, vectors, np.arange(len(keys)))
            self._shards, self._index, self._size = [], {}, 0
            self._write_shard(keys, vectors)
            for name in old:
                self._delete_shard(name)
            return len(old)


class _Corrupt(Exception):
    """Internal: a shard failed verification (never leaves this module)."""
