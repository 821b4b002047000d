"""``driftscope export``: records to Parquet in the object store, by model and day."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from rich.console import Console

from driftscope.cli._common import fail, load_or_exit
from driftscope.errors import StorageError

console = Console()


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        fail(f"{option}: expected a day as YYYY-MM-DD, got {value!r}")


def export(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file."),
    model: list[str] | None = typer.Option(
        None, "--model", "-m", help="Model to export (repeatable; default: every model)."
    ),
    from_: str | None = typer.Option(None, "--from", help="First UTC day, YYYY-MM-DD."),
    to: str | None = typer.Option(None, "--to", help="Last UTC day (included), YYYY-MM-DD."),
    prefix: str = typer.Option("exports/records", "--prefix", help="Key prefix in the blob store."),
) -> None:
    """Export records as Parquet to the blob store: <prefix>/model=<m>/date=<d>/part-*.parquet."""
    settings = load_or_exit(config)
    start, end = _day(from_, "--from"), _day(to, "--to")

    from driftscope.storage import open_storage
    from driftscope.storage.export import export_records

    try:
        store, blobs = open_storage(settings.storage)
    except StorageError as exc:
        fail(str(exc), code=1)
    try:
        parts = export_records(
            store, blobs, models=model or None, start=start, end=end, prefix=prefix
        )
    except StorageError as exc:
        fail(str(exc), code=1)
    finally:
        store.close()
        blobs.close()
    for part in parts:
        console.print(f"{part.rows:>9} rows  {part.uri}", highlight=False, soft_wrap=True)
    rows = sum(p.rows for p in parts)
    console.print(f"exported {rows} record(s) in {len(parts)} file(s)")
