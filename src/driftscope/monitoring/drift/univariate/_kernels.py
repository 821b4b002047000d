"""Compiled loops of the ECDF comparison (Numba), used when Numba imports.

What they compute is what :mod:`~driftscope.monitoring.drift.univariate.ecdf`
computes on its NumPy path (KS gaps, and the Wasserstein integral
``int |F_ref - F_chunk|`` from the prefix integrals of the reference CDF),
in one loop per chunk instead of one NumPy pass per operation with its
temporaries, and without the GIL (threads over columns run in parallel):

- :func:`reference_chunks`: every chunk of the reference in one walk over
  the sorted reference (the chunks are subsets of it);
- :func:`compare_sampled`: a chunk outside the reference, locating a sample
  of its points (galloping searches forward from the previous point, so the
  reference is touched in order) and only what the bounds leave undecided;
  with ``stride=1`` every point (small chunks);
- :func:`cdf_offsets`, :func:`split_sorted`: the offsets of the CDF's
  integral, and the reference's values cut by chunk.

KS gaps are compared as integers (``n m`` times the gap) and divided once
(:func:`_gap`): the exact maximum, correctly rounded, which SciPy's maximum of
rounded differences matches to an ulp. Distances equal the NumPy path's up to
summation order (levels are ``j * (1 / n)`` here, ``j / n`` there).

Compiled on first use and cached on disk (``cache=True``: later processes
load the machine code). ``DRIFTSCOPE_JIT=0`` turns these loops off (the
NumPy path then runs); so does a Numba that fails to import.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["cdf_offsets", "compare_sampled", "reference_chunks", "split_sorted"]


@njit(cache=True, nogil=True, inline="always")
def _gallop(r: np.ndarray, lo: int, x: float, right: bool) -> int:  # pragma: no cover - compiled
    """First index ``>= lo`` with ``r[index] > x`` (``right``) or ``>= x``, galloping from ``lo``.

    The points searched increase, so each search starts where the last one
    ended: steps of 1, 2, 4, ... then a binary search in the last step.
    """
    n = r.size
    if lo >= n or not _before(r[lo], x, right):
        return lo
    prev, step = lo, 1  # r[prev] is before x
    hi = lo + 1
    while hi < n and _before(r[hi], x, right):
        prev = hi
        step <<= 1
        hi = prev + step
    if hi > n:
        hi = n
    lo = prev + 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if _before(r[mid], x, right):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _before(value: float, x: float, right: bool) -> bool:  # pragma: no cover - compiled
    return value <= x if right else value < x


@njit(cache=True, nogil=True, inline="always")
def _span(r: np.ndarray, lo: int, x: float) -> tuple[int, int]:  # pragma: no cover - compiled
    """Reference counts ``< x`` and ``<= x``, searching from ``lo`` (``r[:lo] < x``)."""
    jl = _gallop(r, lo, x, False)
    jr = jl
    if jr < r.size and r[jr] == x:
        jr = _gallop(r, jr + 1, x, True)
    return jl, jr


@njit(cache=True, nogil=True, inline="always")
def _gap(numerator: int, n: int, m: int) -> float:  # pragma: no cover - compiled
    """A KS gap ``a / m - b / n`` given as ``numerator = a n - b m`` (0 if negative).

    The compiled loops compare gaps as integers (exact, and no division per
    value) and divide once: the result is the exact maximum, correctly rounded
    while ``n m < 2**53``. SciPy's (and the NumPy path's) maximum of rounded
    differences can differ from it by an ulp (``2/3 - 0`` and ``1 - 1/3``).
    """
    if numerator <= 0:
        return 0.0
    return numerator / (n * m)


@njit(cache=True, nogil=True)
def cdf_offsets(r: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``ContinuousSample.cdf_offsets`` of sorted ``r`` (the same sums; levels ``j * (1 / n)``)."""
    n = r.size
    e = np.empty(n + 1)
    e[0] = 0.0
    if n == 0:
        return e
    r0 = r[0]
    inv_n = 1.0 / n  # levels by products (as in reference_chunks): a division per value is slow
    c1 = 0.0
    e[1] = 0.0
    for i in range(1, n):
        gap = r[i] - r[i - 1]
        gap *= i * inv_n
        c1 += gap
        e[i + 1] = c1 - (r[i] - r0) * ((i + 1) * inv_n)
    return e


@njit(cache=True, nogil=True, inline="always")
def _plain(
    n: int, m: int, xa: float, below_a: int, jr_a: int, g1a: float, xb: float, jl_b: int, g1b: float
) -> float:  # pragma: no cover - compiled
    """``int |F_ref - k|`` over ``[xa, xb)`` where ``F_chunk = k = below_a / m``, or ``-1``.

    ``-1`` where ``F_ref`` crosses ``k`` inside (``F_ref(xa) < k <= F_ref(xb -)``: the
    ``ceil(k n)``-th reference value lies strictly between them); :func:`_crossing` then
    gives it. Scalars only, and the rare case out of line: the common one stays a few
    instructions (a call with arrays in the loop, even one never taken, made it five
    times slower).
    """
    bn = below_a * n
    # jr_a m < bn <= jl_b m as one test: a branch on the first alone (a coin toss: is
    # F_ref below F_chunk?) mispredicts half the time
    if min(bn - jr_a * m - 1, jl_b * m - bn) >= 0:
        return -1.0
    return abs((g1b - g1a) - (below_a / m) * (xb - xa))


@njit(cache=True, nogil=True)
def _crossing(
    r: np.ndarray,
    e: np.ndarray,
    n: int,
    m: int,
    r0: float,
    below_a: int,
    xa: float,
    g1a: float,
    xb: float,
    g1b: float,
) -> float:  # pragma: no cover - compiled
    """``int |F_ref - k|`` over ``[xa, xb)`` where ``F_ref`` crosses ``k = below_a / m``."""
    k = below_a / m
    bn = below_a * n
    j_in = min((bn + m - 1) // m, n)
    xi = r[j_in - 1]
    j_c = _gallop(r, j_in, xi, True)  # reference values <= xi
    g1_c = e[j_c] + (xi - r0) * (j_c * (1.0 / n))
    h_c = g1_c - k * xi
    h_a = g1a - k * xa
    h_b = g1b - k * xb
    return max(h_a + h_b - 2.0 * h_c, 0.0)


@njit(cache=True, nogil=True)
def split_sorted(
    ordered: np.ndarray, labels: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Each label's sorted values and their ranks, laid out one label after another.

    ``ordered``: sorted values; ``labels[p]``: the label of ``ordered[p]``
    (``-1``: none); ``sizes``: how many values carry each label.
    """
    starts = np.empty(sizes.size, dtype=np.int64)
    total = 0
    for i in range(sizes.size):
        starts[i] = total
        total += sizes[i]
    ranks = np.empty(total, dtype=np.int64)
    values = np.empty(total)
    for p in range(ordered.size):
        label = labels[p]
        if label >= 0:
            q = starts[label]
            ranks[q] = p
            values[q] = ordered[p]
            starts[label] = q + 1
    return ranks, values


@njit(cache=True, nogil=True)
def reference_chunks(
    r: np.ndarray, labels: np.ndarray, sizes: np.ndarray, want_l1: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """``(d_plus, d_minus, l1, offsets)`` of every chunk of the reference, in one pass over it.

    ``labels[p]``: the chunk of the sorted reference value ``r[p]`` (``-1``:
    none); ``sizes``: each chunk's size. The chunks are subsets of the
    reference, so walking the sorted reference once visits every chunk's
    values in order, and each chunk's running state (its count so far, its
    previous point) is a few numbers: one sequential pass over ``r`` instead
    of one per chunk. ``offsets`` (the reference's CDF offsets, filled on the
    way; empty without ``want_l1``) serve the crossing formula.
    """
    n, count = r.size, sizes.size
    r0 = r[0]
    below = np.zeros(count, dtype=np.int64)
    a_x = np.zeros(count)
    a_jr = np.zeros(count, dtype=np.int64)
    a_g1 = np.zeros(count)
    d_plus = np.zeros(count)
    d_minus = np.zeros(count)
    l1 = np.zeros(count)
    tally = np.zeros(count, dtype=np.int64)
    # the gaps as integers, n m (F_chunk - F_ref) and n m (F_ref - F_chunk): a division per
    # step costs as much as the rest of it (see _gap for the float)
    best_plus = np.zeros(count, dtype=np.int64)
    best_minus = np.zeros(count, dtype=np.int64)
    e = np.empty(n + 1 if want_l1 else 1)
    e[0] = 0.0
    c1 = 0.0
    inv_n = 1.0 / n  # levels by products, as in cdf_offsets
    ties = False
    for p in range(1, n):
        if r[p] == r[p - 1]:
            ties = True
            break
    if not ties:  # the usual continuous column: one reference value, one chunk's point
        prev = r0
        for p in range(n):
            x = r[p]
            jr = p + 1
            g1 = 0.0
            if want_l1:  # int F_ref up to x (the offsets as in cdf_offsets, by products)
                gap = x - prev
                gap *= p * inv_n
                c1 += gap
                level = jr * inv_n
                e[jr] = c1 - (x - r0) * level
                g1 = (x - r0) * level + e[jr]
                prev = x
            c = labels[p]
            if c < 0:
                continue
            m = sizes[c]
            b = below[c]
            best_plus[c] = max(best_plus[c], (b + 1) * n - jr * m)
            best_minus[c] = max(best_minus[c], p * m - b * n)
            if b == 0:
                l1[c] += g1
            elif want_l1:
                part = _plain(n, m, a_x[c], b, a_jr[c], a_g1[c], x, p, g1)
                if part < 0.0:
                    part = _crossing(r, e, n, m, r0, b, a_x[c], a_g1[c], x, g1)
                l1[c] += part
            a_x[c], below[c], a_jr[c], a_g1[c] = x, b + 1, jr, g1
    p = n if not ties else 0
    while p < n:  # with ties: a group of equal reference values at a time
        x = r[p]
        t = p + 1
        while t < n and r[t] == x:
            t += 1
        g1 = 0.0
        if want_l1:
            for q in range(p, t):
                if q > 0:
                    gap = r[q] - r[q - 1]
                    gap *= q * inv_n
                    c1 += gap
                e[q + 1] = c1 - (r[q] - r0) * ((q + 1) * inv_n)
            g1 = (x - r0) * (t * inv_n) + e[t]
        jl, jr = p, t
        first_label = labels[p]
        if t == p + 1:  # no tie: one chunk's point
            if first_label >= 0:
                tally[first_label] = 1
        else:
            for q in range(p, t):
                if labels[q] >= 0:
                    tally[labels[q]] += 1
        for q in range(p, t):
            c = labels[q]
            if c < 0 or tally[c] == 0:
                continue
            m = sizes[c]
            now = below[c] + tally[c]
            tally[c] = 0
            best_plus[c] = max(best_plus[c], now * n - jr * m)
            best_minus[c] = max(best_minus[c], jl * m - below[c] * n)
            if below[c] == 0:
                l1[c] += g1
            else:
                if want_l1:
                    part = _plain(n, m, a_x[c], below[c], a_jr[c], a_g1[c], x, jl, g1)
                    if part < 0.0:
                        part = _crossing(r, e, n, m, r0, below[c], a_x[c], a_g1[c], x, g1)
                    l1[c] += part
            a_x[c], below[c], a_jr[c], a_g1[c] = x, now, jr, g1
        p = t
    if want_l1:  # up to the reference maximum, where both CDFs are 1
        end_x = r[n - 1]
        g1_end = (end_x - r0) * (n * inv_n) + e[n]
        for c in range(count):
            if below[c] > 0:
                k = below[c] / sizes[c]
                l1[c] += abs((g1_end - a_g1[c]) - k * (end_x - a_x[c]))
    for c in range(count):
        d_plus[c] = _gap(best_plus[c], n, sizes[c])
        d_minus[c] = _gap(best_minus[c], n, sizes[c])
    return d_plus, d_minus, l1, e


@njit(cache=True, nogil=True, inline="always")
def _decide(
    n: int,
    m: int,
    below_a: int,
    below_last: int,
    jr_a: int,
    jl_b: int,
    best_plus: int,
    best_minus: int,
    want_l1: bool,
) -> int:  # pragma: no cover - compiled
    """What a stretch between two located points needs: 0 nothing, 1 its sum, 2 a closer look.

    Inside it ``F_chunk <= below_last / m`` and ``F_ref >= F_ref(a)``, so no inner
    ``F_chunk - F_ref`` exceeds ``below_last / m - jr_a / n``; likewise for
    ``F_ref - F_chunk``. The gaps are compared as integers (``n m`` times the gaps).
    Where ``F_ref - F_chunk`` keeps one sign over the stretch (1), its Wasserstein
    integral is the difference of the integrals at its ends.
    """
    if below_last * n - jr_a * m > best_plus or jl_b * m - below_a * n > best_minus:
        return 2
    if not want_l1:
        return 0
    if jr_a * m >= below_last * n or jl_b * m <= below_a * n:
        return 1
    return 2


@njit(cache=True, nogil=True, inline="always")
def _chunk_area(
    ux: np.ndarray, ub: np.ndarray, ties: bool, end_x: float, a: int, b: int
) -> float:  # pragma: no cover - compiled
    """``m int F_chunk`` from the distinct value ``a`` to ``b`` (``b = u``: to ``end_x``)."""
    u = ux.size
    area = 0.0
    for i in range(a, b):
        xn = ux[i + 1] if i + 1 < u else end_x
        area += (xn - ux[i]) * (ub[i] if ties else i + 1)
    return area


@njit(cache=True, nogil=True)
def compare_sampled(
    r: np.ndarray, e: np.ndarray, v: np.ndarray, stride: int, want_l1: bool
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """``(d_plus, d_minus, l1)`` of sorted chunk values ``v`` against sorted reference ``r``.

    ``e``: the reference's CDF offsets (read only with ``want_l1``). Needs
    ``r.size * v.size < 2**62`` (products of counts are compared as
    integers) and both non-empty.

    Every ``stride``-th distinct chunk value is located first (and the end
    point). Between two located points both CDFs are monotone, which bounds
    the stretch between them (:func:`_decide`): its KS gaps cannot exceed the
    bounds from its ends, and where ``F_ref - F_chunk`` keeps one sign over it
    the Wasserstein integral over it is the difference of two integrals known
    at its ends, less the chunk's own (a sum over its values, no search).
    The other stretches are looked at every 8th point, the same way, and only
    what is still undecided is located point by point. Any stride gives
    the result of locating every point (``stride=1``; the gaps bit for bit).
    """
    n, m = r.size, v.size
    r0 = r[0]
    inv_n = 1.0 / n
    inv_m = 1.0 / m
    ties = False
    for i in range(1, m):
        if v[i] == v[i - 1]:
            ties = True
            break
    if ties:  # the distinct values and the chunk counts <= each
        u = 1
        for i in range(1, m):
            if v[i] != v[i - 1]:
                u += 1
        ux = np.empty(u)
        ub = np.empty(u, dtype=np.int64)
        q = 0
        for i in range(m):
            if i == m - 1 or v[i + 1] != v[i]:
                ux[q] = v[i]
                ub[q] = i + 1
                q += 1
    else:
        u = m
        ux = v
        ub = np.empty(0, dtype=np.int64)
    end_x = max(r[n - 1], ux[u - 1])
    g1_end = (end_x - r0) * (n * inv_n) + e[n] if want_l1 else 0.0
    # anchors: every stride-th point, the last point and the end point (index u)
    na = (u - 1) // stride + 1
    if (na - 1) * stride != u - 1:
        na += 1
    na += 1
    idx = np.empty(na, dtype=np.int64)
    jr_at = np.empty(na, dtype=np.int64)
    jl_at = np.empty(na, dtype=np.int64)
    g1_at = np.empty(na)
    # the gaps as integers, n m (F_chunk - F_ref) and n m (F_ref - F_chunk) (see _gap)
    best_plus, best_minus = 0, 0
    l1 = 0.0
    j = 0
    for k in range(na):
        if k == na - 1:  # the end point: both CDFs are 1, both gaps 0
            idx[k], jr_at[k], jl_at[k], g1_at[k] = u, n, n, g1_end
            continue
        i = min(k * stride, u - 1)
        idx[k] = i
        x = ux[i]
        jl, jr = _span(r, j, x)
        jr_at[k], jl_at[k] = jr, jl
        if want_l1:
            g1_at[k] = (x - r0) * (jr * inv_n) + e[jr]
        below = ub[i] if ties else i + 1
        before = (ub[i - 1] if ties else i) if i > 0 else 0
        best_plus = max(best_plus, below * n - jr * m)
        best_minus = max(best_minus, jl * m - before * n)
        j = jr
    if want_l1:
        l1 += g1_at[0]  # F_chunk = 0 before the first chunk value
    sub = 8
    for k in range(na - 1):
        a, b = idx[k], idx[k + 1]
        jr_a, jl_b = jr_at[k], jl_at[k + 1]
        below_a = ub[a] if ties else a + 1
        below_last = ub[b - 1] if ties else b
        act = _decide(n, m, below_a, below_last, jr_a, jl_b, best_plus, best_minus, want_l1)
        if act == 0:
            continue
        if act == 1:
            area = _chunk_area(ux, ub, ties, end_x, a, b)
            l1 += abs((g1_at[k + 1] - g1_at[k]) - area * inv_m)
            continue
        # a closer look: sub-stretches of `sub` points, each decided the same way
        sa, s_jr, s_g1 = a, jr_a, g1_at[k]
        while sa < b:
            sb = min(sa + sub, b)
            if sb == b:
                t_jr, t_jl, t_g1 = jr_at[k + 1], jl_b, g1_at[k + 1]
            else:
                x = ux[sb]
                t_jl, t_jr = _span(r, s_jr, x)
                t_g1 = (x - r0) * (t_jr * inv_n) + e[t_jr] if want_l1 else 0.0
                below = ub[sb] if ties else sb + 1
                before = ub[sb - 1] if ties else sb
                best_plus = max(best_plus, below * n - t_jr * m)
                best_minus = max(best_minus, t_jl * m - before * n)
            sba = ub[sa] if ties else sa + 1
            sbl = ub[sb - 1] if ties else sb
            act = _decide(n, m, sba, sbl, s_jr, t_jl, best_plus, best_minus, want_l1)
            if act == 1:
                area = _chunk_area(ux, ub, ties, end_x, sa, sb)
                l1 += abs((t_g1 - s_g1) - area * inv_m)
            elif act == 2:  # every point of the sub-stretch
                px, pb, pjr, pg1 = ux[sa], sba, s_jr, s_g1
                jj = s_jr
                for i in range(sa + 1, sb):
                    x = ux[i]
                    bi = ub[i] if ties else i + 1
                    jl, jr = _span(r, jj, x)
                    best_plus = max(best_plus, bi * n - jr * m)
                    best_minus = max(best_minus, jl * m - pb * n)
                    if want_l1:
                        g1 = (x - r0) * (jr * inv_n) + e[jr]
                        part = _plain(n, m, px, pb, pjr, pg1, x, jl, g1)
                        if part < 0.0:
                            part = _crossing(r, e, n, m, r0, pb, px, pg1, x, g1)
                        l1 += part
                        pg1 = g1
                    px, pb, pjr = x, bi, jr
                    jj = jr
                if want_l1:
                    if sb == u:  # to the end point: F_chunk = 1 there, no crossing
                        l1 += abs((t_g1 - pg1) - (pb * inv_m) * (end_x - px))
                    else:
                        xb = ux[sb]
                        part = _plain(n, m, px, pb, pjr, pg1, xb, t_jl, t_g1)
                        if part < 0.0:
                            part = _crossing(r, e, n, m, r0, pb, px, pg1, xb, t_g1)
                        l1 += part
            sa, s_jr, s_g1 = sb, t_jr, t_g1
    return _gap(best_plus, n, m), _gap(best_minus, n, m), l1
