"""The error table and the token check, on their own."""

from __future__ import annotations

import pytest

from driftscope import errors
from driftscope.server.auth import TokenCheck, is_loopback
from driftscope.server.errors import STATUS, error_body, status_for


class _Custom(errors.NotFound):
    pass


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.ValidationError("x"), 422),
        (errors.NotFound("x"), 404),
        (_Custom("x"), 404),  # a subclass inherits its parent's line
        (errors.StorageError("x"), 503),
        (errors.UpstreamTimeout("x"), 504),
        (errors.UpstreamUnavailable("x"), 502),
        (errors.PayloadTooLarge("x"), 413),
        (errors.ConfigError("k", "bad"), 500),
        (errors.MissingExtraError("boto3", "s3"), 501),
        (errors.InsufficientDataError("x"), 422),
        (ValueError("x"), 500),
    ],
)
def test_status_for(exc: Exception, status: int) -> None:
    assert status_for(exc) == status


def test_every_error_class_has_a_status() -> None:
    def subclasses(cls: type) -> set[type]:
        out = set(cls.__subclasses__())
        for sub in list(out):
            out |= subclasses(sub)
        return out

    defined = {c for c in subclasses(errors.DriftscopeError) if c.__module__ == errors.__name__}
    assert defined <= set(STATUS), defined - set(STATUS)


def test_error_body() -> None:
    assert error_body(errors.NotFound("no such model 'x'")) == {
        "error": "NotFound",
        "detail": "no such model 'x'",
    }


def test_token_check() -> None:
    check = TokenCheck("abc")
    assert check.enabled
    assert check.check("Bearer abc") and check.check("bearer abc")
    assert not check.check("Bearer abd") and not check.check("abc") and not check.check(None)
    assert not check.check("Basic abc") and not check.check("Bearer ")
    open_check = TokenCheck(None)
    assert not open_check.enabled and open_check.check(None)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
