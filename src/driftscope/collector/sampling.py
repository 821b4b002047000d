"""Deterministic sampling: the same request id is always in or always out."""

from __future__ import annotations

from hashlib import blake2b

_SCALE = float(1 << 64)
_TRUE_VALUES = frozenset({b"1", b"true", b"yes"})


def sample_point(request_id: str) -> float:
    """Where ``request_id`` falls in [0, 1).

    A 64-bit BLAKE2b hash: the same in every process and Python version, unlike ``hash()``.
    """
    digest = blake2b(request_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def sampled(request_id: str, rate: float) -> bool:
    """True when a request with this id is captured at sample ``rate`` (0..1)."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return sample_point(request_id) < rate


def forced(value: bytes | None) -> bool:
    """Whether a force-capture header value asks for capture (1 / true / yes)."""
    return value is not None and value.strip().lower() in _TRUE_VALUES
