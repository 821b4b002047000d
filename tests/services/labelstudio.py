"""A real Label Studio (its own venv, .venv-labelstudio) with a known user and API token.

Its first start takes about 30 s (database migrations), so there is one server
per test session: every test using the ``labelstudio`` fixture is put in the
xdist group ``labelstudio`` (tests/conftest.py), which ``--dist loadgroup`` runs
on one worker. Tests share the server, so each makes its own projects (titles
with a unique suffix). Started with a fresh data folder, on a free loopback port
checked free first (Label Studio silently moves to another port when its own is
taken), ready when ``/health`` says UP and the token is accepted; stopped by PID.

Fixtures: ``labelstudio`` (:class:`LabelStudioInfo`, session), ``labelstudio_url``.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

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


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioInfo]:
    """The session's Label Studio."""
    require(LABEL_STUDIO, "Label Studio")
    root = tmp_path_factory.mktemp("labelstudio")
    data = root / "data"
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
    proc = ServerProcess(
        "label-studio", argv, root / "label-studio.log", env=label_studio_env(str(data)), cwd=root
    )

    def ready() -> bool:
        health = _get_json(f"{url}/health")
        if not (isinstance(health, dict) and health.get("status") == "UP"):
            return False
        return _get_json(f"{url}/api/projects", TOKEN) is not None

    proc.start(ready, timeout_s=180)
    yield LabelStudioInfo(url=url, pid=proc.pid)
    proc.stop()


@pytest.fixture(scope="session")
def labelstudio_url(labelstudio: LabelStudioInfo) -> str:
    """Base URL of the session's Label Studio."""
    return labelstudio.url
