"""S3 client benchmark: boto3 against obstore, put / get of 100 KB objects on SeaweedFS.

    .venv/bin/python benchmarks/objectstore/run.py [--objects 300] [--rounds 4] [--threads 8]

Starts SeaweedFS the way the tests do (tests/services/s3.py: ``weed mini`` on
loopback, auth on), then per round and client, in alternating order: PUT every
object one after the other, GET them back (checking the bytes), then PUT them
again from ``--threads`` threads at once (one shared client). Prints objects/s
per round and the obstore/boto3 ratio per round and as a median; results also go
to benchmarks/results/objectstore.json. obstore is not a project dependency:
``pip install obstore`` into the venv to run its side (it is skipped otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SIZE = 100 * 1024


class Boto3Side:
    name = "boto3"

    def __init__(self, info: Any) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = info.bucket
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=info.endpoint_url,
            aws_access_key_id=info.access_key,
            aws_secret_access_key=info.secret_key,
            region_name=info.region,
            # as storage/blob/s3.py; room for the threads' connections
            config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32),
        )

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType="application/octet-stream"
        )

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


class ObstoreSide:
    name = "obstore"

    def __init__(self, info: Any) -> None:
        import obstore
        from obstore.store import S3Store

        self.obs = obstore
        self.store = S3Store(
            info.bucket,
            endpoint=info.endpoint_url,
            access_key_id=info.access_key,
            secret_access_key=info.secret_key,
            region=info.region,
            client_options={"allow_http": True},
        )

    def put(self, key: str, data: bytes) -> None:
        self.obs.put(self.store, key, data, attributes={"Content-Type": "application/octet-stream"})

    def get(self, key: str) -> bytes:
        return bytes(self.obs.get(self.store, key).bytes())


def _rate(n: int, fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def _measure(side: Any, blobs: list[bytes], threads: int) -> dict[str, float]:
    prefix = f"bench-{side.name}-{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}/{i:06d}" for i in range(len(blobs))]
    n = len(blobs)
    out = {
        "put_per_s": _rate(n, lambda: [side.put(k, b) for k, b in zip(keys, blobs, strict=True)])
    }

    def get_all() -> None:
        for k, b in zip(keys, blobs, strict=True):
            if side.get(k) != b:
                raise RuntimeError(f"{side.name}: {k} came back different")

    out["get_per_s"] = _rate(n, get_all)
    with ThreadPoolExecutor(threads) as pool:
        out["put_threads_per_s"] = _rate(
            n,
            lambda: list(
                pool.map(lambda kb: side.put(kb[0] + "-t", kb[1]), zip(keys, blobs, strict=True))
            ),
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from services.s3 import SeaweedS3

    blobs = [os.urandom(SIZE) for _ in range(args.objects)]
    server = SeaweedS3(Path(tempfile.mkdtemp(prefix="ds-objstore-bench-")))
    server.start()
    results: dict[str, list[dict[str, float]]] = {}
    try:
        sides: list[Any] = [Boto3Side(server.info)]
        try:
            sides.append(ObstoreSide(server.info))
        except ImportError:
            print("obstore is not installed: boto3 only (pip install obstore)")
        for side in sides:  # warm-up: connections, credentials, imports
            _measure(side, blobs[:20], args.threads)
        for rnd in range(args.rounds):
            for side in sides if rnd % 2 == 0 else sides[::-1]:
                got = _measure(side, blobs, args.threads)
                results.setdefault(side.name, []).append(got)
                print(
                    f"round {rnd} {side.name:8s} put {got['put_per_s']:7.0f}/s "
                    f"get {got['get_per_s']:7.0f}/s put x{args.threads} threads "
                    f"{got['put_threads_per_s']:7.0f}/s",
                    flush=True,
                )
    finally:
        server.close()
    summary: dict[str, Any] = {"objects": args.objects, "size": SIZE, "threads": args.threads}
    for metric in ("put_per_s", "get_per_s", "put_threads_per_s"):
        for name, rows in results.items():
            summary[f"{name}_{metric}_median"] = statistics.median(r[metric] for r in rows)
        if "obstore" in results:
            ratios = [
                o[metric] / b[metric]
                for o, b in zip(results["obstore"], results["boto3"], strict=True)
            ]
            summary[f"ratio_{metric}"] = [round(r, 2) for r in ratios]
            print(
                f"{metric:18s} obstore/boto3 per round {summary[f'ratio_{metric}']} "
                f"median x{statistics.median(ratios):.2f}"
            )
    out = ROOT / "benchmarks" / "results" / "objectstore.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "rounds": results}, indent=2))


if __name__ == "__main__":
    main()
