"""Against a real Label Studio (tests/services/labelstudio.py), one server per session.

The end-to-end test runs ``driftscope serve`` as a real process: records captured
through the proxy become tasks with the model's prediction as pre-annotation,
annotations made through Label Studio's API come back by its webhook, join the
records by request id and row, and feed realized performance.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from driftscope.config.settings import LabelingSettings, ModelSettings, Settings
from driftscope.labeling import LabelStudio, UnsupportedTaskError
from driftscope.service.labeling import LabelingSync
from driftscope.storage import open_store
from driftscope.types import Record
from server.proc import ServeProcess, wait_for
from server.upstream import make_upstream, serve_in_thread
from services._proc import free_port
from services.labelstudio import LabelStudioInfo

from .conftest import SECRET, records, settings_doc


def ls_client(ls: LabelStudioInfo) -> httpx.Client:
    return httpx.Client(base_url=ls.url, headers=ls.headers, timeout=10)


def project_id(c: httpx.Client, title: str) -> int | None:
    found = c.get("/api/projects", params={"title": title}).json()["results"]
    ids = [p["id"] for p in found if p["title"] == title]
    return ids[0] if ids else None


def tasks_of(c: httpx.Client, project: int) -> list[dict[str, Any]]:
    r = c.get("/api/tasks", params={"project": project, "fields": "all", "page_size": 100})
    r.raise_for_status()
    tasks: list[dict[str, Any]] = r.json()["tasks"]
    return tasks


def number(value: float) -> list[dict[str, Any]]:
    return [
        {"from_name": "value", "to_name": "features", "type": "number", "value": {"number": value}}
    ]


def test_end_to_end_capture_task_annotation_webhook_performance(
    labelstudio: LabelStudioInfo, tmp_path: Path
) -> None:
    title = f"e2e {uuid.uuid4().hex[:8]}"
    port = free_port()
    with serve_in_thread(make_upstream()) as upstream:
        doc = settings_doc(
            tmp_path,
            labelstudio.url,
            webhook_url=f"http://127.0.0.1:{port}",
            interval_s=0.3,
        )
        doc["server"]["port"] = port
        doc["monitoring"] = {"enabled": False, "chunk_size": 6}
        doc["models"] = [
            {
                "name": "m",
                "version": "v1",
                "upstream": upstream,
                "task": "regression",
                "schema": {"features": [{"name": "a"}, {"name": "b"}]},
                "labeling": {"project": title},
            }
        ]
        env = {
            "DRIFTSCOPE_LABELING__API_TOKEN": labelstudio.token,
            "DRIFTSCOPE_LABELING__WEBHOOK_SECRET": SECRET,
        }
        serve = ServeProcess(doc, tmp_path, env=env)
        try:
            url = serve.url()
            for k in range(3):  # 3 requests of 2 rows: a + b is the prediction
                rows = [[float(k), 1.0], [float(k), 2.0]]
                body = {
                    "id": f"req-{k}",
                    "inputs": [
                        {
                            "name": "x",
                            "shape": [2, 2],
                            "datatype": "FP64",
                            "data": [v for row in rows for v in row],
                        }
                    ],
                }
                r = httpx.post(
                    f"{url}/v2/models/m/infer", json=body, headers={"X-Request-ID": f"req-{k}"}
                )
                assert r.status_code == 200, r.text
            c = ls_client(labelstudio)
            wait_for(lambda: project_id(c, title) is not None, 30, "the project")
            pid = project_id(c, title)
            assert pid is not None
            wait_for(lambda: len(tasks_of(c, pid)) == 6, 30, "six tasks")
            tasks = tasks_of(c, pid)
            by_key = {(t["data"]["request_id"], t["data"]["row_index"]): t for t in tasks}
            assert set(by_key) == {(f"req-{k}", j) for k in range(3) for j in range(2)}
            for (rid, row), task in by_key.items():
                k = int(rid.split("-")[1])
                assert task["data"]["features"] == {"a": float(k), "b": float(row + 1)}
                (pred,) = task["predictions"]
                assert pred["model_version"] == "v1"
                assert pred["result"][0]["value"] == {"number": float(k + row + 1)}
            hooks = c.get("/api/webhooks", params={"project": pid}).json()
            assert [h["url"] for h in hooks] == [f"{url}/api/v1/labels/webhook/labelstudio"]

            # annotate every task with prediction + 1 through Label Studio's API
            annotation_ids = {}
            for key, task in by_key.items():
                truth = task["predictions"][0]["result"][0]["value"]["number"] + 1
                r = c.post(f"/api/tasks/{task['id']}/annotations", json={"result": number(truth)})
                assert r.status_code == 201, r.text
                annotation_ids[key] = r.json()["id"]
            store = open_store(doc["storage"]["database_url"])
            wait_for(lambda: len(store.list_ground_truth("m")) == 6, 30, "six labels")
            # an update replaces, a deletion removes
            r = c.patch(
                f"/api/annotations/{annotation_ids[('req-0', 0)]}", json={"result": number(4.0)}
            )
            assert r.status_code == 200, r.text
            assert c.delete(f"/api/annotations/{annotation_ids[('req-2', 1)]}").status_code == 204

            def settled() -> bool:
                got = {(g.request_id, g.row_index): g.value for g in store.list_ground_truth("m")}
                return got.get(("req-0", 0)) == 4.0 and ("req-2", 1) not in got

            wait_for(settled, 30, "the update and the deletion")
            labels = {(g.request_id, g.row_index): g for g in store.list_ground_truth("m")}
            assert {g.source for g in labels.values()} == {"labelstudio"}
            assert labels[("req-1", 1)].value == 4.0  # 1 + 2, plus one
            status = {(t.request_id, t.row_index): t.status for t in store.list_label_tasks("m")}
            assert status[("req-2", 1)] == "sent"
            assert sum(s == "labeled" for s in status.values()) == 5

            # realized performance on the joined labels: errors 1, 1, 1, 1 and 3 -> MAE 1.4
            rng = np.random.default_rng(3)
            ref = pd.DataFrame({"a": rng.normal(1, 1, 60), "b": rng.normal(1.5, 0.5, 60)})
            ref["prediction"] = ref["a"] + ref["b"]
            ref["target"] = ref["prediction"] + rng.normal(0, 1, 60)
            api = httpx.Client(base_url=url, timeout=60)
            r = api.post(
                "/api/v1/models/m/reference",
                content=ref.to_csv(index=False).encode(),
                headers={"Content-Type": "text/csv"},
            )
            assert r.status_code == 201, r.text
            r = api.post("/api/v1/models/m/monitoring/run", params={"wait": "true"})
            assert r.status_code == 200, r.text
            res = api.get(
                "/api/v1/models/m/monitoring", params={"method": "realized", "metric": "mae"}
            ).json()["results"]
            (mae,) = [row["value"] for row in res if row["chunk_index"] == 0]
            assert mae == pytest.approx(1.4)
            store.close()
            api.close()
            c.close()
        finally:
            code = serve.terminate()
        assert code == 0, serve.output


def test_projects_webhooks_and_resends_are_idempotent(
    labelstudio: LabelStudioInfo, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    doc = settings_doc(tmp_path, labelstudio.url, webhook_url="http://127.0.0.1:9")
    doc["labeling"]["api_token"] = labelstudio.token
    doc["labeling"]["webhook_secret"] = SECRET
    doc["models"][0]["labeling"]["project"] = f"reg {suffix}"
    doc["models"][1]["labeling"]["project"] = f"clf {suffix}"
    settings = Settings(**doc)
    store = open_store(settings.storage.database_url)
    store.upgrade()
    store.add_records(records(n=3, rows=2))
    clf = [
        Record("clf", f"c{i}", 0, r.timestamp, "v2", {"x": i}, label, {"no": 0.3, "yes": 0.7})
        for i, (r, label) in enumerate(zip(records(n=2), ["yes", "no"], strict=True))
    ]
    store.add_records(clf)
    one, two = LabelingSync(settings, store), LabelingSync(settings, store)
    assert one.sync_pass() == {"m": "sent 6 task(s)", "clf": "sent 2 task(s)"}
    assert two.sync_pass()["m"] == "sent 0 task(s)"  # a replica, or the same after a restart
    assert one.sync_pass()["m"] == "sent 0 task(s)"
    with ls_client(labelstudio) as c:
        pid = project_id(c, f"reg {suffix}")
        assert pid is not None and str(pid) == two.projects["m"]
        assert len(tasks_of(c, pid)) == 6
        assert len(c.get("/api/webhooks", params={"project": pid}).json()) == 1
        clf_id = project_id(c, f"clf {suffix}")
        assert clf_id is not None
        project = c.get(f"/api/projects/{clf_id}").json()
        assert project["parsed_label_config"]["label"]["labels"] == ["no", "yes"]
        preds = {t["data"]["request_id"]: t["predictions"] for t in tasks_of(c, clf_id)}
        assert preds["c0"][0]["result"][0]["value"] == {"choices": ["yes"]}
        assert preds["c0"][0]["score"] == 0.7 and preds["c1"][0]["score"] == 0.3
        assert preds["c1"][0]["model_version"] == "v2"
    one.close()
    two.close()
    store.close()


def test_text_classification_project_and_task(labelstudio: LabelStudioInfo) -> None:
    conf = LabelingSettings(url=labelstudio.url, api_token=labelstudio.token)  # type: ignore[arg-type]
    tool = LabelStudio(conf)
    model = ModelSettings.model_validate(
        {
            "name": "sentiment",
            "version": "v3",
            "upstream": "http://x",
            "task": "text_classification",
            "schema": {"features": [{"name": "review", "type": "text"}], "classes": ["neg", "pos"]},
            "labeling": {"project": f"text {uuid.uuid4().hex[:8]}"},
        }
    )
    project = tool.ensure_project(model, ["neg", "pos"])
    assert tool.ensure_project(model, ["neg", "pos"]) == project  # found, not made again
    rec = Record("sentiment", "t1", 0, records(n=1)[0].timestamp, features={"review": "great"})
    rec.prediction = "pos"
    (sent,) = tool.send(model, project, [rec])
    with ls_client(labelstudio) as c:
        task = c.get(f"/api/tasks/{sent.task_id}").json()
    assert task["data"]["text"] == "great" and task["data"]["request_id"] == "t1"
    assert task["predictions"][0]["result"][0]["to_name"] == "text"
    tool.close()


def test_unsupported_tasks_create_nothing(labelstudio: LabelStudioInfo) -> None:
    conf = LabelingSettings(url=labelstudio.url, api_token=labelstudio.token)  # type: ignore[arg-type]
    tool = LabelStudio(conf)
    title = f"boxes {uuid.uuid4().hex[:8]}"
    model = ModelSettings.model_validate(
        {
            "name": "det",
            "upstream": "http://x",
            "task": "object_detection",
            "labeling": {"project": title},
        }
    )
    with pytest.raises(UnsupportedTaskError, match="not supported yet"):
        tool.ensure_project(model, ["car"])
    with ls_client(labelstudio) as c:
        assert project_id(c, title) is None
    tool.close()
