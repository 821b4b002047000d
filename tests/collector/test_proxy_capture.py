"""Sampling decisions, forced capture, what an Exchange holds, drops when the sink is full."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from collector.harness import Proxy, make_settings, run_proxy
from driftscope.capture.queue import CaptureQueue
from driftscope.capture.sink import ListSink
from driftscope.capture.spool import SpoolReader, SpoolWriter
from driftscope.collector.sampling import sampled


async def _post_ids(client: aiohttp.ClientSession, url: str, ids: list[str]) -> None:
    sem = asyncio.Semaphore(16)

    async def one(rid: str) -> None:
        async with sem, client.post(url, json={"id": rid, "inputs": []}) as resp:
            assert resp.status == 200
            await resp.read()

    await asyncio.gather(*(one(rid) for rid in ids))


async def test_sampling_counts_exact(upstream: str, client: aiohttp.ClientSession) -> None:
    ids = [f"req-{i}" for i in range(300)]
    async with run_proxy(make_settings(upstream, rate=0.25)) as proxy:
        await _post_ids(client, proxy.url + "/v2/models/tab/infer", ids)
        again = ids[:50]  # the same id is always in or always out
        await _post_ids(client, proxy.url + "/v2/models/tab/infer", again)
    expected = [rid for rid in ids if sampled(rid, 0.25)] + [
        rid for rid in again if sampled(rid, 0.25)
    ]
    captured = [ex.request_id for ex in proxy.sink.items]
    assert sorted(captured) == sorted(expected)
    assert 0 < len(captured) < len(ids) + len(again)
    assert proxy.registry.get_sample_value("driftscope_captured_total", {"model": "tab"}) == len(
        expected
    )
    assert proxy.registry.get_sample_value(
        "driftscope_requests_total", {"model": "tab", "status": "200"}
    ) == len(ids) + len(again)


async def test_forced_capture(upstream: str, client: aiohttp.ClientSession) -> None:
    url = "/v2/models/tab/infer"
    async with run_proxy(make_settings(upstream, rate=0.0)) as proxy:
        for value in ("1", "true", "YES", "0", "no"):
            async with client.post(
                proxy.url + url,
                json={"id": f"f-{value}", "inputs": []},
                headers={"X-Driftscope-Capture": value},
            ) as resp:
                assert resp.status == 200
        async with client.post(proxy.url + url, json={"id": "plain", "inputs": []}) as resp:
            assert resp.status == 200
    assert [(ex.request_id, ex.forced) for ex in proxy.sink.items] == [
        ("f-1", True),
        ("f-true", True),
        ("f-YES", True),
    ]


async def test_exchange_contents_per_protocol(proxy: Proxy, client: aiohttp.ClientSession) -> None:
    calls = [
        ("/v2/models/tab/infer?trace=1", b'{"id": "o", "inputs": []}'),
        ("/v2/models/tab/versions/v9/infer", b'{"id": "ov", "inputs": []}'),
        ("/v1/models/kv1:predict", b'{"id": "k", "instances": [[1], [2]]}'),
        ("/api/plain/predict", b'{"id": "p", "x": 1}'),
    ]
    answers = []
    for path, body in calls:
        async with client.post(
            proxy.url + path, data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            answers.append(await resp.read())
    got = {ex.request_id: ex for ex in await proxy.captured(len(calls))}
    assert [
        (e.model, e.protocol, e.model_version, e.path) for e in (got[k] for k in "o ov k p".split())
    ] == [
        ("tab", "oip_v2", "v1", "/v2/models/tab/infer?trace=1"),
        ("tab", "oip_v2", "v9", "/v2/models/tab/versions/v9/infer"),
        ("kv1", "kserve_v1", None, "/v1/models/kv1:predict"),
        ("plain", "json", None, "/api/plain/predict"),
    ]
    for (_, body), answer, rid in zip(calls, answers, ["o", "ov", "k", "p"], strict=True):
        ex = got[rid]
        assert (ex.method, ex.status, ex.error, ex.forced) == ("POST", 200, None, False)
        assert ex.request_body == body and ex.response_body == answer
        assert ex.request_headers["content-type"] == "application/json"
        assert ex.response_headers["content-length"] == str(len(answer))
        assert ex.latency_ms > 0 and ex.received_at > 1.7e9


async def test_full_sink_counts_drops_and_never_blocks(
    upstream: str, client: aiohttp.ClientSession
) -> None:
    sink = ListSink(maxsize=2)
    async with run_proxy(make_settings(upstream), sink=sink) as proxy:
        await _post_ids(client, proxy.url + "/v2/models/tab/infer", [f"q-{i}" for i in range(5)])
    assert len(sink.items) == 2 and sink.dropped == 3
    assert proxy.registry.get_sample_value("driftscope_dropped_total", {"model": "tab"}) == 3
    assert proxy.registry.get_sample_value("driftscope_captured_total", {"model": "tab"}) == 2


async def test_through_queue_and_spool(
    upstream: str, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    writer = SpoolWriter(tmp_path, segment_max_bytes=1 << 20, segment_max_age_s=60)
    queue = CaptureQueue(writer, maxsize=1000, flush_interval_s=0.01)
    await queue.start()
    ids = [f"s-{i}" for i in range(40)]
    async with run_proxy(make_settings(upstream, rate=0.5), sink=queue) as proxy:
        await _post_ids(client, proxy.url + "/v2/models/tab/infer", ids)
        assert proxy.registry.get_sample_value("driftscope_dropped_total", {"model": "tab"}) is None
    await queue.stop()  # the SIGTERM path: drain and close
    reader = SpoolReader(tmp_path)
    stored = [ex.request_id for seg in reader.ready_segments() for ex in reader.read(seg)]
    assert sorted(stored) == sorted(rid for rid in ids if sampled(rid, 0.5))
    assert queue.written == queue.submitted == len(stored) and queue.dropped == 0
