"""Root test configuration: a clean environment per test and the real-server fixtures.

The server fixtures (tests/services/) import nothing heavy at module level;
each server starts only when a test asks for it. A test that uses one gets
the ``services`` marker automatically (``-m "not services"`` leaves them out).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# tests/ on sys.path whatever the import mode, so `services.*` resolves
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

pytest_plugins = [
    "services.postgres",
    "services.s3",
    "services.mlserver",
    "services.prometheus",
    "services.labelstudio",
]

#: Fixtures that start a real server; a test using any of them is marked ``services``.
SERVICE_FIXTURES = frozenset(
    {
        "postgres_server",
        "postgres_url",
        "postgres_db_url",
        "postgres_factory",
        "s3_store",
        "s3_server",
        "s3_prefix",
        "s3_env",
        "s3_factory",
        "mlserver",
        "mlserver_url",
        "prometheus",
        "prometheus_url",
        "labelstudio",
        "labelstudio_url",
    }
)

#: Fixtures of a server started once per session (slow to start): their tests share one
#: xdist group, so ``--dist loadgroup`` runs them on one worker with one server.
SHARED_SERVER_GROUPS = {"labelstudio": "labelstudio", "labelstudio_url": "labelstudio"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    xdist = config.pluginmanager.has_plugin("xdist")  # its marker is unknown without it
    for item in items:
        names = getattr(item, "fixturenames", ())
        if SERVICE_FIXTURES.intersection(names) and item.get_closest_marker("services") is None:
            item.add_marker(pytest.mark.services)
        groups = {SHARED_SERVER_GROUPS[n] for n in names if n in SHARED_SERVER_GROUPS}
        for group in sorted(groups if xdist else ()):  # before xdist's own hook reads it
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def _clean_driftscope_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRIFTSCOPE_* variable from the outer shell leaks into a test's settings."""
    for key in list(os.environ):
        if key.startswith("DRIFTSCOPE_"):
            monkeypatch.delenv(key)
