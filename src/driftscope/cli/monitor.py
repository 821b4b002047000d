"""``driftscope monitor``: the service's monitoring functions from the command line.

``reference`` stores a reference dataset for a model (as
``POST /api/v1/models/{name}/reference``); ``run`` computes and stores
results and alerts now (as ``POST /api/v1/models/{name}/monitoring/run``).
Both work on the configured database, with or without a running server.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from driftscope.cli._common import fail, load_or_exit, setup_logging
from driftscope.errors import DriftscopeError

monitor_app = typer.Typer(help="Reference datasets and monitoring runs.", no_args_is_help=True)
console = Console()


@monitor_app.command("reference")
def reference(
    model: str = typer.Argument(..., help="Model name, as configured."),
    path: Path = typer.Argument(..., help="Reference dataset: a CSV or Parquet file."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file."),
) -> None:
    """Check a reference dataset against the model's schema and store it."""
    settings = load_or_exit(config)
    from driftscope.service import monitoring as svc
    from driftscope.storage import open_store

    if not path.is_file():
        fail(f"{str(path)!r} is not a file")
    kind = "application/vnd.apache.parquet" if path.suffix.lower() in (".parquet", ".pq") else None
    store = open_store(settings.storage.database_url)
    try:
        info = svc.upload_reference(
            store, settings, model, path.read_bytes(), kind or "application/octet-stream"
        )
    except DriftscopeError as exc:
        fail(str(exc), code=1)
    finally:
        store.close()
    perf = "with" if info.performance else "without"
    console.print(
        f"reference of {model!r} stored: {info.rows} rows, features {info.features}, "
        f"{perf} performance"
    )


@monitor_app.command("run")
def run(
    model: str = typer.Argument(..., help="Model name, as configured."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file."),
    log_level: str = typer.Option("warning", help="debug, info, warning or error."),
) -> None:
    """Compute monitoring results for a model now and store them with their alerts."""
    settings = load_or_exit(config)
    setup_logging(log_level)
    from driftscope.service import monitoring as svc
    from driftscope.storage import open_store

    store = open_store(settings.storage.database_url)
    try:
        result = svc.run_monitoring(store, settings, model, trigger="cli")
    except DriftscopeError as exc:
        fail(str(exc), code=1)
    finally:
        store.close()
    console.print(
        f"run {result.id} of {model!r}: {result.records} records, {result.results} results, "
        f"{result.alerts} new alert(s)"
    )
    for note in result.details.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
