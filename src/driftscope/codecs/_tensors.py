"""Open Inference Protocol v2 tensors: JSON data and the binary tensor extension."""

from __future__ import annotations

import base64
import math
import struct
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from driftscope.errors import CodecError

#: OIP v2 datatype -> NumPy dtype (little-endian on the wire); BYTES stays Python objects.
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}

#: NumPy kinds a JSON array may hold for each datatype family.
_KINDS = {"b": "b", "u": "iu", "i": "iu", "f": "iuf"}


@dataclass(slots=True)
class Tensor:
    """A decoded tensor, split into rows along its first dimension."""

    name: str
    datatype: str
    shape: list[int]
    rows: list[Any]
    parameters: dict[str, Any]
    #: the JSON fast path's elements in order (row after row), when it had them at hand
    flat: list[Any] | None = field(default=None, compare=False, repr=False)

    @property
    def content_type(self) -> str | None:
        ct = self.parameters.get("content_type")
        return ct if isinstance(ct, str) else None


def _text(value: bytes) -> str:
    """BYTES elements become text; non-UTF-8 bytes are kept as base64."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii")


def _flatten(data: Any, out: list[Any]) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)


def _bytes_from_json(data: Any, content_type: str | None, where: str) -> np.ndarray[Any, Any]:
    flat: list[Any] = []
    _flatten(data, flat)
    values: list[Any] = []
    for i, item in enumerate(flat):
        if not isinstance(item, str):
            raise CodecError(f"{where}.data[{i}]: BYTES elements must be strings, got {item!r}")
        if content_type == "base64":
            try:
                values.append(_text(base64.b64decode(item, validate=True)))
            except ValueError as exc:
                raise CodecError(f"{where}.data[{i}]: not valid base64") from exc
        else:
            values.append(item)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _numbers_from_json(data: Any, datatype: str, where: str) -> np.ndarray[Any, Any]:
    dtype = DTYPES[datatype]
    try:
        arr = np.asarray(data)
    except ValueError as exc:
        raise CodecError(f"{where}.data: ragged nested lists ({exc})") from exc
    if arr.size == 0:
        return np.empty(0, dtype=dtype)
    if dtype.kind in "iu" and arr.dtype.kind in "fO":
        # NumPy turns ints beyond int64 (UINT64's upper half) into floats: check them one by one
        flat = np.asarray(data, dtype=object).reshape(-1)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
            arr = flat
            lo, hi = min(flat), max(flat)
            info = np.iinfo(dtype)
            if lo < info.min or hi > info.max:
                raise CodecError(f"{where}.data: values {lo}..{hi} do not fit {datatype}")
            return np.array(flat.tolist(), dtype=dtype)
    if arr.dtype.kind not in _KINDS[dtype.kind]:
        raise CodecError(
            f"{where}.data: datatype {datatype} expects "
            f"{'booleans' if dtype.kind == 'b' else 'numbers'}, got {arr.dtype.kind!r} values "
            f"such as {arr.flat[0]!r}"
        )
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise CodecError(f"{where}.data: values {lo}..{hi} do not fit {datatype}")
    return arr.astype(dtype, copy=False).reshape(-1)


def _bytes_from_binary(raw: memoryview, count: int, where: str) -> np.ndarray[Any, Any]:
    values: list[str] = []
    pos = 0
    for i in range(count):
        if pos + 4 > len(raw):
            raise CodecError(f"{where}: binary BYTES element {i} has no 4-byte length prefix")
        (length,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + length > len(raw):
            raise CodecError(
                f"{where}: binary BYTES element {i} needs {length} bytes, {len(raw) - pos} left"
            )
        values.append(_text(bytes(raw[pos : pos + length])))
        pos += length
    if pos != len(raw):
        raise CodecError(f"{where}: {len(raw) - pos} trailing bytes after {count} BYTES elements")
    arr = np.empty(count, dtype=object)
    arr[:] = values
    return arr


def parse_tensor(
    obj: Any, where: str, binary: memoryview | None, offset: int
) -> tuple[Tensor, int]:
    """Decode one tensor object; returns it and the new offset into the binary section."""
    if not isinstance(obj, dict):
        raise CodecError(f"{where}: expected a tensor object, got {type(obj).__name__}")
    name = obj.get("name")
    if not isinstance(name, str):
        raise CodecError(f"{where}.name: expected a string")
    where = f"{where} {name!r}"
    datatype = obj.get("datatype")
    if datatype not in DTYPES:
        raise CodecError(f"{where}.datatype: expected one of {', '.join(DTYPES)}, got {datatype!r}")
    shape = obj.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise CodecError(f"{where}.shape: expected a list of non-negative integers, got {shape!r}")
    params = obj.get("parameters") or {}
    if not isinstance(params, dict):
        raise CodecError(f"{where}.parameters: expected an object")
    count = math.prod(shape)
    size = params.get("binary_data_size")
    if size is not None:
        if binary is None:
            raise CodecError(
                f"{where}.parameters.binary_data_size is set but the message has no binary "
                "section (no Inference-Header-Content-Length header)"
            )
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise CodecError(
                f"{where}.parameters.binary_data_size: {size!r} bytes at offset {offset} "
                f"exceed the {len(binary)}-byte binary section"
            )
        raw = binary[offset : offset + size]
        offset += size
        if datatype == "BYTES":
            flat = _bytes_from_binary(raw, count, where)
        else:
            dtype = DTYPES[datatype]
            if size != count * dtype.itemsize:
                raise CodecError(
                    f"{where}: shape {shape} of {datatype} needs {count * dtype.itemsize} "
                    f"bytes, binary_data_size is {size}"
                )
            flat = np.frombuffer(raw, dtype=dtype)
    else:
        if "data" not in obj:
            raise CodecError(f"{where}.data: missing (and no parameters.binary_data_size)")
        data = obj["data"]
        if not isinstance(data, list):
            data = [data]
        if datatype == "BYTES":
            flat = _bytes_from_json(data, params.get("content_type"), where)
        else:
            flat = _numbers_from_json(data, datatype, where)
        if flat.size != count:
            raise CodecError(f"{where}: shape {shape} needs {count} elements, data has {flat.size}")
    arr = flat.reshape(shape)
    rows = [arr.item()] if arr.ndim == 0 else arr.tolist()
    return Tensor(name, datatype, list(shape), rows, params), offset


#: JSON fast path: the one Python type a datatype's elements must all have (exactly, so
#: ``bool`` is not taken for ``int``) and, for integers, the range the datatype holds.
_FAST: dict[str, tuple[type, int, int]] = {"FP64": (float, 0, 0), "BOOL": (bool, 0, 0)}
for _name, _dt in DTYPES.items():
    if _dt.kind in "iu":
        _info = np.iinfo(_dt)
        _FAST[_name] = (int, int(_info.min), int(_info.max))
_LIST_ONLY = {list}


def _fast_rows(
    data: list[Any], datatype: str, shape: list[Any]
) -> tuple[list[Any], list[Any]] | None:
    """The rows of a rank-1 or rank-2 JSON tensor without NumPy, or None to take the full path.

    Only when every element already is the Python value the full path would produce
    (FP64: floats, not ints; INT*/UINT*: ints in range; BOOL: bools), so the result is
    the same objects ``np.asarray(...).astype(...).tolist()`` would give, minus the cost;
    returned with the elements in order, flat (row after row). Anything else (other
    datatypes, ragged or mistyped data, empty tensors) returns None and the full path
    decides, errors included.
    """
    spec = _FAST.get(datatype)
    if spec is None or not data:
        return None
    want, lo, hi = spec
    ndim = len(shape)
    if ndim == 1:
        n = shape[0]
        if type(n) is not int or len(data) != n:
            return None
        flat = data
        rows = data
    elif ndim == 2:
        n, f = shape
        if type(n) is not int or type(f) is not int or n <= 0 or f <= 0:
            return None
        if len(data) == n and set(map(type, data)) == _LIST_ONLY:
            if set(map(len, data)) != {f}:
                return None
            flat = list(chain.from_iterable(data))
            rows = data
        elif len(data) == n * f:
            flat = data
            rows = None
        else:
            return None
    else:
        return None
    if set(map(type, flat)) != {want}:
        return None
    if want is int and (min(flat) < lo or max(flat) > hi):
        return None
    if rows is None:
        rows = [data[i : i + f] for i in range(0, n * f, f)]
    return rows, flat


def _fast_tensor(obj: Any) -> Tensor | None:
    """A JSON tensor through :func:`_fast_rows`, or None (the caller takes the full path)."""
    if type(obj) is not dict:
        return None
    name = obj.get("name")
    shape = obj.get("shape")
    data = obj.get("data")
    if type(name) is not str or type(shape) is not list or type(data) is not list:
        return None
    params = obj.get("parameters") or {}
    if type(params) is not dict or "binary_data_size" in params:
        return None
    datatype = obj.get("datatype")
    if type(datatype) is not str:
        return None
    fast = _fast_rows(data, datatype, shape)
    if fast is None:
        return None
    return Tensor(name, datatype, list(shape), fast[0], params, fast[1])


def parse_tensors(
    doc: dict[str, Any], key: str, where: str, binary: memoryview | None
) -> list[Tensor]:
    """All tensors under ``doc[key]`` (``inputs`` or ``outputs``)."""
    items = doc.get(key)
    if not isinstance(items, list) or not items:
        raise CodecError(f"{where}.{key}: expected a non-empty list of tensors")
    offset = 0
    tensors: list[Tensor] = []
    for i, obj in enumerate(items):
        # binary tensors take offsets in order: once one is seen, every later one goes the full way
        tensor = _fast_tensor(obj) if binary is None else None
        if tensor is None:
            tensor, offset = parse_tensor(obj, f"{where}.{key}[{i}]", binary, offset)
        tensors.append(tensor)
    return tensors
