"""Distribution distances on binned (continuous) or counted (categorical) data.

Continuous columns are binned with edges learned from the reference once:

- ``binning="quantile"`` (default): interior edges at the reference's
  ``1/n_bins, ..., (n_bins-1)/n_bins`` quantiles (``numpy.quantile``, linear,
  read off the sorted reference),
  duplicates removed, so each bin holds about the same reference mass;
- ``binning="auto"``: the interior edges of
  ``numpy.histogram_bin_edges(reference, "auto")`` (at most ``max_bins`` bins).

The two outer bins are open, so analysis values beyond the reference range
are counted in them. Bins are ``[e_i, e_i+1)``, i.e. the bin of ``x`` is
``numpy.digitize(x, edges)``. Categorical columns use the reference's
categories plus one bucket for unseen values.

On these counts, turned into proportions ``p`` (reference) and ``q``
(chunk), the values equal SciPy's:

- ``jensen_shannon``: ``scipy.spatial.distance.jensenshannon(p, q, base=2)``;
- ``hellinger``: ``euclidean(sqrt(p), sqrt(q)) / sqrt(2)``;
- ``psi``: ``sum((q' - p') * log(q' / p'))`` and ``kl``: ``scipy.stats.entropy(q', p')``,
  where ``p'``, ``q'`` are the proportions floored at ``eps`` (default 1e-4)
  and renormalised, so empty bins give finite values;
- ``l_infinity``: ``max |p - q|``; ``tvd``: ``sum |p - q| / 2``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field
from scipy.special import rel_entr

from driftscope.errors import ConfigError
from driftscope.monitoring.drift.univariate.base import (
    NAN,
    DriftMethod,
    Kind,
    MethodConfig,
    Outcome,
)
from driftscope.monitoring.drift.univariate.samples import (
    CategoricalSample,
    ContinuousSample,
    sorted_quantiles,
)
from driftscope.monitoring.drift.univariate.sketch import ContinuousSketch, sketch_histogram

__all__ = [
    "Hellinger",
    "JensenShannon",
    "KLDivergence",
    "LInfinity",
    "PSI",
    "TotalVariation",
    "bin_edges",
    "histogram",
]


class BinnedConfig(MethodConfig):
    binning: Literal["quantile", "auto"] = "quantile"
    n_bins: int = Field(default=20, ge=2, le=10_000)
    max_bins: int = Field(default=100, ge=2, le=10_000)
    eps: float = Field(default=1e-4, gt=0, lt=1)


def bin_edges(
    reference_sorted: np.ndarray, binning: str = "quantile", n_bins: int = 20, max_bins: int = 100
) -> np.ndarray:
    """Interior bin edges learned from sorted reference values (see the module docstring)."""
    if reference_sorted.size == 0:
        return np.empty(0)
    if binning == "auto":
        edges = np.histogram_bin_edges(reference_sorted, bins="auto")
        if edges.size - 1 > max_bins:
            edges = np.histogram_bin_edges(reference_sorted, bins=max_bins)
        return np.unique(edges[1:-1])
    qs = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.unique(sorted_quantiles(reference_sorted, qs))


def histogram(sample: ContinuousSample, edges: np.ndarray) -> np.ndarray:
    """Counts of ``sample`` in the bins ``(-inf, e0), [e0, e1), ..., [e_last, inf)``."""
    below = np.searchsorted(sample.sorted, edges, side="left")
    return np.diff(np.concatenate(([0], below, [sample.n]))).astype(np.float64)


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.full(counts.shape, np.nan)


def _floored(p: np.ndarray, eps: float) -> np.ndarray:
    p = np.maximum(p, eps)
    return p / p.sum()


class _BinnedMethod(DriftMethod):
    kinds: ClassVar[tuple[Kind, ...]] = ("continuous", "categorical")
    metric = "distance"
    sorts_samples = True
    Config = BinnedConfig

    def _fit(self, reference: Any) -> None:
        if isinstance(reference, ContinuousSketch):
            if self.params["binning"] != "quantile":
                raise ConfigError(
                    f"methods.{self.name}.binning",
                    "sketch mode supports only binning='quantile'",
                )
            key: tuple[Any, ...] = ("sketch_edges", self.params["n_bins"])
            if key not in reference.cache:
                qs = np.linspace(0.0, 1.0, self.params["n_bins"] + 1)[1:-1]
                reference.cache[key] = np.unique(reference.quantiles(qs))
            self.edges = reference.cache[key]
        elif isinstance(reference, ContinuousSample):
            key = ("edges", self.params["binning"], self.params["n_bins"], self.params["max_bins"])
            if key not in reference.cache:
                reference.cache[key] = bin_edges(
                    reference.sorted,
                    self.params["binning"],
                    self.params["n_bins"],
                    self.params["max_bins"],
                )
            self.edges = reference.cache[key]
        self.ref_counts = self._counts(reference)

    def _counts(self, sample: Any) -> np.ndarray:
        if isinstance(sample, CategoricalSample):
            return sample.counts
        key = ("hist", id(self.edges))
        if key not in sample.cache:
            if isinstance(sample, ContinuousSketch):
                sample.cache[key] = sketch_histogram(sample, self.edges)
            else:
                sample.cache[key] = histogram(sample, self.edges)
        counts: np.ndarray = sample.cache[key]
        return counts

    def _compute(self, sample: Any) -> Outcome:
        return self._distance(_proportions(self.ref_counts), _proportions(self._counts(sample)))

    def _compute_rest(self, sample: Any, rest: Callable[[], Any]) -> Outcome:
        chunk = self._counts(sample)
        remaining = self.ref_counts - chunk
        if remaining.sum() <= 0:
            return NAN, NAN
        return self._distance(_proportions(remaining), _proportions(chunk))

    def _distance(self, p: np.ndarray, q: np.ndarray) -> Outcome:
        raise NotImplementedError


class JensenShannon(_BinnedMethod):
    """Jensen-Shannon distance (base 2, in [0, 1])."""

    name = "jensen_shannon"
    value_limits = (0.0, 1.0)

    def _distance(self, p: np.ndarray, q: np.ndarray) -> Outcome:
        m = (p + q) / 2.0
        js = (rel_entr(p, m).sum() + rel_entr(q, m).sum()) / np.log(2.0)
        return float(np.sqrt(max(js / 2.0, 0.0))), NAN


class Hellinger(_BinnedMethod):
    """Hellinger distance (in [0, 1])."""

    name = "hellinger"
    value_limits = (0.0, 1.0)

    def _distance(self, p: np.ndarray, q: np.ndarray) -> Outcome:
        return float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))), NAN


class PSI(_BinnedMethod):
    """Population stability index (symmetrised KL on floored proportions)."""

    name = "psi"
    metric = "index"

    def _distance(self, p: np.ndarray, q: np.ndarray) -> Outcome:
        pf, qf = _floored(p, self.params["eps"]), _floored(q, self.params["eps"])
        return float(np.sum((qf - pf) * np.log(qf / pf))), NAN


class KLDivergence(_BinnedMethod):
    """Kullback-Leibler divergence of the chunk from the reference, ``KL(q || p)``."""

    name = "kl"
    metric = "divergence"

    def _distance(self, p: np.ndarray, q: np.ndarray) -> Outcome:
        pf, qf = _floored(p, self.params["eps"]), _floored(q, self.params["eps"])
        return float(np.sum(rel_entr(qf, pf))), NAN


class LInfinity(_BinnedMethod):
    """Largest absolute difference of proportions (a category's or a bin's)."""

    name = "l_infinity"
    value_limits = (0.0, 1.0)

    def _distance(self, p: np.ndarray, q: np.ndarray) -> Outcome:
        return float(np.max(np.abs(p - q))), NAN


class TotalVariation(_BinnedMethod):
    """Total variation distance, half the L1 distance of proportions."""

    name = "tvd"
    value_limits = (0.0, 1.0)

    def _distance(self, p: np.ndarray, q: np.ndarray) -> Outcome:
        return float(0.5 * np.sum(np.abs(p - q))), NAN
