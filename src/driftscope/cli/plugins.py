"""``driftscope plugins``: what every registry holds (built-ins and entry points)."""

from __future__ import annotations

from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from driftscope.cli._common import fail
from driftscope.errors import PluginError
from driftscope.registry import PLUGIN_KINDS, load_registries


def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print the listing as JSON."),
) -> None:
    """List the installed plugins of every kind, and where each comes from."""
    try:
        listing: dict[str, dict[str, Any]] = {
            kind: {
                "group": reg.group,
                "description": PLUGIN_KINDS.get(kind, ("", ""))[0],
                "plugins": {name: reg.origin(name) for name in reg.names()},
            }
            for kind, reg in sorted(load_registries().items())
        }
    except PluginError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
        fail(f"{exc}{cause}", code=1)
    if as_json:
        typer.echo(orjson.dumps(listing, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table("kind", "entry-point group", "plugins")
    for kind, item in listing.items():
        names = [
            name if origin == "built-in" else f"{name} ({origin})"
            for name, origin in item["plugins"].items()
        ]
        table.add_row(kind, item["group"], ", ".join(names) or "-")
    Console().print(table)
