"""Alert thresholds: constant, or learned from the values on reference chunks.

A threshold turns the metric values seen on reference chunks into a
``(lower, upper)`` pair; ``None`` means no bound on that side. An alert is a
value outside its bounds; a NaN value never alerts. Bounds are clipped to
the metric's own range (``value_limits``): a bound at or past the limit is
dropped, so a distance that cannot go below zero never alerts low.

Each threshold has a pydantic config with a stable ``type`` string
(``"constant"``, ``"std"``, ``"quantile"``); :func:`make_threshold` turns a
config dict into the working object with one registry lookup.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from driftscope.errors import ConfigError
from driftscope.registry import Registry

__all__ = [
    "ConstantThreshold",
    "QuantileThreshold",
    "StandardDeviationThreshold",
    "Threshold",
    "alerts",
    "make_threshold",
    "thresholds",
    "with_bounds",
]

Bounds = tuple[float | None, float | None]
thresholds: Registry[type[Threshold]] = Registry("thresholds")


class Threshold(ABC):
    """Turns reference-chunk values into ``(lower, upper)`` bounds."""

    type: ClassVar[str]
    Config: ClassVar[builtins.type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            thresholds.add(cls.type, cls)

    def bounds(
        self,
        reference_values: Any = (),
        value_limits: tuple[float | None, float | None] = (None, None),
    ) -> Bounds:
        """Bounds from ``reference_values`` (NaN ignored), clipped to ``value_limits``."""
        values = np.asarray(reference_values, dtype=np.float64).ravel()
        lower, upper = self._bounds(values[np.isfinite(values)])
        lo_lim, up_lim = value_limits
        if lower is not None and (
            not np.isfinite(lower) or (lo_lim is not None and lower <= lo_lim)
        ):
            lower = None
        if upper is not None and (
            not np.isfinite(upper) or (up_lim is not None and upper >= up_lim)
        ):
            upper = None
        return (None if lower is None else float(lower), None if upper is None else float(upper))

    @abstractmethod
    def _bounds(self, values: np.ndarray) -> Bounds:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """The threshold as its config dict."""
        fields = [k for k in self.Config.model_fields if k != "type"]
        return {"type": self.type, **{k: getattr(self, k) for k in fields}}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.to_config().items() if k != "type")
        return f"{type(self).__name__}({params})"


class ConstantThreshold(Threshold):
    """Fixed bounds, whatever the reference shows.

    Examples
    --------
    >>> ConstantThreshold(upper=0.1).bounds([0.01, 0.02])
    (None, 0.1)
    """

    type = "constant"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        type: Literal["constant"] = "constant"
        lower: float | None = None
        upper: float | None = None

    def __init__(self, lower: float | None = None, upper: float | None = None) -> None:
        if lower is not None and upper is not None and lower > upper:
            raise ConfigError("threshold.lower", f"{lower} is above upper {upper}")
        self.lower = lower
        self.upper = upper

    def _bounds(self, values: np.ndarray) -> Bounds:
        return self.lower, self.upper


class StandardDeviationThreshold(Threshold):
    """``mean - k_lower * std`` and ``mean + k_upper * std`` of the reference-chunk values.

    NannyML's default rule. Needs at least two finite reference values;
    otherwise both bounds are ``None`` (no alert). A multiplier of ``None``
    leaves that side unbounded.

    With ``prediction_interval=True`` (the default) the multiplier is widened
    for the few reference chunks the mean and std are estimated from: ``k``
    becomes ``t_{N-1}.ppf(Phi(k)) * sqrt(1 + 1/N)``, the normal
    prediction interval of a new value at the same nominal level as ``k``
    standard deviations. With 10 reference chunks and ``k=3`` the band is
    about 1.4 times wider; with many chunks it tends to NannyML's rule.
    Without it, false alarms on data without drift run well above the nominal
    0.3% when there are only ~10 reference chunks.

    Examples
    --------
    >>> t = StandardDeviationThreshold(None, 2, prediction_interval=False)
    >>> t.bounds([1.0, 2.0, 3.0])
    (None, 4.0)
    """

    type = "std"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        type: Literal["std"] = "std"
        std_lower_multiplier: float | None = Field(default=3.0, ge=0)
        std_upper_multiplier: float | None = Field(default=3.0, ge=0)
        prediction_interval: bool = True

    def __init__(
        self,
        std_lower_multiplier: float | None = 3.0,
        std_upper_multiplier: float | None = 3.0,
        prediction_interval: bool = True,
    ) -> None:
        self.prediction_interval = prediction_interval
        for key, val in (
            ("std_lower_multiplier", std_lower_multiplier),
            ("std_upper_multiplier", std_upper_multiplier),
        ):
            if val is not None and val < 0:
                raise ConfigError(f"threshold.{key}", f"must be >= 0, not {val}")
        self.std_lower_multiplier = std_lower_multiplier
        self.std_upper_multiplier = std_upper_multiplier

    def _bounds(self, values: np.ndarray) -> Bounds:
        if values.size < 2:
            return None, None
        mean, std = float(values.mean()), float(values.std(ddof=1))
        k_lo, k_up = self.std_lower_multiplier, self.std_upper_multiplier
        if self.prediction_interval:
            k_lo, k_up = (self._widen(k, values.size) for k in (k_lo, k_up))
        lower = None if k_lo is None else mean - k_lo * std
        upper = None if k_up is None else mean + k_up * std
        return lower, upper

    @staticmethod
    def _widen(k: float | None, n: int) -> float | None:
        if k is None or k == 0:
            return k
        from scipy import stats

        return float(stats.t.ppf(stats.norm.cdf(k), n - 1) * np.sqrt(1.0 + 1.0 / n))


class QuantileThreshold(Threshold):
    """Bounds at quantiles of the reference-chunk values, widened by ``margin`` x their range."""

    type = "quantile"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        type: Literal["quantile"] = "quantile"
        lower_quantile: float | None = Field(default=None, ge=0, le=1)
        upper_quantile: float | None = Field(default=1.0, ge=0, le=1)
        margin: float = Field(default=0.0, ge=0)

    def __init__(
        self,
        lower_quantile: float | None = None,
        upper_quantile: float | None = 1.0,
        margin: float = 0.0,
    ) -> None:
        self.lower_quantile = lower_quantile
        self.upper_quantile = upper_quantile
        self.margin = margin

    def _bounds(self, values: np.ndarray) -> Bounds:
        if values.size == 0:
            return None, None
        spread = float(values.max() - values.min()) * self.margin
        lower = upper = None
        if self.lower_quantile is not None:
            lower = float(np.quantile(values, self.lower_quantile)) - spread
        if self.upper_quantile is not None:
            upper = float(np.quantile(values, self.upper_quantile)) + spread
        return lower, upper


def make_threshold(spec: Threshold | dict[str, Any] | BaseModel | None) -> Threshold:
    """A threshold from itself, a config dict/model with a ``type`` key, or ``None`` (std, k=3)."""
    if isinstance(spec, Threshold):
        return spec
    if spec is None:
        return StandardDeviationThreshold()
    raw = spec.model_dump() if isinstance(spec, BaseModel) else dict(spec)
    kind = raw.get("type")
    if kind is None:
        raise ConfigError("threshold.type", f"missing; valid: {', '.join(thresholds.names())}")
    try:
        cls = thresholds.get(str(kind))
    except Exception as exc:
        raise ConfigError("threshold.type", str(exc)) from exc
    try:
        config = cls.Config.model_validate(raw)
    except Exception as exc:
        raise ConfigError("threshold", f"invalid {kind!r} threshold {raw!r}: {exc}") from exc
    return cls(**config.model_dump(exclude={"type"}))


def alerts(values: Any, lower: Any, upper: Any) -> np.ndarray:
    """Alert per value: outside ``[lower, upper]``; NaN values and NaN bounds never alert."""
    v = np.asarray(values, dtype=np.float64)
    lo = np.asarray(np.nan if lower is None else lower, dtype=np.float64)
    up = np.asarray(np.nan if upper is None else upper, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = (v < lo) | (v > up)
    return np.asarray(out & np.isfinite(v), dtype=bool)


def with_bounds(row: dict[str, Any], lower: float | None, upper: float | None) -> dict[str, Any]:
    """Set a result row's ``lower_threshold``, ``upper_threshold`` and ``alert`` in place."""
    row["lower_threshold"] = np.nan if lower is None else lower
    row["upper_threshold"] = np.nan if upper is None else upper
    row["alert"] = bool(alerts(row["value"], lower, upper))
    return row
