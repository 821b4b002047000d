"""Monitoring in the service, through the REST API over a real SQLite store.

Reference upload (CSV and Parquet, bad bodies), records with drift injected in
one feature, ground truth posted to the API, on-demand runs, results read back
and compared with scikit-learn / SciPy, CBPE on unlabeled chunks, DLE for
regression from a reference named in the config, streaming-detector alerts,
run status and alert dedup.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from driftscope.config.settings import Settings
from driftscope.server import create_app
from driftscope.service import monitoring as svc
from driftscope.storage import open_store
from driftscope.types import Record

from .conftest import lifespan, settings_doc

T0 = datetime(2024, 5, 1, tzinfo=UTC)
CHUNK = 500
N = 2000
SHIFT_AT = 1000  # feature `a` drifts from this record on
FLIP = range(750, 1500)  # labels contradict the model here (concept change)
LABELED = 1400  # records 0..1399 get a label: chunk 2 is 80 % labeled, chunk 3 not at all


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ds")


def _clf_model(upstream: str) -> dict[str, Any]:
    return {
        "name": "clf",
        "version": "v1",
        "upstream": upstream,
        "task": "binary_classification",
        "schema": {
            "features": [
                {"name": "a", "type": "continuous"},
                {"name": "b", "type": "continuous"},
            ]
        },
    }


@pytest.fixture
def mon_settings(tmp_path: Path, upstream_url: str) -> Settings:
    doc = settings_doc(tmp_path, upstream_url)
    doc["models"].append(_clf_model(upstream_url))
    doc["monitoring"] = {"chunk_size": CHUNK}
    return Settings.model_validate(doc)


def _sample(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    a = rng.normal(0.0, 1.0, n)
    b = rng.normal(0.0, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(1.5 * a + b)))
    target = (rng.random(n) < p).astype(int)
    return {"a": a, "b": b, "score": p, "prediction": (p > 0.5).astype(int), "target": target}


def _reference(seed: int = 1, n: int = 3000) -> pd.DataFrame:
    return pd.DataFrame(_sample(np.random.default_rng(seed), n))


def _analysis() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    s = _sample(rng, N)
    s["a"] = s["a"].copy()
    s["a"][SHIFT_AT:] += 1.5  # covariate drift in `a`; `b` stays as in the reference
    p = 1.0 / (1.0 + np.exp(-(1.5 * s["a"] + s["b"])))
    s["score"], s["prediction"] = p, (p > 0.5).astype(int)
    s["target"] = (rng.random(N) < p).astype(int)
    flip = np.zeros(N, dtype=bool)
    flip[FLIP.start : FLIP.stop] = True
    s["target"] = np.where(flip, 1 - s["target"], s["target"])
    frame = pd.DataFrame(s)
    frame["request_id"] = [f"req-{i}" for i in range(N)]
    return frame


def _store_records(settings: Settings, frame: pd.DataFrame) -> None:
    store = open_store(settings.storage.database_url)
    try:
        store.upgrade()
        store.add_records(
            [
                Record(
                    model="clf",
                    request_id=r.request_id,
                    row_index=0,
                    timestamp=T0 + timedelta(minutes=i),
                    model_version="v1",
                    features={"a": float(r.a), "b": float(r.b)},
                    prediction=int(r.prediction),
                    scores=float(r.score),
                )
                for i, r in enumerate(frame.itertuples())
            ]
        )
    finally:
        store.close()


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


async def _results(c: httpx.AsyncClient, name: str, **params: str) -> pd.DataFrame:
    r = await c.get(f"/api/v1/models/{name}/monitoring", params=params)
    assert r.status_code == 200, r.text
    return pd.DataFrame(r.json()["results"])


async def test_reference_run_results_alerts_and_performance(mon_settings: Settings) -> None:
    analysis = _analysis()
    _store_records(mon_settings, analysis)
    app = create_app(mon_settings)
    async with lifespan(app), _client(app) as c:
        # no reference yet: a run says what is missing, and the failure is in the status
        r = await c.post("/api/v1/models/clf/monitoring/run", params={"wait": "true"})
        assert r.status_code == 422 and "no reference dataset" in r.json()["detail"]
        status = (await c.get("/api/v1/models/clf/monitoring/status")).json()
        assert status["reference"] is False
        assert status["last"]["status"] == "failed" and "reference" in status["last"]["error"]

        ref = _reference()
        ref["note"] = "unused"  # extra columns are dropped and named
        r = await c.post(
            "/api/v1/models/clf/reference",
            content=_parquet(ref),
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
        assert r.status_code == 201, r.text
        up = r.json()
        assert up["rows"] == 3000 and up["features"] == ["a", "b"]
        assert up["scores"] == ["score"] and up["performance"] is True
        assert up["ignored_columns"] == ["note"]

        labels = [
            {"model": "clf", "request_id": f"req-{i}", "value": int(analysis.target[i])}
            for i in range(LABELED)
        ]
        r = await c.post("/api/v1/labels", json={"labels": labels})
        assert r.status_code == 200 and r.json()["unmatched"] == []

        r = await c.post("/api/v1/models/clf/monitoring/run", params={"wait": "true"})
        assert r.status_code == 200, r.text
        run = r.json()
        assert run["status"] == "succeeded" and run["records"] == N and run["alerts"] > 0
        assert run["details"]["reference"] == "uploaded"

        res = await _results(c, "clf")
        assert sorted(res["chunk_key"].unique()) == sorted(
            f"[{s}:{s + CHUNK - 1}]" for s in range(0, N, CHUNK)
        )
        drift = res[~res["method"].isin(["quality", "realized", "cbpe"])]
        # drift in `a` from chunk 2 on; `b` never drifts
        a_alerts = drift[(drift["column"] == "a") & drift["alert"]]
        assert set(a_alerts["chunk_index"]) == {2, 3}
        assert not drift[(drift["column"] == "b")]["alert"].any()
        assert not drift[(drift["column"] == "a") & (drift["chunk_index"] < 2)]["alert"].any()
        # the KS statistic equals SciPy's on the same rows
        ref_a = ref["a"].to_numpy()
        ks = drift[(drift["column"] == "a") & (drift["method"] == "ks")].set_index("chunk_index")
        for i in range(N // CHUNK):
            part = analysis["a"].to_numpy()[i * CHUNK : (i + 1) * CHUNK]
            expected = stats.ks_2samp(ref_a, part).statistic
            assert ks.loc[i, "value"] == pytest.approx(expected, abs=1e-9)

        # realized performance equals scikit-learn on the joined, labeled rows of each chunk
        realized = res[res["method"] == "realized"].set_index(["chunk_index", "metric"])
        for i in range(N // CHUNK):
            rows = analysis.iloc[i * CHUNK : min((i + 1) * CHUNK, LABELED)]
            coverage = len(rows) / CHUNK if i * CHUNK < LABELED else 0.0
            assert realized.loc[(i, "label_coverage"), "value"] == pytest.approx(coverage)
            if coverage == 0:
                assert pd.isna(realized.loc[(i, "accuracy"), "value"])
                continue
            y, pred, score = rows["target"], rows["prediction"], rows["score"]
            expected = {
                "accuracy": skm.accuracy_score(y, pred),
                "precision": skm.precision_score(y, pred),
                "recall": skm.recall_score(y, pred),
                "f1": skm.f1_score(y, pred),
                "roc_auc": skm.roc_auc_score(y, score),
                "specificity": skm.recall_score(y, pred, pos_label=0),
            }
            for metric, value in expected.items():
                got = realized.loc[(i, metric), "value"]
                assert got == pytest.approx(value, abs=1e-9), (i, metric)
        # CBPE estimates every chunk, the unlabeled one too
        cbpe = res[(res["method"] == "cbpe") & (res["metric"] == "accuracy")]
        assert sorted(cbpe["chunk_index"]) == [0, 1, 2, 3]
        last = cbpe[cbpe["chunk_index"] == 3]["value"].iloc[0]
        assert 0.5 < last <= 1.0

        # filters
        ks_a = await _results(c, "clf", metric="statistic", column="a", method="ks")
        assert len(ks_a) == 4 and set(ks_a["column"]) == {"a"}
        late = await _results(c, "clf", column="a", method="ks", **{"from": "2024-05-01T16:40:00Z"})
        assert sorted(late["chunk_index"]) == [2, 3]  # chunks 2 and 3 start at 16:40 and 25:00
        r = await c.get(
            "/api/v1/models/clf/monitoring",
            params={"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"},
        )
        assert r.status_code == 422

        # alerts: the drifted column, and a streaming detection naming a request id
        alerts = (await c.get("/api/v1/alerts", params={"model": "clf", "limit": 1000})).json()
        alerts = alerts["alerts"]
        drift_alerts = [
            a for a in alerts if a["rule"] == "threshold" and a["method"] not in ("quality",)
        ]
        ks_columns = {a["column"] for a in drift_alerts if a["method"] == "ks"}
        assert ks_columns & {"a", "b"} == {"a"}  # (the scores drift too: prediction drift)
        assert "score" in ks_columns
        assert all(a["column"] != "b" for a in drift_alerts)
        streaming = [a for a in alerts if a["rule"].startswith("streaming:")]
        assert streaming, [a["rule"] for a in alerts]
        labeled_ids = {f"req-{i}" for i in range(LABELED)}
        hits: dict[str, list[int]] = {}
        for a in streaming:
            rid = a["details"]["request_id"]
            assert rid in labeled_ids and rid in a["message"]
            assert a["details"]["row_index"] == 0
            hits.setdefault(a["method"], []).append(int(rid.split("-")[1]))
        # every detector sees the concept change soon after it starts (DDM may also
        # raise an early false alarm: it is a sequential test on few records there)
        assert set(hits) == {"adwin", "ddm", "page_hinkley"}
        for name, where in hits.items():
            assert any(FLIP.start <= i < FLIP.start + 150 for i in where), (name, where)
        assert (await c.get("/api/v1/alerts", params={"model": "m"})).json()["alerts"] == []

        # a second run recomputes the same chunks: no alert is raised twice
        r = await c.post("/api/v1/models/clf/monitoring/run", params={"wait": "true"})
        assert r.status_code == 200 and r.json()["alerts"] == 0
        again = (await c.get("/api/v1/alerts", params={"model": "clf", "limit": 1000})).json()
        assert len(again["alerts"]) == len(alerts)

        status = (await c.get("/api/v1/models/clf/monitoring/status")).json()
        assert status["reference"] is True and status["current"] is None
        assert status["last"]["status"] == "succeeded" and status["last"]["records"] == N
        assert [x["status"] for x in status["runs"]] == ["succeeded", "succeeded", "failed"]


async def test_background_run_and_status(mon_settings: Settings) -> None:
    _store_records(mon_settings, _analysis())
    app = create_app(mon_settings)
    async with lifespan(app), _client(app) as c:
        r = await c.post(
            "/api/v1/models/clf/reference",
            content=_csv(_reference()),
            headers={"Content-Type": "text/csv"},
        )
        assert r.status_code == 201, r.text
        r = await c.post("/api/v1/models/clf/monitoring/run")
        assert r.status_code in (200, 202), r.text
        run_id = r.json()["id"]
        for _ in range(600):  # until the thread records the end (bounded, not timed)
            status = (await c.get("/api/v1/models/clf/monitoring/status")).json()
            if status["current"] is None:
                break
            assert status["current"]["id"] == run_id
            await asyncio.sleep(0.1)
        assert status["last"]["id"] == run_id and status["last"]["status"] == "succeeded"
        # without labels: no realized value, but label coverage 0 and CBPE estimates
        res = await _results(c, "clf", method="realized", metric="label_coverage")
        assert list(res["value"]) == [0.0] * 4
        assert len(await _results(c, "clf", method="cbpe", metric="roc_auc")) == 4


async def test_bad_reference_uploads_are_clear_4xx(mon_settings: Settings) -> None:
    app = create_app(mon_settings)
    ref = _reference(n=200)
    url = "/api/v1/models/clf/reference"
    async with lifespan(app), _client(app) as c:

        async def post(body: bytes, ctype: str) -> httpx.Response:
            return await c.post(url, content=body, headers={"Content-Type": ctype})

        r = await post(b"PAR1 this is not parquet", "application/vnd.apache.parquet")
        assert r.status_code == 422 and "Parquet" in r.json()["detail"]
        r = await post(b"", "text/csv")
        assert r.status_code == 422 and "empty" in r.json()["detail"]
        r = await post(_csv(ref), "application/json")
        assert r.status_code == 415 and "text/csv" in r.json()["detail"]
        r = await post(b'a,b\n1,"2\n', "text/csv")  # unterminated quote
        assert r.status_code == 422 and "CSV" in r.json()["detail"]
        r = await post(_csv(ref.rename(columns={"b": "bee"})), "text/csv")
        detail = r.json()["detail"]
        assert r.status_code == 422 and "['b']" in detail and "bee" in detail
        r = await post(_csv(ref.drop(columns=["prediction"])), "text/csv")
        assert r.status_code == 422 and "'prediction'" in r.json()["detail"]
        r = await post(_csv(ref.drop(columns=["score"])), "text/csv")
        assert r.status_code == 422 and "scores" in r.json()["detail"]
        bad = ref.astype({"a": object})
        bad.loc[3, "a"] = "high"
        r = await post(_csv(bad), "text/csv")
        assert r.status_code == 422 and "'a'" in r.json()["detail"] and "high" in r.json()["detail"]
        r = await post(_csv(ref.iloc[:0]), "text/csv")
        assert r.status_code == 422 and "no rows" in r.json()["detail"]
        r = await c.post("/api/v1/models/nope/reference", content=_csv(ref))
        assert r.status_code == 404 and "not configured" in r.json()["detail"]
        # nothing was stored by the refused uploads
        r = await c.get(url)
        assert r.status_code == 404
        # a good one is (octet-stream is sniffed: CSV here), and it is read back
        r = await post(_csv(ref), "application/octet-stream")
        assert r.status_code == 201, r.text
        got = (await c.get(url)).json()
        assert got["rows"] == 200 and got["source"] == "uploaded" and got["target"] is True
        r = await c.post("/api/v1/models/nope/monitoring/run")
        assert r.status_code == 404


def _regression_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)

    def make(n: int) -> pd.DataFrame:
        a, b = rng.normal(0, 1, n), rng.uniform(0, 2, n)
        pred = 2 * a + b
        target = pred + rng.normal(0, 0.5 + b, n)
        return pd.DataFrame({"a": a, "b": b, "prediction": pred, "target": target})

    return make(2000), make(1000)


async def test_regression_with_configured_reference(tmp_path: Path, upstream_url: str) -> None:
    ref, analysis = _regression_frames()
    path = tmp_path / "reference.parquet"
    ref.to_parquet(path, index=False)
    doc = settings_doc(tmp_path, upstream_url)
    doc["models"][0]["reference"] = str(path)
    doc["monitoring"] = {"chunk_size": 250}
    settings = Settings.model_validate(doc)
    store = open_store(settings.storage.database_url)
    store.upgrade()
    store.add_records(
        [
            Record(
                model="m",
                request_id=f"q{i}",
                row_index=i % 2,
                timestamp=T0 + timedelta(seconds=i),
                features={"a": float(r.a), "b": float(r.b)},
                prediction=float(r.prediction),
            )
            for i, r in enumerate(analysis.itertuples())
        ]
    )
    store.close()
    app = create_app(settings)
    async with lifespan(app), _client(app) as c:
        got = (await c.get("/api/v1/models/m/reference")).json()
        assert got["source"] == f"config:{path}" and got["rows"] == 2000
        labels = [
            {"model": "m", "request_id": f"q{i}", "row_index": i % 2, "value": analysis.target[i]}
            for i in range(500)
        ]
        assert (await c.post("/api/v1/labels", json=labels)).status_code == 200
        r = await c.post("/api/v1/models/m/monitoring/run", params={"wait": "true"})
        assert r.status_code == 200, r.text
        assert r.json()["details"]["reference"] == f"config:{path}"
        res = await _results(c, "m", method="realized")
        for i in range(2):
            rows = analysis.iloc[i * 250 : (i + 1) * 250]
            got_mae = res[(res["chunk_index"] == i) & (res["metric"] == "mae")]["value"].iloc[0]
            assert got_mae == pytest.approx(
                skm.mean_absolute_error(rows["target"], rows["prediction"]), abs=1e-9
            )
            got_rmse = res[(res["chunk_index"] == i) & (res["metric"] == "rmse")]["value"].iloc[0]
            assert got_rmse == pytest.approx(
                skm.root_mean_squared_error(rows["target"], rows["prediction"]), abs=1e-9
            )
        unlabeled = res[(res["chunk_index"] >= 2) & (res["metric"] == "mae")]
        assert unlabeled["value"].isna().all()
        dle = await _results(c, "m", method="dle", metric="mae")
        assert sorted(dle["chunk_index"]) == [0, 1, 2, 3]
        assert (dle["value"] > 0).all()


def test_scheduled_pass_runs_models_with_a_reference(mon_settings: Settings) -> None:
    _store_records(mon_settings, _analysis())
    store = open_store(mon_settings.storage.database_url)
    try:
        store.upgrade()
        # `m` has no reference and no records; `clf` has both
        assert svc.scheduled_pass(store, mon_settings)["clf"] == "skipped: no reference"
        svc.upload_reference(store, mon_settings, "clf", _csv(_reference()), "text/csv")
        outcome = svc.scheduled_pass(store, mon_settings)
        assert outcome["m"] == "skipped: no reference"
        assert outcome["clf"].startswith("run ")
        runs = store.list_runs("clf")
        assert [(r.trigger, r.status) for r in runs] == [("schedule", "succeeded")]
        assert len(store.load_results("clf", metric="statistic", column="a")) == 4
    finally:
        store.close()
