"""Routing table and the sampling function (pure, no sockets)."""

from __future__ import annotations

import uuid

import pytest

from driftscope.collector.capture import RequestIds
from driftscope.collector.routing import UNROUTED, Miss, Router, Target
from driftscope.collector.sampling import forced, sample_point, sampled
from driftscope.config.settings import Settings

A, B = "http://127.0.0.1:1001", "http://127.0.0.1:1002"


def _router(*models: dict[str, object]) -> Router:
    return Router(Settings(models=list(models)))


TWO = _router(
    {"name": "m1", "upstream": A, "version": "3", "sample_rate": 0.5},
    {"name": "m.2", "upstream": B, "protocol": "kserve_v1"},
    {"name": "j", "upstream": B, "protocol": "json", "path_prefix": "/api/score/"},
    {"name": "jj", "upstream": A, "protocol": "json", "path_prefix": "/api/score/deep"},
)


@pytest.mark.parametrize(
    ("method", "path", "model", "capture", "protocol", "version"),
    [
        ("POST", "/v2/models/m1/infer", "m1", True, "oip_v2", None),
        ("POST", "/v2/models/m1/versions/7/infer", "m1", True, "oip_v2", "7"),
        ("GET", "/v2/models/m1/infer", "m1", False, "oip_v2", None),
        ("GET", "/v2/models/m1/ready", "m1", False, "oip_v2", None),
        ("GET", "/v2/models/m1", "m1", False, "oip_v2", None),
        ("POST", "/v2/models/m1/versions/7/infer/x", "m1", False, "oip_v2", None),
        ("POST", "/v1/models/m.2:predict", "m.2", True, "kserve_v1", None),
        ("POST", "/v1/models/m.2/versions/2:predict", "m.2", True, "kserve_v1", "2"),
        ("POST", "/v1/models/m.2:explain", "m.2", False, "kserve_v1", None),
        ("GET", "/v1/models/m.2", "m.2", False, "kserve_v1", None),
        ("POST", "/v1/models/m1:predict", "m1", True, "kserve_v1", None),
        ("POST", "/api/score", "j", True, "json", None),
        ("POST", "/api/score/x/y", "j", True, "json", None),
        ("GET", "/api/score/x", "j", False, "json", None),
        ("POST", "/api/score/deep/1", "jj", True, "json", None),
        ("POST", "/api/scorex", None, False, "", None),
    ],
)
def test_routes(
    method: str, path: str, model: str | None, capture: bool, protocol: str, version: str | None
) -> None:
    target, got_version = TWO.resolve(method, path)
    if model is None:
        assert isinstance(target, Miss)
        return
    assert isinstance(target, Target)
    assert (target.model, target.capture, target.protocol, got_version) == (
        model,
        capture,
        protocol,
        version,
    )
    assert target.upstream == {"m1": A, "m.2": B, "j": B, "jj": A}[model]


def test_misses_name_the_model_and_the_configured_ones() -> None:
    miss, _ = TWO.resolve("POST", "/v2/models/zzz/infer")
    assert miss == Miss("zzz", ("j", "jj", "m.2", "m1"))
    assert "'zzz' is not configured (configured: j, jj, m.2, m1)" in miss.detail("/x")
    other, _ = TWO.resolve("GET", "/v2/health/ready")
    assert isinstance(other, Miss) and other.model is None
    assert "names no model" in other.detail("/v2/health/ready")


def test_one_shared_upstream_takes_everything_else() -> None:
    router = _router({"name": "a", "upstream": A}, {"name": "b", "upstream": A})
    for path in ("/v2/health/live", "/v2/models/zzz/infer", "/anything"):
        target, _ = router.resolve("POST", path)
        assert target == Target(UNROUTED, A, False)
    assert isinstance(_router().resolve("GET", "/x")[0], Miss)


def test_rate_and_version_come_from_the_model() -> None:
    target, _ = TWO.resolve("POST", "/v2/models/m1/infer")
    assert isinstance(target, Target) and (target.rate, target.version) == (0.5, "3")


def test_sampled_is_deterministic_and_bounded() -> None:
    assert all(sampled(f"x{i}", 1.0) for i in range(100))
    assert not any(sampled(f"x{i}", 0.0) for i in range(100))
    assert sampled("abc", 0.37) == sampled("abc", 0.37)
    # the same id is in at every rate above its point and out below it
    p = sample_point("abc")
    assert 0.0 <= p < 1.0
    assert sampled("abc", min(1.0, p + 1e-9)) and not sampled("abc", p)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 0.9])
def test_sampled_share_matches_the_rate(rate: float) -> None:
    # deterministic: the hash of these ids never changes, so this is not a flaky statistic
    n = 20_000
    share = sum(sampled(f"request-{i}", rate) for i in range(n)) / n
    assert abs(share - rate) < 4 * (rate * (1 - rate) / n) ** 0.5 + 1e-9


def test_forced_values() -> None:
    assert all(forced(v) for v in (b"1", b"true", b"TRUE", b"yes", b" Yes "))
    assert not any(forced(v) for v in (None, b"", b"0", b"false", b"no", b"2"))


def test_generated_request_ids_are_uuid4_hex() -> None:
    new_id = RequestIds()
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for rid in ids[:500]:
        u = uuid.UUID(hex=rid)
        assert (u.version, u.variant, u.hex) == (4, uuid.RFC_4122, rid)
    assert RequestIds()() != RequestIds()()  # separately seeded (one per worker)
