"""The one exception tree of kgrec.

::

    KGRecError
    ├── ConfigError          bad settings or environment
    ├── IngestError          a source file cannot be read
    │   └── RecordError      one record is malformed (names file, line, field)
    ├── GraphError           Neo4j server or query failures
    │   ├── ServerError      the local Neo4j server cannot be started/stopped
    │   ├── SchemaError      constraints, indexes, disallowed labels or keys
    │   └── WriteError       a batched write failed (nothing of the batch is kept)
    ├── ExportError          the graph cannot be exported or is inconsistent
    ├── EncoderError         the text model cannot be loaded or run
    ├── TrainingError        training/inference failed or produced NaN/inf
    ├── ResourceError        needs more memory than the machine allows (also a MemoryError)
    ├── NotFoundError        an unknown user, item, model or file
    └── RequestError         a bad argument of a facade call (k, filters, diversity)

The CLI catches ``KGRecError`` only, prints ``ErrorType: message`` and exits 1.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EncoderError",
    "ExportError",
    "GraphError",
    "IngestError",
    "KGRecError",
    "NotFoundError",
    "RecordError",
    "RequestError",
    "ResourceError",
    "SchemaError",
    "ServerError",
    "TrainingError",
    "WriteError",
]


class KGRecError(Exception):
    """Root of every error kgrec raises on purpose."""


class ConfigError(KGRecError):
    """Settings or environment variables are invalid."""


class IngestError(KGRecError):
    """A source file cannot be read (missing, wrong encoding, wrong format)."""


class RecordError(IngestError):
    """One record is malformed; the message names the file, line and field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.field = field


class GraphError(KGRecError):
    """Neo4j is unreachable or a query failed."""


class ServerError(GraphError):
    """The local Neo4j server cannot be started, reached or stopped."""


class SchemaError(GraphError):
    """A constraint/index cannot be created, or a label/key is not allowed."""


class WriteError(GraphError):
    """A batched write failed; its transaction was rolled back."""


class ExportError(KGRecError):
    """The graph cannot be exported, or the exported arrays are inconsistent."""


class EncoderError(KGRecError):
    """The text model cannot be found, loaded or run."""


class TrainingError(KGRecError):
    """Training or inference failed, or produced non-finite values."""


class ResourceError(KGRecError, MemoryError):
    """A computation needs more memory than this machine allows; the message says how
    much it needs and how much there is."""


class NotFoundError(KGRecError):
    """An unknown user, item, attribute, model checkpoint or file."""


class RequestError(KGRecError, ValueError):
    """An argument of a facade call is invalid (``k``, ``filters``, ``diversity``).

    The message names the argument, what is allowed and what was found.
    """
