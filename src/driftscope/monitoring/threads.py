"""``n_jobs``: how many Python threads a calculation uses (NumPy and scikit-learn release
the GIL in their heavy loops, so threads run side by side).

One rule for every calculator that takes ``n_jobs``: ``"auto"`` uses one thread per CPU
once the data has at least the calculator's minimum number of rows and none below it
(starting threads would cost more than they save); ``None`` always one per CPU; an int
that many (1: none). Results never depend on it.
"""

from __future__ import annotations

import os
from typing import Literal

from driftscope.errors import ConfigError

NJobs = int | Literal["auto"] | None


def check_n_jobs(n_jobs: object) -> NJobs:
    """``n_jobs`` itself, or a ConfigError naming what is valid."""
    if n_jobs is None or n_jobs == "auto":
        return n_jobs  # type: ignore[return-value]
    if isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and n_jobs >= 1:
        return n_jobs
    raise ConfigError("n_jobs", f"must be 'auto', None or an int >= 1, not {n_jobs!r}")


def thread_count(n_jobs: NJobs, rows: int, *, auto_min_rows: int, cap: int | None = None) -> int:
    """Threads to use for ``rows`` rows (at most ``cap`` CPUs when given)."""
    cpus = os.cpu_count() or 1
    if cap is not None:
        cpus = min(cpus, cap)
    if n_jobs == "auto":
        return cpus if rows >= auto_min_rows else 1
    return cpus if n_jobs is None else int(n_jobs)
