"""``RecordRows``: an exchange's records as one block (what ingest hands the SQL store).

Every OIP v2 test in this folder also checks ``decode_rows`` against ``decode``
(tests/codecs/conftest.py); these check when a block is made and how it splits.
"""

from __future__ import annotations

import numpy as np
import pytest

from driftscope.codecs import get_codec
from driftscope.codecs.base import RecordRows

OIP = get_codec("oip_v2")


def _request(arr, datatype="FP64", name="x"):
    data = arr.tolist()
    return {
        "inputs": [{"name": name, "shape": list(arr.shape), "datatype": datatype, "data": data}]
    }


RESPONSE = {
    "outputs": [
        {"name": "label", "shape": [3], "datatype": "INT64", "data": [0, 1, 1]},
        {
            "name": "proba",
            "shape": [3, 2],
            "datatype": "FP64",
            "data": [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]],
        },
    ]
}


def test_a_float_matrix_becomes_one_block(make_exchange, make_model):
    model = make_model(
        features=[{"name": n} for n in "abc"],
        prediction="label",
        scores="proba",
        classes=["n", "y"],
    )
    ex = make_exchange(_request(np.arange(9.0).reshape(3, 3)), RESPONSE)
    block = OIP.decode_rows(ex, model)
    assert isinstance(block, RecordRows) and block.floats and len(block) == 3
    assert block.names == ("a", "b", "c")
    assert block.records() == OIP.decode(ex, model)


def test_int_matrices_are_blocks_without_the_floats_mark(make_exchange, make_model):
    ex = make_exchange(_request(np.arange(6).reshape(3, 2), "INT32"), RESPONSE)
    block = OIP.decode_rows(ex, make_model(prediction="label", scores="proba"))
    assert isinstance(block, RecordRows) and not block.floats
    assert block.records()[2].features == {"f0": 4, "f1": 5}


@pytest.mark.parametrize(
    "request_doc",
    [
        {"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]},
        {
            "inputs": [
                {"name": "a", "shape": [3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]},
                {"name": "b", "shape": [3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]},
            ]
        },
    ],
    ids=["rank-1", "one-tensor-per-feature"],
)
def test_other_shapes_stay_records(request_doc, make_exchange, make_model):
    ex = make_exchange(request_doc, RESPONSE)
    got = OIP.decode_rows(ex, make_model(prediction="label", scores="proba"))
    assert isinstance(got, list) and got == OIP.decode(
        ex, make_model(prediction="label", scores="proba")
    )


def test_duplicate_schema_names_stay_records(make_exchange, make_model):
    model = make_model(features=[{"name": n} for n in "aab"], prediction="label", scores="proba")
    ex = make_exchange(_request(np.ones((3, 3))), RESPONSE)
    assert isinstance(OIP.decode_rows(ex, model), list)


def test_a_failed_response_keeps_the_features(make_exchange, make_model):
    ex = make_exchange(_request(np.ones((3, 2))), b"boom", status=500)
    block = OIP.decode_rows(ex, make_model())
    assert isinstance(block, RecordRows) and block.predictions is None and block.scores is None
    assert block.error == "upstream status 500: boom"
    assert block.records() == OIP.decode(ex, make_model())


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_split_gives_the_same_records(n, make_exchange, make_model):
    model = make_model(prediction="label", scores="proba", classes=["n", "y"])
    ex = make_exchange(_request(np.arange(6.0).reshape(3, 2)), RESPONSE)
    block = OIP.decode_rows(ex, model)
    head, tail = block.split(n)
    assert (len(head), len(tail)) == (n, 3 - n)
    assert tail.row_index == n
    assert head.records() + tail.records() == OIP.decode(ex, model)


def test_packed_rows_index_and_slice_like_lists():
    from array import array

    from driftscope.codecs.base import PackedRows

    rows = [[1.5, -0.0, 3.0], [4.0, 5.0, 6.25], [7.0, 8.0, 9.0]]
    packed = PackedRows(array("d", [v for r in rows for v in r]), 3)
    assert len(packed) == 3 and list(packed) == rows
    assert packed[-1] == rows[-1] and packed[0] == rows[0]
    assert list(packed[1:]) == rows[1:] and list(packed[:0]) == [] and list(packed[5:]) == []
    with pytest.raises(IndexError):
        packed[3]
    with pytest.raises(ValueError):
        packed[::2]


def test_float_blocks_hold_packed_rows(make_exchange, make_model):
    from driftscope.codecs.base import PackedRows

    ex = make_exchange(_request(np.arange(6.0).reshape(3, 2)), RESPONSE)
    block = OIP.decode_rows(ex, make_model(prediction="label", scores="proba"))
    assert isinstance(block.values, PackedRows)
    assert [type(v) for v in block.records()[1].features.values()] == [float, float]
