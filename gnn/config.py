"""Configuration of a kgrec model, split by concern (saved in every checkpoint).

- :class:`ModelConfig`: the architecture (what the trained model *is*).
- :class:`TrainConfig`: how it is optimised (never needed to serve).
- :class:`ScoringConfig`: the terms beside the GNN score and the long-tail slots, whose
  scalars are chosen on validation after training (:mod:`gnn.scoring_fit`); a value
  given here is used as is instead of being chosen.

:class:`KGRecConfig` holds the three. No torch here: serving reads configs without it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from kgrec.errors import ConfigError

__all__ = ["PAGE", "STEP_DEFAULTS", "KGRecConfig", "ModelConfig", "ScoringConfig",
           "TrainConfig"]

#: positions per page of a recommendation list; long-tail slots close each page
PAGE = 10

#: ``(batch_size, lr)`` by device type when :class:`TrainConfig` leaves them ``None``. A
#: CUDA step is launch-bound (its time hardly grows with the batch), so there fewer,
#: larger steps train faster; on a CPU a step costs in proportion to its batch, and
#: the larger batch needs about twice the epochs (MovieLens 100K: 25 vs 12).
STEP_DEFAULTS: dict[str, tuple[int, float]] = {"cpu": (1024, 0.03), "cuda": (2048, 0.05)}


def _check(owner: str, checks: dict[str, bool], values: object) -> None:
    for name, ok in checks.items():
        if not ok:
            raise ConfigError(f"{owner}.{name}: invalid value {getattr(values, name)!r}")


@dataclass(frozen=True)
class ModelConfig:
    """The architecture.

    Attributes:
        use_text: layer 0 includes a learned projection of the text features.
        use_attributes: attribute nodes and their edges (items' and users') are in the graph.
        use_id: warm users/items (and attribute nodes) get a learnable ID embedding.
        dim: embedding size.
        layers: propagation steps ``L`` (final embedding = mean of ``L + 1`` layers).
        temperature: softmax temperature ``τ`` of the cosine score.
    """

    use_text: bool = True
    use_attributes: bool = True
    use_id: bool = True
    dim: int = 64
    layers: int = 2
    temperature: float = 0.15

    def __post_init__(self) -> None:
        if not (self.use_text or self.use_id):
            raise ConfigError("ModelConfig: at least one of use_text and use_id must be True")
        _check("ModelConfig", {"dim": self.dim >= 1, "layers": self.layers >= 0,
                               "temperature": self.temperature > 0}, self)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation.

    Attributes:
        id_dropout: probability of dropping an item's ID embedding in a training step.
        text_dropout: share of text-feature dimensions dropped in the cold-path loss
            (one mask per step); keeps the rule that embeds cold items from fitting the
            warm items' exact text.
        cold_weight: weight of the cold-path loss (items embedded as if they had no
            interactions and no ID; trains the rule that embeds new items). 0 = off.
        lr: Adam learning rate; ``None`` = the device's default (:data:`STEP_DEFAULTS`).
        batch_size: positives per step (in-batch negatives); ``None`` = device default.
        max_epochs: epoch cap; early stopping usually ends training earlier.
        steps_per_epoch: batches per epoch; 0 = one pass over all training pairs.
        patience: evaluations without a better validation NDCG@20 before stopping.
        refit_fraction: the refit on all pairs continues from the early-stopped weights
            for this fraction of the best epoch count.
        eval_every: epochs between validation evaluations.
        seed: torch and NumPy seed.
        device: ``"auto"`` (cuda if available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    id_dropout: float = 0.5
    text_dropout: float = 0.7
    cold_weight: float = 3.0
    lr: float | None = None
    batch_size: int | None = None
    max_epochs: int = 100
    steps_per_epoch: int = 0
    patience: int = 4
    refit_fraction: float = 0.3
    eval_every: int = 1
    seed: int = 2026
    device: str = "auto"

    def __post_init__(self) -> None:
        _check("TrainConfig", {
            "id_dropout": 0 <= self.id_dropout < 1, "text_dropout": 0 <= self.text_dropout < 1,
            "cold_weight": self.cold_weight >= 0, "lr": self.lr is None or self.lr > 0,
            "batch_size": self.batch_size is None or self.batch_size >= 2,
            "max_epochs": self.max_epochs >= 1, "patience": self.patience >= 1,
            "steps_per_epoch": self.steps_per_epoch >= 0, "eval_every": self.eval_every >= 1,
            "refit_fraction": 0 < self.refit_fraction <= 1}, self)
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"TrainConfig.device must be auto, cpu, cuda or cuda:N; "
                              f"got {self.device!r}")

    def for_device(self, device_type: str) -> TrainConfig:
        """This config with ``batch_size`` and ``lr`` filled in for ``device_type``
        (``"cpu"`` or ``"cuda"``) where they are ``None``."""
        batch, lr = STEP_DEFAULTS["cuda" if device_type == "cuda" else "cpu"]
        return replace(self, batch_size=self.batch_size or batch, lr=self.lr or lr)


@dataclass(frozen=True)
class ScoringConfig:
    """The terms beside the GNN score, and the long-tail slots (see :mod:`gnn.scorer`).

    Attributes:
        item_item: add the EASE item–item term (needs ``use_id``; :mod:`gnn.item_item`).
        item_item_lambda, item_item_weight: its ``λ`` and ``β``; ``None`` = chosen on
            validation.
        item_item_max_items: skip the term above this many items (``O(I²)`` memory).
        content_columns: items without interactions get item–item columns predicted
            from their attributes and text.
        content_mu, content_text_weight, content_scale: the ridge ``μ``, text weight ``t``
            and calibration ``c`` of those columns; ``None`` = chosen on a pseudo-cold
            split of the training items.
        tail_slots: long-tail slots per page of ten (:mod:`gnn.long_tail`); ``None`` =
            chosen on validation within ``tail_budget``, 0 = off.
        tail_budget: relative validation NDCG@20 loss the chosen slots may cost.
    """

    item_item: bool = True
    item_item_lambda: float | None = None
    item_item_weight: float | None = None
    item_item_max_items: int = 20_000
    content_columns: bool = True
    content_mu: float | None = None
    content_text_weight: float | None = None
    content_scale: float | None = None
    tail_slots: float | None = None
    tail_budget: float = 0.03

    def __post_init__(self) -> None:
        _check("ScoringConfig", {
            "item_item_max_items": self.item_item_max_items >= 1,
            "tail_slots": self.tail_slots is None or 0 <= self.tail_slots <= PAGE,
            "tail_budget": 0 <= self.tail_budget < 1}, self)


@dataclass(frozen=True)
class KGRecConfig:
    """Everything a kgrec model was trained with.

    Example:
        >>> cfg = KGRecConfig(model=ModelConfig(dim=32), train=TrainConfig(device="cpu"))
        >>> KGRecConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-ready ``{"model": {...}, "train": {...}, "scoring": {...}}``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, Any]]) -> KGRecConfig:
        """Inverse of :meth:`to_dict`; unknown sections or keys raise :class:`ConfigError`."""
        parts: dict[str, Any] = {}
        for f in fields(cls):
            section = dict(data.get(f.name, {}))
            known = {x.name for x in fields(_SECTIONS[f.name])}
            unknown = sorted(set(section) - known)
            if unknown:
                raise ConfigError(f"{f.name} config: unknown keys {unknown}; valid keys: "
                                  f"{sorted(known)}")
            parts[f.name] = _SECTIONS[f.name](**section)
        extra = sorted(set(data) - set(_SECTIONS))
        if extra:
            raise ConfigError(f"KGRecConfig: unknown sections {extra}; valid: {sorted(_SECTIONS)}")
        return cls(**parts)

    def with_overrides(self, **changes: Any) -> KGRecConfig:
        """A copy with fields changed by name, in whichever section holds them
        (``with_overrides(use_text=False, max_epochs=3)``).

        Raises:
            ConfigError: a name no section has.
        """
        out = self
        for name, value in changes.items():
            section = next((s for s in _SECTIONS if name in {f.name for f in
                                                            fields(_SECTIONS[s])}), None)
            if section is None:
                raise ConfigError(f"no config field {name!r}")
            out = replace(out, **{section: replace(getattr(out, section), **{name: value})})
        return out


_SECTIONS: dict[str, type[Any]] = {"model": ModelConfig, "train": TrainConfig,
                                   "scoring": ScoringConfig}
