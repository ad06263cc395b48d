"""Save and load a :class:`gnn.trained.TrainedModel` as a self-describing folder.

Layout of a checkpoint folder (format 3)::

    meta.json          format, configuration (model/train/scoring), encoder id and
                       fingerprint, schema version, version, graph clock, the scalars
                       of the item–item term, long-tail slots, training info
    ids.json           user_ids, item_ids, attribute_ids, item_titles (row order)
    arrays/*.npy       embeddings, per-layer representations, degrees, projections,
                       item_has_id, the training graph as CSR parts (interactions,
                       item and user attributes) and the item–item term (B, W, cold
                       content rows); one file per array, so loading memory-maps them
    weights.pt         torch state_dict (to continue training; not needed to serve)

A folder is written under a temporary name and renamed into place, so a crash never
leaves a half-written checkpoint under a version's name. Loading reads nothing from the
environment, needs no torch (unless the weights are asked for) and memory-maps the
arrays: a serving process shares the pages of the large ones (``B``, ``layers``) with
every other process on the machine. Scores of a loaded model equal the saved one's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnn.config import KGRecConfig
from gnn.trained import ItemItemTerm, TrainedModel, TrainingGraph
from kgrec.errors import NotFoundError, TrainingError

__all__ = ["CHECKPOINT_FORMAT", "load_checkpoint", "save_checkpoint"]

logger = logging.getLogger(__name__)

#: 3: configuration split by concern, the training graph and item-item term as arrays
CHECKPOINT_FORMAT = 3
_GRAPHS = ("interactions", "item_attributes", "user_attributes")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arrays(trained: TrainedModel) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {
        "user_emb": trained.user_emb, "item_emb": trained.item_emb, "layers": trained.layers,
        "degree": trained.degree, "item_has_id": trained.item_has_id}
    for t, w in trained.proj_weight.items():
        out[f"proj_weight_{t}"] = w
        out[f"proj_bias_{t}"] = trained.proj_bias[t]
    for name in _GRAPHS:
        m: sp.csr_matrix = getattr(trained.graph, name)
        out[f"{name}_indptr"] = m.indptr
        out[f"{name}_indices"] = m.indices
    out["item_hashes"] = trained.graph.item_hashes
    term = trained.item_item
    if term is not None:
        out["item_item"] = term.weights
        out["cold_rows"] = term.cold_rows
        if term.content_map is not None and term.cold_content is not None:
            out["content_map"] = term.content_map
            out["cold_content"] = term.cold_content
    return out


def _meta(trained: TrainedModel) -> dict[str, Any]:
    term = trained.item_item
    return {"format": CHECKPOINT_FORMAT, "config": trained.config.to_dict(),
            "encoder_id": trained.encoder_id, "encoder_fingerprint": trained.encoder_fingerprint,
            "schema_version": trained.schema_version, "version": trained.version,
            "dim": trained.dim, "read_at": trained.graph.read_at,
            "item_item_weight": term.weight if term is not None else None,
            "content_text_weight": term.text_weight if term is not None else None,
            "tail_slots": trained.tail_slots, "info": _json_safe(trained.info)}


def save_checkpoint(path_dir: str | Path, trained: TrainedModel) -> Path:
    """Write ``trained`` into the folder ``path_dir``, atomically (a folder already
    there is replaced only once the new one is complete).

    Raises:
        TrainingError: the embeddings contain NaN/inf, or the folder cannot be written.
    """
    path = Path(path_dir)
    for name in ("user_emb", "item_emb", "layers"):
        if not np.isfinite(getattr(trained, name)).all():
            raise TrainingError(f"refusing to save a checkpoint: {name} contains NaN or inf")
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        (tmp / "arrays").mkdir(parents=True)
        (tmp / "meta.json").write_text(json.dumps(_meta(trained), indent=2))
        graph = trained.graph
        (tmp / "ids.json").write_text(json.dumps({
            "user_ids": graph.user_ids, "item_ids": graph.item_ids,
            "attribute_ids": graph.attribute_ids, "item_titles": graph.item_titles}))
        for name, arr in _arrays(trained).items():
            np.save(tmp / "arrays" / f"{name}.npy", np.asarray(arr))
        if trained.state_dict is not None:
            import torch

            torch.save(trained.state_dict, tmp / "weights.pt")
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TrainingError(f"cannot write checkpoint {str(path)!r}: {e}") from e
    logger.info("saved checkpoint %s (%d users, %d items, dim %d)", path, trained.num_users,
                trained.num_items, trained.dim)
    return path


def _read(path: Path, mmap: bool) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    if not (path / "meta.json").is_file():
        raise NotFoundError(f"no checkpoint at {str(path)!r} (expected meta.json, ids.json "
                            "and arrays/)")
    try:
        meta = json.loads((path / "meta.json").read_text())
        ids = json.loads((path / "ids.json").read_text())
        arrays = {p.stem: np.load(p, mmap_mode="r" if mmap else None)
                  for p in sorted((path / "arrays").glob("*.npy"))}
    except FileNotFoundError as e:
        raise NotFoundError(f"checkpoint {str(path)!r}: missing file {e.filename}") from e
    except (OSError, ValueError) as e:
        raise TrainingError(f"checkpoint {str(path)!r} cannot be read: {e}") from e
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"checkpoint {str(path)!r}: format {meta.get('format')!r}, "
                            f"expected {CHECKPOINT_FORMAT} (retrain with `kgrec train`)")
    return meta, ids, arrays


def _graph(meta: dict[str, Any], ids: dict[str, Any], arrays: dict[str, Any]) -> TrainingGraph:
    n = {"user": len(ids["user_ids"]), "item": len(ids["item_ids"]),
         "attribute": len(ids["attribute_ids"])}
    shapes = {"interactions": (n["user"], n["item"]),
              "item_attributes": (n["item"], n["attribute"]),
              "user_attributes": (n["user"], n["attribute"])}
    parts = {}
    for name in _GRAPHS:
        indices = np.asarray(arrays[f"{name}_indices"])
        parts[name] = sp.csr_matrix((np.ones(len(indices), np.float32), indices,
                                     np.asarray(arrays[f"{name}_indptr"])), shape=shapes[name])
    return TrainingGraph(tuple(ids["user_ids"]), tuple(ids["item_ids"]),
                         tuple(ids["attribute_ids"]), tuple(ids["item_titles"]),
                         parts["interactions"], parts["item_attributes"],
                         parts["user_attributes"], arrays["item_hashes"], meta.get("read_at"))


def _term(meta: dict[str, Any], arrays: dict[str, Any]) -> ItemItemTerm | None:
    if "item_item" not in arrays:
        return None
    return ItemItemTerm(arrays["item_item"], float(meta["item_item_weight"]),
                        arrays.get("content_map"), float(meta["content_text_weight"] or 0.0),
                        np.asarray(arrays["cold_rows"], np.int64), arrays.get("cold_content"))


def load_checkpoint(path_dir: str | Path, *, load_weights: bool = False,
                    mmap: bool = True) -> TrainedModel:
    """Load a folder written by :func:`save_checkpoint`.

    Args:
        path_dir: the checkpoint folder.
        load_weights: also load the torch ``state_dict`` (needs torch).
        mmap: memory-map the arrays (read-only pages shared between processes).

    Raises:
        NotFoundError: the folder or one of its files is missing.
        TrainingError: the format is unknown or its files disagree.
    """
    path = Path(path_dir)
    meta, ids, arrays = _read(path, mmap)
    graph = _graph(meta, ids, arrays)
    if arrays["user_emb"].shape[0] != len(graph.user_ids) or \
            arrays["item_emb"].shape[0] != len(graph.item_ids):
        raise TrainingError(f"checkpoint {str(path)!r}: embeddings ({arrays['user_emb'].shape[0]} "
                            f"users, {arrays['item_emb'].shape[0]} items) disagree with ids.json "
                            f"({len(graph.user_ids)}, {len(graph.item_ids)})")
    state_dict = None
    if load_weights and (path / "weights.pt").is_file():
        import torch

        state_dict = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    types = [k[len("proj_weight_"):] for k in arrays if k.startswith("proj_weight_")]
    return TrainedModel(
        config=KGRecConfig.from_dict(meta["config"]), graph=graph,
        user_emb=arrays["user_emb"], item_emb=arrays["item_emb"], layers=arrays["layers"],
        degree=arrays["degree"], proj_weight={t: arrays[f"proj_weight_{t}"] for t in types},
        proj_bias={t: arrays[f"proj_bias_{t}"] for t in types},
        item_has_id=np.asarray(arrays["item_has_id"], bool), item_item=_term(meta, arrays),
        tail_slots=float(meta.get("tail_slots") or 0.0), encoder_id=meta["encoder_id"],
        encoder_fingerprint=meta.get("encoder_fingerprint", ""),
        schema_version=int(meta["schema_version"]), version=meta.get("version", ""),
        info=meta.get("info", {}), state_dict=state_dict)
