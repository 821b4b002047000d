"""Streaming change detectors on the per-record error stream (river).

The service feeds every labeled record's error, in arrival order, to one
detector per model; a detection names the record where the change was
seen. Detectors and their inputs:

- continuous input: ``adwin`` (``river.drift.ADWIN``), ``page_hinkley``
  (``river.drift.PageHinkley`` with ``mode="up"`` by default: only an error
  increase alerts), ``kswin`` (``river.drift.KSWIN``);
- 0/1 input: ``ddm``, ``eddm``, ``hddm_a``, ``hddm_w``, ``fhddm``
  (``river.drift.binary.DDM``, ``EDDM``, ``HDDMA``, ``HDDMW``, ``FHDDM``).

The error of a classification record is 1 when the prediction is wrong;
of a regression record, the absolute error (binary detectors cannot take
it). A detector restarts its statistics after each detection (river's
behaviour), so it can alert again on a later change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftscope.errors import MonitoringError

_CONTINUOUS = {"adwin": "ADWIN", "page_hinkley": "PageHinkley", "kswin": "KSWIN"}
_BINARY = {"ddm": "DDM", "eddm": "EDDM", "hddm_a": "HDDMA", "hddm_w": "HDDMW", "fhddm": "FHDDM"}
DETECTORS = tuple(sorted({**_CONTINUOUS, **_BINARY}))
_DEFAULTS: dict[str, dict[str, Any]] = {"page_hinkley": {"mode": "up"}, "kswin": {"seed": 0}}


def make_detector(method: str, params: dict[str, Any] | None = None) -> Any:
    """A fresh river detector by driftscope name."""
    import river.drift
    import river.drift.binary

    kwargs = {**_DEFAULTS.get(method, {}), **(params or {})}
    if method in _CONTINUOUS:
        cls = getattr(river.drift, _CONTINUOUS[method])
    elif method in _BINARY:
        cls = getattr(river.drift.binary, _BINARY[method])
    else:
        raise MonitoringError(f"unknown streaming detector {method!r}; valid: {DETECTORS}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise MonitoringError(f"bad parameters {kwargs} for detector {method!r}") from exc


def error_stream(task: str, y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-record errors: 0/1 misclassification, or absolute error for ``regression``."""
    if task == "regression":
        t = np.asarray(y_true, dtype=np.float64)
        return np.abs(np.asarray(y_pred, dtype=np.float64) - t)
    return (np.asarray(y_true) != np.asarray(y_pred)).astype(np.float64)


@dataclass(frozen=True)
class Detection:
    """A change seen by a detector: at stream position ``index`` (0-based, since creation)."""

    detector: str
    index: int
    record_id: Any
    value: float


class StreamingDetector:
    """One river detector over an error stream, remembering where it alerted.

    Parameters
    ----------
    method : a name from :data:`DETECTORS`.
    params : keyword arguments for the river class.

    Examples
    --------
    >>> det = StreamingDetector("page_hinkley")
    >>> hits = det.run([0.0] * 500 + [1.0] * 200)
    >>> hits[0].index >= 500
    True
    """

    def __init__(self, method: str = "adwin", params: dict[str, Any] | None = None) -> None:
        self.method = method
        self.params = dict(params or {})
        self.binary = method in _BINARY
        self._detector = make_detector(method, self.params)
        self.seen = 0
        self.detections: list[Detection] = []

    def update(self, value: float, record_id: Any = None) -> Detection | None:
        """Feed one error; return a :class:`Detection` when a change is detected here."""
        v = float(value)
        if self.binary and v not in (0.0, 1.0):
            raise MonitoringError(
                f"detector {self.method!r} takes 0/1 errors, got {v}; use adwin, page_hinkley "
                "or kswin for continuous errors"
            )
        if self.method == "fhddm":
            # river's FHDDM watches the rate of 1s for a *drop* (MOA's accuracy form),
            # whatever its docstring says: feed it "correct" bits.
            self._detector.update(v == 0.0)
        else:
            self._detector.update(bool(v) if self.binary else v)
        index = self.seen
        self.seen += 1
        if self._detector.drift_detected:
            hit = Detection(self.method, index, record_id, v)
            self.detections.append(hit)
            return hit
        return None

    def run(
        self, values: Iterable[float], record_ids: Sequence[Any] | None = None
    ) -> list[Detection]:
        """Feed a whole stream; return the detections it raised."""
        out: list[Detection] = []
        ids = list(record_ids) if record_ids is not None else None
        for i, v in enumerate(values):
            hit = self.update(v, None if ids is None else ids[i])
            if hit is not None:
                out.append(hit)
        return out
