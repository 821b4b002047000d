"""The drift-method plugin interface and its registry.

A method is fitted on the reference sample of one column and then compares
chunk samples with it, returning ``(value, p_value)`` (``p_value`` is NaN
for methods without one). Methods are registered under a stable name
(``type`` in configs), so YAML, stored results and the Python API share
one vocabulary.

Reference chunks are compared with the reference *minus* that chunk
(``compute(sample, rest=...)``), so their values have the same distribution
as an analysis chunk's drawn from the reference population; thresholds
learned from them are not biased low. Fast methods do this exactly by
arithmetic (CDF-based distances scale by ``n / (n - m)``; counts subtract);
the others refit on the remaining rows.

Defined answers: an empty sample (every value missing, or an empty chunk)
gives NaN and no alert; so does a statistic that is undefined on the data
(documented per method).
"""

from __future__ import annotations

import builtins
import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from driftscope.errors import ConfigError
from driftscope.registry import Registry

__all__ = ["DriftMethod", "MethodConfig", "drift_methods", "make_method"]

Kind = Literal["continuous", "categorical"]
NAN = float("nan")
Outcome = tuple[float, float]

drift_methods: Registry[type[DriftMethod]] = Registry("drift_methods")


class MethodConfig(BaseModel):
    """Base config of a drift method: a ``type`` plus the method's parameters."""

    model_config = ConfigDict(extra="forbid")
    type: str


class DriftMethod(ABC):
    """One univariate drift statistic for one column.

    Subclasses set ``name`` (registry key), ``kinds`` (column kinds it
    accepts), ``metric`` (the result's metric name), ``value_limits`` (range
    of the value; thresholds never go past it) and ``Config``.
    """

    name: ClassVar[str]
    kinds: ClassVar[tuple[Kind, ...]]
    metric: ClassVar[str] = "statistic"
    value_limits: ClassVar[tuple[float | None, float | None]] = (0.0, None)
    has_p_value: ClassVar[bool] = False
    #: compares sorted samples (ECDF and binned methods): the calculator then cuts the
    #: reference chunks from one argsort of the reference instead of sorting each
    sorts_samples: ClassVar[bool] = False
    Config: ClassVar[builtins.type[MethodConfig]] = MethodConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            drift_methods.add(cls.name, cls)

    def __init__(self, **params: Any) -> None:
        try:
            config = self.Config.model_validate({"type": self.name, **params})
        except Exception as exc:
            key = f"methods.{self.name}"
            raise ConfigError(key, f"invalid parameters {params!r}: {exc}") from exc
        self.params: dict[str, Any] = config.model_dump(exclude={"type"})
        self.reference: Any = None

    def fit(self, reference: Any) -> DriftMethod:
        """Prepare for comparisons with ``reference`` (a sample of this column)."""
        self.reference = reference
        self._fit(reference)
        return self

    def _fit(self, reference: Any) -> None:  # noqa: B027  (optional hook)
        """Precompute what comparisons need (default: nothing)."""

    def prepare(self, samples: list[Any]) -> None:  # noqa: B027  (optional hook)
        """Get ready to compute several samples (chunks) at once (default: nothing).

        A method may compare them with the reference together, in fewer and
        larger NumPy calls, and cache what :meth:`compute` then reads.
        """

    def compute(self, sample: Any, rest: Callable[[], Any] | None = None) -> Outcome:
        """``(value, p_value)`` of ``sample`` against the reference.

        With ``rest`` (a reference chunk), the comparison is against the
        reference minus ``sample``; ``rest()`` builds that sample.
        """
        if sample.n == 0 or self.reference is None or self.reference.n == 0:
            return NAN, NAN
        if rest is None:
            return self._compute(sample)
        return self._compute_rest(sample, rest)

    @abstractmethod
    def _compute(self, sample: Any) -> Outcome:
        raise NotImplementedError

    def _compute_rest(self, sample: Any, rest: Callable[[], Any]) -> Outcome:
        other = rest()
        if other.n == 0:
            return NAN, NAN
        twin = copy.copy(self)
        twin.fit(other)
        return twin._compute(sample)

    def to_config(self) -> dict[str, Any]:
        return {"type": self.name, **self.params}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


def make_method(spec: str | dict[str, Any] | DriftMethod | MethodConfig) -> DriftMethod:
    """A fresh, unfitted method from a name, a config dict / model, or a method to copy."""
    if isinstance(spec, DriftMethod):
        return type(spec)(**spec.params)
    if isinstance(spec, str):
        raw: dict[str, Any] = {"type": spec}
    elif isinstance(spec, BaseModel):
        raw = spec.model_dump()
    else:
        raw = dict(spec)
    name = raw.pop("type", None)
    if name is None:
        raise ConfigError("methods.type", f"missing; valid: {', '.join(drift_methods.names())}")
    try:
        cls = drift_methods.get(str(name))
    except Exception as exc:
        raise ConfigError("methods.type", str(exc)) from exc
    return cls(**raw)
