"""Engines for SQLite and PostgreSQL, and the dialect-specific upsert statements."""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from driftscope.errors import StorageError
from driftscope.storage.sql.typed import FeatureEncoder, encode_values
from driftscope.types import Record

DIALECTS = ("sqlite", "postgresql")
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
array_d = partial(array, "d")


def _dumps(obj: Any) -> str:
    # NaN / inf become JSON null: PostgreSQL refuses the bare NaN the json module writes
    return orjson.dumps(obj, option=_JSON_OPTIONS).decode()


def _loads(value: Any) -> Any:
    # SQLite gives JSON columns NUMERIC affinity: a bare number comes back as a number
    if isinstance(value, int | float):
        return value
    return orjson.loads(value)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory databases and other dialects)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or u.query.get("mode") == "memory" or db.startswith("file:"):
        return None
    return Path(db)


def make_engine(url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 5) -> Engine:
    """A pooled engine; SQLite gets WAL, a busy timeout and ``synchronous=NORMAL``."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend not in DIALECTS:
        raise StorageError(
            f"unsupported database {backend!r} in {u.render_as_string(hide_password=True)!r}; "
            f"valid: {', '.join(DIALECTS)}"
        )
    kwargs: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": _loads}
    if backend == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
        kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
        engine = create_engine(u, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if path is not None:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.update(pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
    return create_engine(u, **kwargs)


def insert_ignore(table: Table, dialect: str, keys: list[str]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` for the dialect."""
    mod = sqlite if dialect == "sqlite" else postgresql
    return mod.insert(table).on_conflict_do_nothing(index_elements=keys)


def upsert(table: Table, dialect: str, keys: list[str], update: list[str]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update = excluded.update``."""
    mod = sqlite if dialect == "sqlite" else postgresql
    stmt = mod.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in update}
    )


def file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


RECORD_COLUMNS = (
    "model", "model_version", "request_id", "row_index", "ts", "features", "feature_layout",
    "feature_values", "prediction", "scores", "inputs", "latency_ms", "status", "error",
)  # fmt: skip
#: PostgreSQL types of RECORD_COLUMNS for binary COPY. The json columns are sent as
#: ``text``: json's binary wire format is its text, and psycopg's json dumper would
#: serialise our (already serialised) strings once more
_PG_TYPES = [
    "text", "text", "text", "int4", "timestamptz", "text", "int8",
    "bytea", "text", "text", "text", "float8", "int4", "text",
]  # fmt: skip


def records_insert_sql(dialect: str) -> str:
    """The driver-level ``INSERT ... ON CONFLICT DO NOTHING`` for records (hot path)."""
    cols = ", ".join(RECORD_COLUMNS)
    marks = ", ".join(["?" if dialect == "sqlite" else "%s"] * len(RECORD_COLUMNS))
    return (
        f"INSERT INTO records ({cols}) VALUES ({marks}) "
        "ON CONFLICT (model, request_id, row_index) DO NOTHING"
    )


def sqlite_ts(value: datetime) -> str:
    """A UTC time in the text format SQLAlchemy's SQLite DateTime reads and compares."""
    v = value.astimezone(UTC) if value.tzinfo else value
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
    )


def layouts_insert_sql(dialect: str) -> str:
    """``INSERT ... ON CONFLICT DO NOTHING`` of (id, layout JSON text) into feature_layouts."""
    marks = "?, ?" if dialect == "sqlite" else "%s, %s"
    return f"INSERT INTO feature_layouts (id, layout) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"


def record_params(
    records: Sequence[Record],
    dialect: str,
    encoder: FeatureEncoder | None = None,
    layouts_used: set[int] | None = None,
) -> list[tuple[Any, ...]]:
    """Driver parameters for :func:`records_insert_sql`, JSON serialised once with orjson.

    With an ``encoder``, numeric feature rows are typed (``feature_layout``,
    ``feature_values``; see :mod:`typed`) and ``features`` is NULL; other rows keep JSON;
    the ids of the layouts used are added to ``layouts_used``.
    The hot loop of ingest: names are bound locally, and the rows of one request share
    their timestamp object, so its conversion is done once per request, not per row.
    """
    dumps, opt = orjson.dumps, _JSON_OPTIONS
    sqlite_dialect = dialect == "sqlite"
    patterns: dict[Any, Any] = {} if encoder is None else encoder.patterns
    pattern = None if encoder is None else encoder.pattern
    used_add = (set() if layouts_used is None else layouts_used).add
    out: list[tuple[Any, ...]] = []
    append = out.append
    last_ts: Any = None
    ts: Any = None
    last_names: tuple[Any, ...] | None = None
    last_types: tuple[type, ...] | None = None
    last_pat: Any = None
    for r in records:
        t = r.timestamp
        if t is not last_ts:
            last_ts = t
            if sqlite_dialect:
                ts = sqlite_ts(t)
            else:
                ts = t if t.tzinfo else t.replace(tzinfo=UTC)
        feats, lat = r.features, r.latency_ms
        pred, scores, inputs = r.prediction, r.scores, r.inputs
        typed: tuple[int, bytes] | None = None
        if pattern is not None and feats:
            vals = list(feats.values())
            names, types = tuple(feats), tuple(map(type, vals))
            # the rows of one request share names and types: tuple equality (identity of
            # the same str and type objects) is cheaper than hashing them for the lookup
            if names != last_names or types != last_types:
                last_names, last_types = names, types
                last_pat = patterns.get((names, types)) or pattern(names, types)
                if last_pat is not None:
                    used_add(last_pat.id)
            pat = last_pat
            if pat is not None:
                if pat.plain:  # all floats, little-endian host: no checks, no copies
                    typed = pat.id, array_d(vals).tobytes()
                else:
                    typed = encode_values(pat, vals)
        if typed is None:
            fjson: str | None = dumps(feats, option=opt).decode()
            layout: int | None = None
            packed: bytes | None = None
        else:
            fjson = None
            layout, packed = typed
        append(
            (
                r.model,
                r.model_version,
                r.request_id,
                r.row_index,
                ts,
                fjson,
                layout,
                packed,
                None if pred is None else dumps(pred, option=opt).decode(),
                None if scores is None else dumps(scores, option=opt).decode(),
                dumps([b.to_dict() for b in inputs], option=opt).decode() if inputs else None,
                # binary COPY wants the column's own type
                lat if lat is None or type(lat) is float else float(lat),
                r.status,
                r.error,
            )
        )
    return out


#: binary COPY framing (PostgreSQL docs, "COPY ... Binary Format")
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags 0, no extension
_COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"  # a field of length -1
_FIELDS = len(RECORD_COLUMNS).to_bytes(2, "big")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_len = struct.Struct(">i").pack
_int4 = struct.Struct(">ii").pack  # length 4, value
_int8 = struct.Struct(">iq").pack  # length 8, value
_float8 = struct.Struct(">id").pack  # length 8, value


def _pg_text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode()
    return _len(len(data)) + data


def _pg_json(value: Any, dumps: Any = orjson.dumps, opt: int = _JSON_OPTIONS) -> bytes:
    # a new, small object: orjson's own result sits in a 1 KB allocation, and thousands
    # of those kept alive until the join cost more than the serialisation (page faults)
    data: bytes = dumps(value, option=opt)
    return _len(len(data)) + data


#: a block of fewer rows (of floats) is encoded row by row, not column by column
_SMALL_BLOCK = 8
#: at most this many distinct predictions' encoded fields kept per COPY stream
_PRED_CACHE = 4096


def _pred_fields(preds: Sequence[Any], cache: dict[Any, bytes]) -> list[bytes]:
    """The prediction fields of a block's rows. Labels repeat: an int's or a str's field is
    encoded once per stream (``cache``; the type test keeps 1, True and 1.0 apart)."""
    out: list[bytes] = []
    add, json, null = out.append, _pg_json, _NULL
    for p in preds:
        if p is None:
            add(null)
            continue
        kind = type(p)
        if kind is int or kind is str:
            field = cache.get(p)
            if field is None:
                field = json(p)
                if len(cache) < _PRED_CACHE:
                    cache[p] = field
            add(field)
        else:
            add(json(p))
    return out


def _score_template(keys: Any) -> bytes | None:
    """``{"k1":%b,"k2":%b}`` for str class names ``keys`` (``%`` in them doubled)."""
    if not keys or not all(type(k) is str for k in keys):
        return None
    template = b"{" + b",".join(orjson.dumps(k).replace(b"%", b"%%") + b":%b" for k in keys)
    return template + b"}"


def _score_fields(scores: Any, n: int, templates: dict[int, Any]) -> list[bytes] | None:
    """The scores fields of ``n`` rows of ``codecs.base.ScoreRows`` of floats with str
    class names, without a dict per row: orjson writes every row's values in one call
    and each row's object is put together from its values' text (a float's text holds
    no ``,``, ``[`` or ``]``). Byte for byte what ``_pg_json`` of the row's dict gives
    (tested); None where that does not hold (the caller encodes row by row).
    ``templates``: by ``id`` of the class names object, with that object (the blocks of
    one model share it), so a stream builds each template once."""
    keys = scores.keys
    known = templates.get(id(keys))
    if known is not None and known[0] is keys:
        template = known[1]
    else:
        template = _score_template(keys)
        templates[id(keys)] = (keys, template)  # holding keys: its id is not reused
    if template is None:
        return None
    rows = scores.rows
    if len(rows) != n:
        return None
    pieces = orjson.dumps(rows)[2:-2].split(b"],[")
    if len(pieces) != n:
        return None
    try:
        texts = [template % tuple(p.split(b",")) for p in pieces]
    except TypeError:  # a row without one value per class name
        return None
    size = _len
    return [size(len(t)) + t for t in texts]


class RowBlock(Protocol):
    """A block of rows of one request (``driftscope.codecs.base.RecordRows``): row ``i``
    is record ``row_index + i`` with features ``dict(zip(names, values[i]))``."""

    model: str
    request_id: str
    row_index: int
    timestamp: datetime
    model_version: str | None
    names: tuple[str, ...]
    values: Sequence[list[Any]]
    floats: bool
    predictions: Sequence[Any] | None
    scores: Sequence[Any] | None
    latency_ms: float | None
    status: int | None
    error: str | None

    def __len__(self) -> int: ...

    def records(self) -> list[Record]: ...


def pg_copy_data(
    records: Sequence[Record | RowBlock],
    encoder: FeatureEncoder | None = None,
    layouts_used: set[int] | None = None,
) -> bytes:
    """The whole binary COPY stream of ``records`` into RECORD_COLUMNS (``_PG_TYPES``).

    The same rows :func:`record_params` gives the driver, encoded here in one go: the
    fields a request's rows share (model, version, request id, time, latency, status,
    error: the same objects in every row of one request) are encoded once per request,
    JSON goes out as orjson's bytes, typed features as their packed values. ``records``
    may hold :class:`RowBlock` blocks for their records (a block of floats with one
    layout is packed row by row with no per-row check). No database access, so ingest
    runs it while another batch is written. Raises StorageError for a value its column
    cannot hold (an int beyond int4, say).
    """
    patterns: dict[Any, Any] = {} if encoder is None else encoder.patterns
    pattern = None if encoder is None else encoder.pattern
    used_add = (set() if layouts_used is None else layouts_used).add
    int4, text, json, null = _int4, _pg_text, _pg_json, _NULL
    parts: list[bytes] = [_COPY_HEADER]
    add, extend = parts.append, parts.extend
    model: Any = _NULL  # never a record's value: the first record sets the shared fields
    version = rid = ts = lat = status = err = model
    head = ts_field = tail = b""
    last_names: tuple[Any, ...] | None = None
    last_types: tuple[type, ...] | None = None
    last_pat: Any = None
    typed_head = b""
    pred_cache: dict[Any, bytes] = {}
    templates: dict[int, Any] = {}

    def features(feats: dict[str, Any]) -> None:
        """The features, feature_layout and feature_values fields of one row."""
        nonlocal last_names, last_types, last_pat, typed_head
        if pattern is not None and feats:
            vals = list(feats.values())
            names, types = tuple(feats), tuple(map(type, vals))
            # the rows of one request share names and types: tuple equality (identity
            # of the same str and type objects) is cheaper than hashing them
            if names != last_names or types != last_types:
                last_names, last_types = names, types
                last_pat = patterns.get((names, types)) or pattern(names, types)
                if last_pat is not None:
                    used_add(last_pat.id)
                    # features NULL, the layout id, the length of the packed values
                    typed_head = null + _int8(8, last_pat.id) + _len(8 * len(vals))
            pat = last_pat
            if pat is not None:
                if pat.plain:  # all floats, little-endian host: no checks, no copies
                    add(typed_head)
                    add(array_d(vals).tobytes())
                    return
                typed = encode_values(pat, vals)
                if typed is not None:
                    extend((null, _int8(8, typed[0]), _len(len(typed[1])), typed[1]))
                    return
        add(json(feats))
        add(null + null)

    try:
        for r in records:
            if (
                r.request_id is not rid
                or r.model is not model
                or r.timestamp is not ts
                or r.model_version is not version
                or r.latency_ms is not lat
                or r.status is not status
                or r.error is not err
            ):
                model, version, rid, ts = r.model, r.model_version, r.request_id, r.timestamp
                lat, status, err = r.latency_ms, r.status, r.error
                head = _FIELDS + text(model) + text(version) + text(rid)
                t = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
                ts_field = _int8(8, (t - _PG_EPOCH) // _MICROSECOND)
                tail = (
                    (null if lat is None else _float8(8, lat))
                    + (null if status is None else int4(4, status))
                    + text(err)
                )
            if isinstance(r, Record):
                add(head)
                add(int4(4, r.row_index))
                add(ts_field)
                features(r.features)
                pred, scores, inputs = r.prediction, r.scores, r.inputs
                add(null if pred is None else json(pred))
                add(null if scores is None else json(scores))
                add(json([b.to_dict() for b in inputs]) if inputs else null)
                add(tail)
                continue
            # a block: no inputs; the fields of a row of floats packed as they are
            names, values = r.names, r.values
            n = len(values)
            preds = [None] * n if r.predictions is None else r.predictions
            scores_of = [None] * n if r.scores is None else r.scores
            row = r.row_index
            pat = None
            if pattern is not None and r.floats and names:
                floats = (float,) * len(names)
                pat = patterns.get((names, floats)) or pattern(names, floats)
            if pat is not None and pat.plain:  # all floats, little-endian host
                used_add(pat.id)
                plain = null + _int8(8, pat.id) + _len(8 * len(names))
                packed = getattr(values, "array", None)  # codecs.base.PackedRows
                data = array_d(chain.from_iterable(values)) if packed is None else packed
                data = data.tobytes()
                width = 8 * len(names)
                if n < _SMALL_BLOCK:  # row by row: less to set up
                    for i, (pred, scores) in enumerate(zip(preds, scores_of, strict=True)):
                        extend((head, int4(4, row + i), ts_field, plain))
                        add(data[i * width : (i + 1) * width])
                        add(null if pred is None else json(pred))
                        add(null if scores is None else json(scores))
                        add(null)
                        add(tail)
                    continue
                if len(preds) != n or len(scores_of) != n:
                    raise ValueError("a block's predictions and scores have one row each")
                pred_fields = _pred_fields(preds, pred_cache)
                score_fields = None
                if r.scores is None:
                    score_fields = [null] * n
                elif getattr(r.scores, "floats", False) is True:  # codecs.base.ScoreRows
                    score_fields = _score_fields(r.scores, n, templates)
                if score_fields is None:
                    score_fields = [null if s is None else json(s) for s in scores_of]
                last = null + tail  # inputs NULL, then the request's fields
                for i, pf, sf in zip(range(n), pred_fields, score_fields, strict=True):
                    extend(
                        (
                            head,
                            int4(4, row + i),
                            ts_field,
                            plain,
                            data[i * width : (i + 1) * width],
                            pf,
                            sf,
                            last,
                        )
                    )
                continue
            for vals, pred, scores in zip(values, preds, scores_of, strict=True):
                add(head)
                add(int4(4, row))
                add(ts_field)
                features(dict(zip(names, vals, strict=True)))
                add(null if pred is None else json(pred))
                add(null if scores is None else json(scores))
                add(null)
                add(tail)
                row += 1
    except struct.error as exc:
        raise StorageError(f"a record value does not fit its column: {exc}") from exc
    add(_COPY_TRAILER)
    return b"".join(parts)


_PG_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS records_in (model text, model_version text, "
    "request_id text, row_index integer, ts timestamptz, features json, feature_layout int8, "
    "feature_values bytea, prediction json, scores json, inputs json, latency_ms float8, "
    "status integer, error text) ON COMMIT DELETE ROWS"
)


def _copy_rows(cur: Any, table: str, params: list[tuple[Any, ...]] | bytes) -> None:
    cols = ", ".join(RECORD_COLUMNS)
    # binary COPY: no text formatting of floats and times here, no parsing on the server
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
        if isinstance(params, bytes):  # a whole stream from pg_copy_data
            copy.write(params)
            return
        copy.set_types(_PG_TYPES)
        write = copy.write_row
        for row in params:
            write(row)


def pg_copy_records(
    dbapi_conn: Any, params: list[tuple[Any, ...]] | bytes, rows: int | None = None
) -> int:
    """Bulk-load records with COPY; returns how many were new.

    ``params``: rows from :func:`record_params`, or a whole binary COPY stream from
    :func:`pg_copy_data` (then ``rows`` is how many rows it holds).

    Fast path: COPY straight into ``records`` inside a savepoint (a first
    ingest, the usual case, is one COPY). If any row is already there (a
    replayed segment, a replica that wrote the same record), the savepoint is
    rolled back and the rows go through a per-session staging table and one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` instead, which keeps the
    load idempotent. Runs inside the caller's transaction.
    """
    import psycopg

    cols = ", ".join(RECORD_COLUMNS)
    with dbapi_conn.cursor() as cur:
        cur.execute("SAVEPOINT records_copy")
        try:
            _copy_rows(cur, "records", params)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT records_copy")
        else:
            cur.execute("RELEASE SAVEPOINT records_copy")
            return len(params) if rows is None else rows
        cur.execute(_PG_STAGE)
        _copy_rows(cur, "records_in", params)
        cur.execute(
            f"INSERT INTO records ({cols}) SELECT {cols} FROM records_in "
            "ORDER BY model, request_id, row_index "
            "ON CONFLICT (model, request_id, row_index) DO NOTHING"
        )
        inserted = int(cur.rowcount)
        cur.execute("TRUNCATE records_in")
    return inserted
