"""Process plumbing shared by the server fixtures: ports, readiness, shutdown."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

#: Repository root (tests/services/_proc.py -> ../../).
ROOT = Path(__file__).resolve().parents[2]

INSTALL_HINT = "run `make services` (scripts/install-services.sh) to install it"


def require(path: Path | str, what: str) -> Path:
    """Return ``path`` if it is an executable file, else fail the test with the install hint."""
    p = Path(path)
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"{what} not found at {p}: {INSTALL_HINT}", pytrace=False)
    return p


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_pair(offset: int = 10000) -> tuple[int, int]:
    """Two free ports ``p`` and ``p + offset`` (SeaweedFS derives gRPC ports that way)."""
    for _ in range(200):
        p = free_port()
        if p + offset < 65536 and _is_free(p + offset):
            return p, p + offset
    raise RuntimeError("no free port pair found")


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """Status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


class ServerProcess:
    """A server child process with a log file, a readiness probe and a clean stop.

    The child runs in its own session, so a Ctrl-C at the terminal reaches
    pytest (which then runs the fixture teardown) and not the server directly.
    An ``atexit`` hook kills anything a crashed worker left running.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
        popen_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.popen_kwargs = popen_kwargs or {}
        self.proc: subprocess.Popen[bytes] | None = None
        atexit.register(self._kill_if_running)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, ready: Callable[[], bool], timeout_s: float = 60.0) -> None:
        """Start the process and wait until ``ready()`` is true; fail with the log tail if not."""
        if self.running():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                **self.popen_kwargs,
            )
        deadline = time.monotonic() + timeout_s
        delay = 0.02
        while True:
            if self.proc.poll() is not None:
                self.fail(f"exited with status {self.proc.returncode} before it was ready")
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                self.fail(f"not ready after {timeout_s:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Send the stop signal, wait, then SIGKILL if it is still there."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(self.stop_signal)
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _kill_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def fail(self, why: str) -> None:
        pytest.fail(
            f"{self.name} {why}\ncommand: {' '.join(self.argv)}\n"
            f"log {self.log_path} (last lines):\n{self.log_tail()}",
            pytrace=False,
        )
