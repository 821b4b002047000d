"""``driftscope demo``."""

from __future__ import annotations

from pathlib import Path

import typer

from driftscope.cli._common import setup_logging


def demo(
    duration: float | None = typer.Option(
        None, min=1, help="Stop after this many seconds of traffic (default: until Ctrl-C)."
    ),
    port: int = typer.Option(8000, min=0, max=65535, help="Collector port (0: any free one)."),
    data_dir: Path = typer.Option(
        Path("driftscope-data/demo"), help="Folder for the SQLite database, spool and blobs."
    ),
    rate: float = typer.Option(20.0, min=0.1, help="Requests per second."),
    drift_period: float = typer.Option(
        600.0, min=1, help="Seconds of one drift cycle: inputs drift, peak at half, recover."
    ),
    label_delay: float = typer.Option(2.0, min=0, help="Seconds before ground truth is posted."),
    seed: int = typer.Option(0, help="Seed of the training data and the traffic."),
) -> None:
    """Run a demo model server, the collector in front of it and drifting traffic."""
    from driftscope.demo.app import DemoOptions, run_demo

    setup_logging("warning")
    options = DemoOptions(
        data_dir=data_dir,
        port=port,
        duration_s=duration,
        rate=rate,
        drift_period_s=drift_period,
        label_delay_s=label_delay,
        seed=seed,
    )
    raise typer.Exit(run_demo(options))
