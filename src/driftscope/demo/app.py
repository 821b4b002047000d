"""``driftscope demo``: model server, collector and drifting traffic in one command."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live
from rich.text import Text

from driftscope.demo import model_server
from driftscope.demo.config import demo_config, demo_settings, write_config
from driftscope.demo.traffic import TrafficGenerator, TrafficStats
from driftscope.errors import StorageError
from driftscope.server.runner import Runner, bind_socket

_CTX = mp.get_context("spawn")


@dataclass
class DemoOptions:
    data_dir: Path = Path("driftscope-data/demo")
    port: int = 8000
    duration_s: float | None = None
    rate: float = 20.0
    drift_period_s: float = 600.0
    label_delay_s: float = 2.0
    seed: int = 0


def _model_process(sock: socket.socket, seed: int) -> None:
    """Process target: the model server, in its own process group so Ctrl-C reaches the
    demo first and the model keeps answering until the collector has drained."""
    os.setpgrp()
    model_server.serve_model(sock, seed)


def _wait_http(url: str, timeout_s: float, proc: mp.process.BaseProcess) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"the demo model server exited with code {proc.exitcode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


def _progress(stats: TrafficStats, started: float) -> Text:
    line = (
        f"{time.monotonic() - started:6.0f} s  requests sent {stats.sent} ({stats.rows} rows)"
        f"  failed {stats.failed}  records captured {stats.captured}"
        f"  labels posted {stats.labels_posted}  drift {stats.drift:.2f}"
    )
    text = Text(line)
    if stats.last_error:
        text.append(f"\nlast error: {stats.last_error}", style="yellow")
    return text


async def _traffic(gen: TrafficGenerator, duration_s: float | None, console: Console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    try:
        with Live(_progress(gen.stats, started), console=console, refresh_per_second=4) as live:
            run = asyncio.create_task(gen.run(stop, duration_s))
            while not run.done():
                await asyncio.wait({run}, timeout=0.25)
                live.update(_progress(gen.stats, started))
            run.result()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_demo(opts: DemoOptions, console: Console | None = None) -> int:
    """Run the demo until Ctrl-C / SIGTERM or ``duration_s``; returns the exit status."""
    console = console or Console()
    data_dir = opts.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    database_url = f"sqlite:///{data_dir / 'driftscope.db'}"

    model_sock = bind_socket("127.0.0.1", 0)
    upstream = f"http://127.0.0.1:{model_sock.getsockname()[1]}"
    model_proc = _CTX.Process(
        target=_model_process, args=(model_sock, opts.seed), name="driftscope-demo-model"
    )
    model_proc.start()
    model_sock.close()
    runner: Runner | None = None
    code = 0
    # until the traffic runs, a Ctrl-C is an ordinary interrupt; the cleanup below still runs
    try:
        console.print("training the demo model and starting the collector ...")
        settings = demo_settings(data_dir, upstream, opts.port, token)
        write_config(data_dir / "driftscope.yaml", demo_config(data_dir, upstream, opts.port))
        # the collector starts while the model trains: it needs no upstream to start
        runner = Runner(settings, log_level="warning")
        runner.start()
        _wait_http(f"{upstream}/v2/health/ready", 120.0, model_proc)
        runner.wait_ready(120.0)
        url = runner.url
        console.print(
            f"\n[bold]driftscope demo[/]\n"
            f"  proxy (OIP v2)  {url}/v2/models/{model_server.MODEL_NAME}/infer\n"
            f"  model server    {upstream}  (scikit-learn HistGradientBoostingClassifier)\n"
            f"  API             {url}/api/v1   docs {url}/docs   metrics {url}/metrics\n"
            f"  token           {token}\n"
            f"  data            {data_dir}\n"
            f"  try: curl -H 'Authorization: Bearer {token}' {url}/api/v1/models\n"
            "Press Ctrl-C to stop.\n",
            highlight=False,
            soft_wrap=True,
        )
        gen = TrafficGenerator(
            url,
            f"{url}/api/v1",
            token,
            rate=opts.rate,
            drift_period_s=opts.drift_period_s,
            label_delay_s=opts.label_delay_s,
            seed=opts.seed,
        )
        asyncio.run(_traffic(gen, opts.duration_s, console))
        console.print("\nstopping: draining captured requests into the database ...")
    except KeyboardInterrupt:
        console.print("interrupted")
    except (RuntimeError, TimeoutError, StorageError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        code = 1
    except OSError as exc:
        console.print(
            f"[bold red]error:[/] cannot listen on 127.0.0.1:{opts.port} ({exc}); "
            "pick another one with --port",
            highlight=False,
        )
        code = 1
    finally:
        with _ignoring_signals():
            if runner is not None:
                code = max(code, runner.stop())
            model_proc.terminate()
            model_proc.join(15)
            if model_proc.is_alive():
                model_proc.kill()
                model_proc.join()
    if code == 0:
        _summary(database_url, console)
    return code


@contextlib.contextmanager
def _ignoring_signals() -> Iterator[None]:
    """A second Ctrl-C must not cut the drain short."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _summary(database_url: str, console: Console) -> None:
    from driftscope.storage import open_store

    store = open_store(database_url)
    try:
        for m in store.list_models():
            console.print(f"stored: model {m['name']}: {m['records']} records", highlight=False)
    finally:
        store.close()
