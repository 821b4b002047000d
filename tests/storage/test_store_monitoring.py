"""Monitoring runs and alert dedup by key, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from driftscope.storage import AlertRow

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _alert(key: str | None, value: float = 1.0) -> AlertRow:
    return AlertRow(model="m", timestamp=T0, rule="threshold", message="x", value=value, key=key)


def test_alerts_are_stored_once_per_key(store):
    assert store.add_alerts([_alert("k1"), _alert("k2"), _alert("k1", 2.0), _alert(None)]) == 3
    assert store.add_alerts([_alert("k1"), _alert("k3"), _alert(None)]) == 2
    got = store.list_alerts("m", limit=100)
    assert sorted(a.key or "" for a in got) == ["", "", "k1", "k2", "k3"]
    assert [a.value for a in got if a.key == "k1"] == [1.0]  # the first one is kept
    # the same key of another model is another alert
    other = AlertRow(model="n", timestamp=T0, rule="threshold", message="x", key="k1")
    assert store.add_alerts([other]) == 1


def test_runs_round_trip(store):
    first = store.start_run("m", "schedule", T0)
    second = store.start_run("m", "api", T0 + timedelta(minutes=1))
    store.finish_run(
        first,
        status="failed",
        finished_at=T0 + timedelta(seconds=5),
        error="no reference",
    )
    runs = store.list_runs("m")
    assert [(r.id, r.status, r.trigger) for r in runs] == [
        (second, "running", "api"),
        (first, "failed", "schedule"),
    ]
    assert runs[1].error == "no reference" and runs[1].finished_at == T0 + timedelta(seconds=5)
    store.finish_run(
        second,
        status="succeeded",
        finished_at=T0 + timedelta(minutes=2),
        records=10,
        results=40,
        alerts=2,
        details={"notes": ["a"]},
    )
    done = store.list_runs("m", limit=1)[0]
    assert (done.status, done.records, done.results, done.alerts) == ("succeeded", 10, 40, 2)
    assert done.details == {"notes": ["a"]}
    assert store.list_runs("other") == []
