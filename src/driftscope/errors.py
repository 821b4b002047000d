"""The driftscope error tree.

Every error driftscope raises on purpose derives from :class:`DriftscopeError`.
Errors know nothing of HTTP: ``driftscope.server.errors`` maps them to status
codes in one table. Foreign exceptions are wrapped only at boundaries, always
with ``raise ... from exc`` so the cause is kept.

::

    DriftscopeError
    ├── ConfigError                 bad configuration (names the key and the value)
    ├── PluginError                 unknown / duplicate plugin, missing extra
    │   ├── MissingExtraError       an optional dependency is not installed
    │   └── UnsupportedTaskError    a labeling tool cannot label this task (driftscope.labeling)
    ├── CodecError                  a payload a codec cannot read
    ├── ConversionError             an annotation a converter cannot read
    ├── ProxyError                  hot-path failures shown to clients
    │   ├── UpstreamUnavailable     upstream refused / unreachable  (502)
    │   ├── UpstreamTimeout         upstream did not answer in time (504)
    │   └── PayloadTooLarge         request body above the limit    (413)
    ├── StorageError                database or object store failure
    │   ├── NotFound                an entity that does not exist
    │   └── LabelStudioError        Label Studio down or refusing (driftscope.labeling)
    ├── ValidationError             bad user input to the API / Python API
    │   └── UnsupportedMediaType    a body in a format the endpoint does not read (415)
    └── MonitoringError             the analytics cannot compute what was asked
        └── InsufficientDataError   too few rows for a statistic
"""

from __future__ import annotations


class DriftscopeError(Exception):
    """Root of every error driftscope raises on purpose."""


class ConfigError(DriftscopeError):
    """Invalid configuration. The message names the key and the bad value."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key {key!r}: {message}")


class PluginError(DriftscopeError):
    """Unknown or duplicate plugin."""


class MissingExtraError(PluginError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{module!r} is not installed: install it with `pip install 'driftscope[{extra}]'`"
        )


class CodecError(DriftscopeError):
    """A payload the codec cannot read."""


class ConversionError(DriftscopeError):
    """An annotation a converter cannot read."""


class ProxyError(DriftscopeError):
    """A failure on the hot path that the client sees."""


class UpstreamUnavailable(ProxyError):
    """The upstream refused the connection or could not be reached."""


class UpstreamTimeout(ProxyError):
    """The upstream did not answer in time."""


class PayloadTooLarge(ProxyError):
    """The request body is larger than the configured limit."""


class StorageError(DriftscopeError):
    """The database or the object store failed."""


class NotFound(StorageError):
    """The requested entity does not exist."""


class ValidationError(DriftscopeError):
    """Bad input to the REST or Python API."""


class UnsupportedMediaType(ValidationError):
    """A request body in a format the endpoint does not read (names the ones it does)."""


class MonitoringError(DriftscopeError):
    """The analytics cannot compute what was asked."""


class InsufficientDataError(MonitoringError):
    """Too few rows for a statistic."""
