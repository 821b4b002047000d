"""Open Inference Protocol v2 (KServe v2, Triton, MLServer), JSON and binary tensors."""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from itertools import chain
from typing import Any

import orjson

from driftscope.capture.exchange import Exchange
from driftscope.codecs._tensors import Tensor, parse_tensors
from driftscope.codecs.base import (
    Codec,
    PackedRows,
    RecordRows,
    ScoreRows,
    argmax_label,
    decode_content,
    feature_names,
    is_classification,
    make_records,
    make_rows,
    parse_json,
    response_failed,
    scores_of,
)
from driftscope.config.settings import ModelSettings
from driftscope.errors import CodecError
from driftscope.types import Record

HEADER_LENGTH = "inference-header-content-length"
_VERSION_IN_PATH = re.compile(r"/versions/([^/]+)/")


def split_body(
    body: bytes, headers: dict[str, str], where: str
) -> tuple[dict[str, Any], memoryview | None]:
    """The JSON header and, with the binary extension, the raw tensor bytes after it."""
    data = decode_content(body, headers, where)
    raw_length = headers.get(HEADER_LENGTH)
    binary: memoryview | None = None
    if raw_length is not None:
        try:
            length = int(raw_length)
        except ValueError as exc:
            raise CodecError(
                f"{where}: header Inference-Header-Content-Length must be an integer, "
                f"got {raw_length!r}"
            ) from exc
        if not 0 < length <= len(data):
            raise CodecError(
                f"{where}: Inference-Header-Content-Length {length} is outside the "
                f"{len(data)}-byte body"
            )
        binary = memoryview(data)[length:]
        data = data[:length]
    doc = parse_json(data, where)
    if not isinstance(doc, dict):
        raise CodecError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    return doc, binary


def request_id_from_oip(body: bytes, header_length: int | None = None) -> str | None:
    """The top-level ``id`` of an OIP v2 request body, or None (never raises)."""
    head = body[:header_length] if header_length else body
    if not head.lstrip()[:1] == b"{":
        return None
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    rid = doc.get("id") if isinstance(doc, dict) else None
    return rid if isinstance(rid, str) and rid else None


def _column(tensor: Tensor) -> list[Any]:
    """Values of a one-feature tensor, ``[N]`` or ``[N, 1]``, one per row."""
    return [r[0] if isinstance(r, list) and len(r) == 1 else r for r in tensor.rows]


def _same_rows(tensors: list[Tensor], where: str) -> int:
    n = len(tensors[0].rows)
    for t in tensors[1:]:
        if len(t.rows) != n:
            raise CodecError(
                f"{where} {t.name!r}: {len(t.rows)} rows along the first dimension, "
                f"{tensors[0].name!r} has {n}"
            )
    return n


def _by_name(tensors: list[Tensor], name: str, where: str, key: str) -> Tensor:
    for t in tensors:
        if t.name == name:
            return t
    raise CodecError(
        f"{where}: no tensor named {name!r} (from schema.{key}); "
        f"got {', '.join(repr(t.name) for t in tensors)}"
    )


def features_from_inputs(
    inputs: list[Tensor], model: ModelSettings, pandas_like: bool
) -> list[dict[str, Any]]:
    """One dict per row: a [N, F] matrix with schema names, or one input per feature."""
    schema = model.model_schema
    if schema.input is not None:
        return _matrix(_by_name(inputs, schema.input, "request.inputs", "input"), model)
    if len(inputs) == 1 and not pandas_like:
        return _matrix(inputs[0], model)
    n = _same_rows(inputs, "request.inputs")
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for t in inputs:
        for row, value in zip(rows, _column(t), strict=True):
            row[t.name] = value
    return rows


def _matrix(tensor: Tensor, model: ModelSettings) -> list[dict[str, Any]]:
    where = f"request tensor {tensor.name!r}"
    if len(tensor.shape) == 2:
        names = feature_names(model, tensor.shape[1], where)
        # rows of a rank-2 tensor have shape[1] == len(names) values each
        return [dict(zip(names, row, strict=False)) for row in tensor.rows]
    if len(tensor.shape) <= 1:
        schema_names = model.model_schema.feature_names
        name = schema_names[0] if len(schema_names) == 1 else tensor.name
        return [{name: v} for v in tensor.rows]
    # images and other higher-rank inputs: the row's nested values under the tensor name
    return [{tensor.name: row} for row in tensor.rows]


#: scores of fewer rows are dicts at once (ScoreRows saves per row, costs per tensor)
_LAZY_SCORES = 8


def _score_rows(
    tensor: Tensor, model: ModelSettings, where: str, lazy: bool = False
) -> Sequence[Any]:
    """``scores_of`` of every row; a [N, K] tensor (K > 1) zips its rows with the class
    names in one go: its rows are lists of K scalars, so that is what scores_of returns.
    ``lazy``: such a tensor of 8 rows or more as :class:`ScoreRows` (distinct class
    names), the same dicts on demand."""
    shape, rows = tensor.shape, tensor.rows
    if len(shape) == 2 and shape[1] > 1 and rows:
        classes = model.model_schema.classes
        keys = [str(i) for i in range(shape[1])] if classes is None else classes
        if len(keys) == shape[1]:
            if lazy and len(rows) >= _LAZY_SCORES and len(set(keys)) == len(keys):
                # FP64 on the fast path: checked floats; the NumPy path's tolist of a
                # float dtype gives floats
                return ScoreRows(keys, rows, tensor.datatype in _FLOAT_TYPES)
            return [dict(zip(keys, r, strict=False)) for r in rows]
    return [scores_of(r, model, where) for r in rows]


def predictions_from_outputs(
    outputs: list[Tensor], model: ModelSettings, lazy_scores: bool = False
) -> tuple[list[Any], Sequence[Any] | None]:
    """Prediction and scores per row, picked by the schema (default: the first output);
    ``lazy_scores``: a [N, K] scores tensor as :class:`ScoreRows` (see ``_score_rows``)."""
    schema = model.model_schema
    where = "response.outputs"
    _same_rows(outputs, where)
    score_t = _by_name(outputs, schema.scores, where, "scores") if schema.scores else None
    if schema.prediction is not None:
        pred_t = _by_name(outputs, schema.prediction, where, "prediction")
    else:
        pred_t = next((t for t in outputs if t is not score_t), outputs[0])
    preds = _column(pred_t)
    scores: Sequence[Any] | None = None
    if score_t is not None:
        scores = _score_rows(score_t, model, f"{where} {score_t.name!r}", lazy_scores)
    elif (
        schema.prediction is None
        and is_classification(model)
        and len(pred_t.shape) == 2
        and pred_t.shape[1] > 1
    ):
        # a probabilities-only model (predict_proba): the label is the best class
        scores = [scores_of(r, model, f"{where} {pred_t.name!r}") for r in pred_t.rows]
        preds = [argmax_label(r, model) for r in pred_t.rows]
    return preds, scores


#: datatypes whose decoded values are all Python floats (the fast path checks FP64
#: elements are floats; the NumPy path's ``tolist`` gives floats for float dtypes)
_FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})


def _feature_matrix(
    inputs: list[Tensor], model: ModelSettings, pandas_like: bool
) -> tuple[tuple[str, ...], Sequence[Any], bool] | None:
    """(names, rows, all floats) when the features are one ``[N, F]`` tensor with distinct
    names (what :func:`_matrix` makes one dict per row of), else None."""
    schema = model.model_schema
    if schema.input is not None:
        tensor = _by_name(inputs, schema.input, "request.inputs", "input")
    elif len(inputs) == 1 and not pandas_like:
        tensor = inputs[0]
    else:
        return None
    if len(tensor.shape) != 2 or not tensor.shape[1]:
        return None
    names = tuple(feature_names(model, tensor.shape[1], f"request tensor {tensor.name!r}"))
    if len(set(names)) != len(names):
        return None  # a dict per row would keep one value per name
    if tensor.datatype in _FLOAT_TYPES:
        # the rows' Python floats packed (exactly: they are float64 values) into one array
        flat = tensor.flat if tensor.flat is not None else chain.from_iterable(tensor.rows)
        return names, PackedRows(array("d", flat), len(names)), True
    return names, tensor.rows, False


class OIPv2Codec(Codec):
    """``/v2/models/{name}[/versions/{v}]/infer`` requests and their answers."""

    name = "oip_v2"

    def decode(self, exchange: Exchange, model: ModelSettings) -> list[Record]:
        out = self._decode(exchange, model, rows=False)
        assert isinstance(out, list)
        return out

    def decode_rows(self, exchange: Exchange, model: ModelSettings) -> list[Record] | RecordRows:
        return self._decode(exchange, model, rows=True)

    def _decode(
        self, exchange: Exchange, model: ModelSettings, rows: bool
    ) -> list[Record] | RecordRows:
        doc, binary = split_body(exchange.request_body, exchange.request_headers, "request")
        params = doc.get("parameters") or {}
        if not isinstance(params, dict):
            raise CodecError(f"request.parameters: expected an object, got {params!r}")
        pandas_like = params.get("content_type") == "pd"
        inputs = parse_tensors(doc, "inputs", "request", binary)
        matrix = _feature_matrix(inputs, model, pandas_like) if rows else None
        features = features_from_inputs(inputs, model, pandas_like) if matrix is None else []
        match = _VERSION_IN_PATH.search(exchange.path)
        version = exchange.model_version or (match.group(1) if match else None)
        failed = response_failed(exchange)
        preds: list[Any] | None = None
        scores: Sequence[Any] | None = None
        if failed is None:
            rdoc, rbinary = split_body(
                exchange.response_body, exchange.response_headers, "response"
            )
            if version is None and isinstance(rdoc.get("model_version"), str):
                version = rdoc["model_version"]
            outputs = parse_tensors(rdoc, "outputs", "response", rbinary)
            preds, scores = predictions_from_outputs(outputs, model, matrix is not None)
        if matrix is not None:
            names, values, floats = matrix
            return make_rows(exchange, model, names, values, floats, preds, scores, version, failed)
        return make_records(exchange, model, features, preds, scores, version, failed)
