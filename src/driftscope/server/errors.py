"""The one table mapping driftscope errors to HTTP status codes.

Errors know nothing of HTTP; the server looks the status up here by the
error's class hierarchy (the most specific class listed wins), so a new
subclass inherits its parent's status until it gets its own line.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from driftscope import errors

log = logging.getLogger(__name__)

#: error class -> HTTP status. Looked up along the MRO.
STATUS: dict[type[errors.DriftscopeError], int] = {
    errors.DriftscopeError: 500,
    errors.ConfigError: 500,
    errors.PluginError: 400,
    errors.MissingExtraError: 501,
    errors.CodecError: 422,
    errors.ConversionError: 422,
    errors.ProxyError: 502,
    errors.UpstreamUnavailable: 502,
    errors.UpstreamTimeout: 504,
    errors.PayloadTooLarge: 413,
    errors.StorageError: 503,
    errors.NotFound: 404,
    errors.ValidationError: 422,
    errors.UnsupportedMediaType: 415,
    errors.MonitoringError: 422,
    errors.InsufficientDataError: 422,
}


def status_for(exc: BaseException) -> int:
    """The HTTP status for ``exc`` (500 for anything not in the table)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def error_body(exc: BaseException) -> dict[str, str]:
    """The JSON body every API error has: the error's class name and its message."""
    return {"error": type(exc).__name__, "detail": str(exc)}


async def driftscope_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI / Starlette exception handler for :class:`~driftscope.errors.DriftscopeError`."""
    status = status_for(exc)
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return JSONResponse(error_body(exc), status_code=status)
