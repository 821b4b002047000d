"""NumPy's transparent-huge-page advice, held off around short-lived large temporaries.

NumPy asks the kernel for transparent huge pages (``madvise``) on every array
of 4 MB or more. Where the kernel then compacts memory to find free 2 MB
pages (``defrag`` on ``madvise``, a common VM default), each fresh large
temporary costs milliseconds of system time: the drift calculator's fit, which
sorts and splits every 1M-row reference column through several such arrays,
spent 0.5-1.0 s of 3 s of CPU in those faults (benchmarks/analytics/README.md).
:func:`small_pages` turns the advice off while it runs and restores it after;
it changes no result, only how the kernel backs fresh memory. NumPy reads
``NUMPY_MADVISE_HUGEPAGE`` at import; a setting made there is what is restored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["small_pages"]


def _setter() -> Callable[[bool], bool] | None:
    """NumPy's switch (``_set_madvise_hugepage(enabled) -> previous``), if it has one."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            imported = __import__(module, fromlist=["_set_madvise_hugepage"])
        except ImportError:
            continue
        setter = getattr(imported, "_set_madvise_hugepage", None)
        if callable(setter):
            return setter  # type: ignore[no-any-return]
    return None


_SET = _setter()
_lock = threading.Lock()
_depth = 0
_saved = True


@contextmanager
def small_pages() -> Iterator[None]:
    """No huge-page advice for arrays made inside (nested and concurrent uses included)."""
    global _depth, _saved
    if _SET is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = bool(_SET(False))
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _SET(_saved)
