"""The server fixtures themselves: each server answers, isolates and restarts as promised."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text

from services.mlserver import MLServerInfo
from services.postgres import PostgresServer
from services.prometheus import PrometheusServer
from services.s3 import S3Info, SeaweedS3

pytestmark = pytest.mark.services


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_postgres_url_is_a_working_sqlalchemy_url(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert _scalar(postgres_url, "select current_database()") == "driftscope"
    assert str(_scalar(postgres_url, "show server_version")).startswith("15")
    assert postgres_server.pid is not None


def test_postgres_db_url_gives_each_test_an_empty_database(postgres_db_url: str) -> None:
    engine = create_engine(postgres_db_url)
    try:
        with engine.begin() as conn:
            n = conn.execute(
                text("select count(*) from information_schema.tables where table_schema='public'")
            ).scalar_one()
            assert n == 0
            conn.execute(text("create table t (x int)"))
    finally:
        engine.dispose()


def test_postgres_restart_keeps_data(postgres_factory: Callable[[], PostgresServer]) -> None:
    server = postgres_factory()
    url = server.url(server.create_database("kept"))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table t (x int)"))
            conn.execute(text("insert into t values (1), (2)"))
        old_pid = server.pid
        server.restart()
        assert server.pid != old_pid
        engine.dispose()  # the old connections died with the old server
        with engine.connect() as conn:
            assert conn.execute(text("select sum(x) from t")).scalar_one() == 3
    finally:
        engine.dispose()


def test_s3_round_trip_and_auth_enforced(s3_server: S3Info, s3_prefix: str) -> None:
    s3 = s3_server.client()
    key = s3_prefix.split("/", 3)[3] + "/hello.bin"
    s3.put_object(Bucket=s3_server.bucket, Key=key, Body=b"\x00payload\xff")
    assert s3.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == b"\x00payload\xff"

    wrong = S3Info(s3_server.endpoint_url, "nobody", "wrong-secret", s3_server.bucket).client()
    with pytest.raises(ClientError) as info:
        wrong.get_object(Bucket=s3_server.bucket, Key=key)
    assert info.value.response["Error"]["Code"] in {"InvalidAccessKeyId", "AccessDenied"}


def test_s3_env_sets_credentials_for_boto3(s3_env: S3Info) -> None:
    import boto3

    assert os.environ["AWS_ACCESS_KEY_ID"] == s3_env.access_key
    # no keys or endpoint passed: all from the environment
    client = boto3.client("s3")
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert s3_env.bucket in names


def test_s3_restart_keeps_objects(s3_factory: Callable[[], SeaweedS3]) -> None:
    server = s3_factory()
    info = server.info
    info.client().put_object(Bucket=info.bucket, Key="k", Body=b"v")
    server.stop()
    server.start()
    assert info.client().get_object(Bucket=info.bucket, Key="k")["Body"].read() == b"v"


def test_mlserver_serves_the_trained_model(mlserver: MLServerInfo) -> None:
    rows = mlserver.probe["inputs"]
    req = urllib.request.Request(
        mlserver.infer_url,
        data=mlserver.infer_body(rows, request_id="probe-1"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
    assert body["id"] == "probe-1"
    assert body["model_name"] == mlserver.model
    assert body["model_version"] == mlserver.version
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predict"]["data"] == mlserver.probe["predict"]
    proba = outputs["predict_proba"]
    assert proba["shape"] == [len(rows), 2]
    flat = [p for row in mlserver.probe["predict_proba"] for p in row]
    assert proba["data"] == pytest.approx(flat, rel=1e-12, abs=1e-15)


@pytest.fixture
def metrics_target() -> Iterator[str]:
    """A tiny HTTP server exposing one counter in the Prometheus text format."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'# TYPE probe_hits_total counter\nprobe_hits_total{kind="a"} 42\n'
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_prometheus_scrapes_a_configured_target(
    prometheus: PrometheusServer, metrics_target: str
) -> None:
    prometheus.set_targets([metrics_target], job="probe")
    result = prometheus.wait_for('probe_hits_total{job="probe"}')
    assert result[0]["metric"]["kind"] == "a"
    assert float(result[0]["value"][1]) == 42.0
