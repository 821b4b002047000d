"""Bearer-token check for the management API and ``/metrics``.

The proxied paths never pass through here: the client's own credentials go
to the upstream untouched.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException, Request

from driftscope.config.settings import Settings

REALM = 'Bearer realm="driftscope"'


class TokenCheck:
    """A FastAPI dependency: ``Authorization: Bearer <token>`` when a token is configured."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCheck:
        token = settings.server.token
        return cls(token.get_secret_value() if token is not None else None)

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def check(self, authorization: str | None) -> bool:
        """True when no token is configured or ``authorization`` carries the right one."""
        if self._token is None:
            return True
        if not authorization:
            return False
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self._token)

    async def __call__(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if self.check(header):
            return
        challenge = REALM if header is None else f'{REALM}, error="invalid_token"'
        raise HTTPException(
            status_code=401,
            detail="a valid bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": challenge},
        )


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; anything else is reachable from outside."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
