"""A real PostgreSQL (Debian's binaries) on a loopback port, one per xdist worker.

Fixtures: ``postgres_server`` (the :class:`PostgresServer`, session), ``postgres_url``
(a SQLAlchemy URL of a session database), ``postgres_db_url`` (a fresh database
per test, dropped after), ``postgres_factory`` (dedicated servers for tests that
restart or stop the database).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._proc import INSTALL_HINT, ServerProcess, free_port, require


def pg_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<v>/bin`` holding initdb, or fail with the hint."""
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name or 0)
    )
    for d in reversed(dirs):
        if os.access(Path(d) / "initdb", os.X_OK):
            return Path(d)
    pytest.fail(
        f"PostgreSQL binaries not found in /usr/lib/postgresql/*/bin: {INSTALL_HINT}", pytrace=False
    )


class PostgresServer:
    """One PostgreSQL cluster: initdb into a temp folder, ``postgres`` on a free port.

    PostgreSQL refuses to run as root, so when the tests run as root the
    cluster belongs to the ``postgres`` user and lives under /tmp (pytest's
    own temp folders are private to root).
    """

    def __init__(self, log_dir: Path) -> None:
        self.bin = pg_bin_dir()
        for tool in ("initdb", "postgres", "pg_isready"):
            require(self.bin / tool, f"PostgreSQL's {tool}")
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="driftscope-pg-"))
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.sock.mkdir()
        self._popen: dict[str, Any] = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.base, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            self._popen = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        self._init()
        self.process = ServerProcess(
            "postgres",
            [
                self.bin / "postgres",
                "-D", self.data,
                "-p", str(self.port),
                "-k", self.sock,
                "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=200",
            ],
            log_dir / f"postgres-{self.port}.log",
            stop_signal=signal.SIGINT,  # "fast" shutdown: disconnect clients, then exit
            popen_kwargs=self._popen,
        )  # fmt: skip

    def _init(self) -> None:
        res = subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D", str(self.data),
                "-U", "postgres",
                "--auth=trust",
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            **self._popen,
        )  # fmt: skip
        if res.returncode != 0:
            pytest.fail(f"initdb failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")

    def _ready(self) -> bool:
        res = subprocess.run(
            [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False,
        )
        return res.returncode == 0

    def start(self) -> None:
        self.process.start(self._ready, timeout_s=60)

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq connection string, for psycopg directly."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def _admin(self, sql: str) -> None:
        import psycopg  # the postgres extra; imported here to keep conftest light

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """Create a database and return its name."""
        name = name or f"db_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(log_dir: Path) -> PostgresServer:
    server = PostgresServer(log_dir)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """This worker's PostgreSQL, started on first use, stopped at the end of the session."""
    server = _start(tmp_path_factory.mktemp("postgres-log"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of a database shared by this worker's tests."""
    return postgres_server.url(postgres_server.create_database("driftscope"))


@pytest.fixture
def postgres_db_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database for one test (dropped after)."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[Callable[[], PostgresServer]]:
    """Start dedicated PostgreSQL servers (for restart / outage tests); all closed after."""
    servers: list[PostgresServer] = []

    def make() -> PostgresServer:
        server = _start(tmp_path)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()
