"""``driftscope export``: Parquet by model and day in the blob store, on both storage pairs.

The files are read back with ``pyarrow.dataset`` and Hive partitioning, the
way lakehouse tools read them (S3 objects are listed and fetched with boto3
first, so the test also checks the keys).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from driftscope.cli.main import app
from driftscope.types import GroundTruth
from storage.store_backends import storage_pair  # noqa: F401
from storage.store_helpers import T0, make_record

runner = CliRunner()
DAY2 = T0 + timedelta(days=1, hours=3)


def _config(tmp_path: Path, pair) -> Path:
    lines = [
        "storage:",
        f"  database_url: {pair.database_url}",
        f"  blob_url: {pair.blob_url}",
    ]
    if pair.blob_options:
        lines += [
            f"  s3_endpoint_url: {pair.blob_options['endpoint_url']}",
            f"  s3_region: {pair.blob_options['region']}",
        ]
    lines += ["models:", "  - name: m", "    upstream: http://127.0.0.1:1"]
    cfg = tmp_path / "driftscope.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def _local_copy(pair, tmp_path: Path, prefix: str) -> tuple[Path, list[str]]:
    """The exported tree as a local folder, and its keys relative to the export prefix."""
    if not pair.blob_options:
        root = Path(pair.blob_url.removeprefix("file://")) / prefix
        return root, sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
    import boto3

    bucket, _, base = pair.blob_url.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=pair.blob_options["endpoint_url"])
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{base}/{prefix}/")
    root = tmp_path / "download"
    keys = []
    for obj in listed.get("Contents", []):
        rel = obj["Key"].removeprefix(f"{base}/{prefix}/")
        keys.append(rel)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, obj["Key"], str(root / rel))
    return root, sorted(keys)


def test_export_partitions_by_model_and_day(storage_pair, tmp_path):  # noqa: F811
    store, blobs = storage_pair.open()
    store.add_records([make_record(i) for i in range(5)])  # day 1, model m
    store.add_records([make_record(i, timestamp=DAY2 + timedelta(minutes=i)) for i in range(5, 8)])
    boxes = [{"label": "cat", "x1": 1.0}]
    store.add_records([make_record(i, model="odd/name", prediction=boxes) for i in range(2)])
    store.put_ground_truth([GroundTruth("m", "r1", 0, 1), GroundTruth("m", "r6", 0, 0)])
    store.close()
    cfg = _config(tmp_path, storage_pair)

    result = runner.invoke(app, ["export", "--config", str(cfg), "--to", "2024-05-03"])
    assert result.exit_code == 0, result.output
    assert "exported 10 record(s) in 3 file(s)" in result.output
    root, keys = _local_copy(storage_pair, tmp_path, "exports/records")
    assert keys == [
        "model=m/date=2024-05-01/part-00000.parquet",
        "model=m/date=2024-05-02/part-00000.parquet",
        "model=odd%2Fname/date=2024-05-01/part-00000.parquet",
    ]
    # one dataset per model (models differ in their columns), days and models as partitions
    hive = ds.HivePartitioning.discover(infer_dictionary=False)
    m = ds.dataset(root / "model=m", format="parquet", partitioning=hive).to_table().to_pandas()
    m = m.sort_values("timestamp")
    assert m["request_id"].tolist() == [f"r{i}" for i in range(8)]
    assert m["date"].astype(str).tolist() == ["2024-05-01"] * 5 + ["2024-05-02"] * 3
    assert m["age"].tolist() == [20 + i for i in range(8)]
    assert m.set_index("request_id")["target"].dropna().to_dict() == {"r1": 1, "r6": 0}
    models = ds.dataset(root, format="parquet", partitioning="hive").to_table(columns=["model"])
    assert sorted(set(models["model"].to_pylist())) == ["m", "odd/name"]  # URI-decoded
    odd = ds.dataset(root / "model=odd%2Fname", format="parquet").to_table().to_pandas()
    # boxes are JSON text in Parquet
    assert [json.loads(v) for v in odd["prediction"]] == [[{"label": "cat", "x1": 1.0}]] * 2

    # a filtered re-run overwrites its day, it does not add a second copy
    again = runner.invoke(
        app, ["export", "-c", str(cfg), "-m", "m", "--from", "2024-05-02", "--to", "2024-05-02"]
    )
    assert again.exit_code == 0, again.output
    assert "exported 3 record(s) in 1 file(s)" in again.output
    root, keys2 = _local_copy(storage_pair, tmp_path / "second", "exports/records")
    assert keys2 == keys
    assert ds.dataset(root / "model=m", format="parquet").count_rows() == 8


def test_export_rejects_bad_days(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"storage:\n  database_url: sqlite:///{tmp_path / 'x.db'}\n"
        f"  blob_url: file://{tmp_path / 'b'}\n"
    )
    result = runner.invoke(app, ["export", "-c", str(cfg), "--from", "May 1"])
    assert result.exit_code == 2 and "--from: expected a day as YYYY-MM-DD" in result.output
    result = runner.invoke(
        app, ["export", "-c", str(cfg), "--from", "2024-05-02", "--to", "2024-05-01"]
    )
    assert result.exit_code == 1 and "export range is empty" in result.output


@pytest.mark.parametrize("prefix", ["", "lake/"])
def test_part_keys(prefix):
    from datetime import date

    from driftscope.storage.export import part_key

    key = part_key(prefix, "a b/c", date(2024, 1, 2))
    assert key == f"{prefix}model=a%20b%2Fc/date=2024-01-02/part-00000.parquet"
