"""Prepared samples shared by every drift method of a column.

A continuous sample keeps its finite values and sorts them once, lazily,
with the prefix integrals of its empirical CDF that Wasserstein and energy
distance need. A reference is split into its chunks through one argsort
(:meth:`ContinuousSample.split`): each chunk then knows the ranks of its
values in the sorted reference and needs neither a sort nor a search. A
categorical sample is a count vector over the reference's categories plus
one last bucket for values the reference never showed.
Histograms and other derived arrays are cached per sample (``cache``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from driftscope.monitoring.drift.univariate import jit

__all__ = ["CategoricalSample", "ContinuousSample", "argsort_floats", "sorted_quantiles"]

_BLOCK = 1 << 15  # elements per block of the blocked prefix sums (256 kB of float64)


def sorted_quantiles(sorted_values: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """``numpy.quantile(sorted_values, qs)`` (method ``"linear"``) of an already sorted array.

    The same arithmetic as NumPy's (virtual index ``(n - 1) q``, its lerp
    from both ends), so the result is bit-identical, without NumPy's
    partition of the whole array.
    """
    n = sorted_values.size
    virtual = (n - 1) * np.asarray(qs, dtype=np.float64)
    prev = np.floor(virtual)
    nxt = prev + 1
    above = virtual >= n - 1
    prev[above] = nxt[above] = -1
    below = virtual < 0
    prev[below] = nxt[below] = 0
    lo_idx, hi_idx = prev.astype(np.intp), nxt.astype(np.intp)
    a, b = sorted_values[lo_idx], sorted_values[hi_idx]
    t = virtual - lo_idx
    diff = b - a
    out: np.ndarray = a + diff * t
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    return out


_PACKED_MIN = 1 << 16  # below it NumPy's argsort is as fast
_FIX_ROUNDS = 32  # rounds of swaps repairing out-of-order neighbours (then one stable sort)


def _order_codes(values: np.ndarray) -> np.ndarray:
    """Unsigned integers in the order of the finite doubles: ``a < b`` iff ``code(a) < code(b)``."""
    bits = values.view(np.int64)
    code = bits >> 63  # -1 for negatives, 0 otherwise
    code |= np.int64(-(2**63))
    code ^= bits  # negatives: every bit flipped; positives: the sign bit set
    return code.view(np.uint64)


def argsort_floats(
    values: np.ndarray, index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(order, values[order])``: indices that sort finite float64 ``values``, and the result.

    Like ``numpy.argsort`` (ties in any order).

    NumPy sorts integers with SIMD kernels several times faster than it
    argsorts doubles, so each value becomes one 64-bit integer: its
    order-preserving code with the low bits replaced by its index. One sort
    of those orders the values by their leading bits; values that share them
    (within about 2**-30 relative of each other for a million values) come out
    in index order: such out-of-order neighbours are found and swapped until
    none is left. The result is exact. ``index``: ``arange(len(values))`` as
    uint64, when the caller has one to share (several columns of one size).
    """
    n = values.size
    index_bits = max(int(n - 1).bit_length(), 1)
    if n < _PACKED_MIN or index_bits > 40 or values.dtype != np.float64:
        plain = np.argsort(values)
        return plain, values[plain]
    code = _order_codes(np.ascontiguousarray(values))
    low = np.uint64((1 << index_bits) - 1)
    code &= ~low
    if index is None or index.size != n or index.dtype != np.uint64:
        index = np.arange(n, dtype=np.uint64)
    code |= index
    code.sort()
    code &= low
    order: np.ndarray = code.view(np.int64).astype(np.intp, copy=False)
    ordered = np.take(values, order)  # take: faster than indexing for a 1-D gather
    bad = np.flatnonzero(ordered[1:] < ordered[:-1])
    # swap adjacent out-of-order pairs until none is left: each swap removes one inversion,
    # and only the pairs next to a swap can change (the runs are short: a few rounds)
    for _ in range(_FIX_ROUNDS):
        if bad.size == 0:
            return order, ordered
        if bad.size > n // 64:
            break
        alone = np.ones(bad.size, dtype=bool)
        alone[1:] = np.diff(bad) > 1  # of p and p + 1 both out of order, p + 1 waits a round
        p = bad[alone]
        q = p + 1
        order[p], order[q] = order[q], order[p].copy()
        ordered[p], ordered[q] = ordered[q], ordered[p].copy()
        near = np.concatenate([p - 1, p, q, bad[~alone]])
        near = near[(near >= 0) & (near < n - 1)]
        bad = np.unique(near[ordered[near + 1] < ordered[near]])
    return _resorted(order, ordered)  # many, or long runs: one pass over nearly sorted data


def _resorted(order: np.ndarray, ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fix = np.argsort(ordered, kind="stable")  # timsort: fast on nearly sorted data
    return order[fix], ordered[fix]


@dataclass(eq=False)
class ContinuousSample:
    """Finite float values of one column in one chunk (or the reference)."""

    values: np.ndarray
    missing: int = 0
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    # the values are this sample's own array (not a caller's), so they may be sorted in place
    owned: bool = field(default=False, repr=False)

    @classmethod
    def from_raw(cls, raw: np.ndarray, owned: bool = False) -> ContinuousSample:
        """The finite values of ``raw``; ``owned``: nothing else uses ``raw``."""
        arr = np.asarray(raw, dtype=np.float64)
        owned = owned or arr is not raw
        finite = np.isfinite(arr)
        if finite.all():
            return cls(arr, 0, owned=owned)
        return cls(arr[finite], int(finite.size - np.count_nonzero(finite)), owned=True)

    @property
    def n(self) -> int:
        return int(self.values.size)

    @cached_property
    def sorted(self) -> np.ndarray:
        # the sorted copy replaces the values (every method is order-free), so a
        # fitted reference holds one array per column, not two
        if self.owned:
            self.values.sort()
            ordered = self.values
        else:
            ordered = np.sort(self.values)
            self.values = ordered
        return ordered

    def split(
        self,
        labels: np.ndarray,
        count: int,
        sizes: np.ndarray | None = None,
        index: np.ndarray | None = None,
    ) -> list[ContinuousSample]:
        """Sub-samples of the values labelled ``0 .. count - 1`` (one label per value; -1: none).

        One argsort of the values replaces their sort; each sub-sample comes
        sorted, with the ranks of its values in :attr:`sorted` under
        ``cache[("ranks", id(self))]``. Its ``missing`` is 0 (the caller
        knows which rows were missing). ``sizes``: how many values each label
        has, when the caller knows (else they are counted); ``index``: see
        :func:`argsort_floats`.
        """
        if "sorted" in self.__dict__:
            raise ValueError("split() must come before the values are sorted")
        order, ordered = argsort_floats(self.values, index)
        self.values = ordered
        self.__dict__["sorted"] = ordered
        sorted_labels = np.take(labels, order)
        del order
        if sizes is None:
            sizes = np.bincount(sorted_labels + 1, minlength=count + 1)[1:]
        parts = []
        kernels = jit.kernels()
        if kernels is not None:  # one pass, no sort
            all_ranks, all_values = kernels.split_sorted(
                ordered, sorted_labels, sizes.astype(np.int64)
            )
            bounds = np.concatenate(([0], np.cumsum(sizes)))
            for i in range(count):
                part = ContinuousSample(all_values[bounds[i] : bounds[i + 1]], 0, owned=True)
                part.__dict__["sorted"] = part.values
                part.cache[("ranks", id(self))] = all_ranks[bounds[i] : bounds[i + 1]]
                parts.append(part)
            # every part compared with this sample in one pass over it (see ecdf._summary)
            self.cache["split"] = (sorted_labels, parts)
            return parts
        # a stable sort of small integers: the ranks of each label, in increasing order
        grouped = np.argsort(sorted_labels, kind="stable")
        # label -1 first, as in the stable sort
        tally = np.concatenate(([labels.size - int(sizes.sum())], sizes))
        bounds = np.cumsum(tally)
        for i in range(count):
            ranks = grouped[bounds[i] : bounds[i + 1]]
            values = np.take(ordered, ranks)
            part = ContinuousSample(values, 0, owned=True)
            part.__dict__["sorted"] = values
            part.cache[("ranks", id(self))] = ranks
            parts.append(part)
        return parts

    def release(self) -> None:
        """Drop the derived arrays as large as the sample (CDF integrals, tie groups).

        They are rebuilt when next needed: a fitted reference keeps only its
        sorted values between ``fit`` and ``calculate`` (half the memory).
        """
        for name in ("cdf_offsets", "cdf_integral_1", "cdf_integral_2"):
            self.__dict__.pop(name, None)
        self.cache.pop("ties", None)
        self.cache.pop("split", None)

    @cached_property
    def mean(self) -> float:
        return float(self.values.mean()) if self.n else float("nan")

    @cached_property
    def var(self) -> float:
        return float(self.values.var(ddof=1)) if self.n > 1 else float("nan")

    @property
    def cdf_integrals(self) -> tuple[np.ndarray, np.ndarray]:
        """``C1[i] = int F`` and ``C2[i] = int F**2`` from the minimum up to ``sorted[i]``."""
        return self.cdf_integral_1, self.cdf_integral_2

    def _level_gaps(self, power: int) -> np.ndarray:
        """``F**power * width`` of each interval ``[sorted[l-1], sorted[l])``."""
        r = self.sorted
        level = np.arange(1, r.size, dtype=np.float64) / r.size  # F on [r[l-1], r[l])
        out: np.ndarray = np.diff(r)
        for _ in range(power):
            out *= level
        return out

    @cached_property
    def cdf_integral_1(self) -> np.ndarray:
        """``C1[i] = int F`` from the minimum up to ``sorted[i]``."""
        r = self.sorted
        c1 = np.empty(r.size)
        c1[:1] = 0.0
        if r.size > 1:  # in place: one array of r.size besides the result
            gaps = np.subtract(r[1:], r[:-1], out=c1[1:])
            level = np.arange(1, r.size, dtype=np.float64)
            level /= r.size
            gaps *= level
            del level
            np.cumsum(gaps, out=gaps)
        return c1

    @cached_property
    def cdf_offsets(self) -> np.ndarray:
        """``E`` with ``int F`` from the minimum up to ``x`` equal to ``E[j] + j / n * (x - min)``.

        ``j = #{values <= x}``; ``E[0] = 0`` and ``E[j] = C1[j-1] - j / n * (sorted[j-1] - min)``.
        One gather per point instead of two (``C1`` and ``sorted``), and no clamping of ``j - 1``;
        measured from the minimum, its terms stay of the size of ``C1``'s.
        """
        r = self.sorted
        n = r.size
        kernels = jit.kernels()
        if kernels is not None and n:
            offsets: np.ndarray = kernels.cdf_offsets(r)
            return offsets
        e = np.empty(n + 1)
        e[0] = 0.0
        if n == 0:
            return e
        # in blocks: the temporaries stay in cache and no fresh pages are touched (page
        # faults on three n-sized temporaries cost more than the arithmetic); the running
        # sum carries over, so the sums are those of one cumsum
        r0, carry = r[0], 0.0
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            level = np.arange(start, stop + 1, dtype=np.float64)
            level /= n  # level[k] = (start + k) / n
            c1 = e[start + 1 : stop + 1]  # C1[start:stop]
            if start == 0:
                c1[0] = 0.0  # C1[0]
                gaps = np.subtract(r[1:stop], r[: stop - 1], out=c1[1:])
                gaps *= level[1:-1]
            else:  # C1[i] = C1[i-1] + (r[i] - r[i-1]) i / n
                gaps = np.subtract(r[start:stop], r[start - 1 : stop - 1], out=c1)
                gaps *= level[:-1]
                c1[0] += carry
            np.cumsum(c1, out=c1)
            carry = float(c1[-1])
            shifted = r[start:stop] - r0
            shifted *= level[1:]  # E[i+1] = C1[i] - (r[i] - min) (i + 1) / n
            c1 -= shifted
        return e

    @cached_property
    def cdf_integral_2(self) -> np.ndarray:
        """``C2[i] = int F**2`` from the minimum up to ``sorted[i]``."""
        c2 = np.empty(self.sorted.size)
        c2[:1] = 0.0
        np.cumsum(self._level_gaps(2), out=c2[1:])
        return c2

    @cached_property
    def spread(self) -> dict[str, float]:
        """Interquartile range and standard deviation."""
        if self.n == 0:
            return {"iqr": float("nan"), "std": float("nan")}
        q1, q3 = sorted_quantiles(self.sorted, np.array([0.25, 0.75]))
        std = float(self.values.std(ddof=1)) if self.n > 1 else float("nan")
        return {"iqr": float(q3 - q1), "std": std}


@dataclass(eq=False)
class CategoricalSample:
    """Counts over the reference categories; ``counts[-1]`` holds unseen values."""

    counts: np.ndarray
    missing: int = 0
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_codes(cls, codes: np.ndarray, n_categories: int) -> CategoricalSample:
        """``codes``: -2 missing, -1 unseen, 0..n_categories-1 reference categories."""
        # one pass: bin 0 counts missing values (-2), bin 1 unseen ones (-1)
        tally = np.bincount(np.asarray(codes) + 2, minlength=n_categories + 2)
        counts = np.empty(n_categories + 1, dtype=np.float64)
        counts[:-1] = tally[2:]
        counts[-1] = tally[1]
        return cls(counts, int(tally[0]))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def minus(self, other: CategoricalSample) -> CategoricalSample:
        return CategoricalSample(self.counts - other.counts, self.missing - other.missing)
