"""A real Prometheus (Debian's) with a config file the fixture writes, one per xdist worker.

Fixtures: ``prometheus`` (:class:`PrometheusServer`, session: ``set_targets``,
``query``, ``wait_for``), ``prometheus_url`` (its base URL). Scrape interval 1 s;
targets are changed at run time through ``/-/reload``.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ._proc import INSTALL_HINT, ServerProcess, free_port, http_status, require


def prometheus_bin() -> Path:
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail(f"prometheus not found on PATH: {INSTALL_HINT}", pytrace=False)
    return require(found, "prometheus")


class PrometheusServer:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = base / "prometheus.yml"
        self._write({})
        self.process = ServerProcess(
            "prometheus",
            [
                prometheus_bin(),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={base / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            base / "prometheus.log",
            cwd=base,
        )

    def _write(self, jobs: dict[str, dict[str, Any]]) -> None:
        config = {
            "global": {
                "scrape_interval": "1s",
                "evaluation_interval": "1s",
                "scrape_timeout": "1s",
            },
            "scrape_configs": list(jobs.values()),
        }
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self) -> None:
        self.process.start(lambda: http_status(f"{self.url}/-/ready") == 200, timeout_s=60)

    def stop(self) -> None:
        self.process.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def set_targets(
        self,
        targets: list[str],
        *,
        job: str = "driftscope",
        metrics_path: str = "/metrics",
        bearer_token: str | None = None,
    ) -> None:
        """Replace the scrape configuration with one job scraping ``targets`` (host:port)."""
        job_cfg: dict[str, Any] = {
            "job_name": job,
            "metrics_path": metrics_path,
            "static_configs": [{"targets": targets}],
        }
        if bearer_token is not None:
            job_cfg["authorization"] = {"type": "Bearer", "credentials": bearer_token}
        self._write({job: job_cfg})
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            if resp.status != 200:
                raise RuntimeError(f"prometheus reload answered {resp.status}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns ``data.result`` (a list of {metric, value})."""
        qs = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=10) as resp:
            body = json.loads(resp.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as resp:
            active: list[dict[str, Any]] = json.loads(resp.read())["data"]["activeTargets"]
        return active

    def wait_for(self, expr: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """Poll ``expr`` until it returns something; fail showing the targets' state if not."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                pytest.fail(
                    f"prometheus: {expr!r} still empty after {timeout_s:.0f} s; "
                    f"targets: {json.dumps(self.targets())}",
                    pytrace=False,
                )
            time.sleep(0.25)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """This worker's Prometheus (no targets until ``set_targets``)."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prometheus_url(prometheus: PrometheusServer) -> str:
    return prometheus.url
