"""Configuration: one YAML file; environment variables override; secrets from the environment."""

from driftscope.config.settings import (
    CaptureSettings,
    FeatureSpec,
    ModelSettings,
    MonitoringSettings,
    ProxySettings,
    SchemaSpec,
    ServerSettings,
    Settings,
    StorageSettings,
    load_settings,
)

__all__ = [
    "CaptureSettings",
    "FeatureSpec",
    "ModelSettings",
    "MonitoringSettings",
    "ProxySettings",
    "SchemaSpec",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "load_settings",
]
