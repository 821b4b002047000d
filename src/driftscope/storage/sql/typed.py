"""Typed feature storage: numeric rows as packed float64 values plus a layout id.

A record whose features are all numbers (Python ``float``, ``int`` within +-2**53,
or ``None``) is stored as ``feature_values``: its values as little-endian float64
(``None`` as NaN), and ``feature_layout``: the id of its :class:`Layout` (the
feature names in order and which positions hold ints), kept once in the
``feature_layouts`` table (migration 0005). Every other record (strings, bools,
nested values, NumPy scalars, empty features) keeps the JSON ``features`` column,
and so do all rows written before 0005.

Reading gives exactly what the JSON column gave: the same names in the same order,
ints back as ints, and ``None`` where the value was ``None``, NaN or +-inf (the
JSON column stores those as null). A layout's id is the first 63 bits of the
SHA-256 of its JSON, so every process and replica derives the same id without a
round trip; the store checks once per process that the stored layout of an id is
its own (a collision sends that layout's rows to the JSON column instead).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Any

import orjson

from driftscope.errors import StorageError

#: Ints beyond this magnitude do not survive a trip through float64: they stay JSON.
INT_EXACT = 2**53
#: Distinct (names, value types) patterns one encoder remembers; past that, rows of new
#: patterns go to the JSON column (bounds the caches; a model whose features change
#: names from request to request would otherwise grow them without end).
MAX_PATTERNS = 4096
_NAN = float("nan")
_BIG_ENDIAN = sys.byteorder == "big"


@dataclass(frozen=True, slots=True)
class Layout:
    """The feature names of a typed row, in order, and the positions holding ints."""

    names: tuple[str, ...]
    ints: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "ints": list(self.ints)}

    @classmethod
    def from_json(cls, value: Any) -> Layout:
        if isinstance(value, str | bytes):
            value = orjson.loads(value)
        return cls(tuple(value["names"]), tuple(value.get("ints") or ()))

    @property
    def id(self) -> int:
        return layout_id(self)

    @property
    def json_text(self) -> str:
        return orjson.dumps(self.to_json()).decode()


def layout_id(layout: Layout) -> int:
    """A stable positive 63-bit id: the first bytes of the SHA-256 of the layout's JSON."""
    digest = hashlib.sha256(orjson.dumps(layout.to_json())).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(slots=True)
class _Pattern:
    """How to encode rows of one (names, value types) pattern."""

    layout: Layout
    id: int
    has_none: bool
    ints: tuple[int, ...]
    #: floats only on a little-endian host: ``array('d', values)`` as it is
    plain: bool = False


class FeatureEncoder:
    """Features dict -> (layout id, packed values), or None for the JSON column.

    Keeps one entry per (names, value types) pattern seen (at most MAX_PATTERNS), so
    the per-row cost is building that key, a lookup and one ``array('d', ...)``.
    """

    def __init__(self) -> None:
        #: (names, value types) -> pattern of typed rows; the keys of JSON rows are in
        #: ``_json`` instead, so ``patterns.get(key) or self.pattern(...)`` is the lookup
        self.patterns: dict[tuple[tuple[Any, ...], tuple[type, ...]], _Pattern] = {}
        self._json: set[tuple[tuple[Any, ...], tuple[type, ...]]] = set()
        #: layouts by id, of every pattern encoded so far
        self.layouts: dict[int, Layout] = {}
        self._poisoned: set[int] = set()

    def pattern(self, names: tuple[Any, ...], types: tuple[type, ...]) -> _Pattern | None:
        key = (names, types)
        pat = self.patterns.get(key)
        if pat is not None or key in self._json:
            return pat
        if len(self.patterns) + len(self._json) >= MAX_PATTERNS:
            return None  # bounded memory: patterns past the cap are stored as JSON
        pat = self._classify(names, types)
        if pat is None:
            self._json.add(key)
        else:
            self.patterns[key] = pat
        return pat

    def _classify(self, names: tuple[Any, ...], types: tuple[type, ...]) -> _Pattern | None:
        if not names or not all(type(n) is str for n in names):
            return None
        kinds = set(types)
        if not kinds <= {float, int, type(None)}:
            return None
        ints = tuple(i for i, tp in enumerate(types) if tp is int)
        layout = Layout(names, ints)
        lid = layout_id(layout)
        if lid in self._poisoned:
            return None
        self.layouts[lid] = layout
        has_none = type(None) in kinds
        plain = not has_none and not ints and not _BIG_ENDIAN
        return _Pattern(layout, lid, has_none, ints, plain)

    def poison(self, lid: int) -> None:
        """The database holds another layout under ``lid``: its rows go to JSON from now."""
        self._poisoned.add(lid)
        self.layouts.pop(lid, None)
        self.patterns = {k: p for k, p in list(self.patterns.items()) if p.id != lid}

    def encode(self, features: dict[str, Any]) -> tuple[int, bytes] | None:
        """``(layout id, values)`` for a typed row, None for the JSON column."""
        vals = list(features.values())
        pat = self.pattern(tuple(features), tuple(map(type, vals)))
        if pat is None:
            return None
        return encode_values(pat, vals)


def encode_values(pat: _Pattern, vals: list[Any]) -> tuple[int, bytes] | None:
    if pat.ints:
        for i in pat.ints:
            if not -INT_EXACT <= vals[i] <= INT_EXACT:
                return None
    if pat.has_none:
        vals = [_NAN if v is None else v for v in vals]
    packed = array("d", vals)
    if _BIG_ENDIAN:
        packed.byteswap()
    return pat.id, packed.tobytes()


_STRUCTS: dict[int, struct.Struct] = {}


def unpack(data: bytes, width: int) -> tuple[float, ...]:
    """The float64 values of one row (little-endian on disk)."""
    fmt = _STRUCTS.get(width)
    if fmt is None:
        fmt = _STRUCTS.setdefault(width, struct.Struct(f"<{width}d"))
    try:
        return fmt.unpack(data)
    except struct.error as exc:
        raise StorageError(
            f"typed features hold {len(data)} bytes, their layout {width} values"
        ) from exc


def decode(layout: Layout, data: bytes) -> dict[str, Any]:
    """A typed row back to the dict the JSON column would have given."""
    vals: Any = unpack(data, len(layout.names))
    total = sum(vals)
    # v - v is 0.0 for finite values, NaN for NaN and +-inf (JSON null, so None); the sum
    # is finite when all values are (an overflowing sum only takes the per-value check)
    if total - total != 0:
        vals = [v if v - v == 0 else None for v in vals]
    if layout.ints:
        vals = list(vals)
        for i in layout.ints:
            v = vals[i]
            if v is not None:
                vals[i] = int(v)
    return dict(zip(layout.names, vals, strict=True))
