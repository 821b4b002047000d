"""A mergeable profile of one column.

Every profile keeps exact counts: rows, missing values, min, max, and the
mean and sum of squared deviations (merged with Chan's parallel formula).
Beyond them, two modes, chosen per run:

- ``exact`` (the default on one machine): continuous values are kept, and
  categorical counts are exact; figures computed from profiles equal SciPy's.
- ``sketch`` (bounded memory, for engines that profile partitions in
  parallel): continuous values go into an Apache DataSketches KLL sketch
  (parameter ``k``, default 200) and categories into a frequent-items sketch
  (``lg_max_k``, default 10, so at most ``0.75 * 2**10`` tracked items).

Error bound of sketch mode: a KLL sketch's CDF is within ``eps`` of the exact
CDF (``eps = kll.normalized_rank_error(False)``, about 1.3% at ``k=200``,
with 99% confidence), so :func:`ks_statistic` of two sketches is within
``eps_a + eps_b + 2 / GRID`` of the exact statistic (``GRID = 1000``
evaluation ranks). Frequent-items counts are within the sketch's
``epsilon`` of the exact count; with fewer distinct values than tracked
items they are exact.

``zero`` / ``update`` (returns ``self``) / ``merge`` (and ``+``) /
``to_dict`` / ``from_dict`` follow river's and whylogs' conventions.
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any, Literal, Self

import datasketches as ds
import numpy as np
import pandas as pd
from scipy.special import rel_entr

from driftscope.errors import ValidationError

__all__ = ["GRID", "ColumnProfile", "jensen_shannon", "ks_statistic"]

GRID = 1000
Mode = Literal["exact", "sketch"]


class ColumnProfile:
    """Profile of one column (``kind`` continuous or categorical, ``mode`` exact or sketch).

    Examples
    --------
    >>> import numpy as np
    >>> a = ColumnProfile("continuous").update(np.array([1.0, 2.0, np.nan]))
    >>> b = ColumnProfile("continuous").update(np.array([3.0, 4.0]))
    >>> whole = a + b
    >>> whole.n, whole.missing, whole.mean, whole.quantile(0.5)
    (4, 1, 2.5, 2.5)
    """

    def __init__(
        self,
        kind: Literal["continuous", "categorical"],
        mode: Mode = "exact",
        *,
        k: int = 200,
        lg_max_k: int = 10,
    ) -> None:
        if kind not in ("continuous", "categorical"):
            raise ValidationError(f"profile kind must be continuous or categorical, not {kind!r}")
        if mode not in ("exact", "sketch"):
            raise ValidationError(f"profile mode must be exact or sketch, not {mode!r}")
        self.kind, self.mode, self.k, self.lg_max_k = kind, mode, k, lg_max_k
        self.zero()

    def zero(self) -> Self:
        """Reset to the empty profile."""
        self.n = 0
        self.missing = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = np.inf
        self.max = -np.inf
        self._parts: list[np.ndarray] = []
        self.counts: Counter[str] = Counter()
        self.kll = ds.kll_doubles_sketch(self.k) if self.mode == "sketch" else None
        self.items = ds.frequent_strings_sketch(self.lg_max_k) if self.mode == "sketch" else None
        return self

    # -- building ---------------------------------------------------------------
    def update(self, values: Any) -> Self:
        """Add a batch of values (missing values are counted, not profiled)."""
        if self.kind == "continuous":
            return self._update_continuous(values)
        series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
        isna = series.isna().to_numpy()
        present = series[~isna]
        # count distinct raw values first, then key them as strings (one str() per distinct)
        return self.update_counts(present.value_counts(sort=False), int(isna.sum()))

    def update_counts(self, counts: Any, missing: int = 0) -> Self:
        """Add categorical counts (``{category: count}``) and ``missing`` missing values."""
        if self.kind != "categorical":
            raise ValidationError("update_counts needs a categorical profile")
        batch: Counter[str] = Counter()
        for item, count in dict(counts).items():
            if count < 0:
                raise ValidationError(f"negative count {count!r} for {item!r}")
            if count:
                batch[str(item)] += int(count)
        self.missing += int(missing)
        self.n += sum(batch.values())
        if self.items is not None:
            for key, count in batch.items():
                self.items.update(key, count)
        else:
            self.counts.update(batch)
        return self

    def _update_continuous(self, values: Any) -> Self:
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            raw = np.asarray(values, dtype=np.float64)
        else:
            raw = np.asarray(pd.to_numeric(pd.Series(values)), dtype=np.float64)
        isna = np.isnan(raw)
        n_missing = int(isna.sum())
        self.missing += n_missing
        x = raw[~isna] if n_missing else raw
        if x.size:
            mean = float(x.mean())
            self._merge_moments(x.size, mean, float(np.dot(x - mean, x - mean)))
            self.min, self.max = min(self.min, float(x.min())), max(self.max, float(x.max()))
            if self.kll is not None:
                self.kll.update(np.ascontiguousarray(x, dtype=np.float64))
            else:
                self._parts.append(x.copy() if x is values else x)
        return self

    def _merge_moments(self, n: int, mean: float, m2: float) -> None:
        total = self.n + n
        if total == 0:
            return
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.n * n / total
        self.mean += delta * n / total
        self.n = total

    def merge(self, other: ColumnProfile) -> Self:
        """Fold ``other`` (same kind and mode) into this profile."""
        if (other.kind, other.mode) != (self.kind, self.mode):
            raise ValidationError(
                f"cannot merge a {other.kind}/{other.mode} profile into {self.kind}/{self.mode}"
            )
        self.missing += other.missing
        if self.kind == "continuous":
            self._merge_moments(other.n, other.mean, other.m2)
            self.min, self.max = min(self.min, other.min), max(self.max, other.max)
            if self.kll is not None and other.kll is not None:
                self.kll.merge(other.kll)
            else:
                self._parts.extend(other._parts)
        else:
            self.n += other.n
            if self.items is not None and other.items is not None:
                self.items.merge(other.items)
            else:
                self.counts.update(other.counts)
        return self

    def __add__(self, other: ColumnProfile) -> ColumnProfile:
        return self.copy().merge(other)

    def copy(self) -> ColumnProfile:
        return ColumnProfile.from_dict(self.to_dict())

    # -- reading ----------------------------------------------------------------
    @property
    def values(self) -> np.ndarray:
        """All values, sorted (exact continuous profiles only)."""
        if self.mode != "exact" or self.kind != "continuous":
            raise ValidationError("values are kept only by exact continuous profiles")
        if len(self._parts) != 1:
            joined = np.concatenate(self._parts) if self._parts else np.empty(0)
            self._parts = [np.sort(joined)]
        elif not np.all(self._parts[0][:-1] <= self._parts[0][1:]):
            self._parts = [np.sort(self._parts[0])]
        return self._parts[0]

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else float("nan")

    @property
    def rank_error(self) -> float:
        """The CDF error bound of this profile (0 in exact mode)."""
        return float(self.kll.normalized_rank_error(False)) if self.kll is not None else 0.0

    def quantile(self, q: float) -> float:
        if self.n == 0:
            return float("nan")
        if self.kll is not None:
            return float(self.kll.get_quantile(q))
        return float(np.quantile(self.values, q))

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """``P(X <= x)`` at each point."""
        if self.kll is not None:
            return np.asarray(self.kll.get_cdf(list(map(float, points)), True)[:-1])
        return np.searchsorted(self.values, points, side="right") / max(self.n, 1)

    def category_counts(self) -> dict[str, float]:
        if self.items is not None:
            rows = self.items.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
            return {item: float(est) for item, est, _lo, _hi in rows}
        return {k: float(v) for k, v in self.counts.items()}

    # -- serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "mode": self.mode,
            "k": self.k,
            "lg_max_k": self.lg_max_k,
            "n": self.n,
            "missing": self.missing,
            "mean": self.mean,
            "m2": self.m2,
            "min": self.min,
            "max": self.max,
            "counts": dict(self.counts),
        }
        if self.kll is not None:
            out["kll"] = base64.b64encode(self.kll.serialize()).decode()
        if self.items is not None:
            out["items"] = base64.b64encode(self.items.serialize()).decode()
        if self.mode == "exact" and self.kind == "continuous":
            out["values"] = self.values.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        prof = cls(data["kind"], data["mode"], k=data["k"], lg_max_k=data["lg_max_k"])
        prof.n, prof.missing = int(data["n"]), int(data["missing"])
        prof.mean, prof.m2 = float(data["mean"]), float(data["m2"])
        prof.min, prof.max = float(data["min"]), float(data["max"])
        prof.counts = Counter(data.get("counts", {}))
        if "kll" in data:
            prof.kll = ds.kll_doubles_sketch.deserialize(base64.b64decode(data["kll"]))
        if "items" in data:
            prof.items = ds.frequent_strings_sketch.deserialize(base64.b64decode(data["items"]))
        if "values" in data:
            prof._parts = [np.asarray(data["values"], dtype=np.float64)]
        return prof


def ks_statistic(a: ColumnProfile, b: ColumnProfile) -> float:
    """Two-sample KS statistic from two continuous profiles (exact mode: SciPy's value)."""
    if a.n == 0 or b.n == 0:
        return float("nan")
    if a.mode == "exact" and b.mode == "exact":
        points = np.concatenate([a.values, b.values])
    else:
        ranks = np.linspace(0.0, 1.0, GRID + 1)
        points = np.unique(
            np.concatenate([[a.quantile(r) for r in ranks], [b.quantile(r) for r in ranks]])
        )
    return float(np.max(np.abs(a.cdf(points) - b.cdf(points))))


def jensen_shannon(a: ColumnProfile, b: ColumnProfile) -> float:
    """Jensen-Shannon distance (base 2) of two categorical profiles' category shares."""
    ca, cb = a.category_counts(), b.category_counts()
    keys = sorted(set(ca) | set(cb))
    p = np.array([ca.get(k, 0.0) for k in keys])
    q = np.array([cb.get(k, 0.0) for k in keys])
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(np.sqrt(max((rel_entr(p, m).sum() + rel_entr(q, m).sum()) / 2 / np.log(2), 0)))
