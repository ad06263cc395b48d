"""``TextEncoder``: texts -> L2-normalised float32 features with plain transformers.

The pipeline is the sentence-transformers one, without the dependency: tokenise with
``AutoTokenizer``, run ``AutoModel``, mean-pool the last hidden state over the attention
mask (in float32), L2-normalise.

- **Long texts.** The window is ``max_length`` tokens, special tokens included, capped
  by the model's position embeddings (:attr:`TextEncoder.window`). By default
  (``long_text="truncate"``) a longer text is read up to the window; item texts put
  title and attributes first (``llm_bridge.text``), so what is cut is the end of the
  description. ``long_text="chunk"`` reads the whole text instead: consecutive token
  windows, each encoded on its own, pooled as the mean over the tokens of all windows
  (mean pooling extended across windows: a window counts by its length); a text that
  fits one window gives the same vector under both rules. Truncation is the default
  because it measured better: reading whole descriptions dilutes the title and
  attributes (docs/item_text.md). :meth:`TextEncoder.length_report` says how many texts
  exceed the window; ``kgrec encode`` prints it.

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

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kgrec.errors import EncoderError
from kgrec.settings import EncoderSettings
from llm_bridge._model_files import fingerprint_model_dir, resolve_model
from llm_bridge.text import MAX_CHARS, TEXT_RULE, normalize_text

if TYPE_CHECKING:
    import torch

__all__ = ["LengthReport", "LongText", "TextEncoder", "TextKind"]

logger = logging.getLogger(__name__)

TextKind = Literal["passage", "query"]
ComputeDtype = Literal["auto", "float32", "float16", "bfloat16"]
LongText = Literal["chunk", "truncate"]
_POOLING = "mean"
_WINDOW_POOLING = "token-mean"  # a long text = mean over the tokens of all its windows
_TEXT_VERSION = 2  # bump when normalize_text or the window rule changes its output
# Models whose position ids start after the padding index (RoBERTa family) can use
# ``max_position_embeddings - 2`` positions only.
_POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "mpnet": 2, "longformer": 2}


@dataclass(frozen=True)
class LengthReport:
    """How many texts the window cuts (see :meth:`TextEncoder.length_report`).

    Attributes:
        texts: non-empty texts looked at.
        window: tokens per window, special tokens included.
        over_window: texts longer than one window.
        windows: windows all texts take (``texts`` when none is too long).
        clipped: texts longer than ``max_chars`` characters, cut before tokenisation.
        long_text: what is done with a text over the window: ``"chunk"`` (every window
            encoded, token-mean pooled) or ``"truncate"`` (first window only).
        max_chars: characters kept per text (``llm_bridge.text.MAX_CHARS``).
    """

    texts: int
    window: int
    over_window: int
    windows: int
    clipped: int
    long_text: LongText
    max_chars: int = MAX_CHARS

    @property
    def share(self) -> float:
        """``over_window / texts`` (0 when there are no texts)."""
        return self.over_window / self.texts if self.texts else 0.0

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready fields (``kgrec encode --json``: ``long_texts``)."""
        return {"texts": self.texts, "window": self.window, "over_window": self.over_window,
                "share": round(self.share, 4), "windows": self.windows,
                "clipped": self.clipped, "long_text": self.long_text,
                "max_chars": self.max_chars}


def _progress_default(show_progress: bool | None) -> bool:
    if show_progress is not None:
        return show_progress
    return logger.getEffectiveLevel() <= logging.INFO


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar (tqdm on stderr) while a model loads: a
    model of a few hundred MB loads in a second, and the bar is noise in every command's
    output. The global switch is restored afterwards."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


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
        long_text: a text longer than :attr:`window` is ``"truncate"``-d to its first
            window (default), or ``"chunk"``-ed into windows whose token states are
            mean-pooled together. Part of :attr:`fingerprint`.

    Raises:
        EncoderError: the model cannot be found locally, its config cannot be read, or
            ``long_text`` is not one of the two rules.

    Example::

        enc = TextEncoder()
        x = enc.encode(["a funny romantic comedy", "a brutal war documentary"])
        x.shape  # (2, 384); x @ x.T is the cosine similarity
    """

    def __init__(self, settings: EncoderSettings | None = None, *,
                 dtype: ComputeDtype | None = None, long_text: LongText = "truncate") -> None:
        import torch
        from transformers import AutoConfig

        self.settings = settings or EncoderSettings()
        if self.settings.max_length < 1 or self.settings.batch_size < 1:
            raise EncoderError(f"encoder settings: max_length and batch_size must be >= 1, got "
                               f"{self.settings.max_length} and {self.settings.batch_size}")
        if long_text not in ("chunk", "truncate"):
            raise EncoderError(f"long_text must be 'chunk' or 'truncate', got {long_text!r}")
        self._long_text: LongText = long_text
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
        self._window = self._window_of(self.settings.max_length)
        self._fingerprint = self._compute_fingerprint()
        self._tokenizer: Any = None
        self._lone_tokenizer: Any = None
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"TextEncoder(model_id={self._model_id!r}, device={str(self._device)!r}, "
                f"window={self._window}, long_text={self._long_text!r}, "
                f"fingerprint={self._fingerprint[:12]!r})")

    def _window_of(self, max_length: int) -> int:
        """``max_length`` capped by the positions the model has (a longer window would
        index past its position embeddings)."""
        positions = getattr(self._config, "max_position_embeddings", None)
        if not isinstance(positions, int) or positions <= 0:
            return max_length
        offset = _POSITION_OFFSET.get(str(getattr(self._config, "model_type", "")), 0)
        return max(1, min(max_length, positions - offset))

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
            "window": self._window,
            "long_text": f"{self._long_text}/{_WINDOW_POOLING}",
            "text_rule": TEXT_RULE,
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
        """sha256 hex of model files, window, long-text rule, text rule, prefixes, pooling
        and dtype (cache key)."""
        return self._fingerprint

    @property
    def window(self) -> int:
        """Tokens the model reads at once, special tokens included: ``max_length``, capped
        by the model's position embeddings."""
        return self._window

    @property
    def long_text(self) -> LongText:
        """What happens to a text longer than :attr:`window`: ``"chunk"`` or ``"truncate"``."""
        return self._long_text

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
                with _no_progress_bar():
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

    def length_report(self, texts: Sequence[str | bytes]) -> LengthReport:
        """Count the texts longer than :attr:`window` (loads the tokenizer, not the model).

        Args:
            texts: raw texts, as for :meth:`encode` (prefixes are not added).

        Returns:
            A :class:`LengthReport`; ``windows`` is what :meth:`encode` runs through the
            model for these texts under this encoder's ``long_text`` rule.
        """
        clipped = sum(len(normalize_text(t, max_chars=MAX_CHARS + 1)) > MAX_CHARS
                      for t in texts)
        clean = [t for t in self.prepare(texts) if t]
        counts = [len(w) for w in self._windows(clean, self._report_tokenizer())]
        over = sum(n > 1 for n in counts)
        windows = sum(counts) if self._long_text == "chunk" else len(counts)
        return LengthReport(texts=len(clean), window=self._window, over_window=over,
                            windows=windows, clipped=clipped, long_text=self._long_text)

    def _report_tokenizer(self) -> Any:
        if self._tokenizer is not None:
            return self._tokenizer
        if self._lone_tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._lone_tokenizer = AutoTokenizer.from_pretrained(self._path,
                                                                     local_files_only=True)
            except (OSError, ValueError, KeyError, ImportError) as e:
                raise EncoderError(f"encoder model {self._model_id!r}: loading the tokenizer "
                                   f"from {str(self._path)!r} failed: {e}") from e
        return self._lone_tokenizer

    def _windows(self, texts: Sequence[str], tokenizer: Any, all_windows: bool = True
                 ) -> list[list[list[int]]]:
        """Per text, the token ids of its windows (special tokens included), in order;
        only the first window of each with ``all_windows=False``."""
        if not texts:
            return []
        try:
            enc = tokenizer(list(texts), truncation=True, max_length=self._window,
                            return_overflowing_tokens=all_windows, verbose=False)
        except (RuntimeError, ValueError, TypeError) as e:
            raise EncoderError(f"encoder {self._model_id!r}: tokenising {len(texts)} texts "
                               f"failed: {e}") from e
        out: list[list[list[int]]] = [[] for _ in texts]
        owners = enc.get("overflow_to_sample_mapping") or range(len(enc["input_ids"]))
        for owner, ids in zip(owners, enc["input_ids"], strict=True):
            out[int(owner)].append(list(ids))
        return out

    def _encode_clean(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        rows = [i for i, t in enumerate(texts) if t]
        if self._dim is None and not rows:
            _ = self.dim  # zero rows still need the width
        if not rows:
            return np.zeros((len(texts), self._dim or 0), dtype=np.float32)
        self._load()
        windows: list[list[int]] = []
        owner: list[int] = []
        chunk = self._long_text == "chunk"  # else only the first window is read
        for row, kept in zip(rows, self._windows([texts[i] for i in rows], self._tokenizer,
                                                 all_windows=chunk), strict=True):
            windows.extend(kept)
            owner.extend([row] * len(kept))
        # Longest first, so that a batch pads little; sums land back by window index.
        order = sorted(range(len(windows)), key=lambda w: -len(windows[w]))
        sums: np.ndarray | None = None
        with tqdm(total=len(order), desc="encoding", unit="window", disable=not progress,
                  leave=False) as bar, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch_sums = self._forward([windows[w] for w in idx])
                if sums is None:
                    sums = np.zeros((len(windows), batch_sums.shape[1]), dtype=np.float64)
                    self._dim = batch_sums.shape[1]
                sums[idx] = batch_sums
                bar.update(len(idx))
        assert sums is not None
        return self._pool(sums, owner, [len(w) for w in windows], len(texts))

    @staticmethod
    def _pool(sums: np.ndarray, owner: list[int], lengths: list[int], n: int) -> np.ndarray:
        """Mean over all tokens of each text's windows, L2-normalised; empty rows zero."""
        total = np.zeros((n, sums.shape[1]), dtype=np.float64)
        tokens = np.zeros(n, dtype=np.float64)
        np.add.at(total, owner, sums)
        np.add.at(tokens, owner, lengths)
        mean = total / np.maximum(tokens, 1.0)[:, None]
        norm = np.linalg.norm(mean, axis=1, keepdims=True)
        out: np.ndarray = (mean / np.maximum(norm, 1e-12)).astype(np.float32)
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Sum of the last hidden states over each window's tokens, ``float64 [B, D]``."""
        import torch

        width = max(len(ids) for ids in batch)
        pad = self._tokenizer.pad_token_id or 0
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, :len(ids)] = 1
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._autocast):
                output = self._model(input_ids=input_ids.to(self._device),
                                     attention_mask=mask.to(self._device))
        except (RuntimeError, ValueError, TypeError) as e:
            raise EncoderError(f"encoder {self._model_id!r} failed on a batch of {len(batch)} "
                               f"windows on {self._device}: {e}") from e
        hidden = getattr(output, "last_hidden_state", None)
        if hidden is None:
            hidden = output[0]
        hidden = hidden.float()  # pool in float32 even when the model runs in fp16
        summed = (hidden * mask.to(hidden.device).unsqueeze(-1).to(hidden.dtype)).sum(dim=1)
        out: np.ndarray = summed.cpu().numpy().astype(np.float64)
        return out
