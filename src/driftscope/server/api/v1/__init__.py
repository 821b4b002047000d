"""REST API v1: thin routes over the record store."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from driftscope.server.api.v1 import label_webhooks, labels, models, monitoring, records
from driftscope.server.auth import TokenCheck


def build_api_router(token: TokenCheck) -> APIRouter:
    """Every /api/v1 route, behind the bearer-token check."""
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(token)])
    router.include_router(models.router)
    router.include_router(records.router)
    router.include_router(labels.router)
    router.include_router(monitoring.router)
    return router


def build_webhook_router() -> APIRouter:
    """Routes called by other tools with their own authentication (no bearer token)."""
    router = APIRouter(prefix="/api/v1")
    router.include_router(label_webhooks.router)
    return router
