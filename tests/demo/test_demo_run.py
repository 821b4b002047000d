"""``driftscope demo --duration 20`` end to end: records, labels and drift land."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from driftscope.demo import data
from driftscope.storage import open_store

pytestmark = pytest.mark.slow


def test_demo_runs_and_stores_drifting_records_with_labels(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTSCOPE_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["COLUMNS"] = "200"
    args = ["--duration", "20", "--port", "0", "--data-dir", str(tmp_path / "demo")]
    # one drift period of 40 s: the inputs drift from none at the start to full at the end
    args += ["--drift-period", "40", "--rate", "15", "--label-delay", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "driftscope.cli.main", "demo", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "token" in output and "/v2/models/credit-risk/infer" in output and "/api/v1" in output

    store = open_store(f"sqlite:///{tmp_path / 'demo' / 'driftscope.db'}")
    try:
        frame = store.records_frame("credit-risk")
        models = store.list_models()
    finally:
        store.close()
    assert [m["name"] for m in models] == ["credit-risk"]
    assert len(frame) >= 100, output
    # every request was answered, and every row sent was stored (sample rate 1.0)
    sent = re.findall(r"requests sent (\d+) \((\d+) rows\)\s+failed (\d+)", output)
    assert sent, output
    _, rows, failed = (int(v) for v in sent[-1])
    assert failed == 0, output
    assert len(frame) == rows, output
    assert set(data.FEATURES) <= set(frame.columns)
    assert frame["prediction"].isin([0, 1]).all()
    # about half of the rows got ground truth, posted through the API
    labelled = frame["target"].notna().mean()
    assert 0.3 < labelled < 0.7, labelled
    assert set(frame["target"].dropna().unique()) <= {0, 1}
    # the drifting features moved between the first and the last records
    frame = frame.sort_values("timestamp")
    q = len(frame) // 4
    first, last = frame.iloc[:q], frame.iloc[-q:]
    assert last["income"].mean() < 0.85 * first["income"].mean()
    assert last["debt_ratio"].mean() > first["debt_ratio"].mean() + 0.05
    # and a stable one did not move by as much
    score_shift = abs(last["credit_score"].mean() - first["credit_score"].mean())
    assert score_shift < 0.5 * frame["credit_score"].std()
