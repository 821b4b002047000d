"""The ``driftscope`` command: serve, demo, analyze, db upgrade, plugins."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from driftscope import __version__
from driftscope.cli.db import db_app
from driftscope.cli.demo import demo
from driftscope.cli.export import export
from driftscope.cli.monitor import monitor_app
from driftscope.cli.plugins import plugins
from driftscope.cli.serve import serve

ANALYZE_MODULE = "driftscope.cli.analyze"


class _LazyGroup(TyperGroup):
    """Loads ``analyze`` (cli/analyze.py, heavy imports) only when it is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        if "analyze" not in names and importlib.util.find_spec(ANALYZE_MODULE) is not None:
            names.insert(names.index("plugins") if "plugins" in names else len(names), "analyze")
        return names

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name == "analyze" and importlib.util.find_spec(ANALYZE_MODULE) is not None:
            return _analyze_command()
        return super().get_command(ctx, cmd_name)


def _analyze_command() -> Any:
    try:
        module = importlib.import_module(ANALYZE_MODULE)
    except ImportError as exc:
        message = f"`driftscope analyze` is unavailable: {exc}"

        def unavailable() -> None:
            typer.echo(message, err=True)
            raise typer.Exit(1)

        return TyperCommand("analyze", callback=unavailable, help=message)
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command("analyze")(module.analyze)
    command = typer.main.get_command(single)
    command.name = "analyze"
    return command


app = typer.Typer(
    name="driftscope",
    help="Monitoring for machine-learning models in production.",
    cls=_LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"driftscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Monitoring for machine-learning models in production."""


app.command("serve")(serve)
app.command("demo")(demo)
app.command("plugins")(plugins)
app.command("export")(export)
app.add_typer(db_app, name="db")
app.add_typer(monitor_app, name="monitor")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
