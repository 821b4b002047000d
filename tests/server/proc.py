"""Run ``driftscope serve`` as a real subprocess and read the port it printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

_LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")


class ServeProcess:
    """``python -m driftscope.cli.main serve``; output collected by a thread."""

    def __init__(
        self,
        config: dict[str, object],
        tmp_path: Path,
        *args: str,
        env: dict[str, str] | None = None,
    ) -> None:
        path = tmp_path / "driftscope.yaml"
        path.write_text(yaml.safe_dump(config))
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTSCOPE_")}
        child_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        child_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "driftscope.cli.main", "serve", "--config", str(path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env,
            cwd=tmp_path,
        )
        self.lines: list[str] = []
        self._url: str | None = None
        self._seen_url = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = _LISTENING.search(line)
            if match:
                self._url = match.group(1)
                self._seen_url.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def url(self, timeout_s: float = 60.0) -> str:
        """The base URL once ``/healthz`` answers."""
        if not self._seen_url.wait(timeout_s) or self._url is None:
            raise AssertionError(f"serve printed no URL:\n{self.output}")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self._url}/healthz", timeout=1).status_code == 200:
                    return self._url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"serve never became healthy:\n{self.output}")

    def terminate(self, timeout_s: float = 90.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float = 90.0) -> int:
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not exit:\n{self.output}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(predicate: object, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
