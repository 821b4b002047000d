"""Labeling tasks in SQL (table ``label_tasks``), mixed into the SQL record store.

The unique key (model, request id, row, tool) makes sending at most once: a sync
run first *claims* records with ``INSERT ... ON CONFLICT DO NOTHING RETURNING``,
so of two runs or replicas racing for one record exactly one gets it back, and
only what it claimed goes to the tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, exists, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from driftscope.errors import ValidationError
from driftscope.storage.base import LABEL_TASK_STATUSES, LabelTaskRow
from driftscope.storage.sql import engine as eng
from driftscope.storage.sql import models as t
from driftscope.types import GroundTruth, Record

#: Keys per IN (...) query.
_KEY_CHUNK = 500
#: Sampling on the record id: (id * _MUL) % _MOD < rate * _MOD. A prime modulus and a
#: multiplier coprime to it spread consecutive ids (one request's rows) over the range;
#: id * _MUL stays far inside 64 bits.
_MUL, _MOD = 7919, 10007


def _now() -> datetime:
    return datetime.now(UTC)


def _check_status(status: str) -> None:
    if status not in LABEL_TASK_STATUSES:
        raise ValidationError(
            f"label task status {status!r} is not one of {', '.join(LABEL_TASK_STATUSES)}"
        )


class LabelTasksMixin:
    """The ``label_tasks`` methods of :class:`~driftscope.storage.base.RecordStore`."""

    if TYPE_CHECKING:  # provided by SQLRecordStore
        dialect: str

        def _tx(self, what: str) -> AbstractContextManager[Connection]: ...

        def query_records(
            self,
            model: str | None = None,
            version: str | None = None,
            start: datetime | None = None,
            end: datetime | None = None,
            limit: int = 100,
            offset: int = 0,
        ) -> list[Record]: ...

    def label_candidates(
        self,
        model: str,
        tool: str,
        *,
        limit: int,
        sample_rate: float = 1.0,
        after: int | None = None,
    ) -> tuple[list[Record], int]:
        r, lt, g = t.records.c, t.label_tasks.c, t.ground_truth.c
        top_stmt = select(func.max(r.id))  # the whole table's: one step down the primary key
        sent = exists().where(
            lt.model == r.model,
            lt.request_id == r.request_id,
            lt.row_index == r.row_index,
            lt.tool == tool,
        )
        labeled = exists().where(
            g.model == r.model, g.request_id == r.request_id, g.row_index == r.row_index
        )
        stmt = select(r.request_id, r.row_index, r.ts).where(r.model == model, ~sent, ~labeled)
        if after is not None:
            stmt = stmt.where(r.id > after)
        if sample_rate < 1:
            stmt = stmt.where((r.id * _MUL) % _MOD < int(round(sample_rate * _MOD)))
        stmt = stmt.order_by(r.ts.desc(), r.id.desc()).limit(max(limit, 0))
        with self._tx("label_candidates") as conn:
            top = int(conn.execute(top_stmt).scalar_one() or 0)
            if sample_rate <= 0 or limit <= 0:
                return [], top
            keys = [(str(rid), int(row), ts) for rid, row, ts in conn.execute(stmt).all()]
        # the rows themselves through query_records, one exact timestamp (usually one
        # request) at a time: how features are stored stays the record store's business
        wanted = {(rid, row) for rid, row, _ in keys}
        found: dict[tuple[str, int], Record] = {}
        for ts in dict.fromkeys(ts for _, _, ts in keys):
            for rec in self.query_records(
                model, start=ts, end=ts + timedelta(microseconds=1), limit=100_000
            ):
                if (rec.request_id, rec.row_index) in wanted:
                    found[(rec.request_id, rec.row_index)] = rec
        return [found[(rid, row)] for rid, row, _ in keys if (rid, row) in found], top

    def claim_label_tasks(
        self, model: str, tool: str, project: str, keys: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return []
        now = _now()
        rows = [
            {
                "model": model,
                "request_id": rid,
                "row_index": row,
                "tool": tool,
                "project": project,
                "task_id": None,
                "status": "pending",
                "created_at": now,
                "updated_at": now,
            }
            for rid, row in sorted(unique)  # one key order: concurrent claims cannot deadlock
        ]
        c = t.label_tasks.c
        stmt = eng.insert_ignore(
            t.label_tasks, self.dialect, ["model", "request_id", "row_index", "tool"]
        ).returning(c.request_id, c.row_index)
        with self._tx("claim_label_tasks") as conn:
            claimed = {(str(rid), int(row)) for rid, row in conn.execute(stmt, rows).all()}
        return [k for k in unique if k in claimed]

    def mark_label_tasks(
        self,
        model: str,
        tool: str,
        keys: Sequence[tuple[str, int]],
        status: str,
        task_ids: Sequence[str | None] | None = None,
    ) -> int:
        _check_status(status)
        if task_ids is not None and len(task_ids) != len(keys):
            raise ValidationError("mark_label_tasks: one task id per key")
        c = t.label_tasks.c
        now = _now()
        changed = 0
        with self._tx("mark_label_tasks") as conn:
            if task_ids is None:
                unique = list(dict.fromkeys(keys))
                for start in range(0, len(unique), _KEY_CHUNK):
                    part = unique[start : start + _KEY_CHUNK]
                    stmt = (
                        t.label_tasks.update()
                        .where(
                            c.model == model,
                            c.tool == tool,
                            tuple_(c.request_id, c.row_index).in_(part),
                        )
                        .values(status=status, updated_at=now)
                    )
                    changed += conn.execute(stmt).rowcount
                return changed
            for (rid, row), task_id in zip(keys, task_ids, strict=True):
                values: dict[str, Any] = {"status": status, "updated_at": now}
                if task_id is not None:
                    values["task_id"] = task_id
                stmt = (
                    t.label_tasks.update()
                    .where(
                        c.model == model,
                        c.tool == tool,
                        c.request_id == rid,
                        c.row_index == row,
                    )
                    .values(values)
                )
                changed += conn.execute(stmt).rowcount
        return changed

    def release_label_tasks(self, model: str, tool: str, keys: Sequence[tuple[str, int]]) -> int:
        c = t.label_tasks.c
        unique = list(dict.fromkeys(keys))
        gone = 0
        with self._tx("release_label_tasks") as conn:
            for start in range(0, len(unique), _KEY_CHUNK):
                part = unique[start : start + _KEY_CHUNK]
                stmt = t.label_tasks.delete().where(
                    c.model == model,
                    c.tool == tool,
                    c.status == "pending",
                    tuple_(c.request_id, c.row_index).in_(part),
                )
                gone += conn.execute(stmt).rowcount
        return gone

    def list_label_tasks(
        self,
        model: str | None = None,
        *,
        tool: str | None = None,
        project: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LabelTaskRow]:
        c = t.label_tasks.c
        conds = [
            cond
            for value, cond in (
                (model, c.model == model),
                (tool, c.tool == tool),
                (project, c.project == project),
                (status, c.status == status),
            )
            if value is not None
        ]
        stmt = select(t.label_tasks).order_by(c.created_at, c.id).limit(limit).offset(offset)
        if conds:
            stmt = stmt.where(and_(*conds))
        with self._tx("list_label_tasks") as conn:
            rows = conn.execute(stmt).all()
        return [
            LabelTaskRow(
                model=r.model,
                request_id=r.request_id,
                row_index=r.row_index,
                tool=r.tool,
                project=r.project,
                status=r.status,
                task_id=r.task_id,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    def count_label_tasks(self, model: str | None = None) -> dict[str, dict[str, int]]:
        c = t.label_tasks.c
        stmt = select(c.model, c.status, func.count()).group_by(c.model, c.status)
        if model is not None:
            stmt = stmt.where(c.model == model)
        out: dict[str, dict[str, int]] = {}
        with self._tx("count_label_tasks") as conn:
            for m, status, n in conn.execute(stmt).all():
                out.setdefault(str(m), {})[str(status)] = int(n)
        return out

    def put_newer_ground_truth(self, items: Sequence[GroundTruth]) -> int:
        if not items:
            return 0
        now = _now()
        latest: dict[tuple[str, str, int], dict[str, Any]] = {}
        for g in items:
            row = {
                "model": g.model,
                "request_id": g.request_id,
                "row_index": g.row_index,
                "value": g.value,
                "ts": g.timestamp or now,
                "source": g.source,
            }
            key = (g.model, g.request_id, g.row_index)
            if key not in latest or latest[key]["ts"] <= row["ts"]:
                latest[key] = row
        mod = sqlite if self.dialect == "sqlite" else postgresql
        ins = mod.insert(t.ground_truth)
        stmt = ins.on_conflict_do_update(
            index_elements=["model", "request_id", "row_index"],
            set_={c: ins.excluded[c] for c in ("value", "ts", "source")},
            where=t.ground_truth.c.ts <= ins.excluded.ts,
        ).returning(t.ground_truth.c.id)  # rows written (psycopg's rowcount says -1 here)
        written = 0
        with self._tx("put_newer_ground_truth") as conn:
            for row in sorted(latest.values(), key=lambda r: (r["request_id"], r["row_index"])):
                written += len(conn.execute(stmt, row).all())
        return written

    def delete_ground_truth(
        self, model: str, keys: Sequence[tuple[str, int]], *, source: str | None = None
    ) -> int:
        c = t.ground_truth.c
        unique = list(dict.fromkeys(keys))
        gone = 0
        with self._tx("delete_ground_truth") as conn:
            for start in range(0, len(unique), _KEY_CHUNK):
                part = unique[start : start + _KEY_CHUNK]
                stmt = t.ground_truth.delete().where(
                    c.model == model, tuple_(c.request_id, c.row_index).in_(part)
                )
                if source is not None:
                    stmt = stmt.where(c.source == source)
                gone += conn.execute(stmt).rowcount
        return gone
