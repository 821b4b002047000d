"""OIP v2: JSON tensors of every datatype, the binary extension, schema mapping, errors."""

from __future__ import annotations

import base64
import gzip
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as triton

from driftscope.codecs import get_codec, request_id_from_oip
from driftscope.errors import CodecError

OIP = get_codec("oip_v2")

NUMERIC = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}


def _values(datatype: str) -> np.ndarray:
    dtype = NUMERIC[datatype]
    if datatype == "BOOL":
        return np.array([[True, False], [False, True]])
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:  # the extremes of the type survive the trip
        return np.array([[info.min, 1], [2, info.max]], dtype=dtype)
    return np.array([[0.5, -1.25], [3.0, 65504.0 if datatype == "FP16" else 1e30]], dtype=dtype)


def _tensor(name: str, arr: np.ndarray, datatype: str) -> dict[str, Any]:
    return {"name": name, "shape": list(arr.shape), "datatype": datatype, "data": arr.tolist()}


def _response(*outputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model_name": "m", "id": "req-1", "outputs": list(outputs), **extra}


PRED = {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 1]}


@pytest.mark.parametrize("datatype", list(NUMERIC))
def test_json_numeric_datatypes(datatype, make_exchange, make_model):
    arr = _values(datatype)
    ex = make_exchange({"inputs": [_tensor("x", arr, datatype)]}, _response(PRED))
    recs = OIP.decode(ex, make_model(features=[{"name": "a"}, {"name": "b"}]))
    assert [r.features for r in recs] == [
        {"a": arr[0, 0].item(), "b": arr[0, 1].item()},
        {"a": arr[1, 0].item(), "b": arr[1, 1].item()},
    ]
    expected_type = bool if datatype == "BOOL" else int if arr.dtype.kind in "iu" else float
    assert all(type(v) is expected_type for r in recs for v in r.features.values())


def test_json_bytes_and_base64(make_exchange, make_model):
    req = {
        "inputs": [
            {"name": "text", "shape": [2, 1], "datatype": "BYTES", "data": ["héllo", "wörld"]},
            {
                "name": "blob",
                "shape": [2],
                "datatype": "BYTES",
                "parameters": {"content_type": "base64"},
                "data": [base64.b64encode(b"abc").decode(), base64.b64encode(b"\xff\x00").decode()],
            },
        ]
    }
    recs = OIP.decode(make_exchange(req, _response(PRED)), make_model())
    assert recs[0].features == {"text": "héllo", "blob": "abc"}
    # bytes that are not UTF-8 are kept as base64 text
    assert recs[1].features == {"text": "wörld", "blob": base64.b64encode(b"\xff\x00").decode()}


def test_record_metadata_and_flat_data(make_exchange, make_model):
    req = {
        "id": "req-1",
        "inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}],
    }
    resp = _response({"name": "y", "shape": [3, 1], "datatype": "FP64", "data": [0.1, 0.2, 0.3]})
    recs = OIP.decode(make_exchange(req, resp), make_model(task="regression"))
    assert [r.row_index for r in recs] == [0, 1, 2]
    assert [r.features for r in recs] == [
        {"f0": 1.0, "f1": 2.0},
        {"f0": 3.0, "f1": 4.0},
        {"f0": 5.0, "f1": 6.0},
    ]
    assert [r.prediction for r in recs] == [0.1, 0.2, 0.3]
    r = recs[0]
    assert (r.model, r.request_id, r.latency_ms, r.status, r.scores, r.error) == (
        "m",
        "req-1",
        3.5,
        200,
        None,
        None,
    )
    assert r.timestamp == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)


def test_named_inputs_one_per_feature(make_exchange, make_model):
    req = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "age", "shape": [2, 1], "datatype": "INT32", "data": [[30], [40]]},
            {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["Oslo", "Rome"]},
            {"name": "income", "shape": [2], "datatype": "FP32", "data": [1.5, 2.5]},
        ],
    }
    recs = OIP.decode(make_exchange(req, _response(PRED)), make_model())
    assert [r.features for r in recs] == [
        {"age": 30, "city": "Oslo", "income": 1.5},
        {"age": 40, "city": "Rome", "income": 2.5},
    ]


def test_schema_input_picks_the_feature_tensor(make_exchange, make_model):
    req = {
        "inputs": [
            {"name": "mask", "shape": [1, 2], "datatype": "BOOL", "data": [True, True]},
            {"name": "feats", "shape": [1, 2], "datatype": "FP32", "data": [1.0, 2.0]},
        ]
    }
    model = make_model(input="feats", features=[{"name": "a"}, {"name": "b"}])
    resp = _response({"name": "p", "shape": [1], "datatype": "INT64", "data": [1]})
    assert OIP.decode(make_exchange(req, resp), model)[0].features == {"a": 1.0, "b": 2.0}


def test_prediction_and_scores_by_schema(make_exchange, make_model):
    req = {"inputs": [_tensor("x", np.ones((2, 2)), "FP64")]}
    resp = _response(
        {"name": "proba", "shape": [2, 2], "datatype": "FP32", "data": [0.25, 0.75, 0.5, 0.5]},
        {"name": "label", "shape": [2], "datatype": "BYTES", "data": ["yes", "no"]},
    )
    model = make_model(prediction="label", scores="proba", classes=["no", "yes"])
    recs = OIP.decode(make_exchange(req, resp), model)
    assert [r.prediction for r in recs] == ["yes", "no"]
    assert recs[0].scores == {"no": 0.25, "yes": 0.75}
    # without class names the scores are keyed by position
    recs = OIP.decode(make_exchange(req, resp), make_model(prediction="label", scores="proba"))
    assert recs[1].scores == {"0": 0.5, "1": 0.5}


def test_probabilities_only_output_gives_argmax(make_exchange, make_model):
    req = {"inputs": [_tensor("x", np.ones((2, 2)), "FP64")]}
    resp = _response(
        {"name": "p", "shape": [2, 3], "datatype": "FP64", "data": [0.1, 0.7, 0.2, 0.6, 0.3, 0.1]}
    )
    model = make_model(task="multiclass_classification", classes=["a", "b", "c"])
    recs = OIP.decode(make_exchange(req, resp), model)
    assert [r.prediction for r in recs] == ["b", "a"]
    assert recs[0].scores == {"a": 0.1, "b": 0.7, "c": 0.2}


def test_model_version_sources(make_exchange, make_model):
    req = {"inputs": [_tensor("x", np.ones((1, 2)), "FP64")]}
    resp = _response(
        {"name": "p", "shape": [1], "datatype": "INT64", "data": [1]}, model_version="resp-3"
    )
    model = make_model()
    path = "/v2/models/m/versions/7/infer"
    assert OIP.decode(make_exchange(req, resp, path=path), model)[0].model_version == "7"
    assert OIP.decode(make_exchange(req, resp), model)[0].model_version == "resp-3"
    del resp["model_version"]
    assert OIP.decode(make_exchange(req, resp), model)[0].model_version == "cfg-1"
    ex = make_exchange(req, resp, path=path, model_version="ex-9")
    assert OIP.decode(ex, model)[0].model_version == "ex-9"


def test_upstream_error_keeps_the_features(make_exchange, make_model):
    req = {"inputs": [_tensor("x", np.ones((2, 2)), "FP64")]}
    ex = make_exchange(req, b'{"error": "boom"}', status=500)
    recs = OIP.decode(ex, make_model())
    assert len(recs) == 2 and all(r.prediction is None and r.status == 500 for r in recs)
    assert "upstream status 500" in (recs[0].error or "") and "boom" in (recs[0].error or "")
    ex = make_exchange(req, b"", status=502, error="upstream unreachable: refused")
    assert OIP.decode(ex, make_model())[0].error == "upstream unreachable: refused"


def test_content_encodings(make_exchange, make_model):
    req = orjson.dumps({"inputs": [_tensor("x", np.array([[1.0, 2.0]]), "FP64")]})
    resp = orjson.dumps(_response({"name": "p", "shape": [1], "datatype": "INT64", "data": [1]}))
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = raw_deflate.compress(resp) + raw_deflate.flush()
    for req_body, req_enc, resp_body, resp_enc in [
        (zlib.compress(req), "deflate", gzip.compress(resp), "gzip"),
        (gzip.compress(req), "gzip", raw, "deflate"),
    ]:
        ex = make_exchange(
            req_body,
            resp_body,
            request_headers={"content-encoding": req_enc},
            response_headers={"content-encoding": resp_enc},
        )
        recs = OIP.decode(ex, make_model())
        assert recs[0].features == {"f0": 1.0, "f1": 2.0} and recs[0].prediction == 1
    ex = make_exchange(b"\x1f\x8bnot gzip", resp, request_headers={"content-encoding": "gzip"})
    with pytest.raises(CodecError, match="request: body is not valid gzip"):
        OIP.decode(ex, make_model())
    ex = make_exchange(req, resp, request_headers={"content-encoding": "br"})
    with pytest.raises(CodecError, match="unsupported content-encoding 'br'"):
        OIP.decode(ex, make_model())


# -- the binary tensor extension ---------------------------------------------------------------


def _binary_response(arrays: dict[str, tuple[np.ndarray, str]]) -> tuple[bytes, int]:
    """An OIP v2 response with every output as raw little-endian binary data."""
    outputs, chunks = [], []
    for name, (arr, datatype) in arrays.items():
        if datatype == "BYTES":
            raw = b"".join(struct.pack("<I", len(v)) + v for v in arr.reshape(-1))
        else:
            raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        outputs.append(
            {
                "name": name,
                "shape": list(arr.shape),
                "datatype": datatype,
                "parameters": {"binary_data_size": len(raw)},
            }
        )
        chunks.append(raw)
    header = orjson.dumps({"model_name": "m", "model_version": "b1", "outputs": outputs})
    return header + b"".join(chunks), len(header)


@pytest.mark.parametrize("datatype", [*NUMERIC, "BYTES"])
def test_binary_request_from_tritonclient(datatype, make_exchange, make_model):
    if datatype == "BYTES":
        arr = np.array([[b"ab", b""], ["ü".encode(), b"xyz"]], dtype=object)
    else:
        arr = _values(datatype)
    tensor = triton.InferInput("x", list(arr.shape), datatype)
    tensor.set_data_from_numpy(arr, binary_data=True)
    other = triton.InferInput("y", [2], "FP32")
    other.set_data_from_numpy(np.array([1.5, 2.5], dtype=np.float32), binary_data=False)
    body, header_len = triton.InferenceServerClient.generate_request_body(
        [tensor, other], request_id="req-1"
    )
    assert header_len is not None and len(body) > header_len  # really binary
    pred = np.array([1, 0], dtype=np.int64)
    resp, resp_len = _binary_response({"p": (pred, "INT64")})
    ex = make_exchange(
        body,
        resp,
        request_headers={"inference-header-content-length": str(header_len)},
        response_headers={"inference-header-content-length": str(resp_len)},
    )
    recs = OIP.decode(ex, make_model())
    expected = [v.decode() for v in arr[0]] if datatype == "BYTES" else arr[0].tolist()
    assert recs[0].features == {"x": expected, "y": 1.5}
    assert [r.prediction for r in recs] == [1, 0]
    assert recs[0].model_version == "b1"
    assert request_id_from_oip(body, header_len) == "req-1"


def test_binary_response_matches_tritonclient(make_exchange, make_model):
    proba = np.array([[0.2, 0.8], [0.9, 0.1]], dtype=np.float32)
    label = np.array([b"pos", b"neg"], dtype=object)
    resp, resp_len = _binary_response({"label": (label, "BYTES"), "proba": (proba, "FP32")})
    # tritonclient reads our hand-built body the same way
    result = triton.InferenceServerClient.parse_response_body(resp, header_length=resp_len)
    np.testing.assert_array_equal(result.as_numpy("proba"), proba)
    assert result.as_numpy("label").tolist() == [b"pos", b"neg"]
    req = {"inputs": [_tensor("x", np.ones((2, 2)), "FP64")]}
    ex = make_exchange(
        req, resp, response_headers={"inference-header-content-length": str(resp_len)}
    )
    model = make_model(prediction="label", scores="proba", classes=["neg", "pos"])
    recs = OIP.decode(ex, model)
    assert [r.prediction for r in recs] == ["pos", "neg"]
    assert recs[0].scores == pytest.approx({"neg": 0.2, "pos": 0.8})


def test_binary_without_header_is_not_parsed_as_binary(make_exchange, make_model):
    tensor = triton.InferInput("x", [1, 2], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 2), dtype=np.float32), binary_data=True)
    body, header_len = triton.InferenceServerClient.generate_request_body([tensor])
    ex = make_exchange(body, _response(PRED))
    with pytest.raises(CodecError, match="request: not valid JSON"):
        OIP.decode(ex, make_model())
    # the JSON part alone names the missing binary section
    header = body[:header_len]
    with pytest.raises(CodecError, match=r"'x'.parameters.binary_data_size .* no binary section"):
        OIP.decode(make_exchange(header, _response(PRED)), make_model())


def test_binary_sizes_are_checked(make_exchange, make_model):
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [1, 3],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 8},
                }
            ]
        }
    )
    body = header + b"\x00" * 8
    hdr = {"inference-header-content-length": str(len(header))}
    with pytest.raises(CodecError, match=r"'x': shape \[1, 3\] of FP32 needs 12 bytes"):
        OIP.decode(make_exchange(body, _response(PRED), request_headers=hdr), make_model())
    hdr = {"inference-header-content-length": "abc"}
    with pytest.raises(CodecError, match="Inference-Header-Content-Length must be an integer"):
        OIP.decode(make_exchange(body, _response(PRED), request_headers=hdr), make_model())
    hdr = {"inference-header-content-length": str(len(body) + 1)}
    with pytest.raises(CodecError, match="outside the"):
        OIP.decode(make_exchange(body, _response(PRED), request_headers=hdr), make_model())


# -- malformed payloads name the field -----------------------------------------------------


@pytest.mark.parametrize(
    ("request_doc", "message"),
    [
        ({"id": "x"}, r"request.inputs: expected a non-empty list"),
        ({"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]}, r"inputs\[0\].name"),
        (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]},
            r"'x'.datatype: expected one of BOOL, .*got 'FP8'",
        ),
        (
            {"inputs": [{"name": "x", "shape": "1", "datatype": "FP32", "data": [1]}]},
            r"'x'.shape: expected a list of non-negative integers",
        ),
        (
            {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]},
            r"'x': shape \[2, 2\] needs 4 elements, data has 3",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": ["a"]}]},
            r"'x'.data: datatype INT32 expects numbers",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1.5]}]},
            r"'x'.data: datatype INT32 expects numbers",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [300]}]},
            r"'x'.data: values 300..300 do not fit UINT8",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}]},
            r"'x'.data: datatype BOOL expects booleans",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}]},
            r"'x'.data\[0\]: BYTES elements must be strings",
        ),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}, r"'x'.data: missing"),
        (
            {
                "inputs": [
                    {"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                    {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]},
                ]
            },
            r"'b': 3 rows along the first dimension, 'a' has 2",
        ),
        ([1, 2], r"request: expected a JSON object, got list"),
        ({"parameters": 5, "inputs": []}, r"request.parameters: expected an object, got 5"),
    ],
)
def test_malformed_requests_name_the_field(request_doc, message, make_exchange, make_model):
    with pytest.raises(CodecError, match=message):
        OIP.decode(make_exchange(request_doc, _response(PRED)), make_model())


def test_malformed_responses_name_the_field(make_exchange, make_model):
    req = {"inputs": [_tensor("x", np.ones((2, 2)), "FP64")]}
    with pytest.raises(CodecError, match="response: not valid JSON"):
        OIP.decode(make_exchange(req, b"<html>"), make_model())
    with pytest.raises(CodecError, match="response.outputs: expected a non-empty list"):
        OIP.decode(make_exchange(req, {"outputs": []}), make_model())
    one = _response({"name": "p", "shape": [1], "datatype": "INT64", "data": [1]})
    with pytest.raises(CodecError, match="1 prediction rows for 2 request rows"):
        OIP.decode(make_exchange(req, one), make_model())
    with pytest.raises(CodecError, match=r"no tensor named 'label' \(from schema.prediction\)"):
        OIP.decode(make_exchange(req, _response(PRED)), make_model(prediction="label"))
    bad = _response({"name": "p", "shape": [2, 3], "datatype": "FP32", "data": [0.1] * 6})
    with pytest.raises(CodecError, match="3 scores per row but the model schema names 2 classes"):
        OIP.decode(make_exchange(req, bad), make_model(scores="p", classes=["a", "b"]))
    with pytest.raises(CodecError, match=r"rows have 2 values but the model schema names 3"):
        model = make_model(features=[{"name": n} for n in "abc"])
        OIP.decode(make_exchange(req, _response(PRED)), model)


def test_request_id_from_oip():
    assert request_id_from_oip(b'{"id": "abc", "inputs": []}') == "abc"
    assert request_id_from_oip(b'{"inputs": [{"id": "nested"}]}') is None
    assert request_id_from_oip(b"not json") is None
    assert request_id_from_oip(b'{"id": 5}') is None
    assert request_id_from_oip(b'{"id": "abc"}\x00\x01binary', header_length=13) == "abc"
