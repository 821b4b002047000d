"""Builders for captured exchanges and model settings used by the codec tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from driftscope.capture.exchange import Exchange
from driftscope.config.settings import ModelSettings

RECEIVED_AT = 1_700_000_000.25


def model_settings(protocol: str = "oip_v2", **schema: Any) -> ModelSettings:
    extra: dict[str, Any] = {}
    if protocol == "json":
        extra["path_prefix"] = "/api"
    version = schema.pop("version", "cfg-1")
    task = schema.pop("task", "binary_classification")
    return ModelSettings(
        name="m",
        upstream="http://127.0.0.1:9",
        protocol=protocol,
        version=version,
        task=task,
        schema=schema,
        **extra,
    )


def exchange(
    request: Any,
    response: Any,
    *,
    protocol: str = "oip_v2",
    path: str = "/v2/models/m/infer",
    status: int = 200,
    request_headers: dict[str, str] | None = None,
    response_headers: dict[str, str] | None = None,
    **kw: Any,
) -> Exchange:
    def raw(doc: Any) -> bytes:
        return doc if isinstance(doc, bytes) else orjson.dumps(doc)

    return Exchange(
        model="m",
        protocol=protocol,
        request_id=kw.pop("request_id", "req-1"),
        method="POST",
        path=path,
        received_at=RECEIVED_AT,
        latency_ms=3.5,
        status=status,
        request_headers={"content-type": "application/json", **(request_headers or {})},
        request_body=raw(request),
        response_headers={"content-type": "application/json", **(response_headers or {})},
        response_body=raw(response),
        **kw,
    )


@pytest.fixture
def make_exchange() -> Callable[..., Exchange]:
    return exchange


@pytest.fixture
def make_model() -> Callable[..., ModelSettings]:
    return model_settings
