"""Schema check of analysis data against the reference (and a model's feature names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

__all__ = ["SchemaIssue", "check_schema", "dtype_family"]


@dataclass(frozen=True)
class SchemaIssue:
    """One schema difference: ``kind`` is missing_column, new_column, dtype_change or
    missing_feature."""

    kind: str
    column: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dtype_family(dtype: Any) -> str:
    """A coarse type: bool, integer, float, datetime, string or other."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "string"
    if isinstance(dtype, pd.CategoricalDtype):
        return "string"
    return "other"


_NUMERIC = {"integer", "float"}


def check_schema(
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    expected_features: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
) -> list[SchemaIssue]:
    """Differences between the columns of ``analysis`` and ``reference``.

    Integer and float count as the same family (an integer column with a
    missing value becomes float in pandas); any other family change is a
    ``dtype_change``. ``expected_features`` (the names a model was trained
    with) must all be present in the analysis data.

    Examples
    --------
    >>> ref = pd.DataFrame({"a": [1.0], "b": ["x"]})
    >>> [i.kind for i in check_schema(ref, pd.DataFrame({"a": ["s"], "c": [1]}))]
    ['missing_column', 'new_column', 'dtype_change']
    """
    skip = set(ignore)
    ref_cols = [str(c) for c in reference.columns if c not in skip]
    new_cols = [str(c) for c in analysis.columns if c not in skip]
    issues = [
        SchemaIssue("missing_column", c, "in the reference, not in the analysis data")
        for c in ref_cols
        if c not in analysis.columns
    ]
    issues += [
        SchemaIssue("new_column", c, "not in the reference")
        for c in new_cols
        if c not in reference.columns
    ]
    for col in ref_cols:
        if col not in analysis.columns:
            continue
        a, b = dtype_family(reference[col].dtype), dtype_family(analysis[col].dtype)
        if a != b and not (a in _NUMERIC and b in _NUMERIC):
            issues.append(SchemaIssue("dtype_change", col, f"{a} in the reference, {b} now"))
    for name in expected_features or ():
        if name not in analysis.columns:
            issues.append(SchemaIssue("missing_feature", name, "the model expects this feature"))
    return issues
