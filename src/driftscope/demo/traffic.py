"""The demo's traffic generator: OIP v2 requests through the collector, with drift.

It sends ``rate`` requests per second (1 to 3 rows each) whose feature
distribution drifts along :func:`driftscope.demo.data.drift_at` (see
:mod:`driftscope.demo.data` for which features move and how), and posts the
true outcome of about half of the rows to ``POST /api/v1/labels`` after
``label_delay_s``, as delayed ground truth arrives in real systems.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from driftscope.demo import data, model_server


@dataclass
class TrafficStats:
    sent: int = 0
    rows: int = 0
    failed: int = 0
    labels_posted: int = 0
    captured: int = 0
    drift: float = 0.0
    last_error: str | None = None


@dataclass(order=True)
class _Pending:
    due: float
    items: list[dict[str, Any]] = field(compare=False)


class TrafficGenerator:
    """Sends drifting requests and delayed labels until stopped."""

    def __init__(
        self,
        proxy_url: str,
        api_url: str,
        token: str,
        *,
        rate: float = 20.0,
        drift_period_s: float = 600.0,
        label_fraction: float = 0.5,
        label_delay_s: float = 2.0,
        seed: int = 0,
        max_in_flight: int = 32,
    ) -> None:
        self.infer_url = (
            f"{proxy_url}/v2/models/{model_server.MODEL_NAME}"
            f"/versions/{model_server.MODEL_VERSION}/infer"
        )
        self.api_url = api_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rate = rate
        self.drift_period_s = drift_period_s
        self.label_fraction = label_fraction
        self.label_delay_s = label_delay_s
        self.rng = np.random.default_rng(seed)
        self.stats = TrafficStats()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending: list[_Pending] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def request_body(self, elapsed_s: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One OIP v2 request at time ``elapsed_s`` and the labels of its sampled rows."""
        drift = data.drift_at(elapsed_s, self.drift_period_s)
        self.stats.drift = drift
        n = int(self.rng.integers(1, 4))
        x = data.sample_features(n, self.rng, drift)
        y = data.sample_labels(x, self.rng)
        keep = self.rng.random(n) < self.label_fraction
        request_id = f"demo-{uuid.uuid4().hex}"
        body = {
            "id": request_id,
            "inputs": [
                {
                    "name": model_server.INPUT_NAME,
                    "datatype": "FP64",
                    "shape": [n, len(data.FEATURES)],
                    "data": x.reshape(-1).tolist(),
                }
            ],
        }
        labels = [
            {
                "model": model_server.MODEL_NAME,
                "request_id": request_id,
                "row_index": i,
                "value": int(y[i]),
            }
            for i in range(n)
            if keep[i]
        ]
        return body, labels

    async def run(self, stop: asyncio.Event, duration_s: float | None = None) -> TrafficStats:
        """Send until ``stop`` is set or ``duration_s`` has passed, then post pending labels."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
            pollers = [
                asyncio.create_task(self._labels_loop(client, stop)),
                asyncio.create_task(self._captured_loop(client, stop)),
            ]
            start = time.monotonic()
            next_at = start
            while not stop.is_set():
                elapsed = time.monotonic() - start
                if duration_s is not None and elapsed >= duration_s:
                    break
                body, labels = self.request_body(elapsed)
                task = asyncio.create_task(self._send(client, body, labels))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                next_at += 1.0 / self.rate
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
            stop.set()
            if self._tasks:
                _, late = await asyncio.wait(self._tasks, timeout=30.0)
                # the client closes below: requests still unanswered count as failed
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.gather(*late, return_exceptions=True)
                    self.stats.failed += len(late)
                    self.stats.last_error = f"{len(late)} requests unanswered after 30 s"
            await asyncio.gather(*pollers)
            # ground truth still waiting for its delay goes now, so the run is complete
            await self._post_labels(client, [i for p in self._pending for i in p.items])
            self._pending.clear()
            await self._poll_captured(client)
        return self.stats

    async def _send(
        self, client: httpx.AsyncClient, body: dict[str, Any], labels: list[dict[str, Any]]
    ) -> None:
        async with self._slots:
            try:
                response = await client.post(self.infer_url, json=body)
            except httpx.HTTPError as exc:
                self.stats.failed += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                return
        self.stats.sent += 1
        self.stats.rows += len(body["inputs"][0]["data"]) // len(data.FEATURES)
        if response.status_code != 200:
            self.stats.failed += 1
            self.stats.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            return
        if labels:
            self._pending.append(_Pending(time.monotonic() + self.label_delay_s, labels))

    async def _labels_loop(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            now = time.monotonic()
            due = [p for p in self._pending if p.due <= now]
            if due:
                self._pending = [p for p in self._pending if p.due > now]
                await self._post_labels(client, [i for p in due for i in p.items])

    async def _post_labels(self, client: httpx.AsyncClient, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        try:
            response = await client.post(
                f"{self.api_url}/labels", json={"labels": items}, headers=self.headers
            )
        except httpx.HTTPError as exc:
            self.stats.last_error = f"labels: {type(exc).__name__}: {exc}"
            return
        if response.status_code == 200:
            self.stats.labels_posted += int(response.json()["written"])
        else:
            self.stats.last_error = f"labels: HTTP {response.status_code}: {response.text[:200]}"

    async def _captured_loop(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._poll_captured(client)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def _poll_captured(self, client: httpx.AsyncClient) -> None:
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            response = await client.get(f"{self.api_url}/models", headers=self.headers)
            if response.status_code == 200:
                for m in response.json()["models"]:
                    if m["name"] == model_server.MODEL_NAME:
                        self.stats.captured = int(m["records"])
