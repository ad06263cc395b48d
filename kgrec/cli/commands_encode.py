"""``kgrec encode``: fill the text-feature cache for a catalog file or the graph.

Registers its command on :data:`kgrec.cli.app` on import. Heavy imports (torch,
transformers, neo4j) happen inside the command so that ``kgrec --help`` stays fast.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from kgrec.cli import JsonOpt, OnErrorChoice, OnErrorOpt, app, echo_json
from kgrec.errors import ConfigError, IngestError
from kgrec.settings import Settings

__all__ = ["encode_command"]

logger = logging.getLogger(__name__)


def _items_from_file(path: Path, on_error: OnErrorChoice
                     ) -> tuple[list[str], list[str], list[dict[str, list[str]]]]:
    from ingest.catalog import catalog_files, iter_items

    if path.is_dir():
        path = catalog_files(path).items
    ids: list[str] = []
    texts: list[str] = []
    attrs: list[dict[str, list[str]]] = []
    from llm_bridge import item_text

    for rec in iter_items(path, on_error=on_error.mode):
        ids.append(rec.id)
        texts.append(item_text(rec.title, rec.description, rec.attributes))
        attrs.append({k: list(v) for k, v in rec.attributes.items()})
    return ids, texts, attrs


def _items_from_neo4j(settings: Settings) -> tuple[list[str], list[str],
                                                     list[dict[str, list[str]]]]:
    from kg.connection import connect
    from kg.export import export_snapshot
    from llm_bridge import item_text

    with connect(settings) as driver:
        snap = export_snapshot(driver, database=settings.neo4j.database)
    attrs = snap.item_attributes()
    texts = [item_text(t, d, a) for t, d, a in zip(snap.item_title, snap.item_description,
                                                     attrs, strict=True)]
    return list(snap.item_ids), texts, attrs


@app.command("encode")
def encode_command(
    path: Annotated[Path | None, typer.Argument(
        help="items.jsonl / items.csv, or a catalog folder holding one.")] = None,
    from_neo4j: Annotated[bool, typer.Option(
        "--from-neo4j", help="Encode the items stored in Neo4j instead of a file.")] = False,
    attributes: Annotated[bool, typer.Option(
        "--attributes/--no-attributes", help="Also encode the attribute nodes.")] = True,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also write the features to this .npz file (item_ids, item_x, "
        "attribute_ids, attribute_x; rows in input order).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, help="Texts per forward pass (default KGREC_ENCODER_BATCH_SIZE)."
    )] = None,
    on_error: OnErrorOpt = OnErrorChoice.fail,
    as_json: JsonOpt = False,
) -> None:
    """Encode item (and attribute) texts into the feature cache (Settings.features_dir)."""
    import numpy as np

    from llm_bridge import FeatureStore, TextEncoder, attribute_text

    if (path is None) == (not from_neo4j):
        raise ConfigError("kgrec encode: give either FILE or --from-neo4j (exactly one)")
    settings = Settings.from_env()
    if path is not None:
        if not path.exists():
            raise IngestError(f"{path}: no such file or folder")
        item_ids, texts, item_attrs = _items_from_file(path, on_error)
    else:
        item_ids, texts, item_attrs = _items_from_neo4j(settings)

    attr_pairs = sorted({(k, v) for a in item_attrs for k, vs in a.items() for v in vs}
                        if attributes else set())
    store = FeatureStore(settings.features_dir, TextEncoder(settings.encoder))
    logger.info("encoding %d items and %d attributes with %s (cache %s)", len(texts),
                len(attr_pairs), store.encoder.model_id, store.path)
    t0 = time.perf_counter()
    item_x, item_stats = store.encode(texts, batch_size=batch_size)
    attr_x, attr_stats = store.encode([attribute_text(k, v) for k, v in attr_pairs],
                                      batch_size=batch_size)
    seconds = time.perf_counter() - t0
    lengths = store.encoder.length_report(texts)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "wb") as f:
            np.savez(f, item_ids=np.array(item_ids, dtype=str), item_x=item_x,
                     attribute_ids=np.array([f"{k}:{v}" for k, v in attr_pairs], dtype=str),
                     attribute_x=attr_x)
    n = item_stats.n + attr_stats.n
    hits = item_stats.hits + attr_stats.hits
    encoded = item_stats.encoded + attr_stats.encoded
    rate = n / seconds if seconds > 0 else 0.0
    if as_json:
        echo_json({"items": item_stats.n, "attributes": attr_stats.n,
                               "cache_hits": hits, "encoded": encoded, "seconds": seconds,
                               "dim": int(item_x.shape[1]), "cache": str(store.path),
                               "output": str(output) if output is not None else None,
                               "long_texts": lengths.as_dict()})
        return
    typer.echo(f"encoded {item_stats.n} items + {attr_stats.n} attributes: {n} texts, "
               f"{hits} cache hits, {encoded} run through the model, {rate:,.0f} sentences/s "
               f"({seconds:.1f}s; dim {item_x.shape[1]}; cache {store.path})"
               + (f"; wrote {output}" if output is not None else ""))
    done = (f"read in {lengths.windows} windows, token states mean-pooled"
            if lengths.long_text == "chunk" else
            "cut at the window, after title and attributes (docs/item_text.md)")
    typer.echo(f"long texts: {lengths.over_window} of {lengths.texts} item texts "
               f"({lengths.share:.1%}) exceed the {lengths.window}-token window: {done}"
               + (f"; {lengths.clipped} clipped at {lengths.max_chars:,} characters" if lengths.clipped
                  else ""))
