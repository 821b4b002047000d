"""The command line: config errors, refusals and the small commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftscope.cli.main import app

runner = CliRunner()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("yaml_text", "key", "value"),
    [
        ("server:\n  port: 70000\n", "server.port", "70000"),
        ("capture:\n  queue_size: 0\n", "capture.queue_size", "0"),
        (
            "models:\n  - name: m\n    upstream: ftp://x\n",
            "models.0.upstream",
            "ftp://x",
        ),
        ("server:\n  token: hunter2\n", "server.token", "DRIFTSCOPE_SERVER__TOKEN"),
        ("serve:\n  port: 1\n", "serve", "port"),
    ],
)
def test_config_errors_name_the_key_and_exit_2(
    tmp_path: Path, yaml_text: str, key: str, value: str
) -> None:
    cfg = _write(tmp_path / "c.yaml", yaml_text)
    result = runner.invoke(app, ["serve", "--config", str(cfg)])
    assert result.exit_code == 2
    assert f"config key {key!r}" in result.output
    assert value in result.output
    # nothing started: no data folder was created
    assert not (tmp_path / "driftscope-data").exists()


def test_environment_errors_name_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTSCOPE_SERVER__WORKERS", "zero")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "server.workers" in result.output and "zero" in result.output


def test_missing_config_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_non_loopback_host_without_token_is_refused(host: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--host", host, "--port", "0"])
    assert result.exit_code == 2
    assert "server.host" in result.output and "DRIFTSCOPE_SERVER__TOKEN" in result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    cfg = _write(
        tmp_path / "c.yaml",
        f"storage:\n  database_url: sqlite:///{db}\n"
        "models:\n  - name: m1\n    upstream: http://127.0.0.1:1\n",
    )
    result = runner.invoke(app, ["db", "upgrade", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    from driftscope.storage import open_store

    store = open_store(f"sqlite:///{db}")
    try:
        assert [m["name"] for m in store.list_models()] == ["m1"]
    finally:
        store.close()


def test_plugins_lists_the_registries() -> None:
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    for kind in ("codecs", "storage", "blobstores"):
        assert kind in result.output
    assert "oip_v2" in result.output and "sqlite" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("driftscope ")


def test_analyze_is_registered_lazily() -> None:
    import importlib.util

    if importlib.util.find_spec("driftscope.cli.analyze") is None:
        pytest.skip("cli/analyze.py is not there")
    result = runner.invoke(app, ["analyze", "--help"])
    assert result.exit_code == 0, result.output
    assert "--reference" in result.output
    assert "analyze" in runner.invoke(app, ["--help"]).output
