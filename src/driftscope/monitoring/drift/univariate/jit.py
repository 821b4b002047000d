"""Whether the compiled ECDF loops run (:mod:`._kernels`, Numba), or the NumPy path.

They run when Numba imports, unless the environment sets ``DRIFTSCOPE_JIT=0``
(or ``false`` / ``no`` / ``off``). Both paths give the same figures (the KS
gaps bit for bit, distances up to summation order); the compiled one is
several times faster and runs without the GIL. :func:`disabled` switches
them off for a block (tests compare the two paths with it).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np

__all__ = ["disabled", "kernels"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: list[ModuleType | None] = []  # [] until first asked; then [module] or [None]
_off = 0  # nesting depth of disabled()


def kernels() -> ModuleType | None:
    """The compiled kernels module, or ``None`` where they are off or Numba does not import."""
    if _off:
        return None
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(_load())
    return _loaded[0]


def _load() -> ModuleType | None:
    if os.environ.get("DRIFTSCOPE_JIT", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        from driftscope.monitoring.drift.univariate import _kernels

        # one call: compiles or loads from the cache, and fails here, not in a calculation,
        # where Numba cannot work (e.g. no writable cache directory: set NUMBA_CACHE_DIR)
        _kernels.cdf_offsets(np.zeros(2))
    except Exception as exc:  # Numba missing, or broken for this Python / NumPy
        log.warning(
            "compiled ECDF loops unavailable (%s: %s); using NumPy", type(exc).__name__, exc
        )
        return None
    return _kernels


@contextmanager
def disabled() -> Iterator[None]:
    """Run the NumPy path inside the block (for every thread: meant for tests)."""
    global _off
    with _lock:
        _off += 1
    try:
        yield
    finally:
        with _lock:
            _off -= 1
