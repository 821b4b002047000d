"""A real MLServer (its own venv, .venv-mlserver) serving a scikit-learn binary classifier.

The model is trained when the fixture starts, by the MLServer venv's own
Python (so the pickle matches the scikit-learn that loads it), on generated
data: 4 float features ``x0..x3``, labels 0/1. Fixtures: ``mlserver``
(:class:`MLServerInfo`, session), ``mlserver_url`` (its base URL).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._proc import ROOT, ServerProcess, free_port, http_status, require

MLSERVER_PY = ROOT / ".venv-mlserver" / "bin" / "python"
MLSERVER = ROOT / ".venv-mlserver" / "bin" / "mlserver"

MODEL = "clf"
VERSION = "v1"
FEATURES = ("x0", "x1", "x2", "x3")

# Runs in .venv-mlserver: fit the model, write model.joblib and probe.json
# (a few rows with the model's own predictions, for checking the server).
_TRAIN = r"""
import json, sys
import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

out = sys.argv[1]
rng = np.random.default_rng(20240501)
X = rng.normal(size=(2000, 4))
logit = 1.5 * X[:, 0] - 2.0 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + 0.2
y = (rng.random(2000) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
model = LogisticRegression().fit(X, y)
joblib.dump(model, f"{out}/model.joblib")
probe = rng.normal(size=(8, 4)).round(4)
json.dump(
    {
        "inputs": probe.tolist(),
        "predict": model.predict(probe).tolist(),
        "predict_proba": model.predict_proba(probe).tolist(),
        "classes": model.classes_.tolist(),
    },
    open(f"{out}/probe.json", "w"),
)
"""


@dataclass(frozen=True)
class MLServerInfo:
    url: str
    """Base URL, e.g. http://127.0.0.1:PORT (OIP v2 under /v2)."""
    model: str = MODEL
    version: str = VERSION
    features: tuple[str, ...] = FEATURES
    probe: dict[str, Any] = field(default_factory=dict)
    """Rows (``inputs``) with the model's own ``predict`` / ``predict_proba`` for them."""
    pid: int | None = None

    @property
    def infer_url(self) -> str:
        return f"{self.url}/v2/models/{self.model}/infer"

    def infer_body(self, rows: list[list[float]], *, request_id: str | None = None) -> bytes:
        """An OIP v2 JSON request for ``rows`` asking for both outputs."""
        body: dict[str, Any] = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [len(rows), len(self.features)],
                    "datatype": "FP64",
                    "data": [v for row in rows for v in row],
                }
            ],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        }
        if request_id is not None:
            body["id"] = request_id
        return json.dumps(body).encode()


def _write_model_dir(root: Path, http: int, grpc: int, metrics: int) -> dict[str, Any]:
    model_dir = root / MODEL
    model_dir.mkdir(parents=True)
    res = subprocess.run(
        [str(MLSERVER_PY), "-c", _TRAIN, str(model_dir)], capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.fail(f"training the MLServer test model failed:\n{res.stderr}", pytrace=False)
    (root / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": http,
                "grpc_port": grpc,
                "metrics_port": metrics,
                "parallel_workers": 0,
                "debug": False,
            }
        )
    )
    (model_dir / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": VERSION},
            }
        )
    )
    probe: dict[str, Any] = json.loads((model_dir / "probe.json").read_text())
    return probe


@pytest.fixture(scope="session")
def mlserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLServerInfo]:
    """This worker's MLServer with the ``clf`` model loaded."""
    require(MLSERVER, "MLServer")
    require(MLSERVER_PY, "MLServer's Python")
    root = tmp_path_factory.mktemp("mlserver")
    models = root / "models"
    http, grpc, metrics = free_port(), free_port(), free_port()
    probe = _write_model_dir(models, http, grpc, metrics)
    url = f"http://127.0.0.1:{http}"
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    # small batches: OpenMP threads only spin on a busy 2-core machine
    env["OMP_NUM_THREADS"] = "1"
    env["PATH"] = f"{MLSERVER.parent}{os.pathsep}{env.get('PATH', '')}"
    proc = ServerProcess(
        "mlserver", [MLSERVER, "start", models], root / "mlserver.log", env=env, cwd=root
    )

    def ready() -> bool:
        return (
            http_status(f"{url}/v2/health/ready") == 200
            and http_status(f"{url}/v2/models/{MODEL}/ready") == 200
        )

    proc.start(ready, timeout_s=180)
    yield MLServerInfo(url=url, probe=probe, pid=proc.pid)
    proc.stop()


@pytest.fixture(scope="session")
def mlserver_url(mlserver: MLServerInfo) -> str:
    """Base URL of this worker's MLServer."""
    return mlserver.url
