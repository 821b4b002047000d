"""Plain JSON APIs: features, prediction and scores found by dotted paths from the schema."""

from __future__ import annotations

from typing import Any

from driftscope.capture.exchange import Exchange
from driftscope.codecs.base import (
    Codec,
    decode_content,
    make_records,
    parse_json,
    response_failed,
    scores_of,
)
from driftscope.codecs.kserve_v1 import rows_to_features, split_prediction
from driftscope.config.settings import ModelSettings
from driftscope.errors import CodecError
from driftscope.types import Record


def lookup(doc: Any, path: str | None, where: str, key: str) -> Any:
    """Follow ``a.b.0.c`` into ``doc`` (integers index lists); None or "" is the root."""
    if not path:
        return doc
    node = doc
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if isinstance(node, dict):
            if part not in node:
                raise CodecError(
                    f"{where}: no field {'.'.join(walked)!r} (schema.{key} = {path!r}); "
                    f"keys here: {sorted(node)[:10]}"
                )
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(node) <= idx < len(node):
                raise CodecError(
                    f"{where}: index {'.'.join(walked)!r} out of range for a list of {len(node)} "
                    f"(schema.{key} = {path!r})"
                )
            node = node[idx]
        else:
            raise CodecError(
                f"{where}: cannot follow {'.'.join(walked)!r} into a {type(node).__name__} "
                f"(schema.{key} = {path!r})"
            )
    return node


class PlainJSONCodec(Codec):
    """Any JSON API: a single object or a list of rows in, a value or a list out."""

    name = "json"

    def decode(self, exchange: Exchange, model: ModelSettings) -> list[Record]:
        schema = model.model_schema
        body = decode_content(exchange.request_body, exchange.request_headers, "request")
        node = lookup(parse_json(body, "request"), schema.features_path, "request", "features_path")
        single = isinstance(node, dict)
        if single:
            features = [node]
        elif isinstance(node, list):
            features = rows_to_features(node, model, f"request.{schema.features_path or '<root>'}")
        else:
            raise CodecError(
                f"request.{schema.features_path or '<root>'}: expected an object or a list of "
                f"rows, got {type(node).__name__}"
            )
        failed = response_failed(exchange)
        if failed is not None:
            return make_records(exchange, model, features, None, None, None, failed)
        rbody = decode_content(exchange.response_body, exchange.response_headers, "response")
        rdoc = parse_json(rbody, "response")
        pnode = lookup(rdoc, schema.prediction_path, "response", "prediction_path")
        snode = (
            lookup(rdoc, schema.scores_path, "response", "scores_path")
            if schema.scores_path
            else None
        )
        where = f"response.{schema.prediction_path or '<root>'}"
        if single:
            pred, implied = split_prediction(pnode, model, where)
            score = scores_of(snode, model, where) if snode is not None else implied
            return make_records(
                exchange, model, features, [pred], None if score is None else [score], None
            )
        if not isinstance(pnode, list):
            raise CodecError(f"{where}: expected a list of {len(features)} predictions")
        pairs = [split_prediction(v, model, f"{where}[{i}]") for i, v in enumerate(pnode)]
        preds = [p for p, _ in pairs]
        scores: list[Any] | None = [s for _, s in pairs]
        if snode is not None:
            if not isinstance(snode, list):
                raise CodecError(f"response.{schema.scores_path}: expected a list, one per row")
            scores = [scores_of(s, model, f"response.{schema.scores_path}") for s in snode]
        elif scores is not None and all(s is None for s in scores):
            scores = None
        return make_records(exchange, model, features, preds, scores, None)
