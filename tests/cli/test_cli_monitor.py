"""``driftscope monitor reference`` and ``monitor run``: the service functions from the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error
from typer.testing import CliRunner

from driftscope.cli.main import app
from driftscope.storage import open_store
from driftscope.types import Record

runner = CliRunner()


def test_monitor_reference_and_run(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"storage:\n  database_url: {db}\nmonitoring:\n  chunk_size: 100\n"
        "models:\n  - name: r\n    upstream: http://127.0.0.1:1\n    task: regression\n"
        "    schema:\n      features: [{name: x}]\n"
    )
    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    ref = pd.DataFrame({"x": x, "prediction": 2 * x, "target": 2 * x + rng.normal(size=600)})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    bad = ref.rename(columns={"x": "y"})
    bad.to_csv(tmp_path / "bad.csv", index=False)

    result = runner.invoke(app, ["monitor", "run", "r", "--config", str(cfg)])
    assert result.exit_code != 0  # the database has no schema yet
    assert runner.invoke(app, ["db", "upgrade", "--config", str(cfg)]).exit_code == 0
    upload = ["monitor", "reference", "r", "--config", str(cfg)]
    result = runner.invoke(app, [*upload, str(tmp_path / "bad.csv")])
    assert result.exit_code == 1 and "missing feature column(s) ['x']" in result.output
    result = runner.invoke(app, [*upload, str(tmp_path / "ref.csv")])
    assert result.exit_code == 0, result.output
    assert "600 rows" in result.output and "with performance" in result.output

    store = open_store(db)
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    new = rng.normal(size=300)
    store.add_records(
        [
            Record(
                "r",
                f"q{i}",
                0,
                t0 + timedelta(seconds=i),
                features={"x": float(v)},
                prediction=float(2 * v),
            )  # fmt: skip
            for i, v in enumerate(new)
        ]
    )
    result = runner.invoke(app, ["monitor", "run", "r", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "300 records" in result.output
    runs = store.list_runs("r")
    assert [(r.trigger, r.status) for r in runs] == [("cli", "succeeded")]
    mae = store.load_results("r", metric="mae")
    assert set(mae["method"]) == {"realized", "dle"}
    assert mae[mae["method"] == "realized"]["value"].isna().all()  # no labels yet
    store.close()
    # the reference's own MAE is what DLE learned from: estimates are near it
    ref_mae = mean_absolute_error(ref["target"], ref["prediction"])
    dle = mae[mae["method"] == "dle"]["value"]
    assert ((dle - ref_mae).abs() < 0.5 * ref_mae).all()
