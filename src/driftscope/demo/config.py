"""The demo's configuration: one model behind the collector, on embedded storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from driftscope.config.settings import Settings
from driftscope.demo import data, model_server


def demo_config(data_dir: Path, upstream: str, port: int = 0) -> dict[str, Any]:
    """The config document (what a user would write in driftscope.yaml; no secrets)."""
    data_dir = data_dir.resolve()
    return {
        "data_dir": str(data_dir),
        "server": {"host": "127.0.0.1", "port": port, "workers": 1},
        "capture": {
            "spool_dir": str(data_dir / "spool"),
            "segment_max_age_s": 0.5,
            "ingest_interval_s": 0.25,
        },
        "storage": {
            "database_url": f"sqlite:///{data_dir / 'driftscope.db'}",
            "blob_url": f"file://{data_dir / 'blobs'}",
        },
        "models": [
            {
                "name": model_server.MODEL_NAME,
                "version": model_server.MODEL_VERSION,
                "task": "binary_classification",
                "upstream": upstream,
                "protocol": "oip_v2",
                "sample_rate": 1.0,
                "schema": {
                    "features": [
                        {
                            "name": f,
                            "type": "categorical" if f in data.CATEGORICAL else "continuous",
                        }
                        for f in data.FEATURES
                    ],
                    "input": model_server.INPUT_NAME,
                    "prediction": model_server.LABEL_OUTPUT,
                    "scores": model_server.SCORES_OUTPUT,
                    "classes": data.CLASSES,
                },
            }
        ],
    }


def demo_settings(data_dir: Path, upstream: str, port: int, token: str) -> Settings:
    """Validated settings for the demo; the token is set here, never written to a file."""
    from pydantic import SecretStr

    settings = Settings.model_validate(demo_config(data_dir, upstream, port))
    settings.server = settings.server.model_copy(update={"token": SecretStr(token)})
    return settings


def write_config(path: Path, document: dict[str, Any]) -> None:
    header = (
        "# Written by `driftscope demo`: the config it runs with (the token comes from\n"
        "# DRIFTSCOPE_SERVER__TOKEN). `driftscope serve --config` accepts this file.\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))
