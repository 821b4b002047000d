"""Plain JSON APIs: dotted field paths from the model schema."""

from __future__ import annotations

import pytest

from driftscope.codecs import get_codec
from driftscope.errors import CodecError

JSON = get_codec("json")


@pytest.fixture
def ex(make_exchange):
    def build(request, response, **kw):
        return make_exchange(request, response, protocol="json", path="/api/score", **kw)

    return build


def test_single_object(ex, make_model):
    model = make_model(
        "json",
        features_path="payload.customer",
        prediction_path="result.label",
        scores_path="result.proba",
        classes=["no", "yes"],
    )
    req = {"payload": {"customer": {"age": 30, "city": "Oslo"}}}
    resp = {"result": {"label": "yes", "proba": [0.3, 0.7]}}
    (rec,) = JSON.decode(ex(req, resp), model)
    assert rec.features == {"age": 30, "city": "Oslo"}
    assert rec.prediction == "yes" and rec.scores == {"no": 0.3, "yes": 0.7}
    assert rec.model_version == "cfg-1" and rec.request_id == "req-1"


def test_lists_of_rows_and_list_indices(ex, make_model):
    model = make_model(
        "json",
        features_path="rows",
        prediction_path="outputs.0.values",
        scores_path="outputs.1.values",
    )
    req = {"rows": [{"a": 1}, {"a": 2}, {"a": 3}]}
    resp = {"outputs": [{"values": [0, 1, 1]}, {"values": [0.1, 0.8, 0.9]}]}
    recs = JSON.decode(ex(req, resp), model)
    assert [(r.features, r.prediction, r.scores) for r in recs] == [
        ({"a": 1}, 0, 0.1),
        ({"a": 2}, 1, 0.8),
        ({"a": 3}, 1, 0.9),
    ]


def test_root_paths_and_rows_as_lists(ex, make_model):
    model = make_model("json", features=[{"name": "x"}, {"name": "y"}], task="regression")
    recs = JSON.decode(ex([[1, 2], [3, 4]], [10.0, 20.0]), model)
    assert [(r.features, r.prediction) for r in recs] == [
        ({"x": 1, "y": 2}, 10.0),
        ({"x": 3, "y": 4}, 20.0),
    ]


def test_dict_predictions_per_row(ex, make_model):
    model = make_model(
        "json", features_path="items", prediction_path="preds", prediction="label", scores="p"
    )
    resp = {"preds": [{"label": "a", "p": {"a": 0.9, "b": 0.1}}]}
    (rec,) = JSON.decode(ex({"items": [{"f": 1}]}, resp), model)
    assert rec.prediction == "a" and rec.scores == {"a": 0.9, "b": 0.1}


@pytest.mark.parametrize(
    ("schema", "request_doc", "response_doc", "message"),
    [
        (
            {"features_path": "data.rows"},
            {"data": {"x": 1}},
            {},
            r"request: no field 'data.rows' \(schema.features_path = 'data.rows'\)",
        ),
        (
            {"features_path": "data.5"},
            {"data": [1]},
            {},
            r"index 'data.5' out of range for a list of 1",
        ),
        ({"features_path": "data.x"}, {"data": 5}, {}, r"cannot follow 'data.x' into a int"),
        (
            {"features_path": "data"},
            {"data": "text"},
            {},
            r"request.data: expected an object or a list of rows, got str",
        ),
        (
            {"prediction_path": "out.label"},
            {"a": 1},
            {"out": {}},
            r"response: no field 'out.label' \(schema.prediction_path = 'out.label'\)",
        ),
        (
            {"prediction_path": "out"},
            [{"a": 1}, {"a": 2}],
            {"out": 1},
            r"response.out: expected a list of 2 predictions",
        ),
        (
            {"prediction_path": "out"},
            [{"a": 1}, {"a": 2}],
            {"out": [1]},
            "1 prediction rows for 2 request rows",
        ),
        (
            {"prediction_path": "p", "scores_path": "s"},
            [{"a": 1}],
            {"p": [1], "s": 0.5},
            r"response.s: expected a list, one per row",
        ),
    ],
)
def test_malformed_payloads(schema, request_doc, response_doc, message, ex, make_model):
    with pytest.raises(CodecError, match=message):
        JSON.decode(ex(request_doc, response_doc), make_model("json", **schema))


def test_upstream_error(ex, make_model):
    recs = JSON.decode(ex({"a": 1}, b"Bad Gateway", status=503), make_model("json"))
    assert recs[0].features == {"a": 1} and recs[0].prediction is None
    assert recs[0].error == "upstream status 503: Bad Gateway"
