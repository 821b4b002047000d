from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from driftscope.cli.analyze import analyze
from driftscope.monitoring import Monitor, Result
from driftscope.monitoring.report import render_report


def _frames(seed=0):
    rng = np.random.default_rng(seed)
    n = 3000
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "country": rng.choice(["fr", "de", "it"], n),
        }
    )
    new = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "country": rng.choice(["fr", "de", "it"], n),
        }
    )
    new.loc[new["country"] == "de", "x"] += 1.0
    return ref, new


def test_monitor_segments_rank_the_drifted_segment_first():
    ref, new = _frames()
    mon = Monitor(
        chunker={"type": "count", "chunk_number": 3},
        segment_column="country",
        min_segment_rows=100,
        outliers=True,
        pca=True,
    ).fit(ref)
    result = mon.calculate(new)
    seg = result.segment_ranking()
    assert seg["segment"].iloc[0] == "de" and seg["top_column"].iloc[0] == "x"
    assert set(result.data["method"]) >= {"ks", "quality", "outliers", "pca"}
    assert result.ranking()["column"].iloc[0] == "x"


def test_report_is_self_contained(tmp_path):
    ref, new = _frames()
    result = Monitor(chunker={"type": "count", "chunk_number": 3}).fit(ref).calculate(new)
    page = render_report(result, reference=ref, analysis=new)
    # plotly.js, the lazy-drawing script, and one JSON block per figure: nothing else
    figures = page.count("class='plotly-graph-div ds-plot'")
    assert figures > 0 and page.count("type='application/json'") == figures
    assert page.count("<script") == 2 + figures
    assert "<script src" not in page and "Ranking" in page


def test_analyze_command(tmp_path):
    ref, new = _frames()
    ref.to_parquet(tmp_path / "ref.parquet")
    new.to_csv(tmp_path / "new.csv", index=False)
    (tmp_path / "schema.yaml").write_text("features: [x, y]\nquality: false\n")
    import typer

    app = typer.Typer()
    app.command()(analyze)
    app.command("other")(lambda: None)
    args = [
        "analyze",
        "--reference",
        str(tmp_path / "ref.parquet"),
        "--analysis",
        str(tmp_path / "new.csv"),
        "--schema",
        str(tmp_path / "schema.yaml"),
        "--chunks",
        "3",
        "--out",
        str(tmp_path / "res.parquet"),
        "--report",
        str(tmp_path / "r.html"),
    ]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    res = Result.load(tmp_path / "res.parquet")
    assert set(res.data["column"]) == {"x", "y"}
    assert (tmp_path / "r.html").stat().st_size < 10_000_000
    bad = CliRunner().invoke(app, [*args[:7], "--chunks", "3", "--chunk-size", "5"])
    assert bad.exit_code == 2
    sketch = CliRunner().invoke(
        app, [*args[:9], "--out", str(tmp_path / "s.csv"), "--mode", "sketch"]
    )
    assert sketch.exit_code == 0, sketch.output
    exact = res.data.set_index(["chunk_key", "column", "method"])["value"]
    approx = pd.read_csv(tmp_path / "s.csv").set_index(["chunk_key", "column", "method"])["value"]
    ks = (exact - approx).xs("ks", level="method").abs()
    assert len(ks) == 6 and (ks <= 0.08).all()  # 3 chunks x 2 columns; bound 2 x 3 x 1.33%
    bad_mode = CliRunner().invoke(app, [*args[:7], "--mode", "fast"])
    assert bad_mode.exit_code == 2 and "--mode" in bad_mode.output
