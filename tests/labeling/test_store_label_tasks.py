"""label_tasks in the SQL store: candidates, exclusive claims, status, release, sampling."""

from __future__ import annotations

import threading

from driftscope.storage import RecordStore
from driftscope.types import GroundTruth

from .conftest import records

TOOL = "labelstudio"


def cands(store: RecordStore, *args: object, **kw: object) -> list:
    return store.label_candidates(*args, **kw)[0]  # type: ignore[arg-type]


def keys(recs: list) -> list[tuple[str, int]]:
    return [(r.request_id, r.row_index) for r in recs]


def test_candidates_newest_first_without_sent_or_labeled(store: RecordStore) -> None:
    store.add_records(records(n=6, rows=2))
    store.add_records(records(model="other", n=3))
    got = cands(store, "m", TOOL, limit=100)
    assert len(got) == 12 and all(r.model == "m" for r in got)
    assert [r.timestamp for r in got] == sorted((r.timestamp for r in got), reverse=True)
    assert got[0].features == {"a": 5.0, "b": 0.5} and got[0].prediction == 5.5
    assert len(cands(store, "m", TOOL, limit=3)) == 3

    store.put_ground_truth([GroundTruth(model="m", request_id="r0", row_index=0, value=1.0)])
    claimed = store.claim_label_tasks("m", TOOL, "7", [("r5", 0), ("r5", 1)])
    assert claimed == [("r5", 0), ("r5", 1)]
    left = set(keys(cands(store, "m", TOOL, limit=100)))
    assert ("r0", 0) not in left and ("r5", 0) not in left and len(left) == 9
    # another tool has its own tasks
    assert len(cands(store, "m", "othertool", limit=100)) == 11


def test_claims_are_exclusive_and_marked(store: RecordStore) -> None:
    store.add_records(records(n=4))
    ks = keys(records(n=4))
    first = store.claim_label_tasks("m", TOOL, "1", ks[:3])
    second = store.claim_label_tasks("m", TOOL, "1", ks)
    assert first == ks[:3] and second == [ks[3]]
    assert store.claim_label_tasks("m", TOOL, "1", ks) == []
    rows = store.list_label_tasks("m", tool=TOOL)
    assert {r.status for r in rows} == {"pending"} and len(rows) == 4

    assert store.mark_label_tasks("m", TOOL, ks[:2], "sent", ["11", "12"]) == 2
    assert store.mark_label_tasks("m", TOOL, ks[:1], "labeled") == 1
    by_key = {(r.request_id, r.row_index): r for r in store.list_label_tasks("m")}
    assert by_key[ks[0]].status == "labeled" and by_key[ks[0]].task_id == "11"
    assert by_key[ks[1]].status == "sent" and by_key[ks[1]].task_id == "12"
    assert store.count_label_tasks("m") == {"m": {"labeled": 1, "sent": 1, "pending": 2}}
    assert len(store.list_label_tasks(status="pending", project="1")) == 2

    # only pending claims are released
    assert store.release_label_tasks("m", TOOL, ks) == 2
    assert {r.status for r in store.list_label_tasks("m")} == {"labeled", "sent"}
    assert set(keys(cands(store, "m", TOOL, limit=10))) == set(ks[2:])


def test_concurrent_claims_give_each_key_once(store: RecordStore) -> None:
    store.add_records(records(n=50))
    ks = keys(records(n=50))
    got: list[list[tuple[str, int]]] = []

    def claim(order: list[tuple[str, int]]) -> None:
        got.append(store.claim_label_tasks("m", TOOL, "1", order))

    threads = [threading.Thread(target=claim, args=(ks[::step],)) for step in (1, -1, 1, -1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [k for part in got for k in part]
    assert sorted(flat) == sorted(ks)


def test_sampling_is_deterministic_and_close_to_the_rate(store: RecordStore) -> None:
    store.add_records(records(n=400, rows=5))
    a = keys(cands(store, "m", TOOL, limit=10_000, sample_rate=0.2))
    b = keys(cands(store, "m", TOOL, limit=10_000, sample_rate=0.2))
    assert a == b and 300 <= len(a) <= 500  # 2000 rows at 20 %
    assert cands(store, "m", TOOL, limit=10, sample_rate=0.0) == []
    # rows of one request are spread, not all in or all out together
    per_request: dict[str, int] = {}
    for rid, _ in a:
        per_request[rid] = per_request.get(rid, 0) + 1
    assert max(per_request.values()) < 5


def test_delete_ground_truth_by_source(store: RecordStore) -> None:
    store.put_ground_truth(
        [
            GroundTruth(model="m", request_id="a", row_index=0, value=1, source="labelstudio"),
            GroundTruth(model="m", request_id="b", row_index=0, value=2, source="api"),
        ]
    )
    assert store.delete_ground_truth("m", [("a", 0), ("b", 0)], source="labelstudio") == 1
    assert [g.request_id for g in store.list_ground_truth("m")] == ["b"]
    assert store.delete_ground_truth("m", [("b", 0)]) == 1
    assert store.list_ground_truth("m") == []


def test_after_a_mark_only_records_stored_since(store: RecordStore) -> None:
    store.add_records(records(n=3))
    got, mark = store.label_candidates("m", TOOL, limit=10)
    assert len(got) == 3 and mark > 0
    assert store.label_candidates("m", TOOL, limit=10, after=mark) == ([], mark)
    # a late record with an old timestamp is still after the mark: stored later
    late = records(n=1, prefix="late")
    store.add_records(late)
    got, newer = store.label_candidates("m", TOOL, limit=10, after=mark)
    assert keys(got) == [("late0", 0)] and newer > mark
    assert store.label_candidates("m", TOOL, limit=0)[0] == []


def test_newer_ground_truth_never_goes_back_in_time(store: RecordStore) -> None:
    t1, t2 = records(n=2)[0].timestamp, records(n=2)[1].timestamp

    def gt(value: float, ts: object) -> GroundTruth:
        return GroundTruth("m", "a", 0, value, timestamp=ts, source="labelstudio")  # type: ignore[arg-type]

    assert store.put_newer_ground_truth([gt(1.0, t1)]) == 1
    assert store.put_newer_ground_truth([gt(2.0, t2)]) == 1
    assert store.put_newer_ground_truth([gt(3.0, t1)]) == 0  # older: kept as it is
    assert store.put_newer_ground_truth([gt(2.5, t2)]) == 1  # same time: a replay or a fix
    assert [g.value for g in store.list_ground_truth("m")] == [2.5]
    assert store.put_newer_ground_truth([gt(7.0, t1), gt(8.0, t2)]) == 1  # in one batch too
    assert [g.value for g in store.list_ground_truth("m")] == [8.0]
