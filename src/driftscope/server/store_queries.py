"""Three read queries the API needs that ``RecordStore`` does not declare (yet).

Each uses the store's own method when it has one (``missing_record_keys``,
``list_ground_truth``, ``count_capture_errors``), else reads the SQL schema of
``driftscope.storage.sql`` through the store's engine (its ``_tx`` gives the
same error handling as the store's own queries). Another store without them
raises :class:`~driftscope.errors.PluginError`. They belong in ``RecordStore``;
once it has them this module only forwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_

from driftscope.errors import PluginError
from driftscope.storage.base import RecordStore
from driftscope.types import GroundTruth

_CHUNK = 500


def _sql(store: RecordStore, what: str) -> Any:
    from driftscope.storage.sql.repo import SQLRecordStore

    if not isinstance(store, SQLRecordStore):
        raise PluginError(f"the {type(store).__name__} record store cannot {what}")
    return store


def missing_record_keys(
    store: RecordStore, model: str, keys: Sequence[tuple[str, int]]
) -> list[tuple[str, int]]:
    """The (request_id, row_index) keys of ``model`` with no stored record, in input order."""
    own = getattr(store, "missing_record_keys", None)
    if own is not None:
        return list(own(model, keys))
    from driftscope.storage.sql import models as t

    sql = _sql(store, "look records up by key")
    c = t.records.c
    found: set[tuple[str, int]] = set()
    unique = list(dict.fromkeys(keys))
    with sql._tx("missing_record_keys") as conn:
        for start in range(0, len(unique), _CHUNK):
            part = unique[start : start + _CHUNK]
            stmt = select(c.request_id, c.row_index).where(
                c.model == model, tuple_(c.request_id, c.row_index).in_(part)
            )
            found.update((r, int(i)) for r, i in conn.execute(stmt))
    return [k for k in unique if k not in found]


def list_ground_truth(
    store: RecordStore, model: str | None = None, limit: int = 100, offset: int = 0
) -> list[GroundTruth]:
    """Ground truth ordered by time then key."""
    own = getattr(store, "list_ground_truth", None)
    if own is not None:
        return list(own(model=model, limit=limit, offset=offset))
    from driftscope.storage.sql import models as t

    sql = _sql(store, "list ground truth")
    c = t.ground_truth.c
    stmt = select(t.ground_truth).order_by(c.ts, c.id).limit(limit).offset(offset)
    if model is not None:
        stmt = stmt.where(c.model == model)
    with sql._tx("list_ground_truth") as conn:
        rows = conn.execute(stmt).all()
    return [
        GroundTruth(
            model=r.model,
            request_id=r.request_id,
            row_index=r.row_index,
            value=r.value,
            timestamp=r.ts,
            source=r.source,
        )
        for r in rows
    ]


def count_capture_errors(store: RecordStore) -> dict[str, int]:
    """Capture errors kept in the database, per model."""
    own = getattr(store, "count_capture_errors", None)
    if own is not None:
        return dict(own())
    from driftscope.storage.sql import models as t

    sql = _sql(store, "count capture errors")
    c = t.capture_errors.c
    with sql._tx("count_capture_errors") as conn:
        rows = conn.execute(select(c.model, func.count()).group_by(c.model)).all()
    return {str(m): int(n) for m, n in rows}
