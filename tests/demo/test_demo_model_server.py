"""The demo model server: a real classifier behind OIP v2 JSON."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from driftscope.demo import data, model_server


@pytest.fixture(scope="module")
def model() -> model_server.DemoModel:
    return model_server.train_model(seed=0)


@pytest.fixture
def client(model: model_server.DemoModel) -> httpx.AsyncClient:
    app = model_server.create_model_app(model)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model")


def test_model_learns_the_task(model: model_server.DemoModel) -> None:
    rng = np.random.default_rng(123)
    x = data.sample_features(4000, rng)
    y = data.sample_labels(x, rng)
    auc = roc_auc_score(y, model.classifier.predict_proba(x)[:, 1])
    # the Bayes-optimal scorer on this data, for scale
    best = roc_auc_score(y, data.default_probability(x))
    assert auc > 0.65
    assert auc > best - 0.05


async def test_infer_matches_the_classifier(
    client: httpx.AsyncClient, model: model_server.DemoModel
) -> None:
    x = data.sample_features(3, np.random.default_rng(1))
    body = {
        "id": "abc-1",
        "inputs": [
            {"name": "features", "datatype": "FP64", "shape": [3, 8], "data": x.ravel().tolist()}
        ],
    }
    r = await client.post("/v2/models/credit-risk/infer", json=body)
    assert r.status_code == 200
    doc = r.json()
    assert doc["id"] == "abc-1"
    assert doc["model_name"] == "credit-risk" and doc["model_version"] == "v1"
    outputs = {o["name"]: o for o in doc["outputs"]}
    probs = model.classifier.predict_proba(x)
    assert outputs["predicted_label"]["shape"] == [3]
    assert outputs["predicted_label"]["data"] == probs.argmax(axis=1).tolist()
    assert outputs["probabilities"]["shape"] == [3, 2]
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], (3, 2)), probs)


async def test_per_feature_inputs_and_versioned_path(client: httpx.AsyncClient) -> None:
    x = data.sample_features(2, np.random.default_rng(2))
    inputs = [
        {"name": f, "datatype": "FP64", "shape": [2], "data": x[:, i].tolist()}
        for i, f in enumerate(data.FEATURES)
    ]
    r = await client.post("/v2/models/credit-risk/versions/v1/infer", json={"inputs": inputs})
    assert r.status_code == 200
    assert "id" not in r.json()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"inputs": []}', 400),
        (
            b'{"inputs": [{"name": "features", "datatype": "FP64", "shape": [1, 3], '
            b'"data": [1, 2, 3]}]}',
            400,
        ),
    ],
)
async def test_bad_requests(client: httpx.AsyncClient, body: bytes, status: int) -> None:
    r = await client.post("/v2/models/credit-risk/infer", content=body)
    assert r.status_code == status
    assert "error" in r.json()


async def test_health_and_metadata(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/health/ready")).status_code == 200
    assert (await client.get("/v2/health/live")).status_code == 200
    meta = (await client.get("/v2/models/credit-risk")).json()
    assert meta["inputs"][0]["shape"] == [-1, 8]
    assert (await client.get("/v2/models/other")).status_code == 404
    assert (await client.post("/v2/models/other/infer", json={})).status_code == 404
