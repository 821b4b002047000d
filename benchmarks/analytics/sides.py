"""One measured side per process: ``python sides.py SIDE REF NEW RESULT [--chunks K]``.

Sides: ``driftscope`` (its defaults: exact mode, threads over columns at
this size), ``driftscope_serial`` (``n_jobs=1``), ``driftscope_threads``
(``n_jobs=None``, one thread per CPU) and ``driftscope_sketch`` (run by .venv), ``nannyml``,
``evidently`` and ``evidently_chunks`` (run by benchmarks/.venv-peers), and
``report`` (driftscope's HTML report on a wide table), and ``load`` (the
data loaded into pandas, nothing computed: the floor under the peers' figures)
and ``load_arrow`` (the same read as the driftscope sides read it). The
peers get pandas frames (what they take); the driftscope sides read the
files themselves as Arrow tables and drop the reference once fitted. Each
times the computation only (``seconds``); the parent measures the whole
process (wall time and peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import CATEGORICAL, CONTINUOUS  # noqa: E402


def read_arrow(path: Path) -> Any:
    """A Parquet file as an Arrow table, read one column at a time (no pandas copy).

    String columns are read as dictionary arrays (their codes as stored), so
    categorical columns need no hashing of values to factorise.
    Reading column by column holds fewer decoding buffers at once than
    ``pyarrow.parquet.read_table``'s parallel read (peak 764 vs 922 MB for
    both 1M-row files here).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    strings = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    # string columns stay dictionary-encoded as Parquet stores them: codes, no string copies
    source = pq.ParquetFile(path, read_dictionary=strings)
    return pa.table(
        {c: source.read(columns=[c], use_threads=False).column(0) for c in schema.names}
    )


def driftscope(
    ref_path: Path,
    new_path: Path,
    chunks: int,
    mode: str = "exact",
    n_jobs: int | str | None = "auto",
) -> dict:
    """Loads its own data as Arrow tables; the reference is dropped once fitted.

    ``seconds`` is fit + calculate only; ``load_seconds`` the two reads.
    """
    import pyarrow as pa

    from driftscope.monitoring import UnivariateDriftCalculator

    calc = UnivariateDriftCalculator(
        [*CONTINUOUS, *CATEGORICAL],
        column_kinds={
            **dict.fromkeys(CONTINUOUS, "continuous"),
            **dict.fromkeys(CATEGORICAL, "categorical"),
        },
        continuous_methods=["ks", "jensen_shannon", "wasserstein"],
        categorical_methods=["chi2", "jensen_shannon"],
        chunker={"type": "count", "chunk_number": chunks},
        mode=mode,  # type: ignore[arg-type]
        n_jobs=n_jobs,  # type: ignore[arg-type]
    )
    start = time.perf_counter()
    ref = read_arrow(ref_path)
    loaded = time.perf_counter()
    calc.fit(ref)
    fitted = time.perf_counter()
    del ref
    pa.default_memory_pool().release_unused()
    new = read_arrow(new_path)
    loaded_2 = time.perf_counter()
    result = calc.calculate(new)
    done = time.perf_counter()
    data = result.data
    return {
        "seconds": (fitted - loaded) + (done - loaded_2),
        "load_seconds": (loaded - start) + (loaded_2 - fitted),
        "rows": int(len(data)),
        "alerts": int(data["alert"].sum()),
        "alerting_columns": sorted(set(data.loc[data["alert"], "column"])),
    }


def nannyml(ref: pd.DataFrame, new: pd.DataFrame, chunks: int) -> dict:
    import nannyml as nml

    start = time.perf_counter()
    calc = nml.UnivariateDriftCalculator(
        column_names=[*CONTINUOUS, *CATEGORICAL],
        treat_as_categorical=CATEGORICAL,
        continuous_methods=["kolmogorov_smirnov", "jensen_shannon", "wasserstein"],
        categorical_methods=["chi2", "jensen_shannon"],
        chunk_number=chunks,
    )
    calc.fit(ref)
    result = calc.calculate(new).filter(period="analysis").to_df()
    seconds = time.perf_counter() - start
    alert_cols = [c for c in result.columns if c[-1] == "alert"]
    alerting = sorted({c[0] for c in alert_cols if result[c].any()})
    return {
        "seconds": seconds,
        "rows": int(len(result)),
        "alerts": int(sum(int(result[c].sum()) for c in alert_cols)),
        "alerting_columns": alerting,
    }


def _evidently_run(ref: pd.DataFrame, cur: pd.DataFrame) -> list[str]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=CONTINUOUS, categorical_columns=CATEGORICAL)
    ref_ds = Dataset.from_pandas(ref, data_definition=definition)
    cur_ds = Dataset.from_pandas(cur, data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(cur_ds, ref_ds)
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        value, threshold = float(metric["value"]), float(config["threshold"])
        # p-value methods drift below their threshold, distances at or above it
        is_p = "p_value" in str(config.get("method", ""))
        if (value < threshold) if is_p else (value >= threshold):
            drifted.append(str(config["column"]))
    return sorted(set(drifted))


def evidently(ref: pd.DataFrame, new: pd.DataFrame, chunks: int) -> dict:
    start = time.perf_counter()
    drifted = _evidently_run(ref, new)
    return {"seconds": time.perf_counter() - start, "alerting_columns": drifted}


def evidently_chunks(ref: pd.DataFrame, new: pd.DataFrame, chunks: int) -> dict:
    start = time.perf_counter()
    drifted: set[str] = set()
    for part in np.array_split(np.arange(len(new)), chunks):
        drifted.update(_evidently_run(ref, new.iloc[part]))
    return {"seconds": time.perf_counter() - start, "alerting_columns": sorted(drifted)}


def report(ref: pd.DataFrame, new: pd.DataFrame, chunks: int, width: int = 200) -> dict:
    """driftscope's report on a ``width``-column table made by repeating the 25 columns."""
    from driftscope.monitoring import Monitor
    from driftscope.monitoring.report import write_report

    reps = -(-width // ref.shape[1])

    def widen(frame: pd.DataFrame) -> pd.DataFrame:
        parts = [frame.add_suffix(f"_{r}") for r in range(reps)]
        return pd.concat(parts, axis=1).iloc[:, :width]

    wide_ref, wide_new = widen(ref), widen(new)
    start = time.perf_counter()
    monitor = Monitor(chunker={"type": "count", "chunk_number": chunks}).fit(wide_ref)
    result = monitor.calculate(wide_new)
    computed = time.perf_counter() - start
    out = Path(os.environ.get("REPORT_PATH", "report.html"))
    write_report(result, out, reference=wide_ref, analysis=wide_new)
    total = time.perf_counter() - start
    return {
        "seconds": total,
        "compute_seconds": computed,
        "report_seconds": total - computed,
        "report_bytes": out.stat().st_size,
        "columns": int(wide_new.shape[1]),
        "rows": int(len(wide_new)),
    }


def load(ref: pd.DataFrame, new: pd.DataFrame, chunks: int) -> dict:
    """Nothing but the data loaded into pandas: the floor under the pandas sides' figures."""
    return {"seconds": 0.0, "rows": int(len(ref) + len(new))}


def load_arrow(ref_path: Path, new_path: Path, chunks: int) -> dict:
    """Both files read as the driftscope sides read them, both kept: their loading floor."""
    start = time.perf_counter()
    ref, new = read_arrow(ref_path), read_arrow(new_path)
    return {
        "seconds": 0.0,
        "load_seconds": time.perf_counter() - start,
        "rows": ref.num_rows + new.num_rows,
    }


SIDES: dict[str, Callable[..., dict]] = {
    "load": load,
    "load_arrow": load_arrow,
    "driftscope": driftscope,
    "driftscope_sketch": lambda r, n, k: driftscope(r, n, k, mode="sketch"),
    "driftscope_serial": lambda r, n, k: driftscope(r, n, k, n_jobs=1),
    "driftscope_threads": lambda r, n, k: driftscope(r, n, k, n_jobs=None),
    "nannyml": nannyml,
    "evidently": evidently,
    "evidently_chunks": evidently_chunks,
    "report": report,
}
# the driftscope sides read the Parquet files themselves (Arrow, column by column)
PATH_SIDES = {
    "load_arrow",
    "driftscope",
    "driftscope_sketch",
    "driftscope_serial",
    "driftscope_threads",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("side", choices=sorted(SIDES))
    ap.add_argument("reference", type=Path)
    ap.add_argument("analysis", type=Path)
    ap.add_argument("result", type=Path)
    ap.add_argument("--chunks", type=int, default=10)
    args = ap.parse_args()
    if args.side in PATH_SIDES:  # these read the files themselves
        out = SIDES[args.side](args.reference, args.analysis, args.chunks)
    else:
        ref, new = pd.read_parquet(args.reference), pd.read_parquet(args.analysis)
        out = SIDES[args.side](ref, new, args.chunks)
    args.result.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
