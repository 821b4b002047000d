"""Shared route dependencies."""

from __future__ import annotations

from fastapi import Request

from driftscope.server.state import ServerState


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ds
    return state
