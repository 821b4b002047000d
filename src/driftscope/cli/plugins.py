"""``driftscope plugins``: what every registry holds (built-ins and entry points)."""

from __future__ import annotations

import importlib
import importlib.util

from rich.console import Console
from rich.table import Table

from driftscope.cli._common import fail
from driftscope.errors import PluginError
from driftscope.registry import all_registries

#: Packages whose import creates a registry (those not installed yet are skipped).
PLUGIN_PACKAGES = (
    "driftscope.codecs",
    "driftscope.storage",
    "driftscope.annotations",
    "driftscope.labeling",
    "driftscope.alerts",
    "driftscope.monitoring",
)


def load_registries() -> None:
    for name in PLUGIN_PACKAGES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def plugins() -> None:
    """List the installed plugins of every kind."""
    load_registries()
    table = Table("kind", "entry-point group", "plugins")
    try:
        for kind, registry in sorted(all_registries().items()):
            table.add_row(kind, registry.group, ", ".join(registry.names()) or "-")
    except PluginError as exc:
        fail(str(exc), code=1)
    Console().print(table)
