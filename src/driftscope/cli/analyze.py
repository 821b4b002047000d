"""``driftscope analyze``: reference and analysis files in, results and an HTML report out.

Registered by ``cli/main.py``. Configuration errors (bad options, a schema
that does not validate, unreadable files) exit with status 2 before any
computation starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from driftscope.errors import DriftscopeError
from driftscope.monitoring.chunking import chunker_from_options
from driftscope.monitoring.monitor import Monitor, MonitorConfig

__all__ = ["analyze", "read_table"]

EXIT_CONFIG = 2
console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_CONFIG)


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame (by suffix: .csv, .parquet, .pq)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(f"{path}: unsupported file type {suffix!r} (use .csv or .parquet)")


def _schema(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: the schema must be a mapping")
    return loaded


def analyze(
    reference: Annotated[Path, typer.Option(help="Reference data (.csv or .parquet).")],
    analysis: Annotated[Path, typer.Option(help="Analysis data (.csv or .parquet).")],
    schema: Annotated[
        Path | None, typer.Option(help="Monitoring schema YAML (features, kinds, methods).")
    ] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Rows per chunk.")] = None,
    chunks: Annotated[int | None, typer.Option(help="Number of chunks.")] = None,
    chunk_period: Annotated[
        str | None, typer.Option(help="Chunk by period: hour, day, week, month.")
    ] = None,
    timestamp_column: Annotated[str | None, typer.Option(help="Timestamp column.")] = None,
    out: Annotated[Path | None, typer.Option(help="Results table (.parquet or .csv).")] = None,
    report: Annotated[Path | None, typer.Option(help="Self-contained HTML report.")] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="Drift from exact values (default) or mergeable sketches: exact, sketch."
        ),
    ] = None,
) -> None:
    """Compare analysis data with reference data: drift, data quality, ranking, report."""
    try:
        config = _schema(schema)
        ts = timestamp_column or config.get("timestamp_column")
        if chunk_size or chunks or chunk_period:
            config["chunker"] = chunker_from_options(
                chunk_size=chunk_size,
                chunks=chunks,
                chunk_period=chunk_period,
                timestamp_column=ts,
            ).to_config()
        if ts:
            config["timestamp_column"] = ts
        if mode is not None:
            if mode not in ("exact", "sketch"):
                raise ValueError(f"--mode must be exact or sketch, not {mode!r}")
            config["mode"] = mode
        monitor = Monitor(MonitorConfig.model_validate(config))
        ref_frame = read_table(reference)
        new_frame = read_table(analysis)
    except (DriftscopeError, OSError, ValueError, yaml.YAMLError) as exc:
        raise _fail(str(exc)) from exc

    steps = 2 * (
        1
        + sum(
            bool(config.get(k, d))
            for k, d in (
                ("quality", True),
                ("outliers", False),
                ("pca", False),
                ("domain_classifier", False),
            )
        )
    )
    columns = (BarColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(SpinnerColumn(), *columns, console=console, transient=True) as progress:
        task = progress.add_task("monitoring", total=steps + 2)

        def step(message: str) -> None:
            progress.update(task, advance=1, description=message)

        try:
            monitor.fit(ref_frame, progress=step)
            result = monitor.calculate(new_frame, progress=step)
        except DriftscopeError as exc:
            raise _fail(str(exc)) from exc
        if out is not None:
            step(f"write {out}")
            if out.suffix.lower() == ".csv":
                result.data.to_csv(out, index=False)
            else:
                result.save(out)
        if report is not None:
            from driftscope.monitoring.report import write_report

            step(f"write {report}")
            write_report(
                result,
                report,
                title=f"driftscope: {analysis.name} vs {reference.name}",
                reference=ref_frame,
                analysis=new_frame,
            )

    ranking = result.ranking()
    table = Table(title=f"{int(result.data['alert'].sum())} alerts; top drifting columns")
    for name in ("rank", "column", "alert_count", "magnitude"):
        table.add_column(name)
    for row in ranking.head(10).itertuples(index=False):
        table.add_row(str(row.rank), str(row.column), str(row.alert_count), f"{row.magnitude:.3g}")
    Console().print(table)
