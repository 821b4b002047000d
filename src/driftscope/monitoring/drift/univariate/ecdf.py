"""CDF-based continuous methods: Kolmogorov-Smirnov, Kuiper, Wasserstein, energy distance.

The reference is sorted once; a chunk is sorted once and its distinct values
are located in the reference (``searchsorted``). Without the energy distance,
only every 64th of them is located at first: between two located points both
CDFs are monotone, which bounds the KS gaps there and, where the CDFs do not
cross, gives the Wasserstein integral from its ends; only the stretches whose
bounds matter are located more finely (:func:`_compare_many`: a 100k-row chunk
of a 1M-row reference locates 2k to 17k points instead of 100k, and the
binary search was half of the comparison's time). The integrals of the
reference CDF (and of its square) are prefix sums, which gives the exact
Wasserstein-1 and energy distances of SciPy without merging the samples
(Wasserstein reads them as offsets from the minimum: one gather per point,
see :attr:`ContinuousSample.cdf_offsets`).

One comparison of a chunk serves every ECDF method of its column: each
method registers what it reads at fit (:func:`register_need`), and the first
one to compare a chunk computes the KS gaps, the L1 and the L2 distance
together, over the chunk's values in blocks of :data:`_POINT_BLOCK` (its
temporaries stay small instead of being as large as the chunk: fresh
chunk-sized arrays cost page faults on every chunk; much smaller blocks mean
so many short NumPy calls that threads over columns contend for the GIL:
8192 values per block scaled 1.1x on two threads, 65536 1.8x), then caches
them.

Where Numba imports (a dependency; ``DRIFTSCOPE_JIT=0`` turns it off), the
comparisons without the energy distance run as compiled loops instead
(:mod:`._kernels`, chosen by :func:`.jit.kernels`): the chunks of the
reference in one walk over it, other chunks by the same sampling, located by
galloping searches, without the GIL. Their KS gaps are the exact maxima
(counts compared as integers, divided once), equal to SciPy's to an ulp; the
NumPy path below takes SciPy's maximum of rounded differences.

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
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import special, stats

from driftscope.monitoring.drift.univariate import jit
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


_POINT_BLOCK = 65536  # chunk values per block: temporaries of 512 kB, not chunk-sized (see below)
_COUNTS = np.arange(1, _POINT_BLOCK + 2, dtype=np.intp)  # 1, 2, ...: an add beats an arange
_COUNTS.flags.writeable = False
#: F values are ratios of counts: while n m stays below this, two of them compare exactly as
#: doubles (they differ by at least 1 / (n m)); beyond it the crossing test uses integers
_EXACT_RATIOS = 2**52

#: what a comparison can compute: the ECDF gaps (KS, Kuiper), the L1 distance of the CDFs
#: (Wasserstein) and their L2 distance (energy)
NEEDS = ("gaps", "l1", "l2")
_KEYS = {"gaps": "d_plus", "l1": "l1", "l2": "l2"}


def register_need(ref: ContinuousSample, need: str) -> None:
    """Record that a method fitted on ``ref`` reads ``need`` (one of :data:`NEEDS`).

    Every comparison of a chunk with ``ref`` then computes all the registered
    figures in one pass over the chunk (one search into the reference, shared).
    """
    ref.cache.setdefault("ecdf_needs", set()).add(need)


def _locate(
    r: np.ndarray, ties: tuple[np.ndarray, np.ndarray] | None, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reference counts ``<= x`` and ``< x`` of sorted points ``x`` (one binary search)."""
    j_right = np.searchsorted(r, x, side="right")
    prev = j_right - 1
    np.maximum(prev, 0, out=prev)
    # where j_right = 0 every reference value exceeds the chunk value, so r[0] != it
    hit = np.take(r, prev) == x
    j_left = j_right - hit if ties is None else np.where(hit, ties[0][prev], j_right)
    return j_right, j_left


def _from_ranks(
    ties: tuple[np.ndarray, np.ndarray] | None, rk: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reference counts ``<= x`` and ``< x`` of reference values ``x`` of sorted ranks ``rk``.

    Without ties the second is ``rk`` itself: the callers only read it.
    """
    if ties is None:
        return rk + 1, rk
    return ties[1][rk], ties[0][rk]


def _points(
    ref: ContinuousSample, chunk: ContinuousSample
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]]:
    """The chunk's distinct values in blocks: ``(x, j_right, j_left, below, last)``.

    ``x``: distinct chunk values (sorted); ``j_right`` / ``j_left``: reference
    counts ``<= x`` / ``< x``; ``below``: chunk counts ``<= x``. Consecutive
    blocks share one point (so every interval between two points lies in one
    block), and the last block ends with the point ``max(reference max, chunk
    max)`` (``j_right = j_left = n``, ``below = m``), where both CDFs are 1.
    A block's arrays are small: no temporary as large as the chunk is made.
    """
    r = ref.sorted
    n, m = ref.n, chunk.n
    ties = _ties(ref)
    ranks = chunk.cache.get(("ranks", id(ref)))
    values = chunk.sorted
    keep = _last_of_runs(values)
    distinct = bool(keep.all())
    if distinct:
        uniq: np.ndarray = values
        below_all: np.ndarray | None = None  # i + 1, made per block
        kept = ranks
    else:
        uniq = values[keep]
        below_all = np.flatnonzero(keep) + 1
        kept = None if ranks is None else ranks[keep]
    del keep
    u = uniq.size
    end_x = max(float(r[-1]), float(uniq[-1]))
    start = 0
    while True:
        stop = min(start + _POINT_BLOCK, u - 1)  # the block's points are [start, stop]
        x = uniq[start : stop + 1]
        below: np.ndarray
        if below_all is None:
            below = _COUNTS[: stop - start + 1] + start  # start + 1 .. stop + 1
        else:
            below = below_all[start : stop + 1]
        if kept is not None:  # a chunk of the reference itself: its ranks are known
            j_right, j_left = _from_ranks(ties, kept[start : stop + 1])
        else:
            j_right, j_left = _locate(r, ties, x)
        last = stop == u - 1
        if last:
            x = np.append(x, end_x)
            j_right = np.append(j_right, n)
            j_left = np.append(j_left, n)
            below = np.append(below, m)
        yield x, j_right, j_left, below, last
        if last:
            return
        start = stop


class _Frame:
    """What every interval formula of one comparison reads: the reference and the sizes."""

    __slots__ = ("exact", "m", "n", "offsets", "r", "r0", "ties")

    def __init__(self, ref: ContinuousSample, m: int, offsets: np.ndarray) -> None:
        self.r = ref.sorted
        self.n, self.m = ref.n, m
        self.r0 = self.r[0]
        self.ties = _ties(ref)
        self.offsets = offsets
        self.exact = self.n * m < _EXACT_RATIOS

    def g1(self, x: np.ndarray, j_right: np.ndarray) -> np.ndarray:
        """``int F_ref`` from the minimum up to ``x`` (``j_right = #{ref <= x}``)."""
        level = j_right / self.n
        out = np.subtract(x, self.r0)
        out *= level
        out += np.take(self.offsets, j_right)
        return out

    def l1_parts(
        self,
        xa: np.ndarray,
        xb: np.ndarray,
        g1a: np.ndarray,
        g1b: np.ndarray,
        d_g1: np.ndarray,
        below_a: np.ndarray,
        jr_a: np.ndarray,
        jl_b: np.ndarray,
        plus_a: np.ndarray,
        gap: np.ndarray,
        fixed: np.ndarray | None = None,
        m: np.ndarray | None = None,
    ) -> np.ndarray:
        """``int |F_ref - k|`` over each interval ``[xa, xb)``, where ``F_chunk = k = below_a / m``.

        ``g1a`` / ``g1b``: ``int F_ref`` up to either end, ``d_g1 = g1b - g1a``;
        ``jr_a``: reference count ``<= xa``; ``jl_b``: reference count ``< xb``;
        ``plus_a = k - F_ref(xa)``; ``gap = F_ref(xb -) - k``; ``fixed``: a mask of the
        intervals ending at the point past both maxima (where ``k = 1``: no crossing);
        ``m``: each interval's chunk size (else the frame's).
        """
        n, r = self.n, self.r
        sizes: np.ndarray | int = self.m if m is None else m
        k = below_a / sizes
        part = np.multiply(k, np.subtract(xb, xa))
        np.subtract(d_g1, part, out=part)
        np.abs(part, out=part)
        # F_ref crosses k inside (xa, xb) when F_ref(xa) < k <= F_ref(xb -), i.e. when the
        # ceil(k n)-th reference value lies strictly between them
        if self.exact:
            inside = plus_a > 0
            inside &= gap >= 0
        else:
            bn = below_a * n
            inside = jr_a * sizes < bn
            inside &= jl_b * sizes >= bn
        if fixed is not None:
            inside &= ~fixed
        if inside.any():
            bn_in = below_a[inside] * n
            m_in = sizes if isinstance(sizes, int) else sizes[inside]
            j_in = np.minimum((bn_in + m_in - 1) // m_in, n)
            xi = r[j_in - 1]
            j_c = j_in if self.ties is None else self.ties[1][j_in - 1]
            g1_c = self.offsets[j_c] + (xi - self.r0) * (j_c / n)
            ki = k[inside]
            h_c = g1_c - ki * xi
            h_a = g1a[inside] - ki * xa[inside]
            h_b = g1b[inside] - ki * xb[inside]
            part[inside] = np.maximum(h_a + h_b - 2.0 * h_c, 0.0)
        return part


#: strides of the located points of a chunk: every 64th point first, then every 16th, 4th
#: and every point of the stretches that need it (see _compare_many); on 100k-row chunks
#: of a 1M-row reference about 2k to 20k points are located instead of 100k
_STRIDES = (64, 16, 4, 1)
_SAMPLED_MIN = 2048  # chunks with fewer distinct values locate every point
#: chunk points compared together (see compare_chunks). Fewer, larger NumPy calls: threads
#: over columns hold the GIL less. Ten 100k-row chunks of 20 columns on two threads took
#: 0.93-0.99 s in groups of 2^20 points, 1.05-1.19 s in groups of 2^18 and 1.2-1.5 s one at a
#: time; on one thread smaller groups are faster (arrays in cache): 1.3-1.6 s against 1.5-1.9
_BATCH_POINTS = 1 << 20


def _stretch_sums(values: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``values[a_i : b_i].sum()`` for increasing, non-overlapping stretches (``a_i < b_i``).

    Every ``b_i`` must be below ``values.size`` (``reduceat`` reads ``values[b_i]``).
    """
    bounds = np.empty(2 * a.size, dtype=np.intp)
    bounds[0::2], bounds[1::2] = a, b
    sums: np.ndarray = np.add.reduceat(values, bounds)[0::2]
    return sums


def _chunk_points(
    ref: ContinuousSample, chunks: list[ContinuousSample]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The chunks' distinct values one after the other, each chunk's closed by its end point.

    ``(x, below, first, end)``: ``below`` the chunk counts ``<= x``; ``first`` /
    ``end`` the index of each chunk's first point and of its end point
    ``max(reference max, chunk max)``, where both CDFs are 1. Written in place:
    one pass per array.
    """
    r = ref.sorted
    parts: list[tuple[np.ndarray, np.ndarray | None]] = []
    for chunk in chunks:
        values = chunk.sorted
        keep = _last_of_runs(values)
        if keep.all():
            parts.append((values, None))
        else:
            parts.append((values[keep], np.flatnonzero(keep) + 1))
    sizes = np.array([p[0].size + 1 for p in parts], dtype=np.intp)
    end = np.cumsum(sizes) - 1
    first = end - sizes + 1
    total = int(sizes.sum())
    x = np.empty(total)
    below = np.empty(total, dtype=np.intp)
    for (uniq, counts), chunk, f, e in zip(parts, chunks, first, end, strict=True):
        x[f:e] = uniq
        x[e] = max(float(r[-1]), float(uniq[-1]))
        if counts is None:  # no ties: 1, 2, ...
            below[f:e] = np.arange(1, e - f + 1)
        else:
            below[f:e] = counts
        below[e] = chunk.n
    return x, below, first, end


def _group_max(target: np.ndarray, groups: np.ndarray, values: np.ndarray) -> None:
    """``target[g] = max(target[g], values of group g)`` for non-decreasing ``groups``."""
    if values.size == 0:
        return
    starts = np.flatnonzero(np.concatenate(([True], groups[1:] != groups[:-1])))
    ids = groups[starts]
    target[ids] = np.maximum(target[ids], np.maximum.reduceat(values, starts))


def _compare_many(
    ref: ContinuousSample, chunks: list[ContinuousSample], want_l1: bool
) -> list[tuple[float, float, float]]:
    """``(d_plus, d_minus, l1)`` of each chunk, locating few of their points in the reference.

    The chunks are compared together, in one set of NumPy calls (threads over
    columns share the GIL those calls hold). Points are located (searched for
    in the reference) at the strides of :data:`_STRIDES`. Between two located points both CDFs are
    monotone, which bounds the stretch between them: its KS gaps cannot
    exceed the bounds from its ends, and where ``F_ref - F_chunk`` keeps one
    sign over it, ``int |F_ref - F_chunk|`` over it is the difference of two
    integrals known at its ends. Only stretches whose bounds could raise a
    gap, or where the difference may change sign, are located at the next
    stride. The result is that of locating every point (the gaps bit for bit,
    the distance up to summation order).
    """
    n, count = ref.n, len(chunks)
    x, below, first, end = _chunk_points(ref, chunks)
    size = x.size
    m_of = np.array([c.n for c in chunks], dtype=np.intp)  # each chunk's size
    fr = _Frame(ref, int(m_of.max()), ref.cdf_offsets if want_l1 else np.empty(0))
    r, ties = fr.r, fr.ties
    is_end = np.zeros(size, dtype=bool)
    is_end[end] = True
    is_first = np.zeros(size, dtype=bool)
    is_first[first] = True

    def chunk_of(idx: np.ndarray) -> np.ndarray:
        found: np.ndarray = np.searchsorted(end, idx)  # the first chunk ending at or after idx
        return found

    def locate(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j_right, j_left = _locate(r, ties, x[idx])
        at_end = is_end[idx]
        j_right[at_end] = n
        j_left[at_end] = n
        return j_right, j_left

    # located first: every 64th point of each chunk and its end point
    s = np.concatenate(
        [np.append(np.arange(f, e, _STRIDES[0]), e) for f, e in zip(first, end, strict=True)]
    )
    jr, jl = locate(s)
    cs = chunk_of(s)
    d_plus = np.zeros(count)
    d_minus = np.zeros(count)
    _group_max(d_plus, cs, below[s] / m_of[cs] - jr / n)
    starts = is_first[s]
    inner = ~starts
    si = s[inner]
    _group_max(d_minus, cs[inner], jl[inner] / n - below[si - 1] / m_of[cs[inner]])
    np.maximum(d_minus, jl[starts] / n, out=d_minus)  # F_chunk = 0 before a chunk's first value
    l1 = np.zeros(count)
    g1 = fr.g1(x[s], jr) if want_l1 else jr
    kw = below
    if want_l1:
        l1 += g1[starts]  # int F_ref up to each chunk's first value
        # m int F_chunk over each interval, and a last 0 (see _stretch_sums)
        kw = np.empty(size)
        np.subtract(x[1:], x[:-1], out=kw[:-1])
        kw[:-1] *= below[:-1]
        kw[-1] = 0.0
    # the stretches [a, b] between located points of one chunk, with what is known at their ends
    pair = np.flatnonzero(~is_end[s[:-1]])
    a, b = s[pair], s[pair + 1]
    jr_a, jl_b, g1_a, g1_b = jr[pair], jl[pair + 1], g1[pair], g1[pair + 1]
    strides = list(_STRIDES[1:])
    while True:
        c = chunk_of(a)
        m = m_of[c]
        f_max = below[b - 1] / m  # F_chunk on a stretch's last interval (its largest)
        f_min = below[a] / m  # and on its first (its smallest)
        # inside a stretch F_chunk <= f_max, F_ref >= F_ref(a), F_ref(-) <= F_ref(b -) and
        # F_chunk(-) >= f_min: bounds on the gaps at its inner points
        split = (f_max - jr_a / n) > d_plus[c]
        split |= (jl_b / n - f_min) > d_minus[c]
        if want_l1:
            if fr.exact:
                above = jr_a / n >= f_max  # F_ref >= F_chunk over the whole stretch
                under = jl_b / n <= f_min  # F_ref <= F_chunk over it
            else:
                above = jr_a * m >= below[b - 1] * n
                under = jl_b * m <= below[a] * n
            one_sign = above | under
            # a stretch split for its gaps counts at the next stride, where it is smaller
            done = np.flatnonzero(one_sign & ~split)
            gaps = g1_b[done] - g1_a[done]
            gaps -= _stretch_sums(kw, a[done], b[done]) / m[done]
            np.abs(gaps, out=gaps)
            l1 += np.bincount(c[done], weights=gaps, minlength=count)
            crossing = ~one_sign
            single = b - a == 1
            exact = np.flatnonzero(crossing & single)
            if exact.size:  # one interval: the crossing formula
                ea, eb = a[exact], b[exact]
                ba, me = below[ea], m[exact]
                parts = fr.l1_parts(
                    x[ea],
                    x[eb],
                    g1_a[exact],
                    g1_b[exact],
                    g1_b[exact] - g1_a[exact],
                    ba,
                    jr_a[exact],
                    jl_b[exact],
                    ba / me - jr_a[exact] / n,
                    jl_b[exact] / n - ba / me,
                    fixed=is_end[eb],
                    m=me,
                )
                l1 += np.bincount(c[exact], weights=parts, minlength=count)
            split |= crossing & ~single
        picked = np.flatnonzero(split)
        if picked.size == 0 or not strides:
            break
        sub = strides.pop(0)
        pa, pb = a[picked], b[picked]
        parts_n = (pb - pa + sub - 1) // sub  # sub-stretches of each picked stretch
        offset = np.arange(int(parts_n.sum())) - np.repeat(np.cumsum(parts_n) - parts_n, parts_n)
        na = np.repeat(pa, parts_n) + offset * sub
        nb = np.minimum(na + sub, np.repeat(pb, parts_n))
        new = offset > 0  # their starts, but the first of each, are new points
        q = na[new]
        qr, ql = locate(q)
        if q.size:
            cq = chunk_of(q)
            mq = m_of[cq]
            _group_max(d_plus, cq, below[q] / mq - qr / n)
            _group_max(d_minus, cq, ql / n - below[q - 1] / mq)
        qg = fr.g1(x[q], qr) if want_l1 else qr
        ends = ~np.append(new[1:], False)  # the last sub-stretch of each ends where it did
        jr_a = np.repeat(jr_a[picked], parts_n)
        jr_a[new] = qr
        jl_b = np.repeat(jl_b[picked], parts_n)
        jl_b[~ends] = ql
        g1_a = np.repeat(g1_a[picked], parts_n)
        g1_a[new] = qg
        g1_b = np.repeat(g1_b[picked], parts_n)
        g1_b[~ends] = qg
        a, b = na, nb
    return [(float(d_plus[i]), float(d_minus[i]), float(l1[i])) for i in range(count)]


def compare_chunks(ref: ContinuousSample, chunks: list[Any], need: str | None = None) -> None:
    """Compute the registered ECDF figures of many chunks with ``ref`` at once (cached).

    Every later comparison of one of them (:func:`ecdf_gaps`, the methods'
    ``compute``) reads the cache. They go in groups of about
    :data:`_BATCH_POINTS` values. Chunks that need every point located (the
    energy distance, small chunks), reference chunks (their ranks are known:
    locating every point costs nothing, and the full pass is as fast) and
    chunks cached already are left to those.
    """
    needs = {*ref.cache.get("ecdf_needs", ()), *([need] if need else [])}
    if not needs or "l2" in needs or ref.n == 0:
        return
    if jit.kernels() is not None:  # compiled: one chunk at a time, without the GIL
        beyond = []  # sizes the compiled loops do not take (n m >= _KERNEL_MAX)
        for chunk in chunks:
            if isinstance(chunk, ContinuousSample) and chunk.n:
                if ref.n * chunk.n < _KERNEL_MAX:
                    _summary(ref, chunk, next(iter(needs)))
                else:
                    beyond.append(chunk)
        chunks = beyond
    key = ("ecdf", id(ref))
    todo = [
        c
        for c in chunks
        if isinstance(c, ContinuousSample)
        and c.n >= _SAMPLED_MIN
        and key not in c.cache
        and ("ranks", id(ref)) not in c.cache
    ]
    want_l1 = "l1" in needs
    while todo:
        group: list[ContinuousSample] = []
        points = 0
        while todo and (not group or points + todo[0].n <= _BATCH_POINTS):
            points += todo[0].n
            group.append(todo.pop(0))
        for chunk, (d_plus, d_minus, l1) in zip(
            group, _compare_many(ref, group, want_l1), strict=True
        ):
            chunk.cache[key] = _figures(d_plus, d_minus, l1, want_l1)


def _last_interval(size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[-1:] = True
    return mask


def _summary(ref: ContinuousSample, chunk: ContinuousSample, need: str) -> dict[str, float]:
    """ECDF gaps, L1 and L2 distances of ``chunk`` from ``ref``, as registered (cached).

    ``d_plus = max(F_chunk - F_ref)``, ``d_minus = max(F_ref - F_chunk)`` (each at least 0),
    ``l1 = int |F_ref - F_chunk|``, ``l2 = sqrt(int (F_ref - F_chunk)**2)``; the
    integrals are exact, from the prefix integrals of the reference CDF.
    Without ``l2``, a chunk that is not part of the reference locates only a
    sample of its points in the reference (:func:`_compare_many`).
    """
    key = ("ecdf", id(ref))
    cached: dict[str, float] | None = chunk.cache.get(key)
    if cached is not None and _KEYS[need] in cached:
        return cached
    needs = {need, *ref.cache.get("ecdf_needs", ())}
    want_l1, want_l2 = "l1" in needs, "l2" in needs
    n, m = ref.n, chunk.n
    kernels = jit.kernels()
    if kernels is not None and not want_l2 and n and m and n * m < _KERNEL_MAX:
        return _compiled(kernels, ref, chunk, want_l1)
    if not want_l2 and m >= _SAMPLED_MIN:
        compare_chunks(ref, [chunk], need)
        done: dict[str, float] | None = chunk.cache.get(key)
        if done is not None and _KEYS[need] in done:
            return done
    offsets = ref.cdf_offsets if want_l1 or want_l2 else np.empty(0)
    fr = _Frame(ref, m, offsets)
    d_plus = d_minus = 0.0
    l1 = l2 = 0.0
    first = True
    for x, j_right, j_left, below, last in _points(ref, chunk):
        level = j_right / n  # F_ref at each point
        f_chunk = below / m
        plus = np.subtract(f_chunk, level)  # F_chunk - F_ref at each point
        d_plus = max(d_plus, float(np.max(plus)))
        # F_ref - F_chunk peaks just before a point (before the first one F_chunk = 0)
        before = j_left / n
        if first:
            d_minus = max(d_minus, float(before[0]))
        gaps = np.subtract(before[1:], f_chunk[:-1])  # F_ref(x_i+1 -) - k_i
        d_minus = max(d_minus, float(np.max(gaps)))
        if not (want_l1 or want_l2):
            first = False
            continue
        # intervals [x_i, x_i+1) where F_chunk = k_i
        g1 = fr.g1(x, j_right)
        d_g1 = np.diff(g1)
        if want_l1:
            part = fr.l1_parts(
                x[:-1],
                x[1:],
                g1[:-1],
                g1[1:],
                d_g1,
                below[:-1],
                j_right[:-1],
                j_left[1:],
                plus[:-1],
                gaps,
                fixed=_last_interval(gaps.size) if last else None,
            )
            l1 += float(np.sum(part))
            if first:  # before the first chunk value F_chunk = 0
                l1 += float(g1[0])
        if want_l2:
            k = f_chunk[:-1]
            g2 = _cdf_square_terms(ref, x, j_right)
            sq = np.diff(g2)
            sq -= 2.0 * k * d_g1
            sq += k * k * np.diff(x)
            l2 += float(np.sum(np.maximum(sq, 0.0)))
            if first:
                l2 += float(g2[0])
        first = False
    out = {"d_plus": max(d_plus, 0.0), "d_minus": max(d_minus, 0.0)}
    if want_l1:
        out["l1"] = l1
    if want_l2:
        out["l2"] = float(np.sqrt(max(l2, 0.0)))
    chunk.cache[key] = out
    return out


#: the compiled crossing test compares products of counts as 64-bit integers
_KERNEL_MAX = 2**62
#: the compiled comparison of a chunk outside the reference locates every 64th point first
_KERNEL_STRIDE = 64
_NO_OFFSETS = np.zeros(1)


def _compiled(
    kernels: Any, ref: ContinuousSample, chunk: ContinuousSample, want_l1: bool
) -> dict[str, float]:
    """:func:`_summary` by the compiled loops (:mod:`._kernels`): gaps and, with ``want_l1``, L1.

    The chunks of a split reference (``ref.cache["split"]``) are compared
    together, in one pass over the reference; any other chunk locates a
    sample of its points (every point below :data:`_SAMPLED_MIN`).
    """
    key = ("ecdf", id(ref))
    split = ref.cache.get("split")
    if split is not None and any(part is chunk for part in split[1]):
        labels, parts = split
        sizes = np.array([part.n for part in parts], dtype=np.int64)
        d_plus, d_minus, l1, _ = kernels.reference_chunks(ref.sorted, labels, sizes, want_l1)
        for i, part in enumerate(parts):
            part.cache.pop(("ranks", id(ref)), None)  # only the NumPy path reads them
            if part.n:
                part.cache[key] = _figures(d_plus[i], d_minus[i], l1[i], want_l1)
        del ref.cache["split"]
        done: dict[str, float] = chunk.cache[key]
        return done
    offsets = ref.cdf_offsets if want_l1 else _NO_OFFSETS
    stride = _KERNEL_STRIDE if chunk.n >= _SAMPLED_MIN else 1  # small chunks: every point
    d_plus, d_minus, l1 = kernels.compare_sampled(
        ref.sorted, offsets, chunk.sorted, stride, want_l1
    )
    out = _figures(d_plus, d_minus, l1, want_l1)
    chunk.cache[key] = out
    return out


def _figures(d_plus: float, d_minus: float, l1: float, want_l1: bool) -> dict[str, float]:
    out = {"d_plus": max(float(d_plus), 0.0), "d_minus": max(float(d_minus), 0.0)}
    if want_l1:
        out["l1"] = float(l1)
    return out


def ecdf_gaps(ref: ContinuousSample, chunk: ContinuousSample) -> tuple[float, float]:
    """``(max(F_chunk - F_ref), max(F_ref - F_chunk))``, each at least 0."""
    s = _summary(ref, chunk, "gaps")
    return s["d_plus"], s["d_minus"]


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


def _gaps(ref: Any, chunk: Any) -> tuple[float, float]:
    if isinstance(chunk, ContinuousSketch):
        return sketch_gaps(ref, chunk)
    return ecdf_gaps(ref, chunk)


class _EcdfMethod(DriftMethod):
    kinds: ClassVar[tuple[Literal["continuous"], ...]] = ("continuous",)
    sorts_samples = True
    #: what its statistic reads from a comparison (see :data:`NEEDS`)
    ecdf_need: ClassVar[str] = "gaps"

    def _statistic(self, sample: ContinuousSample) -> float:
        raise NotImplementedError

    def _fit(self, reference: Any) -> None:
        if isinstance(reference, ContinuousSample):
            register_need(reference, self.ecdf_need)

    def prepare(self, samples: list[Any]) -> None:
        # the ECDF methods of a column share one comparison per chunk: the first one makes it
        if isinstance(self.reference, ContinuousSample) and self.reference.n:
            compare_chunks(self.reference, samples)

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
    ecdf_need = "l1"
    metric = "distance"

    def _statistic(self, sample: ContinuousSample) -> float:
        if isinstance(sample, ContinuousSketch):
            return sketch_cdf_l1(self.reference, sample) / self._scale()
        return _summary(self.reference, sample, "l1")["l1"] / self._scale()

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
    ecdf_need = "l2"
    metric = "distance"

    def _statistic(self, sample: ContinuousSample) -> float:
        return math.sqrt(2.0) * _summary(self.reference, sample, "l2")["l2"]
