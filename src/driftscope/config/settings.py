"""Settings models.

Sources, lowest to highest precedence: defaults, the YAML file, environment
variables (``DRIFTSCOPE_`` prefix, ``__`` between nested keys, e.g.
``DRIFTSCOPE_SERVER__PORT=9000``). Secrets (the API token, database
passwords, S3 keys) are read from the environment only: a secret found in
the YAML file is refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from driftscope.errors import ConfigError
from driftscope.types import Protocol, Task

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class FeatureSpec(_Strict):
    name: str
    """Column name as the model receives it."""
    type: Literal["continuous", "categorical", "text", "image", "timestamp", "auto"] = "auto"
    """How the monitoring engine treats the column."""


class SchemaSpec(_Strict):
    features: list[FeatureSpec] = Field(default_factory=list)
    """Input features in the order of the model's input tensor columns."""
    input: str | None = None
    """OIP v2 / KServe input tensor holding the features (default: the first one)."""
    prediction: str | None = None
    """Output holding the predicted label or value (default: the first output)."""
    scores: str | None = None
    """Output holding class scores / probabilities (optional)."""
    classes: list[str] | None = None
    """Class names, in the order of the score columns."""
    target: str = "target"
    """Name of the ground-truth column in reference datasets."""
    # plain JSON APIs: dotted paths into the request / response documents
    features_path: str | None = None
    """Plain JSON: dotted path to the feature rows (a dict or a list of dicts) in the request."""
    prediction_path: str | None = None
    """Plain JSON and image: dotted path to the prediction(s) in the response."""
    scores_path: str | None = None
    """Plain JSON and image: dotted path to the scores in the response."""

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


class ModelLabelingSettings(_Strict):
    enabled: bool = True
    """Send this model's records to the labeling tool (``labeling`` section)."""
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of the model's records sent as tasks, chosen deterministically per record."""
    project: str | None = None
    """Title of the model's project in the tool (default: ``driftscope <model name>``)."""


class ModelSettings(_Strict):
    name: str
    """Model name, as routed (`/v2/models/{name}/infer`)."""
    version: str | None = None
    """Model version recorded with each record when the request does not name one."""
    task: Task = Task.BINARY_CLASSIFICATION
    upstream: str
    """Base URL of the inference server, e.g. http://127.0.0.1:8080."""
    protocol: Protocol = Protocol.OIP_V2
    path_prefix: str | None = None
    """Plain JSON and image APIs: requests under this path prefix are routed to this model."""
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of requests captured, decided deterministically on the request id."""
    model_schema: SchemaSpec = Field(default_factory=SchemaSpec, alias="schema")
    reference: str | None = None
    """Path of a reference dataset (CSV or Parquet) for monitoring."""
    label_delay: str | None = None
    """Expected delay of ground truth, e.g. '1h'; younger chunks show estimated performance only."""
    labeling: ModelLabelingSettings | None = None
    """Send sampled records to the labeling tool (needs the top-level ``labeling`` section)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"model name {v!r} must match {_NAME.pattern}")
        return v

    @field_validator("upstream")
    @classmethod
    def _valid_upstream(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"upstream {v!r} must start with http:// or https://")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _json_needs_prefix(self) -> ModelSettings:
        if self.protocol in (Protocol.JSON, Protocol.IMAGE) and not self.path_prefix:
            raise ValueError(f"protocol {self.protocol.value!r} needs a path_prefix")
        return self


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    """Address to listen on. A non-loopback address needs a token."""
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    """Collector worker processes (one per core is a good start)."""
    token: SecretStr | None = None
    """Bearer token for the management API and /metrics (environment only:
    DRIFTSCOPE_SERVER__TOKEN)."""
    access_log: bool = False


class ProxySettings(_Strict):
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    """Request bodies above this size get 413."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    """Total time allowed for an upstream answer before 504."""
    max_connections: int = Field(default=512, ge=1)
    capture_header: str = "X-Driftscope-Capture"
    """A request with this header set to 1/true is always captured."""


class CaptureSettings(_Strict):
    spool_dir: Path = Path("driftscope-data/spool")
    """Append-only spool on local disk, one sub-folder per worker."""
    queue_size: int = Field(default=10_000, ge=1)
    """Bound of the in-memory queue; what a kill -9 can lose at most."""
    flush_interval_s: float = Field(default=0.05, gt=0)
    """How often the queue is appended to the spool."""
    segment_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    segment_max_age_s: float = Field(default=1.0, gt=0)
    batch_size: int | None = Field(default=None, ge=1)
    """Records per database batch in ingest; unset: the store's own (PostgreSQL's COPY
    20000, SQLite 2000: the best batches measured in benchmarks/ingest)."""
    ingest_interval_s: float = Field(default=0.5, gt=0)


class StorageSettings(_Strict):
    database_url: str = "sqlite:///driftscope-data/driftscope.db"
    """SQLAlchemy URL. Passwords belong in the environment (DRIFTSCOPE_STORAGE__DATABASE_URL)."""
    blob_url: str = "file://driftscope-data/blobs"
    """Object store: file://folder or s3://bucket/prefix."""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None


class MonitoringSettings(_Strict):
    interval_s: float = Field(default=300.0, gt=0)
    """How often the scheduler computes results for each model."""
    chunk_size: int | None = Field(default=None, ge=1)
    chunk_period: Literal["hour", "day", "week", "month"] | None = None
    enabled: bool = True


class LabelingSettings(_Strict):
    tool: str = "labelstudio"
    """Labeling plugin (``labeling`` registry), e.g. ``labelstudio``."""
    url: str
    """Base URL of the labeling tool, e.g. http://label-studio:8080."""
    api_token: SecretStr | None = None
    """API token of the tool's account (environment only: DRIFTSCOPE_LABELING__API_TOKEN)."""
    webhook_secret: SecretStr | None = None
    """Shared secret the tool sends in the webhook header (environment only:
    DRIFTSCOPE_LABELING__WEBHOOK_SECRET). Without it the webhook endpoint refuses every call."""
    webhook_url: str | None = None
    """Base URL under which the tool reaches driftscope, e.g. http://driftscope:8000
    (the webhook is ``{webhook_url}/api/v1/labels/webhook/{tool}``). None: no webhook."""
    interval_s: float = Field(default=60.0, gt=0)
    """How often new records are sent as tasks."""
    max_tasks_per_run: int = Field(default=100, ge=1)
    """Tasks sent per model and run at most (newest records first)."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Timeout of one call to the tool."""

    @field_validator("url", "webhook_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} must start with http:// or https://")
        return None if v is None else v.rstrip("/")


class Settings(BaseSettings):
    """All of driftscope's settings."""

    model_config = SettingsConfigDict(
        env_prefix="DRIFTSCOPE_",
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
    )

    data_dir: Path = Path("driftscope-data")
    server: ServerSettings = Field(default_factory=ServerSettings)
    proxy: ProxySettings = Field(default_factory=ProxySettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    models: list[ModelSettings] = Field(default_factory=list)
    labeling: LabelingSettings | None = None
    """The labeling tool records are sent to (models opt in with their ``labeling`` key)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment beats the YAML file (passed as init kwargs)
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _unique_models(self) -> Settings:
        seen: set[str] = set()
        for m in self.models:
            if m.name in seen:
                raise ValueError(f"model {m.name!r} is configured twice")
            seen.add(m.name)
        return self

    @model_validator(mode="after")
    def _labeling_needs_tool(self) -> Settings:
        for m in self.models:
            if m.labeling is not None and m.labeling.enabled and self.labeling is None:
                raise ValueError(
                    f"model {m.name!r} has labeling enabled but there is no 'labeling' section"
                )
        return self

    def model(self, name: str) -> ModelSettings | None:
        for m in self.models:
            if m.name == name:
                return m
        return None


_SECRET_KEYS = {
    ("server", "token"),
    ("labeling", "api_token"),
    ("labeling", "webhook_secret"),
}


def _reject_secrets(data: dict[str, Any]) -> None:
    for section, key in _SECRET_KEYS:
        sec = data.get(section)
        if isinstance(sec, dict) and sec.get(key) is not None:
            raise ConfigError(
                f"{section}.{key}",
                "secrets are read from the environment only "
                f"(set DRIFTSCOPE_{section.upper()}__{key.upper()})",
            )


def _loc(err: Any) -> str:
    return ".".join(str(p) for p in err.get("loc", ())) or "<root>"


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (if any), apply environment variables, validate.

    Raises :class:`ConfigError` naming the first bad key and its value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError("config", f"file {str(p)!r} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError("config", f"{p} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError("config", f"{p} must hold a mapping at the top level")
        data = loaded
    _reject_secrets(data)
    data.update(overrides)
    try:
        return Settings(**data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        value = err.get("input")
        raise ConfigError(_loc(err), f"{err['msg']} (got {value!r})") from exc
