"""A codec for CSV requests: ``f0,f1\\n1.5,2\\n...`` in, ``{"predictions": [...]}`` out."""

from __future__ import annotations

import csv
import io
from typing import Any

from driftscope.capture.exchange import Exchange
from driftscope.codecs.base import Codec, decode_content, make_records, parse_json, response_failed
from driftscope.config.settings import ModelSettings
from driftscope.errors import CodecError
from driftscope.types import Record


def _value(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # a categorical value stays a string


class CSVCodec(Codec):
    """One record per CSV line; numbers become floats, anything else stays text."""

    name = "csv"

    def decode(self, exchange: Exchange, model: ModelSettings) -> list[Record]:
        body = decode_content(exchange.request_body, exchange.request_headers, "request")
        try:
            rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CodecError(f"request: not UTF-8 CSV: {exc}") from exc
        if len(rows) < 2:
            raise CodecError("request: expected a header line and at least one row")
        header, lines = rows[0], rows[1:]
        features = []
        for n, line in enumerate(lines, start=2):
            if len(line) != len(header):
                raise CodecError(f"request line {n}: {len(line)} values for {len(header)} columns")
            features.append({k: _value(v) for k, v in zip(header, line, strict=True)})
        failed = response_failed(exchange)
        predictions = None
        if failed is None:
            doc = parse_json(
                decode_content(exchange.response_body, exchange.response_headers, "response"),
                "response",
            )
            if not isinstance(doc, dict) or not isinstance(doc.get("predictions"), list):
                raise CodecError("response: expected an object with a 'predictions' list")
            predictions = doc["predictions"]
        return make_records(exchange, model, features, predictions, None, None, failed)
