"""The demo inference server: a scikit-learn classifier served over OIP v2 JSON.

The model is a ``HistGradientBoostingClassifier`` trained at start on
:mod:`driftscope.demo.data` (seeded, no drift). It answers
``POST /v2/models/{name}[/versions/{v}]/infer`` with two outputs,
``predicted_label`` (INT64, one per row) and ``probabilities`` (FP64,
``[N, 2]``: no default, default), echoing the request ``id``; plus the OIP
health, readiness and metadata endpoints.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sklearn.ensemble import HistGradientBoostingClassifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from driftscope.demo import data

MODEL_NAME = "credit-risk"
MODEL_VERSION = "v1"
INPUT_NAME = "features"
LABEL_OUTPUT = "predicted_label"
SCORES_OUTPUT = "probabilities"


@dataclass
class DemoModel:
    """A fitted classifier with its OIP name and version."""

    classifier: HistGradientBoostingClassifier
    name: str = MODEL_NAME
    version: str = MODEL_VERSION

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = self.classifier.predict_proba(x)
        return probs.argmax(axis=1).astype(np.int64), probs


def train_model(seed: int = 0, n_rows: int = 6000) -> DemoModel:
    """Fit the demo classifier on undrifted, seeded data."""
    rng = np.random.default_rng(seed)
    x = data.sample_features(n_rows, rng, drift=0.0)
    y = data.sample_labels(x, rng)
    categorical = [name in data.CATEGORICAL for name in data.FEATURES]
    clf = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, categorical_features=categorical, random_state=seed
    )
    clf.fit(x, y)
    return DemoModel(clf)


class BadRequest(Exception):
    """An OIP request the demo model cannot read."""


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _rows(doc: Any) -> np.ndarray:
    """The ``[N, 8]`` feature matrix of an OIP v2 request (one matrix or one input per feature)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
        raise BadRequest("the request needs a non-empty 'inputs' list")
    inputs = doc["inputs"]
    width = len(data.FEATURES)
    try:
        if len(inputs) == 1:
            tensor = inputs[0]
            values = np.asarray(tensor["data"], dtype=np.float64).reshape(-1)
            shape = [int(s) for s in tensor["shape"]]
            if len(shape) != 2 or shape[1] != width or values.size != shape[0] * width:
                raise BadRequest(f"input {tensor.get('name')!r} must have shape [N, {width}]")
            return values.reshape(shape)
        by_name = {t["name"]: np.asarray(t["data"], dtype=np.float64).reshape(-1) for t in inputs}
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest(f"malformed input tensor: {exc}") from exc
    missing = [f for f in data.FEATURES if f not in by_name]
    if missing:
        raise BadRequest(f"missing inputs {missing}; expected one [N, {width}] tensor or {width}")
    columns = [by_name[f] for f in data.FEATURES]
    if len({c.size for c in columns}) != 1:
        raise BadRequest("per-feature inputs must all have the same length")
    return np.column_stack(columns)


def create_model_app(model: DemoModel) -> Starlette:
    """The Starlette app serving ``model`` over OIP v2 JSON."""

    async def live(request: Request) -> Response:
        return _json({"live": True})

    async def ready(request: Request) -> Response:
        return _json({"ready": True})

    async def metadata(request: Request) -> Response:
        if request.path_params["name"] != model.name:
            return _json({"error": f"model {request.path_params['name']!r} not found"}, 404)
        return _json(
            {
                "name": model.name,
                "versions": [model.version],
                "platform": "sklearn",
                "inputs": [{"name": INPUT_NAME, "datatype": "FP64", "shape": [-1, 8]}],
                "outputs": [
                    {"name": LABEL_OUTPUT, "datatype": "INT64", "shape": [-1]},
                    {"name": SCORES_OUTPUT, "datatype": "FP64", "shape": [-1, 2]},
                ],
            }
        )

    async def infer(request: Request) -> Response:
        name = request.path_params["name"]
        version = request.path_params.get("version", model.version)
        if name != model.name or version != model.version:
            return _json({"error": f"model {name!r} version {version!r} not found"}, 404)
        try:
            doc = orjson.loads(await request.body())
            x = _rows(doc)
        except orjson.JSONDecodeError as exc:
            return _json({"error": f"invalid JSON: {exc}"}, 400)
        except BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        labels, probs = model.predict(x)
        body: dict[str, Any] = {
            "model_name": model.name,
            "model_version": model.version,
            "outputs": [
                {
                    "name": LABEL_OUTPUT,
                    "datatype": "INT64",
                    "shape": [len(labels)],
                    "data": labels.tolist(),
                },
                {
                    "name": SCORES_OUTPUT,
                    "datatype": "FP64",
                    "shape": list(probs.shape),
                    "data": probs.reshape(-1).tolist(),
                },
            ],
        }
        if isinstance(doc.get("id"), str):
            body["id"] = doc["id"]
        return _json(body)

    return Starlette(
        routes=[
            Route("/v2/health/live", live),
            Route("/v2/health/ready", ready),
            Route("/v2/models/{name}/ready", ready),
            Route("/v2/models/{name}", metadata),
            Route("/v2/models/{name}/infer", infer, methods=["POST"]),
            Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
        ]
    )


def serve_model(sock: socket.socket, seed: int = 0) -> None:
    """Process target: train the model and serve it on an already bound socket."""
    import uvicorn
    from threadpoolctl import threadpool_limits

    # One row at a time needs no OpenMP team: with threads, a busy machine made
    # predict_proba spin for seconds (p99 2 s against 12 ms on one thread, seen here).
    threadpool_limits(limits=1)
    app = create_model_app(train_model(seed))
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", lifespan="off", access_log=False, log_level="warning"
    )
    uvicorn.Server(config).run(sockets=[sock])
