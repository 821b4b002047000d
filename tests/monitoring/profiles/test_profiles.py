from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from driftscope.errors import ValidationError
from driftscope.monitoring.profiles import ColumnProfile, jensen_shannon, ks_statistic

floats = st.floats(-1e6, 1e6, allow_nan=False) | st.just(float("nan"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(floats, max_size=30), min_size=1, max_size=5))
def test_merge_of_parts_equals_profile_of_whole_exact(parts):
    whole = ColumnProfile("continuous").update(np.array(sum(parts, []), dtype=float))
    merged = ColumnProfile("continuous")
    for part in parts:
        merged = merged + ColumnProfile("continuous").update(np.array(part, dtype=float))
    assert (merged.n, merged.missing) == (whole.n, whole.missing)
    np.testing.assert_array_equal(merged.values, whole.values)
    if whole.n:
        assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-6)
        assert merged.m2 == pytest.approx(whole.m2, rel=1e-6, abs=1e-3)
        assert (merged.min, merged.max) == (whole.min, whole.max)
    again = ColumnProfile.from_dict(merged.to_dict())
    assert again.to_dict() == merged.to_dict()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["a", "b", "c", None]), max_size=40), min_size=1, max_size=4),
    st.sampled_from(["exact", "sketch"]),
)
def test_categorical_merge(parts, mode):
    whole = ColumnProfile("categorical", mode).update(sum(parts, []))
    merged = ColumnProfile("categorical", mode)
    for part in parts:
        merged.merge(ColumnProfile("categorical", mode).update(part))
    assert merged.category_counts() == whole.category_counts()
    assert (merged.n, merged.missing) == (whole.n, whole.missing)
    assert ColumnProfile.from_dict(merged.to_dict()).category_counts() == whole.category_counts()


@pytest.mark.parametrize("shift", [0.0, 0.2])
def test_ks_from_profiles_exact_and_sketch_bound(shift):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=20000), rng.normal(shift, 1, size=15000)
    want = stats.ks_2samp(a, b).statistic

    def prof(x, mode):
        chunks = np.array_split(x, 7)
        out = ColumnProfile("continuous", mode)
        for c in chunks:
            out.merge(ColumnProfile("continuous", mode).update(c))
        return out

    assert ks_statistic(prof(a, "exact"), prof(b, "exact")) == pytest.approx(want, abs=1e-12)
    pa, pb = prof(a, "sketch"), prof(b, "sketch")
    bound = pa.rank_error + pb.rank_error + 2 / 1000
    assert abs(ks_statistic(pa, pb) - want) <= bound
    assert abs(pa.quantile(0.5) - np.median(a)) < 0.05


def test_js_from_profiles_and_errors():
    a = ColumnProfile("categorical").update(["x"] * 50 + ["y"] * 30 + ["z"] * 20)
    b = ColumnProfile("categorical").update(["x"] * 20 + ["y"] * 50 + ["w"] * 30)
    p = np.array([0, 50, 30, 20]) / 100
    q = np.array([30, 20, 50, 0]) / 100  # keys sorted: w, x, y, z
    assert jensen_shannon(a, b) == pytest.approx(distance.jensenshannon(p, q, base=2))
    with pytest.raises(ValidationError):
        a.merge(ColumnProfile("continuous"))
    with pytest.raises(ValidationError):
        ColumnProfile("text")  # type: ignore[arg-type]
