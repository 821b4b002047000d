"""The sending side: sampled new records become tasks once, across runs and replicas."""

from __future__ import annotations

import pytest

from driftscope.config.settings import Settings
from driftscope.labeling import AnnotationsDeleted, Labeled
from driftscope.service.labeling import (
    SECRET_HEADER,
    LabelingSync,
    apply_event,
    labeling_models,
    reconcile,
)
from driftscope.storage import RecordStore
from driftscope.types import GroundTruth

from .conftest import SECRET, records
from .fakes import FakeTool


def make(settings: Settings, store: RecordStore) -> tuple[LabelingSync, FakeTool]:
    assert settings.labeling is not None
    tool = FakeTool(settings.labeling)
    return LabelingSync(settings, store, tool), tool


@pytest.fixture
def settings(labeling_settings: Settings) -> Settings:
    doc = labeling_settings.model_dump(mode="python", by_alias=True)
    doc["labeling"].update(max_tasks_per_run=4, webhook_url="http://ds:8000")
    doc["labeling"]["api_token"] = "t"
    doc["labeling"]["webhook_secret"] = SECRET
    return Settings(**doc)


def test_sends_each_record_once_over_runs_and_replicas(
    settings: Settings, store: RecordStore
) -> None:
    store.add_records(records(n=10))
    one, tool_a = make(settings, store)
    two, tool_b = make(settings, store)  # a second replica on the same database
    assert one.sync_pass() == {"m": "sent 4 task(s)", "clf": "sent 0 task(s)"}
    assert two.sync_pass()["m"] == "sent 4 task(s)"
    assert one.sync_pass()["m"] == "sent 2 task(s)"
    assert two.sync_pass()["m"] == "sent 0 task(s)"
    sent = [(t["data"]["request_id"], t["data"]["row_index"]) for t in tool_a.tasks + tool_b.tasks]
    assert sorted(sent) == sorted((r.request_id, r.row_index) for r in records(n=10))
    rows = store.list_label_tasks("m", limit=100)
    assert len(rows) == 10 and {r.status for r in rows} == {"sent"}
    assert all(r.task_id is not None and r.project == "1" for r in rows)
    # newest first, with the prediction as pre-annotation
    assert tool_a.tasks[0]["data"]["request_id"] == "r9"
    assert tool_a.tasks[0]["predictions"][0]["result"][0]["value"] == {"number": 9.0}
    assert tool_a.webhooks[0] == (
        "1",
        "http://ds:8000/api/v1/labels/webhook/labelstudio",
        {SECRET_HEADER: SECRET},
    )
    # a restart (a new sync on the same database) sends nothing again
    three, tool_c = make(settings, store)
    assert three.sync_pass()["m"] == "sent 0 task(s)" and tool_c.tasks == []


def test_a_failed_send_is_retried_next_run(settings: Settings, store: RecordStore) -> None:
    store.add_records(records(n=3))
    sync, tool = make(settings, store)
    tool.fail_next = True
    assert sync.sync_pass()["m"].startswith("failed: Label Studio is down")
    assert store.list_label_tasks("m") == []  # claims released
    assert sync.sync_pass()["m"] == "sent 3 task(s)"


def test_records_with_ground_truth_are_not_sent(settings: Settings, store: RecordStore) -> None:
    store.add_records(records(n=3))
    store.put_ground_truth([GroundTruth(model="m", request_id="r1", row_index=0, value=1.0)])
    sync, tool = make(settings, store)
    sync.sync_pass()
    assert sorted(t["data"]["request_id"] for t in tool.tasks) == ["r0", "r2"]


def test_unsupported_tasks_fail_clearly(settings: Settings, store: RecordStore) -> None:
    doc = settings.model_dump(mode="python", by_alias=True)
    doc["models"][0]["task"] = "object_detection"
    sync, _ = make(Settings(**doc), store)
    assert "'object_detection' (model 'm') is not supported yet" in sync.sync_pass()["m"]


def test_only_models_opting_in(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = settings.model_dump(mode="python", by_alias=True)
    doc["models"][1]["labeling"] = {"enabled": False}
    assert [m.name for m in labeling_models(Settings(**doc))] == ["m"]
    doc.pop("labeling")
    monkeypatch.delenv("DRIFTSCOPE_LABELING__API_TOKEN")
    monkeypatch.delenv("DRIFTSCOPE_LABELING__WEBHOOK_SECRET")
    with pytest.raises(ValueError, match="no 'labeling' section"):
        Settings(**doc)


def test_events_write_replace_and_reconcile(settings: Settings, store: RecordStore) -> None:
    store.add_records(records(n=2))
    sync, tool = make(settings, store)
    sync.sync_pass()
    task_of = {r.request_id: r.task_id for r in store.list_label_tasks("m")}
    ev = Labeled(model="m", request_id="r0", row_index=0, value=3.0, project="1", task_id="x")
    apply_event(store, settings, ev)
    apply_event(store, settings, ev)  # a replayed webhook: one row, same value
    (gt,) = store.list_ground_truth("m")
    assert (gt.value, gt.source) == (3.0, "labelstudio")
    apply_event(store, settings, Labeled("m", "r0", 0, 4.0, "1", task_of["r0"]))  # an update
    assert [g.value for g in store.list_ground_truth("m")] == [4.0]
    apply_event(store, settings, Labeled("m", "r1", 0, 7.0, "1", task_of["r1"]))
    status = {r.request_id: r.status for r in store.list_label_tasks("m")}
    assert status == {"r0": "labeled", "r1": "labeled"}
    # r0's annotation deleted in the tool, r1's still there
    tool.labels = {task_of["r0"]: None, task_of["r1"]: 7.0}
    assert reconcile(store, tool, "1") == 1
    assert [(g.request_id, g.value) for g in store.list_ground_truth("m")] == [("r1", 7.0)]
    status = {r.request_id: r.status for r in store.list_label_tasks("m")}
    assert status == {"r0": "sent", "r1": "labeled"}
    assert isinstance(AnnotationsDeleted("1", ["5"]), AnnotationsDeleted)


def test_caught_up_passes_look_only_at_new_records(settings: Settings, store: RecordStore) -> None:
    store.add_records(records(n=2))
    sync, tool = make(settings, store)
    for _ in range(3):
        sync.sync_pass()
    assert "m" in sync.after and len(tool.tasks) == 2
    store.add_records(records(n=2, prefix="new"))  # same (old) timestamps, stored later
    assert sync.sync_pass()["m"] == "sent 2 task(s)"
    assert sorted(t["data"]["request_id"] for t in tool.tasks[2:]) == ["new0", "new1"]
