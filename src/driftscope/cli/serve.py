"""``driftscope serve``: the collector in front of an inference server."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from driftscope.cli._common import fail, load_or_exit, setup_logging
from driftscope.errors import ConfigError, StorageError
from driftscope.server.auth import is_loopback

console = Console()


def check_exposure(host: str, has_token: bool) -> None:
    """Refuse a non-loopback address without a token (ConfigError naming server.host)."""
    if not is_loopback(host) and not has_token:
        raise ConfigError(
            "server.host",
            f"{host!r} is reachable from other machines: set a token with "
            "DRIFTSCOPE_SERVER__TOKEN, or listen on 127.0.0.1",
        )


def serve(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML config file (environment variables override it)."
    ),
    host: str | None = typer.Option(None, help="Address to listen on (server.host)."),
    port: int | None = typer.Option(
        None, min=0, max=65535, help="Port to listen on, 0 for any free one (server.port)."
    ),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes, one per core is a good start (server.workers)."
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Run the collector: proxy, capture, ingest and the management API."""
    settings = load_or_exit(config)
    update = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    if update:
        settings.server = settings.server.model_copy(update=update)
    try:
        check_exposure(settings.server.host, settings.server.token is not None)
    except ConfigError as exc:
        fail(str(exc))
    if not settings.models:
        console.print("[yellow]warning:[/] no model is configured: everything is passed through")
    setup_logging(log_level)

    from driftscope.server.runner import Runner

    def ready(runner: Runner) -> None:
        console.print(
            f"driftscope listening on {runner.url} "
            f"({runner.workers} worker(s); API at {runner.url}/api/v1)",
            highlight=False,
            soft_wrap=True,
        )

    runner = Runner(settings, log_level=log_level)
    try:
        code = runner.serve(on_ready=ready)
    except StorageError as exc:
        fail(f"database: {exc}", code=1)
    except OSError as exc:
        fail(f"cannot listen on {settings.server.host}:{settings.server.port}: {exc}", code=1)
    raise typer.Exit(code)
