"""The NumPy-free JSON tensor path gives exactly what the full path gives, or steps aside."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftscope.codecs._tensors import _fast_tensor, parse_tensor, parse_tensors
from driftscope.errors import CodecError


def _full(obj: dict[str, Any]) -> list[Any]:
    tensor, _ = parse_tensor(obj, "t", None, 0)
    return tensor.rows


def _typed(rows: Any) -> Any:
    """Values with their exact Python types, so 1 and 1.0 and True differ."""
    if isinstance(rows, list):
        return [_typed(r) for r in rows]
    return (type(rows).__name__, rows)


CASES: list[tuple[str, list[int], Any]] = [
    ("FP64", [1, 25], [[float(i) / 7 for i in range(25)]]),
    ("FP64", [3, 2], [[0.5, -0.0], [1e300, -2.5], [3.25, 4.0]]),
    ("FP64", [2, 3], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]),  # flat data, rank-2 shape
    ("FP64", [4], [0.1, 0.2, 0.3, 0.4]),
    ("INT64", [3], [0, -(2**63), 2**63 - 1]),
    ("UINT64", [2], [0, 2**64 - 1]),
    ("INT8", [2, 2], [[-128, 127], [0, 1]]),
    ("UINT8", [1, 3], [[0, 255, 7]]),
    ("INT32", [2, 1], [[5], [6]]),
    ("BOOL", [2], [True, False]),
    ("BOOL", [1, 2], [[False, True]]),
]


@pytest.mark.parametrize(("datatype", "shape", "data"), CASES)
def test_fast_path_equals_full_path(datatype, shape, data):
    obj = {"name": "x", "datatype": datatype, "shape": shape, "data": data}
    fast = _fast_tensor(obj)
    assert fast is not None, "this tensor should take the fast path"
    assert _typed(fast.rows) == _typed(_full(obj))
    assert fast.shape == shape and fast.datatype == datatype and fast.parameters == {}


DECLINED: list[tuple[str, list[Any], Any]] = [
    ("FP64", [2], [1, 2]),  # ints: the full path makes them floats
    ("FP64", [2], [1.5, 2]),  # mixed
    ("FP32", [2], [1.5, 2.5]),  # float32 rounding: NumPy decides
    ("FP16", [1], [0.1]),
    ("INT64", [2], [1, True]),  # a bool is not an int here
    ("INT64", [2], [1.0, 2.0]),
    ("INT8", [2], [1, 128]),  # out of range: the full path raises
    ("UINT64", [1], [2**64]),
    ("UINT8", [1], [-1]),
    ("BOOL", [2], [1, 0]),
    ("FP64", [2, 2], [[1.0, 2.0], [3.0]]),  # ragged
    ("FP64", [2, 2], [[1.0, 2.0]]),  # too few rows
    ("FP64", [2, 2], [1.0, 2.0, 3.0]),  # flat, wrong count
    ("FP64", [3], [1.0, 2.0]),
    ("FP64", [0], []),
    ("FP64", [1, 0], [[]]),
    ("FP64", [1, 1, 2], [[[1.0, 2.0]]]),  # rank 3
    ("FP64", [True], [1.0]),  # a bool dimension
    ("FP64", [1.0], [1.0]),
    ("FP64", [-1], [1.0]),
    ("BYTES", [1], ["a"]),
]


@pytest.mark.parametrize(("datatype", "shape", "data"), DECLINED)
def test_fast_path_steps_aside(datatype, shape, data):
    obj = {"name": "x", "datatype": datatype, "shape": shape, "data": data}
    assert _fast_tensor(obj) is None
    # and the full path still decides: same rows or the same error as before
    try:
        _full(obj)
    except CodecError:
        pass


def test_fast_path_declines_odd_objects():
    good = {"name": "x", "datatype": "FP64", "shape": [1], "data": [1.0]}
    assert _fast_tensor(good) is not None
    for bad in (
        {**good, "name": 3},
        {**good, "datatype": None},
        {**good, "data": 1.0},  # a scalar: the full path wraps it
        {**good, "parameters": {"binary_data_size": 8}},
        {**good, "parameters": [1]},
        {k: v for k, v in good.items() if k != "data"},
        [good],
    ):
        assert _fast_tensor(bad) is None


def test_parameters_are_kept():
    obj = {
        "name": "x",
        "datatype": "FP64",
        "shape": [1],
        "data": [1.0],
        "parameters": {"content_type": "np"},
    }
    (tensor,) = parse_tensors({"inputs": [obj]}, "inputs", "request", None)
    assert tensor.content_type == "np" and tensor.rows == [1.0]


def test_random_matrices_match_numpy():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n, f = int(rng.integers(1, 40)), int(rng.integers(1, 30))
        x = rng.normal(size=(n, f)) * 10.0 ** rng.integers(-5, 5)
        for data in (x.tolist(), x.reshape(-1).tolist()):
            obj = {"name": "x", "datatype": "FP64", "shape": [n, f], "data": data}
            fast = _fast_tensor(obj)
            assert fast is not None
            assert fast.rows == x.tolist()
