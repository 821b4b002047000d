"""KServe v1 / TF Serving: row and columnar forms in, predictions out."""

from __future__ import annotations

import gzip

import orjson
import pytest

from driftscope.codecs import get_codec
from driftscope.errors import CodecError

V1 = get_codec("kserve_v1")
PATH = "/v1/models/m:predict"
FEATURES = [{"name": "a"}, {"name": "b"}]


@pytest.fixture
def ex(make_exchange):
    def build(request, response, **kw):
        return make_exchange(request, response, protocol="kserve_v1", path=PATH, **kw)

    return build


@pytest.mark.parametrize(
    "request_doc",
    [
        {"instances": [[1, 2.5], [3, 4.5]]},
        {"instances": [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}]},
        {"inputs": {"a": [1, 3], "b": [2.5, 4.5]}},
        {"inputs": [[1, 2.5], [3, 4.5]]},
        {"signature_name": "serving_default", "inputs": [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}]},
    ],
    ids=["instances-lists", "instances-dicts", "inputs-columns", "inputs-rows", "tf-signature"],
)
def test_request_forms(request_doc, ex, make_model):
    recs = V1.decode(ex(request_doc, {"predictions": [0, 1]}), make_model(features=FEATURES))
    assert [r.features for r in recs] == [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}]
    assert [r.prediction for r in recs] == [0, 1]
    assert [r.row_index for r in recs] == [0, 1]
    assert all(r.scores is None and r.model_version == "cfg-1" for r in recs)


def test_scalar_instances_use_the_single_feature(ex, make_model):
    recs = V1.decode(
        ex({"instances": [1.5, 2.5]}, {"predictions": [3.0, 5.0]}),
        make_model(task="regression", features=[{"name": "x"}]),
    )
    assert [(r.features, r.prediction) for r in recs] == [({"x": 1.5}, 3.0), ({"x": 2.5}, 5.0)]


def test_score_lists_become_scores_and_argmax(ex, make_model):
    resp = {"predictions": [[0.1, 0.9], [0.8, 0.2]]}
    model = make_model(features=FEATURES, classes=["neg", "pos"])
    recs = V1.decode(ex({"instances": [[1, 2], [3, 4]]}, resp), model)
    assert [r.prediction for r in recs] == ["pos", "neg"]
    assert recs[0].scores == {"neg": 0.1, "pos": 0.9}
    # regression with several outputs keeps the list as the prediction
    recs = V1.decode(
        ex({"instances": [[1, 2]]}, {"predictions": [[1.0, 2.0]]}), make_model(task="regression")
    )
    assert recs[0].prediction == [1.0, 2.0] and recs[0].scores is None


def test_dict_predictions(ex, make_model):
    resp = {
        "predictions": [
            {"label": "cat", "probs": [0.7, 0.3]},
            {"label": "dog", "probs": [0.4, 0.6]},
        ]
    }
    model = make_model(prediction="label", scores="probs", classes=["cat", "dog"])
    recs = V1.decode(ex({"instances": [{"x": 1}, {"x": 2}]}, resp), model)
    assert [r.prediction for r in recs] == ["cat", "dog"]
    assert recs[1].scores == {"cat": 0.4, "dog": 0.6}
    # without a schema the usual key names are found
    recs = V1.decode(
        ex({"instances": [{"x": 1}]}, {"predictions": [{"class": "cat"}]}), make_model()
    )
    assert recs[0].prediction == "cat"


def test_tf_serving_columnar_outputs(ex, make_model):
    resp = {"outputs": {"label": [1, 0], "score": [0.9, 0.2]}}
    model = make_model(prediction="label", scores="score")
    recs = V1.decode(ex({"inputs": {"x": [1, 2]}}, resp), model)
    assert [(r.prediction, r.scores) for r in recs] == [(1, 0.9), (0, 0.2)]
    recs = V1.decode(ex({"inputs": {"x": [1, 2]}}, {"outputs": [5, 6]}), make_model())
    assert [r.prediction for r in recs] == [5, 6]


def test_gzip_and_model_version(ex, make_model):
    body = gzip.compress(orjson.dumps({"predictions": [1], "model_version": "v7"}))
    recs = V1.decode(
        ex({"instances": [[1, 2]]}, body, response_headers={"content-encoding": "gzip"}),
        make_model(),
    )
    assert recs[0].prediction == 1 and recs[0].model_version == "v7"


@pytest.mark.parametrize(
    ("request_doc", "response_doc", "message"),
    [
        ({"rows": []}, {"predictions": []}, "request: expected an 'instances' or 'inputs' field"),
        ({"instances": {"a": 1}}, {"predictions": [1]}, "request.instances: expected a list"),
        (
            {"instances": [[1, 2], [3]]},
            {"predictions": [1, 2]},
            r"request.instances\[1\]: expected a list of 2 values",
        ),
        (
            {"instances": [{"a": 1}, [1]]},
            {"predictions": [1, 2]},
            r"request.instances\[1\]: expected an object like row 0",
        ),
        (
            {"inputs": {"a": [1, 2], "b": [1]}},
            {"predictions": [1, 2]},
            "request.inputs: columns have different lengths",
        ),
        ({"inputs": {"a": 1}}, {"predictions": [1]}, "request.inputs.a: expected a list"),
        (
            {"inputs": 5},
            {"predictions": [1]},
            "request.inputs: expected a list of rows or an object",
        ),
        (
            {"instances": [[1, 2]]},
            {"result": [1]},
            "response: expected a 'predictions' or 'outputs'",
        ),
        ({"instances": [[1, 2]]}, {"predictions": 1}, "response.predictions: expected a list"),
        ({"instances": [[1, 2]]}, {"predictions": [1, 2]}, "2 prediction rows for 1 request rows"),
        (
            {"instances": [[1, 2]]},
            {"predictions": [{"foo": 1}]},
            r"response.predictions\[0\]: cannot tell the prediction among keys \['foo'\]",
        ),
    ],
)
def test_malformed_payloads(request_doc, response_doc, message, ex, make_model):
    with pytest.raises(CodecError, match=message):
        V1.decode(ex(request_doc, response_doc), make_model())


def test_schema_keys_missing_in_dict_predictions(ex, make_model):
    resp = {"predictions": [{"label": 1}]}
    with pytest.raises(CodecError, match=r"no key 'probs' \(schema.scores\)"):
        V1.decode(ex({"instances": [[1, 2]]}, resp), make_model(prediction="label", scores="probs"))
    with pytest.raises(CodecError, match=r"no key 'y' \(schema.prediction\)"):
        V1.decode(ex({"instances": [[1, 2]]}, resp), make_model(prediction="y"))
