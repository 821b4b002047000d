"""Path -> model routing, precomputed from the settings once.

Capture candidates are ``POST`` requests to:

- OIP v2: ``/v2/models/{name}[/versions/{v}]/infer``
- KServe v1 / TF Serving: ``/v1/models/{name}[/versions/{v}]:predict``
- a model's ``path_prefix`` (plain JSON and image APIs, or any protocol set on the model)

Every other request is passed through untouched: to the upstream of the model
named in the path when it is configured, else to the one upstream all models
share, else it gets a 404 naming the configured models.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftscope.config.settings import ModelSettings, Settings
from driftscope.types import Protocol

#: Metrics label of requests that name no configured model.
UNROUTED = "_unrouted"
_V2 = "/v2/models/"
_V1 = "/v1/models/"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes and whether it may be captured (one instance per model and kind)."""

    model: str  # configured model name, or UNROUTED
    upstream: str  # base URL without a trailing slash
    capture: bool  # a capture candidate (sampling still decides)
    protocol: str = ""  # codec of the captured exchange
    rate: float = 0.0
    version: str | None = None  # configured default version


@dataclass(frozen=True, slots=True)
class Miss:
    """No upstream for this request: the model named (if any) and the configured ones."""

    model: str | None
    models: tuple[str, ...]

    def detail(self, path: str) -> str:
        names = ", ".join(self.models) or "none"
        if self.model is not None:
            return f"model {self.model!r} is not configured (configured: {names})"
        return (
            f"path {path!r} names no model and the configured models have different "
            f"upstreams (configured: {names})"
        )


def _capture(m: ModelSettings, protocol: str) -> Target:
    return Target(m.name, m.upstream, True, protocol, m.sample_rate, m.version)


@dataclass(frozen=True, slots=True)
class _ModelTargets:
    oip: Target
    kserve: Target
    prefix: Target
    passthrough: Target


class Router:
    """Resolve ``(method, path)`` to a :class:`Target` (plus the version named in the path)."""

    def __init__(self, settings: Settings) -> None:
        self._models: dict[str, _ModelTargets] = {}
        prefixes: list[tuple[str, _ModelTargets]] = []
        for m in settings.models:
            targets = _ModelTargets(
                oip=_capture(m, Protocol.OIP_V2.value),
                kserve=_capture(m, Protocol.KSERVE_V1.value),
                prefix=_capture(m, m.protocol.value),
                passthrough=Target(m.name, m.upstream, False, m.protocol.value, 0.0, m.version),
            )
            self._models[m.name] = targets
            if m.path_prefix:
                prefixes.append(("/" + m.path_prefix.strip("/"), targets))
        # longest prefix first, so /api/a/b wins over /api/a
        prefixes.sort(key=lambda p: len(p[0]), reverse=True)
        self._prefixes = tuple((p, p + "/" if p != "/" else "/", t) for p, t in prefixes)
        self._names = tuple(sorted(self._models))
        upstreams = {m.upstream for m in settings.models}
        self._default = Target(UNROUTED, upstreams.pop(), False) if len(upstreams) == 1 else None

    @property
    def models(self) -> tuple[str, ...]:
        return self._names

    def resolve(self, method: str, path: str) -> tuple[Target | Miss, str | None]:
        """The target of a request and the model version named in its path (or None)."""
        for prefix, prefix_slash, targets in self._prefixes:
            if path == prefix or path.startswith(prefix_slash):
                return (targets.prefix if method == "POST" else targets.passthrough), None
        if path.startswith(_V2):
            parts = path[len(_V2) :].split("/")
            targets_or_none = self._models.get(parts[0])
            if targets_or_none is None:
                return self._fallback(parts[0]), None
            if method == "POST":
                n = len(parts)
                if n == 2 and parts[1] == "infer":
                    return targets_or_none.oip, None
                if n == 4 and parts[1] == "versions" and parts[3] == "infer":
                    return targets_or_none.oip, parts[2]
            return targets_or_none.passthrough, None
        if path.startswith(_V1):
            rest = path[len(_V1) :]
            head, colon, verb = rest.partition(":")
            parts = head.split("/")
            targets_or_none = self._models.get(parts[0])
            if targets_or_none is None:
                return self._fallback(parts[0]), None
            if method == "POST" and colon and verb == "predict":
                n = len(parts)
                if n == 1:
                    return targets_or_none.kserve, None
                if n == 3 and parts[1] == "versions":
                    return targets_or_none.kserve, parts[2]
            return targets_or_none.passthrough, None
        return self._fallback(None), None

    def _fallback(self, name: str | None) -> Target | Miss:
        if self._default is not None:
            return self._default
        return Miss(name or None, self._names)
