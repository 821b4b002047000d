"""A real Label Studio (its own venv, .venv-labelstudio) with a known user and API token.

Its first start takes about 30 s (database migrations), so there is one server
per test session, shared by every xdist worker: the first worker that needs it
starts it (the others wait on a lock, then reuse it), each user is counted in a
state file under the session's shared temp folder, and the last one stops it by
PID. Every test using the ``labelstudio`` fixture is also put in the xdist group
``labelstudio`` (tests/conftest.py) for ``--dist loadgroup``; note that with
pytest 9 and pytest-xdist 3.8 that grouping has no effect (xdist renames
``item._nodeid``, which pytest 9 no longer reads), hence the sharing across
workers. Tests share the server, so each makes its own projects (titles with a
unique suffix). Started with a fresh data folder, on a free loopback port checked
free first (Label Studio silently moves to another port when its own is taken),
ready when ``/health`` says UP and the token is accepted.

Fixtures: ``labelstudio`` (:class:`LabelStudioInfo`, session), ``labelstudio_url``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ._proc import ROOT, ServerProcess, free_port, require

LABEL_STUDIO = ROOT / ".venv-labelstudio" / "bin" / "label-studio"
USERNAME = "driftscope@example.com"
PASSWORD = "driftscope-test-pw"
TOKEN = "driftscope-test-token-0123456789"
#: Group name of the tests sharing the session's server (see the module docstring).
XDIST_GROUP = "labelstudio"


@dataclass(frozen=True)
class LabelStudioInfo:
    url: str
    """Base URL, e.g. http://127.0.0.1:PORT."""
    token: str = TOKEN
    """Legacy API token: ``Authorization: Token <token>``."""
    username: str = USERNAME
    pid: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _get_json(url: str, token: str | None = None) -> object | None:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError, urllib.error.HTTPError):
        return None


def label_studio_env(data_dir: str) -> dict[str, str]:
    """The environment of a Label Studio with a known user and token, no signup, no calls out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTSCOPE_", "LABEL_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        {
            "LABEL_STUDIO_USERNAME": USERNAME,
            "LABEL_STUDIO_PASSWORD": PASSWORD,
            "LABEL_STUDIO_USER_TOKEN": TOKEN,
            # legacy tokens are off by default in 1.23: without this the preset token does nothing
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            # webhooks to 127.0.0.1 are refused otherwise
            "SSRF_PROTECTION_ENABLED": "false",
            "COLLECT_ANALYTICS": "false",
            "LATEST_VERSION_CHECK": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LABEL_STUDIO_BASE_DATA_DIR": data_dir,
            "PATH": f"{LABEL_STUDIO.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a child its parent has not reaped yet)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _stop_pid(pid: int, timeout_s: float = 30.0) -> None:
    """SIGTERM, wait, SIGKILL: by PID, from whichever worker is the last user."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _start(shared: Path) -> tuple[ServerProcess, str]:
    """Start a Label Studio with a fresh data folder under ``shared``; it and its URL."""
    data = shared / f"data-{uuid.uuid4().hex[:8]}"
    for _ in range(20):
        port = free_port()
        if _port_is_free(port):
            break
    else:  # pragma: no cover - a machine out of ports
        pytest.fail("no free port for Label Studio", pytrace=False)
    url = f"http://127.0.0.1:{port}"
    argv = [
        LABEL_STUDIO,
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        data,
    ]
    env = label_studio_env(str(data))
    proc = ServerProcess("label-studio", argv, shared / "label-studio.log", env=env, cwd=shared)

    def ready() -> bool:
        health = _get_json(f"{url}/health")
        if not (isinstance(health, dict) and health.get("status") == "UP"):
            return False
        return _get_json(f"{url}/api/projects", TOKEN) is not None

    proc.start(ready, timeout_s=180)
    return proc, url


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioInfo]:
    """The session's Label Studio, one for all xdist workers.

    Users are counted in a locked state file. The worker that started it stops it
    (and so reaps it: a zombie would outlive the session here) once every other
    user let go or died; a later worker finding none starts a new one.
    """
    require(LABEL_STUDIO, "Label Studio")
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the workers' basetemps are popen-gwN under one folder
    shared = base / "labelstudio-shared"
    shared.mkdir(exist_ok=True)
    lock, state_file = shared / "lock", shared / "state.json"
    me = os.getpid()

    def read() -> dict[str, Any] | None:
        return json.loads(state_file.read_text()) if state_file.exists() else None

    own: ServerProcess | None = None
    with _locked(lock):
        state = read()
        if state is None or not _alive(int(state["pid"])):
            own, url = _start(shared)
            state = {"url": url, "pid": own.pid, "users": []}
        state["users"].append(me)
        state_file.write_text(json.dumps(state))
    info = LabelStudioInfo(url=str(state["url"]), pid=int(state["pid"]))
    try:
        yield info
    finally:
        deadline = time.monotonic() + 600
        while True:
            with _locked(lock):
                state = read()
                if state is None or state["pid"] != info.pid:  # already stopped
                    stop = own is not None
                    break
                others = [u for u in state["users"] if u != me and _alive(u)]
                if not others or (own is not None and time.monotonic() > deadline):
                    state_file.unlink()  # the last user (or a starter tired of waiting)
                    stop = True
                    break
                if own is None:  # others go on using it
                    state["users"] = others
                    state_file.write_text(json.dumps(state))
                    stop = False
                    break
            time.sleep(0.5)  # the starter waits for the other users
        if stop and own is not None:
            own.stop()
        elif stop:  # the last user of a server whose starter is gone
            _stop_pid(info.pid)


@pytest.fixture(scope="session")
def labelstudio_url(labelstudio: LabelStudioInfo) -> str:
    """Base URL of the session's Label Studio."""
    return labelstudio.url
