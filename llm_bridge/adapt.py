"""Adapt a text encoder to a catalog: contrastive fine-tuning on the catalog's own pairs.

:func:`adapt_encoder` fine-tunes a local Hugging Face encoder on positive text pairs
(for a recommender: two items that the same users interacted with, an item and one of its
attributes) with a symmetric in-batch-negatives InfoNCE loss (the "multiple negatives
ranking" loss of sentence-transformers, run both ways):

- each step takes ``batch_size`` pairs ``(a_i, p_i)``; the texts are embedded exactly as
  :class:`~llm_bridge.encoder.TextEncoder` embeds them (mean pooling over the attention
  mask, L2 norm), so what is trained is what is served;
- ``loss = (CE(s * A P^T, I) + CE(s * P A^T, I)) / 2`` with scale ``s = 1 / temperature``;
  an in-batch "negative" that is the same text as the row's anchor or positive (a shared
  attribute, a popular item) is masked out rather than pushed away;
- only the top ``trainable_layers`` transformer layers learn (all weights when 0), so the
  frozen lower layers run without autograd and a CPU step costs about one forward pass;
- training stops at ``budget_seconds`` (wall time of the loop), at ``max_steps`` or after
  ``max_epochs`` passes over the pairs, whichever comes first; the learning rate warms up
  linearly and then decays linearly to zero at the budget (time or steps);
- seeded: the pair order and dropout follow ``seed`` (with ``max_steps`` binding, a CPU run
  is repeatable; a time-bounded one may stop after a different number of steps).

The result is a complete Hugging Face folder (``save_pretrained`` of model and tokenizer,
plus the sentence-transformers pooling files of the base when it has them) and
``adaptation.json``, a manifest of how it was made. ``TextEncoder(EncoderSettings(
model=str(out_dir)))``, i.e. ``KGREC_ENCODER_MODEL=out_dir``, loads it like any model. The
feature cache keys by :func:`~llm_bridge._model_files.fingerprint_model_dir` (content, not
path): new weights and the manifest, which is hashed in full, give the adapted folder its
own fingerprint and cache folder.

Shapes:
    - ``pairs``: ``int [P, 2]`` rows ``(anchor_idx, positive_idx)`` into ``texts``
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kgrec.errors import EncoderError
from llm_bridge._model_files import fingerprint_model_dir, resolve_model
from llm_bridge.text import normalize_text

__all__ = ["MANIFEST_NAME", "AdaptConfig", "AdaptResult", "adapt_encoder", "read_manifest"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "adaptation.json"
_FORMAT = 1
# Files of a sentence-transformers folder that are not written by save_pretrained.
_SENTENCE_TRANSFORMERS_FILES = ("modules.json", "sentence_bert_config.json",
                                "config_sentence_transformers.json", "1_Pooling")


@dataclass(frozen=True)
class AdaptConfig:
    """How :func:`adapt_encoder` trains.

    Attributes:
        budget_seconds: wall-time bound of the training loop.
        max_steps: optional bound on optimiser steps.
        max_epochs: bound on passes over the pairs.
        batch_size: pairs per step (each one gives ``batch_size - 1`` in-batch negatives).
        max_length: tokens per text while training (the encoder's default is 128).
        trainable_layers: top transformer layers that learn; 0 = all weights.
        learning_rate: AdamW peak learning rate.
        warmup_steps: steps of linear warm-up.
        weight_decay: AdamW weight decay.
        temperature: softmax temperature of the InfoNCE loss (scale = 1 / temperature).
        seed: pair order, dropout and initialisation of the optimiser state.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        dtype: ``"auto"`` (bfloat16 autocast on CUDA and on CPUs with AMX/AVX512-BF16,
            else float32), ``"float32"`` or ``"bfloat16"``. Weights stay float32.
    """

    budget_seconds: float = 480.0
    max_steps: int | None = None
    max_epochs: float = 3.0
    batch_size: int = 32
    max_length: int = 128
    trainable_layers: int = 1
    learning_rate: float = 5e-5
    warmup_steps: int = 20
    weight_decay: float = 0.01
    temperature: float = 0.05
    seed: int = 2026
    device: str = "auto"
    dtype: str = "auto"

    def check(self) -> None:
        """Raises :class:`EncoderError` naming the first bad field."""
        if not self.budget_seconds > 0:
            raise EncoderError(f"adapt: budget_seconds must be > 0, got {self.budget_seconds}")
        if self.max_steps is not None and self.max_steps < 1:
            raise EncoderError(f"adapt: max_steps must be >= 1, got {self.max_steps}")
        if self.batch_size < 2:
            raise EncoderError(f"adapt: batch_size must be >= 2 (in-batch negatives), got "
                               f"{self.batch_size}")
        if self.max_length < 1 or self.trainable_layers < 0 or not self.max_epochs > 0:
            raise EncoderError("adapt: max_length >= 1, trainable_layers >= 0 and max_epochs > 0 "
                               f"required, got {self.max_length}, {self.trainable_layers}, "
                               f"{self.max_epochs}")
        if not (self.learning_rate > 0 and self.temperature > 0):
            raise EncoderError(f"adapt: learning_rate and temperature must be > 0, got "
                               f"{self.learning_rate}, {self.temperature}")
        if self.dtype not in ("auto", "float32", "bfloat16"):
            raise EncoderError(f"adapt: dtype must be auto, float32 or bfloat16, got "
                               f"{self.dtype!r}")


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt_encoder` wrote: the folder and its manifest (``adaptation.json``)."""

    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.manifest["steps"])

    @property
    def losses(self) -> list[float]:
        return list(self.manifest["losses"])


def read_manifest(model_dir: str | Path) -> dict[str, Any] | None:
    """The ``adaptation.json`` of an adapted folder, ``None`` for any other model folder."""
    path = Path(model_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EncoderError(f"{str(path)!r}: unreadable adaptation manifest: {e}") from e
    return data


def _clean_pairs(texts: list[str], pairs: Any) -> np.ndarray:
    arr = np.asarray(pairs)
    if arr.size == 0:
        raise EncoderError("adapt: no positive pairs given")
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise EncoderError(f"adapt: pairs must be an integer array [P, 2], got {arr.dtype} "
                           f"{arr.shape}")
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() >= len(texts):
        raise EncoderError(f"adapt: pair index out of range: expected 0..{len(texts) - 1}, "
                           f"found {arr.min()}..{arr.max()}")
    empty = np.array([not t for t in texts], dtype=bool)
    keep = (arr[:, 0] != arr[:, 1]) & ~empty[arr[:, 0]] & ~empty[arr[:, 1]]
    if not keep.all():
        logger.info("adapt: dropped %d pairs (an empty text, or a text paired with itself)",
                    int((~keep).sum()))
    if not keep.any():
        raise EncoderError("adapt: every pair has an empty text or pairs a text with itself")
    kept: np.ndarray = arr[keep]
    return kept


def _layer_stack(model: Any) -> Any:
    """The longest ``ModuleList`` of the model: its stack of transformer layers."""
    import torch

    stacks = [m for _, m in model.named_modules() if isinstance(m, torch.nn.ModuleList)]
    if not stacks:
        raise EncoderError(f"adapt: {type(model).__name__} has no ModuleList of layers")
    return max(stacks, key=len)


def _freeze(model: Any, trainable_layers: int) -> list[Any]:
    """Freeze all but the top ``trainable_layers`` layers; returns the modules that learn."""
    layers = _layer_stack(model)
    if trainable_layers == 0 or trainable_layers >= len(layers):
        return [model]
    model.requires_grad_(False)
    top = list(layers)[-trainable_layers:]
    for layer in top:
        layer.requires_grad_(True)
    return top


def _resolve_device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as e:
        raise EncoderError(f"adapt: device must be auto, cpu, cuda or cuda:N; got {name!r}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EncoderError(f"adapt: device {name!r} requested but CUDA is not available")
    return device


def _use_bf16(dtype: str, device: Any) -> bool:
    if dtype != "auto":
        return dtype == "bfloat16"
    if device.type == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class _Replay:
    """Stands in for the frozen lower layers: returns the batch's cached hidden states.

    The first frozen layer's output is replaced by the cache; later frozen layers pass it
    through. The model still builds its own attention mask, so nothing here depends on
    the architecture beyond "a stack of layers whose first output is hidden states".
    """

    def __init__(self) -> None:
        self.states: Any = None
        self.as_tuple = False

    def __call__(self, hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
        return (self.states,) if self.as_tuple else self.states


class _Stop(Exception):
    """Internal: ends a forward pass once the frozen layers' output is captured."""


def _replay_layer(replay: _Replay) -> Any:
    """A ``torch.nn.Module`` that calls ``replay`` (a ModuleList holds modules only)."""
    import torch

    class ReplayLayer(torch.nn.Module):
        def forward(self, hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
            return replay(hidden_states)

    return ReplayLayer()


class _Trainer:
    """One training run: model, tokenizer, optimiser and the loss of one batch.

    With ``0 < trainable_layers < L``, the input of the lowest trainable layer is computed
    once per text (:meth:`cache_frozen`) and replayed at every step, so a step costs the
    top layers only (forward and backward) instead of a full forward pass and more.
    """

    def __init__(self, path: Path, texts: list[str], config: AdaptConfig) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.config, self.texts = config, texts
        self.device = _resolve_device(config.device)
        self.bf16 = _use_bf16(config.dtype, self.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True,
                                                   dtype=torch.float32)
        except (OSError, ValueError, KeyError, ImportError) as e:
            raise EncoderError(f"adapt: loading the model from {str(path)!r} failed: {e}") from e
        self.model.to(self.device)
        self.model.eval()  # frozen layers: no dropout; trainable ones switch to train below
        self.layers = _layer_stack(self.model)
        self.learning = _freeze(self.model, config.trainable_layers)
        for module in self.learning:
            module.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.trainable_params = sum(p.numel() for p in params)
        self.optimizer = torch.optim.AdamW(params, lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        self.scale = 1.0 / config.temperature
        self.frozen = 0 if self.learning == [self.model] else len(self.layers) - len(self.learning)
        self.cache: dict[int, Any] = {}
        self._originals: list[Any] = []
        self._replay = _Replay()

    def _tokens(self, texts: list[str]) -> dict[str, Any]:
        enc = self.tokenizer(texts, padding=True, truncation=True,
                             max_length=self.config.max_length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in enc.items()}

    def cache_frozen(self, text_idx: np.ndarray, batch_size: int = 64) -> None:
        """Run the frozen layers once over ``texts[text_idx]`` and keep their output."""
        import torch

        if not self.frozen:
            return
        store_dtype = torch.bfloat16 if self.bf16 else torch.float32
        order = sorted(text_idx.tolist(), key=lambda i: -len(self.texts[i]))
        captured: list[Any] = []

        def grab(module: Any, args: Any, output: Any) -> None:
            captured.append(output)
            raise _Stop

        hook = self.layers[self.frozen - 1].register_forward_hook(grab)
        try:
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                        enabled=self.bf16):
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    enc = self._tokens([self.texts[i] for i in idx])
                    captured.clear()
                    # The hook stops the pass after the last frozen layer; going through
                    # the model keeps its own mask handling (no public partial forward).
                    with contextlib.suppress(_Stop):
                        self.model(**enc)
                    out = captured[0]
                    self._replay.as_tuple = isinstance(out, tuple)
                    states = (out[0] if isinstance(out, tuple) else out).to(store_dtype)
                    lengths = enc["attention_mask"].sum(dim=1).tolist()
                    for row, (i, n) in enumerate(zip(idx, lengths, strict=True)):
                        self.cache[i] = states[row, :n].clone()
        finally:
            hook.remove()
        self._originals = [self.layers[i] for i in range(self.frozen)]
        for i in range(self.frozen):
            self.layers[i] = _replay_layer(self._replay)

    def restore(self) -> None:
        """Put the frozen layers back (before saving)."""
        for i, layer in enumerate(self._originals):
            self.layers[i] = layer
        self._originals = []

    def embed(self, text_idx: list[int]) -> Any:
        """``float32 [len(text_idx), D]`` unit rows, pooled as TextEncoder pools."""
        import torch

        enc = self._tokens([self.texts[i] for i in text_idx])
        if self._originals:
            width = enc["input_ids"].shape[1]
            padded = torch.zeros((len(text_idx), width, self.cache[text_idx[0]].shape[1]),
                                 dtype=torch.float32, device=self.device)
            for row, i in enumerate(text_idx):
                padded[row, :len(self.cache[i])] = self.cache[i]
            self._replay.states = padded
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            hidden = self.model(**enc).last_hidden_state
        self._replay.states = None
        hidden = hidden.float()
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    def loss(self, batch: np.ndarray) -> Any:
        """Symmetric InfoNCE of ``int64 [B, 2]`` pairs, duplicates of a row's texts masked."""
        import torch

        unique, inverse = np.unique(batch, return_inverse=True)
        emb = self.embed(unique.tolist())
        inv = torch.as_tensor(inverse.reshape(batch.shape), device=self.device)
        anchor, positive = emb[inv[:, 0]], emb[inv[:, 1]]
        logits = self.scale * anchor @ positive.T  # [B, B]: anchor i vs positive j
        a, p = inv[:, 0], inv[:, 1]
        eye = torch.eye(len(batch), dtype=torch.bool, device=self.device)
        # A "negative" that is the same text as the row's own anchor or positive is no negative.
        mask_ap = ((p[None, :] == p[:, None]) | (p[None, :] == a[:, None])) & ~eye
        mask_pa = ((a[None, :] == a[:, None]) | (a[None, :] == p[:, None])) & ~eye
        target = torch.arange(len(batch), device=self.device)
        ce = torch.nn.functional.cross_entropy
        return (ce(logits.masked_fill(mask_ap, float("-inf")), target)
                + ce(logits.T.masked_fill(mask_pa, float("-inf")), target)) / 2

    def step(self, batch: np.ndarray, lr: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = self.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())


def _lr(config: AdaptConfig, step: int, elapsed: float, total_steps: int) -> float:
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    progress = max(elapsed / config.budget_seconds, step / max(1, total_steps))
    return config.learning_rate * warm * max(0.0, 1.0 - progress)


def _train(trainer: _Trainer, pairs: np.ndarray, config: AdaptConfig, start: float,
           show_progress: bool) -> tuple[list[float], str]:
    import torch
    from tqdm.auto import tqdm

    rng = np.random.default_rng(config.seed)
    per_epoch = max(1, len(pairs) // config.batch_size)
    total = math.ceil(per_epoch * config.max_epochs)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    losses: list[float] = []
    stop = "steps"
    order = np.zeros(0, dtype=np.int64)
    with tqdm(total=total, desc="adapting encoder", unit="step", disable=not show_progress,
              leave=False) as bar:
        for step in range(total):
            elapsed = time.perf_counter() - start
            if elapsed >= config.budget_seconds:
                stop = "budget"
                break
            at = (step % per_epoch) * config.batch_size
            if at == 0:
                order = rng.permutation(len(pairs))
            batch = pairs[order[at:at + config.batch_size]]
            losses.append(trainer.step(batch, _lr(config, step, elapsed, total)))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return losses, stop


def _save(trainer: _Trainer, base: Path, out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the folder under a temporary name, then move it into place."""
    tmp = out_dir.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{out_dir.name}")
    try:
        trainer.restore()
        trainer.model.to("cpu")
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        trainer.tokenizer.save_pretrained(tmp)
        for name in _SENTENCE_TRANSFORMERS_FILES:
            src = base / name
            if src.is_dir():
                shutil.copytree(src, tmp / name)
            elif src.is_file():
                shutil.copy2(src, tmp / name)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise EncoderError(f"adapt: writing the adapted model to {str(out_dir)!r} failed: {e}"
                           ) from e


def _check_out_dir(out_dir: Path, base: Path) -> None:
    if out_dir.resolve() == base.resolve():
        raise EncoderError(f"adapt: out_dir {str(out_dir)!r} is the base model's folder")
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir())
                                                      and read_manifest(out_dir) is None)):
        raise EncoderError(f"adapt: out_dir {str(out_dir)!r} exists and is not an adapted "
                           f"model folder (no {MANIFEST_NAME}); refusing to overwrite it")


def adapt_encoder(
    model_dir: str | Path | None,
    texts: Sequence[str],
    pairs: Any,
    out_dir: str | Path,
    *,
    config: AdaptConfig | None = None,
    pair_kinds: dict[str, int] | None = None,
    show_progress: bool = True,
) -> AdaptResult:
    """Fine-tune ``model_dir`` on positive text pairs and save the result in ``out_dir``.

    Args:
        model_dir: base model: a local folder, a cached hub id, or ``None`` for the
            packaged all-MiniLM-L6-v2 (as :class:`~kgrec.settings.EncoderSettings.model`).
        texts: every text the pairs refer to (normalised here like TextEncoder does).
        pairs: ``int [P, 2]`` rows ``(anchor_idx, positive_idx)`` into ``texts``; pairs with
            an empty text or a text paired with itself are dropped.
        out_dir: folder to write; replaced if it is an earlier adapted folder, refused if
            it holds anything else.
        config: training settings (budget, device, ...); default :class:`AdaptConfig`.
        pair_kinds: optional ``{kind: count}`` of the pairs, recorded in the manifest.
        show_progress: tqdm bar over the steps.

    Returns:
        The folder and its manifest (base model and fingerprint, pair counts, steps,
        seconds, why it stopped, the per-step loss curve, the config).

    Raises:
        EncoderError: bad pairs or settings, the model cannot be loaded, or writing failed.

    Example::

        result = adapt_encoder(None, ["red pen", "blue pen", "stapler"], [[0, 1]],
                               "/tmp/adapted", config=AdaptConfig(max_steps=10))
        TextEncoder(EncoderSettings(model=str(result.path))).encode(["red pen"])
    """
    import torch

    config = config or AdaptConfig()
    config.check()
    base_id, base = resolve_model(None if model_dir is None else str(model_dir))
    out_dir = Path(out_dir).expanduser()
    _check_out_dir(out_dir, base)
    clean = [normalize_text(t) for t in texts]
    pair_arr = _clean_pairs(clean, pairs)
    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    trainer = _Trainer(base, clean, config)
    load_s = time.perf_counter() - t0
    logger.info("adapting %s on %d pairs (%d texts), top %s layers, %s%s, budget %.0fs",
                base_id, len(pair_arr), len(clean), config.trainable_layers or "all",
                trainer.device, " bf16" if trainer.bf16 else "", config.budget_seconds)
    start = time.perf_counter()  # the budget covers caching the frozen layers and training
    trainer.cache_frozen(np.unique(pair_arr))
    cache_s = time.perf_counter() - start
    losses, stop = _train(trainer, pair_arr, config, start, show_progress)
    train_s = time.perf_counter() - start
    if not losses:
        raise EncoderError(f"adapt: no training step fitted in {config.budget_seconds}s")
    if not all(math.isfinite(x) for x in losses):
        raise EncoderError("adapt: the loss became NaN or inf; lower the learning rate")
    manifest: dict[str, Any] = {
        "format": _FORMAT,
        "base_model": base_id,
        "base_fingerprint": fingerprint_model_dir(base),
        "texts": len(clean),
        "pairs": len(pair_arr),
        "pair_kinds": dict(pair_kinds or {}),
        "steps": len(losses),
        "pairs_seen": len(losses) * config.batch_size,
        "stopped_by": stop,
        "train_seconds": round(train_s, 3),
        "cache_seconds": round(cache_s, 3),
        "load_seconds": round(load_s, 3),
        "cached_texts": len(trainer.cache),
        "device": str(trainer.device),
        "bf16_autocast": trainer.bf16,
        "trainable_params": trainer.trainable_params,
        "torch_threads": torch.get_num_threads(),
        "config": asdict(config),
        "losses": [round(x, 5) for x in losses],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _save(trainer, base, out_dir, manifest)
    logger.info("adapted encoder written to %s: %d steps in %.1fs (%s), loss %.3f -> %.3f",
                out_dir, len(losses), train_s, stop, losses[0], float(np.mean(losses[-20:])))
    return AdaptResult(path=out_dir.resolve(), manifest=manifest)
