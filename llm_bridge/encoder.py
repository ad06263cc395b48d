"""``TextEncoder``: texts -> L2-normalised float32 features with plain transformers.

The pipeline is the sentence-transformers one, without the dependency: tokenise with
``AutoTokenizer`` (truncating to ``max_length`` tokens), run ``AutoModel``, mean-pool the
last hidden state over the attention mask (in float32), L2-normalise.

- Texts go through :func:`llm_bridge.text.normalize_text` first; a text that is empty
  afterwards yields an **all-zero vector** (it never reaches the model). Every other row
  has unit L2 norm.
- Batches are formed after sorting by length (longest first) so that little padding is
  computed; rows come back in input order.
- ``device="auto"`` picks CUDA when available. By default (``dtype="auto"``) the model runs
  in float16 on GPU and float32 on CPU. ``dtype="bfloat16"`` on CPU runs the matmuls under
  bf16 autocast (about 2x faster on CPUs with AVX512-BF16/AMX; cosine to the float32
  vectors > 0.99). The compute dtype is part of :attr:`TextEncoder.fingerprint`.
- Models load with ``local_files_only=True``: nothing is downloaded, ever.
- Global torch settings (threads, default dtype, grad mode) are left untouched.

Shapes:
    - ``encode(texts)``: ``float32 [len(texts), dim]``
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kgrec.errors import EncoderError
from kgrec.settings import EncoderSettings
from llm_bridge._model_files import fingerprint_model_dir, resolve_model
from llm_bridge.text import MAX_CHARS, normalize_text

if TYPE_CHECKING:
    import torch

__all__ = ["TextEncoder", "TextKind"]

logger = logging.getLogger(__name__)

TextKind = Literal["passage", "query"]
ComputeDtype = Literal["auto", "float32", "float16", "bfloat16"]
_POOLING = "mean"
_TEXT_VERSION = 1  # bump when normalize_text changes its output


def _progress_default(show_progress: bool | None) -> bool:
    if show_progress is not None:
        return show_progress
    return logger.getEffectiveLevel() <= logging.INFO


class TextEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a local Hugging Face model.

    The tokenizer and weights are loaded on first use; construction only resolves the
    model directory and computes the fingerprint, so a missing model fails fast and a
    fully cached :class:`~llm_bridge.cache.FeatureStore` never loads the weights.

    Args:
        settings: model, ``max_length``, batch size, device and query/passage prefixes.
            ``None`` (or ``model=None``) selects the packaged all-MiniLM-L6-v2.
        dtype: compute precision: ``"auto"`` (float16 on CUDA, float32 on CPU),
            ``"float32"``, ``"float16"`` (CUDA only) or ``"bfloat16"`` (CPU: autocast).

    Raises:
        EncoderError: the model cannot be found locally or its config cannot be read.

    Example::

        enc = TextEncoder()
        x = enc.encode(["a funny romantic comedy", "a brutal war documentary"])
        x.shape  # (2, 384); x @ x.T is the cosine similarity
    """

    def __init__(self, settings: EncoderSettings | None = None, *,
                 dtype: ComputeDtype | None = None) -> None:
        import torch
        from transformers import AutoConfig

        self.settings = settings or EncoderSettings()
        if self.settings.max_length < 1 or self.settings.batch_size < 1:
            raise EncoderError(f"encoder settings: max_length and batch_size must be >= 1, got "
                               f"{self.settings.max_length} and {self.settings.batch_size}")
        self._model_id, self._path = resolve_model(self.settings.model)
        try:
            self._config = AutoConfig.from_pretrained(self._path, local_files_only=True)
        except (OSError, ValueError, KeyError) as e:
            raise EncoderError(f"encoder model {self._model_id!r}: cannot read config in "
                               f"{str(self._path)!r}: {e}") from e
        self._device = self._resolve_device(self.settings.device)
        on_gpu = self._device.type == "cuda"
        if dtype is None:
            dtype = self.settings.dtype  # type: ignore[assignment]
        if dtype == "auto":
            dtype = "float16" if on_gpu else "float32"
        if dtype not in ("float32", "float16", "bfloat16") or (dtype == "float16" and not on_gpu):
            raise EncoderError(f"encoder dtype must be auto, float32, bfloat16 or (on CUDA) "
                               f"float16; got {dtype!r} on {self._device}")
        self._dtype: torch.dtype = getattr(torch, dtype)
        # On CPU the weights stay float32 and bf16 runs under autocast, which keeps
        # LayerNorm/softmax in float32; on GPU the weights themselves are half precision.
        self._load_dtype = self._dtype if on_gpu else torch.float32
        self._autocast = not on_gpu and dtype == "bfloat16"
        self._fingerprint = self._compute_fingerprint()
        self._tokenizer: Any = None
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"TextEncoder(model_id={self._model_id!r}, device={str(self._device)!r}, "
                f"max_length={self.settings.max_length}, fingerprint={self._fingerprint[:12]!r})")

    @staticmethod
    def _resolve_device(name: str) -> torch.device:
        import torch

        if name == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError) as e:
            raise EncoderError(f"encoder device must be auto, cpu, cuda or cuda:N; got {name!r}"
                               ) from e
        if device.type == "cuda" and not torch.cuda.is_available():
            raise EncoderError(f"encoder device {name!r} requested but CUDA is not available")
        return device

    def _compute_fingerprint(self) -> str:
        s = self.settings
        params = {
            "model": fingerprint_model_dir(self._path),
            "max_length": s.max_length,
            "query_prefix": s.query_prefix,
            "passage_prefix": s.passage_prefix,
            "pooling": _POOLING,
            "normalize": "l2",
            "dtype": str(self._dtype).removeprefix("torch."),
            "text_version": _TEXT_VERSION,
            "max_chars": MAX_CHARS,
        }
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()

    # -- properties ---------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """Hub id of the model, or its resolved local directory."""
        return self._model_id

    @property
    def model_path(self) -> str:
        """The local directory the model is loaded from."""
        return str(self._path)

    @property
    def fingerprint(self) -> str:
        """sha256 hex of model files, max_length, prefixes, pooling and dtype (cache key)."""
        return self._fingerprint

    @property
    def dtype(self) -> str:
        """Compute precision: ``"float32"``, ``"float16"`` or ``"bfloat16"``."""
        return str(self._dtype).removeprefix("torch.")

    @property
    def device(self) -> str:
        """Device the model runs on, e.g. ``"cpu"`` or ``"cuda"``."""
        return str(self._device)

    @property
    def dim(self) -> int:
        """Width ``D`` of the feature vectors."""
        if self._dim is None:
            width = next((getattr(self._config, a) for a in ("hidden_size", "d_model", "dim")
                          if isinstance(getattr(self._config, a, None), int)), None)
            self._dim = int(width) if width else int(self._encode_clean(["dim"], 1, False).shape[1])
        return self._dim

    # -- loading and encoding -----------------------------------------------------------

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from transformers import AutoModel, AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self._path, local_files_only=True)
                model = AutoModel.from_pretrained(self._path, local_files_only=True,
                                                  dtype=self._load_dtype)
            except (OSError, ValueError, KeyError, ImportError) as e:
                raise EncoderError(f"encoder model {self._model_id!r}: loading from "
                                   f"{str(self._path)!r} failed: {e}") from e
            model.eval()
            model.to(self._device)
            self._tokenizer = tokenizer
            self._model = model
            logger.info("loaded encoder %s on %s (%s)", self._model_id, self._device,
                        str(self._dtype).removeprefix("torch."))

    def prepare(self, texts: Sequence[str | bytes]) -> list[str]:
        """Normalise texts exactly as :meth:`encode` does (see :mod:`llm_bridge.text`).

        Raises:
            EncoderError: an element is neither ``str`` nor ``bytes``.
        """
        if isinstance(texts, str | bytes):
            raise EncoderError("encode() takes a sequence of texts, got a single "
                               f"{type(texts).__name__}; wrap it in a list")
        out: list[str] = []
        for i, t in enumerate(texts):
            if not isinstance(t, str | bytes | bytearray):
                raise EncoderError(f"texts[{i}]: expected str or bytes, got {type(t).__name__}")
            out.append(normalize_text(t))
        return out

    def encode(
        self,
        texts: Sequence[str | bytes],
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
        kind: TextKind = "passage",
    ) -> np.ndarray:
        """Encode texts into unit-length feature rows.

        Args:
            texts: ``str`` or UTF-8 ``bytes`` (invalid bytes are replaced, not an error).
            batch_size: texts per forward pass (default ``settings.batch_size``).
            show_progress: progress bar; ``None`` = on when this logger is at INFO or below.
            kind: ``"passage"`` or ``"query"``: selects the configured prefix (E5/BGE).

        Returns:
            ``float32 [len(texts), dim]`` in input order; rows of empty texts are all zero.

        Raises:
            EncoderError: bad input type, unknown ``kind``, or the model failed to run.
        """
        if kind not in ("passage", "query"):
            raise EncoderError(f"kind must be 'passage' or 'query', got {kind!r}")
        clean = self.prepare(texts)
        return self.encode_prepared(clean, batch_size=batch_size, show_progress=show_progress,
                                    kind=kind)

    def encode_prepared(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
        kind: TextKind = "passage",
    ) -> np.ndarray:
        """Like :meth:`encode` for texts already passed through :meth:`prepare`."""
        prefix = self.settings.query_prefix if kind == "query" else self.settings.passage_prefix
        texts = [prefix + t if t else "" for t in texts]
        bs = batch_size or self.settings.batch_size
        if bs < 1:
            raise EncoderError(f"batch_size must be >= 1, got {bs}")
        return self._encode_clean(texts, bs, _progress_default(show_progress))

    def _encode_clean(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        order = sorted((i for i, t in enumerate(texts) if t), key=lambda i: -len(texts[i]))
        if self._dim is None and not order:
            _ = self.dim  # zero rows still need the width
        if not order:
            return np.zeros((len(texts), self._dim or 0), dtype=np.float32)
        self._load()
        out: np.ndarray | None = None
        with tqdm(total=len(order), desc="encoding", unit="text", disable=not progress,
                  leave=False) as bar, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                pooled = self._forward([texts[i] for i in idx])
                if out is None:
                    out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
                    self._dim = pooled.shape[1]
                out[idx] = pooled
                bar.update(len(idx))
        assert out is not None
        return out

    def _forward(self, batch: list[str]) -> np.ndarray:
        import torch

        try:
            enc = self._tokenizer(batch, padding=True, truncation=True,
                                  max_length=self.settings.max_length, return_tensors="pt")
            enc = {k: v.to(self._device) for k, v in enc.items()}
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._autocast):
                output = self._model(**enc)
        except (RuntimeError, ValueError, TypeError) as e:
            raise EncoderError(f"encoder {self._model_id!r} failed on a batch of {len(batch)} "
                               f"texts on {self._device}: {e}") from e
        hidden = getattr(output, "last_hidden_state", None)
        if hidden is None:
            hidden = output[0]
        hidden = hidden.float()  # pool in float32 even when the model runs in fp16
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
        return pooled.cpu().numpy().astype(np.float32, copy=False)

