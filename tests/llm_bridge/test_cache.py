from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from kgrec.errors import EncoderError
from kgrec.settings import EncoderSettings
from llm_bridge import FeatureStore, TextEncoder

CATALOG = [
    "Toy Story. Toys come to life. genre: Animation, Comedy",
    "Heat. A thief and a detective. genre: Action, Crime",
    "Casablanca. genre: Drama, Romance",
    "",
    "Heat. A thief and a detective. genre: Action, Crime",  # duplicate text
]


def _shards(store: FeatureStore) -> list[Path]:
    return sorted(store.path.glob("shard-*.vec.npy"))


def test_hit_on_second_run(tmp_path: Path, encoder: TextEncoder) -> None:
    store = FeatureStore(tmp_path, encoder)
    x1, s1 = store.encode(CATALOG, show_progress=False)
    assert (s1.n, s1.hits, s1.misses, s1.encoded) == (5, 0, 5, 4)
    # the store encodes 4 distinct texts, the encoder 5: other padded batches, float noise
    np.testing.assert_allclose(x1, encoder.encode(CATALOG, show_progress=False), atol=1e-6)
    x2, s2 = FeatureStore(tmp_path, encoder).encode(CATALOG, show_progress=False)
    assert (s2.hits, s2.misses, s2.encoded) == (5, 0, 0)
    np.testing.assert_array_equal(x1, x2)  # float32 storage: exact


def test_changed_text_reencodes_only_that_text(tmp_path: Path, encoder: TextEncoder) -> None:
    store = FeatureStore(tmp_path, encoder)
    store.encode(CATALOG, show_progress=False)
    changed = [*CATALOG[:2], "Casablanca. Of all the gin joints. genre: Drama", *CATALOG[3:]]
    x, stats = store.encode(changed, show_progress=False)
    assert (stats.hits, stats.misses) == (4, 1)
    np.testing.assert_allclose(x, encoder.encode(changed, show_progress=False), atol=1e-6)
    # query and passage keys differ
    assert store.encode(CATALOG[:1], kind="query", show_progress=False)[1].misses == 1


def test_fingerprint_change_invalidates(tmp_path: Path, encoder: TextEncoder) -> None:
    FeatureStore(tmp_path, encoder).encode(CATALOG[:2], show_progress=False)
    other = TextEncoder(EncoderSettings(device="cpu", max_length=16))
    store = FeatureStore(tmp_path, other)
    assert store.path != FeatureStore(tmp_path, encoder).path
    assert store.encode(CATALOG[:2], show_progress=False)[1].misses == 2


def test_changed_text_rule_misses(tmp_path: Path, encoder: TextEncoder,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Features of an older text rule (version or long-text rule) are never served."""
    import json

    import llm_bridge.encoder

    FeatureStore(tmp_path, encoder).encode(CATALOG[:2], show_progress=False)
    assert json.loads((FeatureStore(tmp_path, encoder).path / "encoder.json").read_text()
                      )["text_rule"] == llm_bridge.encoder.TEXT_RULE
    chunking = TextEncoder(EncoderSettings(device="cpu"), long_text="chunk")
    assert FeatureStore(tmp_path, chunking).encode(CATALOG[:2], show_progress=False
                                                   )[1].misses == 2
    monkeypatch.setattr(llm_bridge.encoder, "TEXT_RULE", "text-v999")
    newer = TextEncoder(EncoderSettings(device="cpu"))
    assert newer.fingerprint != encoder.fingerprint
    assert FeatureStore(tmp_path, newer).encode(CATALOG[:2], show_progress=False)[1].misses == 2


@pytest.mark.parametrize("damage", ["garble", "truncate", "manifest"])
def test_corrupt_shard_is_rebuilt(tmp_path: Path, encoder: TextEncoder, damage: str,
                                  caplog: pytest.LogCaptureFixture) -> None:
    expected, _ = FeatureStore(tmp_path, encoder).encode(CATALOG, show_progress=False)
    (vec,) = _shards(FeatureStore(tmp_path, encoder))
    if damage == "garble":
        data = bytearray(vec.read_bytes())
        data[-100:] = b"\x7f" * 100
        vec.write_bytes(bytes(data))
    elif damage == "truncate":
        vec.write_bytes(vec.read_bytes()[:-1000])
    else:
        vec.with_name(vec.name.replace(".vec.npy", ".json")).write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="llm_bridge.cache"):
        store = FeatureStore(tmp_path, encoder)
    assert "corrupt" in caplog.text
    x, stats = store.encode(CATALOG, show_progress=False)
    assert stats.hits == 0
    np.testing.assert_array_equal(x, expected)
    assert vec not in _shards(store)  # deleted; a fresh shard replaces it
    assert FeatureStore(tmp_path, encoder).encode(CATALOG, show_progress=False)[1].misses == 0


def test_put_compact_and_concurrent_stores(tmp_path: Path, encoder: TextEncoder) -> None:
    a, b = FeatureStore(tmp_path, encoder), FeatureStore(tmp_path, encoder)
    vecs = np.eye(3, encoder.dim, dtype=np.float32)
    assert a.put(["one", "two", "three"], vecs) == 3
    assert a.put(["one"], vecs[:1]) == 0
    b.encode(["four"], show_progress=False)
    x, stats = b.encode(["one", "two", "three", "four"], show_progress=False)  # sees a's shard
    assert stats.hits == 4
    np.testing.assert_array_equal(x[:3], vecs)
    assert a.compact() == 2 and len(_shards(a)) == 1
    y, stats = FeatureStore(tmp_path, encoder).encode(["one", "two", "three", "four"],
                                                      show_progress=False)
    assert stats.hits == 4
    np.testing.assert_array_equal(x, y)
    with pytest.raises(EncoderError, match="NaN"):
        a.put(["nan"], np.full((1, encoder.dim), np.nan, dtype=np.float32))


def _files(store: FeatureStore) -> set[str]:
    return {p.name for p in store.path.iterdir()}


def test_query_texts_stay_in_a_bounded_memory_cache_never_on_disk(
        tmp_path: Path, encoder: TextEncoder) -> None:
    store = FeatureStore(tmp_path, encoder, query_cache_size=2)
    before = _files(store)
    queries = [f"a gritty thriller number {i} on a night train" for i in range(3)]
    for q in queries:
        x, stats = store.encode([q], kind="query", show_progress=False)
        assert (stats.hits, stats.encoded) == (0, 1)
        np.testing.assert_allclose(x, encoder.encode([q], kind="query", show_progress=False),
                                   atol=1e-6)
    assert _files(store) == before  # nothing persisted: ad-hoc texts do not grow the cache
    assert store.encode(queries[2:], kind="query", show_progress=False)[1].hits == 1
    assert store.encode(queries[:1], kind="query", show_progress=False)[1].encoded == 1  # evicted
    assert FeatureStore(tmp_path, encoder).encode(queries[2:], kind="query",
                                                  show_progress=False)[1].hits == 0
    # passages (catalog texts) are persisted, and either rule can be overridden per call
    store.encode(CATALOG[:2], show_progress=False)
    assert len(_shards(store)) == 1
    store.encode(["kept on disk"], kind="query", persist=True, show_progress=False)
    store.encode(["kept in memory"], persist=False, show_progress=False)
    assert len(_shards(store)) == 2
    assert FeatureStore(tmp_path, encoder).encode(["kept on disk"], kind="query",
                                                  show_progress=False)[1].hits == 1


def test_a_query_equal_to_a_cached_passage_key_is_read_from_disk(
        tmp_path: Path, encoder: TextEncoder) -> None:
    store = FeatureStore(tmp_path, encoder)
    x, _ = store.encode(["space opera"], kind="query", persist=True, show_progress=False)
    y, stats = FeatureStore(tmp_path, encoder).encode(["space opera", "other"], kind="query",
                                                      show_progress=False)
    assert (stats.hits, stats.encoded) == (1, 1)
    np.testing.assert_array_equal(x[0], y[0])


def test_cache_folders_and_files_are_private(tmp_path: Path, encoder: TextEncoder) -> None:
    root = tmp_path / "home" / "features"
    store = FeatureStore(root, encoder)
    store.encode(CATALOG[:2], show_progress=False)
    for path in [root.parent, root, store.path, *store.path.iterdir()]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
