"""KServe v1 / TF Serving ``:predict``: ``instances`` (row form) or ``inputs`` (columnar)."""

from __future__ import annotations

from typing import Any

from driftscope.capture.exchange import Exchange
from driftscope.codecs.base import (
    Codec,
    argmax_label,
    decode_content,
    feature_names,
    is_classification,
    make_records,
    parse_json,
    response_failed,
    scores_of,
)
from driftscope.config.settings import ModelSettings
from driftscope.errors import CodecError
from driftscope.types import Record

_LABEL_KEYS = ("prediction", "predictions", "label", "class", "output", "outputs")


def rows_to_features(rows: list[Any], model: ModelSettings, where: str) -> list[dict[str, Any]]:
    """Row form: each row a dict (named features), a list (schema order) or a scalar."""
    if not rows:
        return []
    first = rows[0]
    if isinstance(first, dict):
        out: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise CodecError(f"{where}[{i}]: expected an object like row 0")
            out.append(row)
        return out
    if isinstance(first, list):
        names = feature_names(model, len(first), f"{where}[0]")
        out = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(names):
                raise CodecError(f"{where}[{i}]: expected a list of {len(names)} values")
            out.append(dict(zip(names, row, strict=True)))
        return out
    names = feature_names(model, 1, f"{where}[0]")
    return [{names[0]: v} for v in rows]


def columns_to_features(cols: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """Columnar form: ``{"feature": [v0, v1, ...], ...}``."""
    if not cols:
        raise CodecError(f"{where}: expected at least one column")
    lengths = {name: len(v) if isinstance(v, list) else -1 for name, v in cols.items()}
    bad = [name for name, length in lengths.items() if length < 0]
    if bad:
        raise CodecError(f"{where}.{bad[0]}: expected a list of values (one per row)")
    if len(set(lengths.values())) != 1:
        raise CodecError(f"{where}: columns have different lengths {lengths}")
    names = list(cols)
    return [dict(zip(names, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def split_prediction(value: Any, model: ModelSettings, where: str) -> tuple[Any, Any]:
    """(prediction, scores) of one output row: scalar, list of scores, or a dict."""
    schema = model.model_schema
    if isinstance(value, dict):
        if schema.prediction is not None:
            if schema.prediction not in value:
                raise CodecError(f"{where}: no key {schema.prediction!r} (schema.prediction)")
            pred = value[schema.prediction]
        else:
            key = next((k for k in _LABEL_KEYS if k in value), None)
            if key is None:
                raise CodecError(
                    f"{where}: cannot tell the prediction among keys {sorted(value)}; "
                    "set schema.prediction"
                )
            pred = value[key]
        scores = None
        if schema.scores is not None:
            if schema.scores not in value:
                raise CodecError(f"{where}: no key {schema.scores!r} (schema.scores)")
            scores = scores_of(value[schema.scores], model, f"{where}.{schema.scores}")
        return pred, scores
    if isinstance(value, list):
        if len(value) == 1:
            return value[0], None
        if is_classification(model) and value and all(isinstance(v, int | float) for v in value):
            return argmax_label(value, model), scores_of(value, model, where)
    return value, None


def predictions_list(doc: dict[str, Any], where: str) -> list[Any]:
    """``predictions`` (row form) or TF Serving ``outputs`` (list or dict of columns)."""
    if "predictions" in doc:
        preds = doc["predictions"]
        if not isinstance(preds, list):
            raise CodecError(f"{where}.predictions: expected a list, got {type(preds).__name__}")
        return preds
    if "outputs" in doc:
        outs = doc["outputs"]
        if isinstance(outs, dict):
            return columns_to_features(outs, f"{where}.outputs")
        if isinstance(outs, list):
            return outs
        raise CodecError(f"{where}.outputs: expected a list or an object of columns")
    raise CodecError(f"{where}: expected a 'predictions' or 'outputs' field")


class KServeV1Codec(Codec):
    """``/v1/models/{name}:predict`` requests and their answers."""

    name = "kserve_v1"

    def decode(self, exchange: Exchange, model: ModelSettings) -> list[Record]:
        body = decode_content(exchange.request_body, exchange.request_headers, "request")
        doc = parse_json(body, "request")
        if not isinstance(doc, dict):
            raise CodecError(f"request: expected a JSON object, got {type(doc).__name__}")
        if "instances" in doc:
            rows = doc["instances"]
            if not isinstance(rows, list):
                raise CodecError("request.instances: expected a list of rows")
            features = rows_to_features(rows, model, "request.instances")
        elif "inputs" in doc:
            inputs = doc["inputs"]
            if isinstance(inputs, dict):
                features = columns_to_features(inputs, "request.inputs")
            elif isinstance(inputs, list):
                features = rows_to_features(inputs, model, "request.inputs")
            else:
                raise CodecError("request.inputs: expected a list of rows or an object of columns")
        else:
            raise CodecError("request: expected an 'instances' or 'inputs' field")
        failed = response_failed(exchange)
        if failed is not None:
            return make_records(exchange, model, features, None, None, None, failed)
        rbody = decode_content(exchange.response_body, exchange.response_headers, "response")
        rdoc = parse_json(rbody, "response")
        if not isinstance(rdoc, dict):
            raise CodecError(f"response: expected a JSON object, got {type(rdoc).__name__}")
        preds: list[Any] = []
        scores: list[Any] = []
        for i, value in enumerate(predictions_list(rdoc, "response")):
            p, s = split_prediction(value, model, f"response.predictions[{i}]")
            preds.append(p)
            scores.append(s)
        has_scores = any(s is not None for s in scores)
        version = exchange.model_version
        if version is None and isinstance(rdoc.get("model_version"), str):
            version = rdoc["model_version"]
        return make_records(
            exchange, model, features, preds, scores if has_scores else None, version
        )
