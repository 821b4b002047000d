"""Helpers shared by the commands: settings loading and error exits."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from driftscope.config.settings import Settings, load_settings
from driftscope.errors import ConfigError

#: Exit status for bad configuration or usage (work never started).
EXIT_CONFIG = 2

err_console = Console(stderr=True)


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_or_exit(config: Path | None) -> Settings:
    """Settings from the YAML file and the environment; a ConfigError exits 2 naming the key."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc))


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(levelname)s:     %(name)s: %(message)s", force=True
    )
    # migrations announce every plugin they load at INFO
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
