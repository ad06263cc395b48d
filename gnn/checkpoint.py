"""Save and load a :class:`gnn.trained.TrainedModel` as a self-describing folder.

Layout of a checkpoint folder::

    meta.json        format, config, seed, encoder id/fingerprint, schema version,
                     model version, training info (best epoch, seconds, history)
    ids.json         user_ids, item_ids, attribute_ids (business keys in row order)
    user_emb.npy     float32 [num_users, dim]  final embeddings (serving needs only these)
    item_emb.npy     float32 [num_items, dim]
    inductive.npz    per-layer node representations, degrees, layer-0 projection,
                     user ID embeddings, item_has_id (for gnn.infer), and the optional
                     item–item weights with the training interactions (CSR)
    weights.pt       torch state_dict (to continue training; not needed to serve)

Loading reads nothing from the environment and needs no torch forward pass; scores of
a loaded model are bit-identical to the saved one's.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from gnn.long_tail import PAGE
from gnn.model import ModelConfig
from gnn.trained import TrainedModel
from kgrec.errors import NotFoundError, TrainingError

__all__ = ["CHECKPOINT_FORMAT", "load_checkpoint", "save_checkpoint", "write_latest_pointer"]

logger = logging.getLogger(__name__)

#: 2: long-tail slots per page (``tail_slots``) instead of an interval (``tail_every``)
CHECKPOINT_FORMAT = 2


def _upgrade_format_1(meta: dict[str, Any]) -> dict[str, Any]:
    """Format 1 stored the long-tail policy as "every n-th position"; the nearest
    format-2 setting is ``round(PAGE / n)`` slots per page (0 and None kept)."""
    def slots(every: int | None) -> int | None:
        return None if every is None else 0 if every == 0 else max(1, round(PAGE / every))

    config = dict(meta["config"])
    config["tail_slots"] = slots(config.pop("tail_every", None))
    info = dict(meta.get("info", {}))
    if "tail_every" in info:
        info["tail_slots"] = slots(info.pop("tail_every"))
    return {**meta, "config": config, "info": info, "format": 2}


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


def save_checkpoint(path_dir: str | Path, trained: TrainedModel) -> Path:
    """Write ``trained`` into the folder ``path_dir`` (created; files overwritten).

    Args:
        path_dir: destination folder.
        trained: the model.

    Returns:
        The folder path.

    Raises:
        TrainingError: the embeddings contain NaN/inf, or the folder cannot be written.
    """
    path = Path(path_dir)
    for name, arr in (("user_emb", trained.user_emb), ("item_emb", trained.item_emb),
                      ("layers", trained.layers)):
        if not np.isfinite(arr).all():
            raise TrainingError(f"refusing to save a checkpoint: {name} contains NaN or inf")
    meta = {
        "format": CHECKPOINT_FORMAT,
        "config": trained.config.to_dict(),
        "seed": trained.seed,
        "encoder_id": trained.encoder_id,
        "encoder_fingerprint": trained.encoder_fingerprint,
        "schema_version": trained.schema_version,
        "version": trained.version,
        "dim": trained.dim,
        "info": _json_safe(trained.info),
    }
    arrays: dict[str, np.ndarray] = {"layers": trained.layers, "degree": trained.degree,
                                     "user_id_emb": trained.user_id_emb,
                                     "item_has_id": trained.item_has_id}
    if trained.item_item is not None and trained.interactions is not None:
        csr = trained.interactions.tocsr()
        arrays.update(item_item=trained.item_item,
                      item_item_weight=np.asarray(trained.item_item_weight, np.float32),
                      interactions_indptr=csr.indptr, interactions_indices=csr.indices)
        if trained.content_map is not None:
            arrays.update(content_map=trained.content_map,
                          content_text_weight=np.asarray(trained.content_text_weight,
                                                         np.float32))
    for t, w in trained.proj_weight.items():
        arrays[f"proj_weight_{t}"] = w
        arrays[f"proj_bias_{t}"] = trained.proj_bias[t]
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "meta.json").write_text(json.dumps(meta, indent=2))
        (path / "ids.json").write_text(json.dumps({"user_ids": trained.user_ids,
                                                   "item_ids": trained.item_ids,
                                                   "attribute_ids": trained.attribute_ids}))
        np.save(path / "user_emb.npy", trained.user_emb)
        np.save(path / "item_emb.npy", trained.item_emb)
        np.savez(path / "inductive.npz", **arrays)  # type: ignore[arg-type]  # numpy stub
        if trained.state_dict is not None:
            import torch

            torch.save(trained.state_dict, path / "weights.pt")
    except OSError as e:
        raise TrainingError(f"cannot write checkpoint {str(path)!r}: {e}") from e
    logger.info("saved checkpoint %s (%d users, %d items, dim %d)", path, trained.num_users,
                trained.num_items, trained.dim)
    return path


def load_checkpoint(path_dir: str | Path, *, load_weights: bool = False) -> TrainedModel:
    """Load a folder written by :func:`save_checkpoint`.

    Args:
        path_dir: the checkpoint folder (or a ``latest`` symlink/pointer file to one).
        load_weights: also load the torch ``state_dict`` (not needed to serve or infer).

    Raises:
        NotFoundError: the folder or one of its files is missing.
        TrainingError: the checkpoint format is unknown or its files disagree.
    """
    path = Path(path_dir)
    if path.is_file():  # a pointer file holding the folder name
        path = path.parent / path.read_text().strip()
    if not (path / "meta.json").is_file():
        raise NotFoundError(f"no checkpoint at {str(path)!r} (expected meta.json, ids.json, "
                            f"user_emb.npy, item_emb.npy, inductive.npz)")
    try:
        meta = json.loads((path / "meta.json").read_text())
        ids = json.loads((path / "ids.json").read_text())
        user_emb = np.load(path / "user_emb.npy")
        item_emb = np.load(path / "item_emb.npy")
        with np.load(path / "inductive.npz") as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError as e:
        raise NotFoundError(f"checkpoint {str(path)!r}: missing file {e.filename}") from e
    if meta.get("format") == 1:
        meta = _upgrade_format_1(meta)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"checkpoint {str(path)!r}: format {meta.get('format')!r}, "
                            f"expected {CHECKPOINT_FORMAT}")
    if user_emb.shape[0] != len(ids["user_ids"]) or item_emb.shape[0] != len(ids["item_ids"]):
        raise TrainingError(f"checkpoint {str(path)!r}: embeddings ({user_emb.shape[0]} users, "
                            f"{item_emb.shape[0]} items) disagree with ids.json "
                            f"({len(ids['user_ids'])}, {len(ids['item_ids'])})")
    state_dict = None
    if load_weights and (path / "weights.pt").is_file():
        import torch

        state_dict = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    types = [k[len("proj_weight_"):] for k in arrays if k.startswith("proj_weight_")]
    item_item = interactions = None
    if "item_item" in arrays:
        import scipy.sparse as sp

        item_item = arrays["item_item"]
        indices = arrays["interactions_indices"]
        interactions = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, arrays["interactions_indptr"]),
            shape=(user_emb.shape[0], item_emb.shape[0]))
    return TrainedModel(
        config=ModelConfig.from_dict(meta["config"]),
        user_ids=list(ids["user_ids"]), item_ids=list(ids["item_ids"]),
        attribute_ids=list(ids["attribute_ids"]), user_emb=user_emb, item_emb=item_emb,
        layers=arrays["layers"], degree=arrays["degree"],
        proj_weight={t: arrays[f"proj_weight_{t}"] for t in types},
        proj_bias={t: arrays[f"proj_bias_{t}"] for t in types},
        user_id_emb=arrays["user_id_emb"], item_has_id=arrays["item_has_id"].astype(bool),
        encoder_id=meta["encoder_id"], encoder_fingerprint=meta.get("encoder_fingerprint", ""),
        schema_version=int(meta["schema_version"]), seed=int(meta["seed"]),
        version=meta.get("version", ""), info=meta.get("info", {}), state_dict=state_dict,
        item_item=item_item, interactions=interactions,
        item_item_weight=float(arrays.get("item_item_weight", 0.0)),
        content_map=arrays.get("content_map"),
        content_text_weight=float(arrays.get("content_text_weight", 0.0)),
    )


def write_latest_pointer(models_dir: str | Path, version: str) -> Path:
    """Point ``models_dir/latest`` (a small text file) at the folder ``version``."""
    models_dir = Path(models_dir)
    pointer = models_dir / "latest"
    tmp = models_dir / ".latest.tmp"
    tmp.write_text(version + "\n")
    os.replace(tmp, pointer)
    return pointer
