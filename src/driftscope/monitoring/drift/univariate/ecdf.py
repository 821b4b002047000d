"""CDF-based continuous methods: Kolmogorov-Smirnov, Kuiper, Wasserstein, energy distance.

The reference is sorted once; a chunk is sorted once and compared through
``searchsorted`` on its distinct values, so a chunk of ``m`` rows costs
``O(m log n)`` whatever the reference size ``n``. The integrals of the
reference CDF (and of its square) are prefix sums, which gives the exact
Wasserstein-1 and energy distances of SciPy without merging the samples
(Wasserstein reads them as offsets from the minimum: one gather per point,
see :attr:`ContinuousSample.cdf_offsets`).

- ``ks``: statistic and p-value exactly as ``scipy.stats.ks_2samp`` (mode
  ``auto``: exact when both samples have at most 10,000 values, Smirnov's
  asymptotic formula otherwise).
- ``kuiper``: ``D+ + D-`` with Kuiper's asymptotic p-value (Stephens'
  effective-size correction).
- ``wasserstein``: ``scipy.stats.wasserstein_distance``; ``wasserstein_norm``
  divides it by the reference IQR (its standard deviation when the IQR is 0;
  NaN for a constant reference), so columns compare.
- ``energy``: ``scipy.stats.energy_distance``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import special, stats

from driftscope.monitoring.drift.univariate.base import NAN, DriftMethod, MethodConfig, Outcome
from driftscope.monitoring.drift.univariate.samples import ContinuousSample
from driftscope.monitoring.drift.univariate.sketch import (
    ContinuousSketch,
    sketch_cdf_l1,
    sketch_gaps,
)

__all__ = [
    "EnergyDistance",
    "KolmogorovSmirnov",
    "Kuiper",
    "Wasserstein",
    "WassersteinNormalized",
    "ecdf_gaps",
    "ks_p_value",
]

MAX_EXACT_N = 10_000  # scipy.stats.ks_2samp's MAX_AUTO_N
FAST_SMIRNOV_N = 5_000  # above it, SciPy's smirnov loop is slower than the vectorised sum


def _last_of_runs(sorted_values: np.ndarray) -> np.ndarray:
    """Mask of the last value of each run of equal values of a sorted array."""
    keep = np.empty(sorted_values.size, dtype=bool)
    keep[:-1] = sorted_values[1:] != sorted_values[:-1]
    keep[-1] = True
    return keep


def _distinct(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and the count of values <= each."""
    keep = _last_of_runs(sorted_values)
    if keep.all():  # no ties (the usual continuous chunk): no copy, no search of the mask
        return sorted_values, np.arange(1, sorted_values.size + 1)
    return sorted_values[keep], np.flatnonzero(keep) + 1


def _ties(ref: ContinuousSample) -> tuple[np.ndarray, np.ndarray] | None:
    """For each sorted reference position: first index of its tie group, and one past its last.

    ``None`` when the reference has no ties (then they are ``i`` and ``i + 1``).
    """
    if "ties" not in ref.cache:
        r = ref.sorted
        new = np.empty(r.size, dtype=bool)
        new[0] = True
        np.not_equal(r[1:], r[:-1], out=new[1:])
        if new.all():
            ref.cache["ties"] = None
        else:
            starts = np.flatnonzero(new)
            group = np.cumsum(new) - 1
            ends = np.append(starts[1:], r.size)
            ref.cache["ties"] = (starts[group], ends[group])
    ties: tuple[np.ndarray, np.ndarray] | None = ref.cache["ties"]
    return ties


def _compare(ref: ContinuousSample, chunk: ContinuousSample) -> dict[str, Any]:
    """Chunk distinct values with counts, and the reference counts at and below them (cached)."""
    key = ("ecdf", id(ref))
    ranks = chunk.cache.get(("ranks", id(ref)))
    if key not in chunk.cache and ranks is not None:
        # a chunk of the reference itself (ContinuousSample.split): its ranks are known
        ties = _ties(ref)
        uniq: np.ndarray
        below: np.ndarray
        if ties is None:  # no ties: the chunk's values are distinct too
            uniq, below = chunk.sorted, np.arange(1, chunk.n + 1)
            j_right, j_left = ranks + 1, ranks
        else:
            keep = _last_of_runs(chunk.sorted)
            uniq, below = chunk.sorted[keep], np.flatnonzero(keep) + 1
            j_right, j_left = ties[1][ranks[keep]], ties[0][ranks[keep]]
        chunk.cache[key] = {"uniq": uniq, "below": below, "j_right": j_right, "j_left": j_left}
    if key not in chunk.cache:
        r = ref.sorted
        uniq, below = _distinct(chunk.sorted)
        j_right = np.searchsorted(r, uniq, side="right")
        ties = _ties(ref)
        prev = j_right - 1
        np.maximum(prev, 0, out=prev)
        # where j_right = 0 every reference value exceeds the chunk value, so r[0] != it
        hit = np.take(r, prev) == uniq
        j_left = j_right - hit if ties is None else np.where(hit, ties[0][prev], j_right)
        chunk.cache[key] = {"uniq": uniq, "below": below, "j_right": j_right, "j_left": j_left}
    cmp: dict[str, Any] = chunk.cache[key]
    return cmp


def ecdf_gaps(ref: ContinuousSample, chunk: ContinuousSample) -> tuple[float, float]:
    """``(max(F_chunk - F_ref), max(F_ref - F_chunk))``, each at least 0."""
    cmp = _compare(ref, chunk)
    n, m = ref.n, chunk.n
    f_chunk = cmp["below"] / m
    f_ref = cmp["j_right"] / n  # F_ref at each chunk value, then just before it (one buffer)
    np.subtract(f_chunk, f_ref, out=f_ref)
    d_plus = float(np.max(f_ref))
    f_ref_before = np.divide(cmp["j_left"], n, out=f_ref)
    # F_ref - F_chunk peaks just before the next chunk value (or before the first one)
    first = float(f_ref_before[0])
    gaps = np.subtract(f_ref_before[1:], f_chunk[:-1], out=f_chunk[:-1])
    d_minus = max(first, float(np.max(gaps, initial=0.0)))
    return max(d_plus, 0.0), max(d_minus, 0.0)


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of the two-sample KS statistic, as ``scipy.stats.ks_2samp`` computes it."""
    if max(n1, n2) <= MAX_EXACT_N:
        exact = getattr(stats._stats_py, "_attempt_exact_2kssamp", None)
        if exact is not None:
            success, _, prob = exact(n1, n2, math.gcd(n1, n2), d, "two-sided")
            if success:
                return float(np.clip(prob, 0.0, 1.0))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = float(np.round(m * n / (m + n)))
    if en > FAST_SMIRNOV_N and 1.0 < en * d < en - 1.0 and d < 0.5 and 2.2 <= en * d * d < 370.0:
        # the branch where kstwo.sf is 2 * smirnov(en, d), whose O(en) loop takes ~0.4 s at
        # en = 1e5: the same Birnbaum-Tingey sum, vectorised (relative difference ~1e-10)
        return float(np.clip(2.0 * _smirnov_sf(int(en), d), 0.0, 1.0))
    kolmogn = getattr(getattr(stats, "_ksstats", None), "_kolmogn", None)
    if kolmogn is not None:  # what kstwo.sf calls, without its per-call argument checks
        return float(np.clip(kolmogn(int(en), float(d), cdf=False), 0.0, 1.0))
    return float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))


def _smirnov_sf(n: int, x: float) -> float:
    """One-sided ``P(D+_n >= x)`` (``scipy.special.smirnov``) by the Birnbaum-Tingey sum."""
    j: np.ndarray = np.arange(0, math.floor(n * (1.0 - x)) + 1, dtype=np.float64)
    a: np.ndarray = 1.0 - x - j / n
    j, a = j[a > 0], a[a > 0]
    logs = (
        special.gammaln(n + 1.0)
        - special.gammaln(j + 1.0)
        - special.gammaln(n - j + 1.0)
        + (n - j) * np.log(a)
        + (j - 1.0) * np.log(x + j / n)
    )
    return float(x * np.exp(special.logsumexp(logs)))


def kuiper_p_value(v: float, n1: int, n2: int) -> float:
    """Asymptotic p-value of Kuiper's two-sample statistic (Stephens 1970)."""
    ne = n1 * n2 / (n1 + n2)
    lam = (math.sqrt(ne) + 0.155 + 0.24 / math.sqrt(ne)) * v
    if lam < 0.4:
        return 1.0
    j = np.arange(1, 101, dtype=np.float64)
    terms = 2.0 * (4.0 * j * j * lam * lam - 1.0) * np.exp(-2.0 * j * j * lam * lam)
    return float(np.clip(2.0 * terms.sum(), 0.0, 1.0))


def _cdf_square_terms(ref: ContinuousSample, x: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``G2(x) = int_-inf^x F_ref**2`` where ``j = #{ref <= x}``."""
    r = ref.sorted
    idx = j - 1
    np.maximum(idx, 0, out=idx)
    level = j / r.size
    # where j = 0 the level is 0 and C[0] = 0, so the terms are 0 without a mask
    width = x - r[idx]
    g2 = ref.cdf_integral_2[idx]
    g2 += level * level * width
    return g2


def cdf_distances(
    ref: ContinuousSample, chunk: ContinuousSample, *, l2: bool = False
) -> tuple[float, float]:
    """``(int |F_ref - F_chunk|, sqrt(int (F_ref - F_chunk)**2))``; NaN second unless ``l2``."""
    r = ref.sorted
    n, m = ref.n, chunk.n
    cmp = _compare(ref, chunk)
    uniq, below, j_right, j_left = cmp["uniq"], cmp["below"], cmp["j_right"], cmp["j_left"]
    ties = _ties(ref)
    u = uniq.size
    k = below / m
    # intervals [u_i, u_i+1) where F_chunk = k_i; the last runs to max(reference max, u_last)
    x = np.empty(u + 1)
    x[:u] = uniq
    x[u] = max(r[-1], uniq[-1])
    j = np.empty(u + 1, dtype=np.intp)
    j[:u] = j_right
    j[u] = n
    offsets, r0 = ref.cdf_offsets, r[0]
    # G1 at the interval ends; few temporaries (each is another pass of page-cold memory)
    level = j / n
    g1_pts = np.subtract(x, r0)
    g1_pts *= level
    g1_pts += np.take(offsets, j, out=level)
    g2_pts = _cdf_square_terms(ref, x, j) if l2 else None
    width = np.diff(x)
    d_g1 = np.diff(g1_pts)
    # |int (F_ref - k)| over each interval; the l1 path reuses width's buffer
    abs_part = np.multiply(k, width, out=None if l2 else width)
    np.subtract(d_g1, abs_part, out=abs_part)
    np.abs(abs_part, out=abs_part)
    # F_ref crosses k inside (u_i, u_i+1) when F_ref(u_i) < k <= F_ref(u_i+1 -), i.e. when
    # the ceil(k n)-th reference value lies strictly between them (the last interval has k = 1)
    bn = below[:-1] * n
    scaled = j_right[:-1] * m
    inside = np.zeros(u, dtype=bool)
    np.less(scaled, bn, out=inside[:-1])
    np.multiply(j_left[1:], m, out=scaled)
    inside[:-1] &= scaled >= bn
    if inside.any():
        j_in = np.minimum((bn[inside[:-1]] + m - 1) // m, n)
        xi = r[j_in - 1]
        j_c = j_in if ties is None else ties[1][j_in - 1]
        g1_c = offsets[j_c] + (xi - r0) * (j_c / n)
        ki = k[inside]
        h_c = g1_c - ki * xi
        h_a = g1_pts[:-1][inside] - ki * x[:-1][inside]
        h_b = g1_pts[1:][inside] - ki * x[1:][inside]
        abs_part[inside] = np.maximum(h_a + h_b - 2.0 * h_c, 0.0)
    # before the first chunk value F_chunk = 0
    l1 = float(g1_pts[0] + np.sum(abs_part))
    if g2_pts is None:
        return l1, NAN
    sq_part = np.diff(g2_pts)
    sq_part -= 2.0 * k * d_g1
    sq_part += k * k * width
    return l1, float(np.sqrt(max(g2_pts[0] + np.sum(np.maximum(sq_part, 0.0)), 0.0)))


def _gaps(ref: Any, chunk: Any) -> tuple[float, float]:
    if isinstance(chunk, ContinuousSketch):
        return sketch_gaps(ref, chunk)
    return ecdf_gaps(ref, chunk)


class _EcdfMethod(DriftMethod):
    kinds: ClassVar[tuple[Literal["continuous"], ...]] = ("continuous",)
    sorts_samples = True

    def _statistic(self, sample: ContinuousSample) -> float:
        raise NotImplementedError

    def _compute(self, sample: ContinuousSample) -> Outcome:
        value = self._statistic(sample)
        return value, self._p_value(value, self.reference.n, sample.n)

    def _compute_rest(self, sample: ContinuousSample, rest: Callable[[], Any]) -> Outcome:
        # F_rest - F_chunk = n / (n - m) * (F_ref - F_chunk) when the chunk is part of the reference
        n, m = self.reference.n, sample.n
        if n - m <= 0:
            return NAN, NAN
        value = self._statistic(sample) * n / (n - m)
        return value, self._p_value(value, n - m, m)

    def _p_value(self, value: float, n1: int, n2: int) -> float:
        return NAN


class KolmogorovSmirnov(_EcdfMethod):
    """Two-sample Kolmogorov-Smirnov statistic and p-value (``scipy.stats.ks_2samp``)."""

    name = "ks"
    has_p_value = True
    value_limits = (0.0, 1.0)

    def _statistic(self, sample: ContinuousSample) -> float:
        return max(_gaps(self.reference, sample))

    def _p_value(self, value: float, n1: int, n2: int) -> float:
        return ks_p_value(min(value, 1.0), n1, n2)


class Kuiper(_EcdfMethod):
    """Kuiper's statistic ``D+ + D-`` (sensitive in the tails and to circular shifts)."""

    name = "kuiper"
    has_p_value = True
    value_limits = (0.0, 2.0)

    def _statistic(self, sample: ContinuousSample) -> float:
        return float(sum(_gaps(self.reference, sample)))

    def _p_value(self, value: float, n1: int, n2: int) -> float:
        return kuiper_p_value(value, n1, n2)


class Wasserstein(_EcdfMethod):
    """Wasserstein-1 (earth mover's) distance, as ``scipy.stats.wasserstein_distance``."""

    name = "wasserstein"
    metric = "distance"

    def _statistic(self, sample: ContinuousSample) -> float:
        if isinstance(sample, ContinuousSketch):
            return sketch_cdf_l1(self.reference, sample) / self._scale()
        return cdf_distances(self.reference, sample)[0] / self._scale()

    def _scale(self) -> float:
        return 1.0


class _NormConfig(MethodConfig):
    normalize_by: Literal["iqr", "std"] = "iqr"


class WassersteinNormalized(Wasserstein):
    """Wasserstein distance over the reference IQR (std when the IQR is 0; NaN if constant)."""

    name = "wasserstein_norm"
    Config = _NormConfig

    def _scale(self) -> float:
        spread = self.reference.spread
        order = ["iqr", "std"] if self.params["normalize_by"] == "iqr" else ["std"]
        for key in order:
            if spread[key] > 0:
                return float(spread[key])
        return NAN


class EnergyDistance(_EcdfMethod):
    """Energy distance, ``sqrt(2) * L2 distance of the CDFs`` (``scipy.stats.energy_distance``)."""

    name = "energy"
    metric = "distance"

    def _statistic(self, sample: ContinuousSample) -> float:
        return math.sqrt(2.0) * cdf_distances(self.reference, sample, l2=True)[1]
