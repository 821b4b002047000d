"""A real S3-compatible store: SeaweedFS ``weed mini`` on loopback, one per xdist worker.

Fixtures: ``s3_server`` (the :class:`SeaweedS3`, session: endpoint URL, keys,
bucket), ``s3_prefix`` (a fresh ``s3://bucket/<prefix>`` URL per test),
``s3_env`` (the AWS_* variables set for one test), ``s3_factory`` (dedicated
servers for outage tests).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._proc import ROOT, ServerProcess, free_port_pair, http_status, require

WEED = ROOT / ".venv-services" / "bin" / "weed"
REGION = "us-east-1"

# every listener `weed mini` opens; gRPC ports are given as http + 10000 because
# some of its components derive them that way whatever the flags say
_PORT_FLAGS = ("master", "volume", "filer", "s3", "admin")


@dataclass(frozen=True)
class S3Info:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = REGION

    def client(self):
        """A boto3 S3 client for this store."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(retries={"mode": "standard", "max_attempts": 6}),
        )

    def env(self) -> dict[str, str]:
        """Environment variables boto3 (and driftscope) read the credentials from."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
        }


class SeaweedS3:
    """``weed mini`` with every port moved to a free one and auth enforced."""

    def __init__(self, base: Path, bucket: str = "driftscope") -> None:
        require(WEED, "SeaweedFS (weed)")
        self.dir = base / "weed-data"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port_pair() for name in _PORT_FLAGS}
        self.info = S3Info(
            endpoint_url=f"http://127.0.0.1:{self.ports['s3'][0]}",
            access_key=f"ak{uuid.uuid4().hex[:10]}",
            secret_key=uuid.uuid4().hex,
            bucket=bucket,
        )
        argv: list[str | os.PathLike[str]] = [
            WEED,
            "mini",
            f"-dir={self.dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
        ]
        for name, (http, grpc) in self.ports.items():
            argv += [f"-{name}.port={http}", f"-{name}.port.grpc={grpc}"]
        extra = free_port_pair()
        argv += [
            f"-metricsPort={extra[0]}",
            f"-s3.port.iceberg={extra[1]}",
            f"-s3.port.lance={free_port_pair()[0]}",
        ]
        env = dict(os.environ)
        # with these set, weed mini creates the identity and the bucket and enforces auth
        env.update(
            AWS_ACCESS_KEY_ID=self.info.access_key,
            AWS_SECRET_ACCESS_KEY=self.info.secret_key,
            S3_BUCKET=bucket,
        )
        self.process = ServerProcess("weed mini", argv, base / "weed.log", env=env, cwd=base)

    def _ready(self) -> bool:
        if http_status(f"{self.info.endpoint_url}/healthz") != 200:
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        # /healthz and the bucket answer before the volume server has registered
        # its volumes with the master (reads then fail with InternalError right
        # after a restart): ready means a probe object goes in and comes back.
        client = self.info.client()
        probe = "_driftscope_ready_probe"
        try:
            client.head_bucket(Bucket=self.info.bucket)
            client.put_object(Bucket=self.info.bucket, Key=probe, Body=b"ok")
            ok = client.get_object(Bucket=self.info.bucket, Key=probe)["Body"].read() == b"ok"
            client.delete_object(Bucket=self.info.bucket, Key=probe)
        except (BotoCoreError, ClientError):
            return False
        return ok

    def start(self) -> None:
        self.process.start(self._ready, timeout_s=90)

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        # weed leaves unix sockets named after its ports in /tmp
        for http, grpc in self.ports.values():
            for port in (http, grpc):
                for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                    sock.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid


def _start(base: Path) -> SeaweedS3:
    server = SeaweedS3(base)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """This worker's SeaweedFS server (the process object: stop / restart)."""
    server = _start(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3_server(s3_store: SeaweedS3) -> S3Info:
    """Endpoint URL, keys and bucket of this worker's S3 store."""
    return s3_store.info


@pytest.fixture
def s3_prefix(s3_server: S3Info) -> str:
    """A blob-store URL ``s3://bucket/<unique prefix>`` for one test."""
    return f"s3://{s3_server.bucket}/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_env(s3_server: S3Info, monkeypatch: pytest.MonkeyPatch) -> S3Info:
    """The AWS_* credential variables of the test store, set for one test."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture
def s3_factory(tmp_path: Path) -> Iterator[Callable[[], SeaweedS3]]:
    """Start dedicated SeaweedFS servers (for outage tests); all closed after."""
    servers: list[SeaweedS3] = []

    def make() -> SeaweedS3:
        server = _start(tmp_path / f"s3-{len(servers)}")
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()
