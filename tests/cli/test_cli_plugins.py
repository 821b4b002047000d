"""``driftscope plugins`` and the worked example in examples/driftscope-plugin-example.

The example is "installed" the way an installer lays it out: its package
folder and a ``<name>-<version>.dist-info`` (METADATA, entry_points.txt
written from the ``[project.entry-points]`` of its own pyproject.toml) in a
folder on ``PYTHONPATH``. (``pip install --target`` would need ``wheel`` in
the build environment, which this offline machine lacks.) Everything after
that runs in a fresh interpreter, so nothing is cached from this one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftscope.cli.main import app
from driftscope.registry import PLUGIN_KINDS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "driftscope-plugin-example"
runner = CliRunner()


def install_example(target: Path) -> Path:
    meta = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    shutil.copytree(
        EXAMPLE / "src" / "driftscope_plugin_example", target / "driftscope_plugin_example"
    )
    dist = target / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    lines = []
    for group, eps in meta["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {value}" for name, value in eps.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return target


def run_py(code: str, path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_plugins_lists_every_kind_in_json() -> None:
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    for kind in PLUGIN_KINDS:
        assert listing[kind]["group"] == f"driftscope.{kind}"
    assert listing["codecs"]["plugins"]["oip_v2"] == "built-in"
    assert {"sqlite", "postgresql"} <= set(listing["storage"]["plugins"])
    assert {"file", "s3"} <= set(listing["blobstores"]["plugins"])
    assert "isolation_forest" in listing["outliers"]["plugins"]
    table = runner.invoke(app, ["plugins"])
    assert table.exit_code == 0 and "driftscope.notifiers" in table.output


@pytest.mark.slow
def test_installed_example_plugin_is_listed_and_works(tmp_path: Path) -> None:
    site = install_example(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "250"}
    cli = [sys.executable, "-m", "driftscope.cli.main", "plugins"]
    out = subprocess.run([*cli, "--json"], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    listing = json.loads(out.stdout)
    origin = "driftscope-plugin-example 0.1.0"
    assert listing["codecs"]["plugins"]["csv"] == origin
    assert listing["outliers"]["plugins"]["zscore"] == origin
    table = subprocess.run(cli, capture_output=True, text=True, env=env, check=False)
    assert f"csv ({origin})" in table.stdout, table.stdout

    # the plugins do their job through driftscope's own paths: ingest and the outlier model
    code = """
        import numpy as np, pandas as pd
        from driftscope.capture.exchange import Exchange
        from driftscope.config.settings import Settings
        from driftscope.ingest.worker import Ingestor
        from driftscope.monitoring.outliers import OutlierCalculator
        from driftscope.storage import open_blob_store, open_store

        class Reader:
            def __init__(self, exchanges): self.segs = {"s": exchanges}
            def ready_segments(self): return sorted(self.segs)
            def read(self, seg): return self.segs[seg]
            def done(self, seg): del self.segs[seg]

        ex = Exchange(model="m", protocol="csv", request_id="r1", method="POST", path="/p",
            received_at=1.7e9, latency_ms=1.0, status=200,
            request_headers={"content-type": "text/csv"},
            request_body=b"age,city\\n31,Oslo\\n47,Rome\\n",
            response_headers={"content-type": "application/json"},
            response_body=b'{"predictions": [1, 0]}')
        settings = Settings(models=[{"name": "m", "upstream": "http://127.0.0.1:9"}])
        store = open_store("sqlite:///db.sqlite"); store.upgrade()
        stats = Ingestor(settings, store, open_blob_store("blobs"), Reader([ex])).drain()
        recs = store.query_records("m")
        print("INGEST", stats.records, [(r.features, r.prediction) for r in recs])

        rng = np.random.default_rng(0)
        ref = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000)})
        new = pd.DataFrame({"x": rng.normal(size=1000), "y": rng.normal(size=1000)})
        new.loc[500:, "x"] += 8
        calc = OutlierCalculator(detector="zscore", chunker={"type": "size", "chunk_size": 500})
        print("OUTLIERS", calc.fit(ref).calculate(new).data["alert"].tolist())
    """
    res = run_py(code, site, tmp_path)
    assert res.returncode == 0, res.stderr
    assert (
        "INGEST 2 [({'age': 31.0, 'city': 'Oslo'}, 1), ({'age': 47.0, 'city': 'Rome'}, 0)]"
        in res.stdout
    ), res.stdout
    assert "OUTLIERS [False, True]" in res.stdout, res.stdout


def test_a_duplicate_entry_point_is_refused(tmp_path: Path) -> None:
    # a third-party package claiming a built-in's name must not replace it silently
    site = tmp_path / "site"
    dist = site / "evil-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[driftscope.codecs]\noip_v2 = json:JSONDecoder\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-m", "driftscope.cli.main", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 1
    assert "codecs plugin 'oip_v2' is already registered" in out.stderr
    assert "evil 1.0" in out.stderr
