"""Multi-process serving: N uvicorn workers and one ingest process under a supervisor.

The supervisor binds the listening socket (so ``port: 0`` resolves once and
every worker shares it), migrates an embedded database, starts the ingest
process, then the workers. On SIGTERM or SIGINT it stops in order: the
workers finish their requests and drain their capture queues into the spool,
then the ingest process drains the spool into the database, then it exits 0.
Worker processes are spawned (not forked) so no lock or thread of the
supervisor leaks into them; they run in their own process groups, so the
supervisor alone decides when they stop.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from driftscope.config.settings import Settings
from driftscope.server import ingest_process
from driftscope.server.metrics import MULTIPROC_ENV
from driftscope.server.state import prepare_database

log = logging.getLogger(__name__)

_CTX = mp.get_context("spawn")
#: A worker that dies this soon after its start counts as a failed start.
_EARLY_DEATH_S = 10.0
_MAX_FAILED_STARTS = 3


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free port picked by the kernel)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _watch_parent(parent_pid: int) -> None:
    """Stop this worker gracefully if the supervisor dies (kill -9): no orphan keeps the port."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(settings: Settings, sock: socket.socket, log_level: str, parent_pid: int) -> None:
    """Process target: one uvicorn server on the shared socket.

    It leaves the terminal's process group, so a Ctrl-C reaches the supervisor
    alone, which then stops the workers in order.
    """
    os.setpgrp()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    import uvicorn

    from driftscope.server.app import create_app

    config = uvicorn.Config(
        create_app(settings, prepare_db=False),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=settings.server.access_log,
        log_level=log_level,
        timeout_graceful_shutdown=int(settings.proxy.timeout_s) + 1,
        server_header=False,
        date_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


class Runner:
    """Starts, watches and stops the worker and ingest processes of ``driftscope serve``."""

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int | None = None,
        log_level: str = "info",
        drain_timeout_s: float = 60.0,
    ) -> None:
        self.settings = settings
        self.workers = workers or settings.server.workers
        self.log_level = log_level
        self.drain_timeout_s = drain_timeout_s
        self.sock: socket.socket | None = None
        self._procs: list[BaseProcess] = []
        self._started_at: dict[int, float] = {}
        self._ingest: BaseProcess | None = None
        self._ingest_stop = _CTX.Event()
        self._stop = threading.Event()
        self._prom_dir: str | None = None
        self._own_prom_dir = False
        self._failed_starts = 0

    @property
    def host(self) -> str:
        return self.settings.server.host

    @property
    def port(self) -> int:
        if self.sock is None:
            raise RuntimeError("the runner has not bound its socket yet")
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        """Prepare the database, bind, start ingest then the workers (returns at once)."""
        Path(self.settings.capture.spool_dir).mkdir(parents=True, exist_ok=True)
        prepare_database(self.settings)
        self._setup_prometheus()
        self.sock = bind_socket(self.host, self.settings.server.port)
        self._ingest = _CTX.Process(
            target=ingest_process.main,
            args=(self.settings, self._ingest_stop, os.getpid()),
            name="driftscope-ingest",
        )
        self._ingest.start()
        for _ in range(self.workers):
            self._spawn_worker()

    def _setup_prometheus(self) -> None:
        existing = os.environ.get(MULTIPROC_ENV)
        if existing:
            self._prom_dir = existing
            Path(existing).mkdir(parents=True, exist_ok=True)
            return
        self._prom_dir = tempfile.mkdtemp(prefix="driftscope-prometheus-")
        self._own_prom_dir = True
        os.environ[MULTIPROC_ENV] = self._prom_dir  # inherited by every spawned process

    def _spawn_worker(self) -> None:
        proc = _CTX.Process(
            target=_worker_main,
            args=(self.settings, self.sock, self.log_level, os.getpid()),
            name=f"driftscope-worker-{len(self._procs)}",
        )
        proc.start()
        self._procs.append(proc)
        self._started_at[proc.pid or 0] = time.monotonic()

    # -- watch -----------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def watch(self, poll_s: float = 0.5) -> bool:
        """Block until a stop is requested; restart workers that die. False if they keep dying."""
        while not self._stop.wait(poll_s):
            for proc in list(self._procs):
                if proc.is_alive():
                    continue
                self._procs.remove(proc)
                self._mark_dead(proc.pid)
                lived = time.monotonic() - self._started_at.pop(proc.pid or 0, 0.0)
                log.error("worker %s exited with code %s", proc.pid, proc.exitcode)
                if lived < _EARLY_DEATH_S:
                    self._failed_starts += 1
                    if self._failed_starts >= _MAX_FAILED_STARTS:
                        log.error("workers keep failing at start; shutting down")
                        return False
                self._spawn_worker()
            if self._ingest is not None and not self._ingest.is_alive():
                log.error("the ingest process exited with code %s", self._ingest.exitcode)
                return False
        return True

    def _mark_dead(self, pid: int | None) -> None:
        if pid is None or self._prom_dir is None:
            return
        from prometheus_client import multiprocess

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid, self._prom_dir)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until ``/healthz`` answers (raises TimeoutError)."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._ingest is not None and not self._ingest.is_alive():
                raise RuntimeError("the ingest process died during start")
            if self._procs and not any(p.is_alive() for p in self._procs):
                raise RuntimeError("every worker died during start (see the log above)")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"driftscope did not answer on {self.url} within {timeout_s:.0f} s")

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> int:
        """Workers drain into the spool, then ingest drains the spool. 0 when all went well."""
        code = 0
        for proc in self._procs:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        grace = self.settings.proxy.timeout_s + 15.0
        for proc in self._procs:
            proc.join(grace)
            if proc.is_alive():
                log.error("worker %s did not stop in %.0f s; killing it", proc.pid, grace)
                proc.kill()
                proc.join()
                code = 1
            self._mark_dead(proc.pid)
        self._procs.clear()
        if self.sock is not None:
            self.sock.close()
        if self._ingest is not None:
            self._ingest_stop.set()
            self._ingest.join(self.drain_timeout_s + 15.0)
            if self._ingest.is_alive():
                log.error("ingest did not finish draining; the spool keeps the rest")
                self._ingest.kill()
                self._ingest.join()
                code = 1
            elif self._ingest.exitcode != 0:
                code = 1
            self._ingest = None
        if self._own_prom_dir and self._prom_dir is not None:
            shutil.rmtree(self._prom_dir, ignore_errors=True)
            if os.environ.get(MULTIPROC_ENV) == self._prom_dir:
                del os.environ[MULTIPROC_ENV]
        return code

    def serve(self, on_ready: Any = None) -> int:
        """start, wait for SIGTERM/SIGINT, stop: the whole life of ``driftscope serve``."""
        previous = {
            sig: signal.signal(sig, lambda *_: self.request_stop())
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.start()
            if on_ready is not None:
                on_ready(self)
            healthy = self.watch()
        finally:
            code = self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code if healthy else max(code, 1)
