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


@pytest.fixture(autouse=True)
def _decode_rows_agrees_with_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every OIP v2 decode in these tests also checks ``decode_rows``: the same records
    (value types included) or the same CodecError message."""
    from driftscope.codecs.base import RecordRows
    from driftscope.codecs.oip_v2 import OIPv2Codec
    from driftscope.errors import CodecError

    decode = OIPv2Codec.decode

    def checked(self: OIPv2Codec, ex: Exchange, model: ModelSettings) -> Any:
        try:
            expected = decode(self, ex, model)
        except CodecError as exc:
            with pytest.raises(CodecError) as info:
                OIPv2Codec.decode_rows(self, ex, model)
            assert str(info.value) == str(exc)
            raise
        got = OIPv2Codec.decode_rows(self, ex, model)
        records = got.records() if isinstance(got, RecordRows) else got
        assert records == expected
        for a, b in zip(records, expected, strict=True):
            assert list(a.features) == list(b.features)
            assert [type(v) for v in a.features.values()] == [type(v) for v in b.features.values()]
        return expected

    monkeypatch.setattr(OIPv2Codec, "decode", checked)
