"""``driftscope db upgrade``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from driftscope.cli._common import fail, load_or_exit
from driftscope.errors import StorageError

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
console = Console()


@db_app.command("upgrade")
def upgrade(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file."),
) -> None:
    """Bring the database schema to the newest migration and record the configured models."""
    settings = load_or_exit(config)

    from driftscope.storage import open_store

    store = open_store(settings.storage.database_url)
    try:
        store.upgrade()
        store.ensure_models(settings.models)
    except StorageError as exc:
        fail(str(exc), code=1)
    finally:
        store.close()
    console.print(f"database schema is up to date ({len(settings.models)} model(s) recorded)")
