"""The public surface of driftscope.monitoring is explicit and complete."""

from __future__ import annotations

import doctest
import importlib

import pytest

import driftscope.monitoring as monitoring
from driftscope.monitoring.chunking import Chunker, chunkers
from driftscope.monitoring.drift.univariate import DriftMethod, drift_methods
from driftscope.monitoring.thresholds import Threshold, thresholds


def test_all_names_exist_and_public_classes_are_exported():
    for name in monitoring.__all__:
        assert hasattr(monitoring, name), name
    public = {
        n for n, v in vars(monitoring).items() if isinstance(v, type) and not n.startswith("_")
    }
    assert public <= set(monitoring.__all__)


def _leaves(cls):
    out = set()
    for sub in cls.__subclasses__():
        out |= _leaves(sub)
        if "name" in sub.__dict__ or "type" in sub.__dict__:
            out.add(sub)
    return out


def test_every_plugin_subclass_is_registered():
    assert {c.name for c in _leaves(DriftMethod)} == set(drift_methods.names())
    assert {c.type for c in _leaves(Chunker)} == set(chunkers.names())
    assert {c.type for c in _leaves(Threshold)} == set(thresholds.names())


@pytest.mark.parametrize(
    "module",
    [
        "driftscope.monitoring.thresholds",
        "driftscope.monitoring.result",
        "driftscope.monitoring.drift.univariate.calculator",
        "driftscope.monitoring.quality.calculator",
        "driftscope.monitoring.quality.schema",
        "driftscope.monitoring.profiles.column",
        "driftscope.monitoring.monitor",
    ],
)
def test_docstring_examples_run(module):
    failed, _ = doctest.testmod(importlib.import_module(module))
    assert failed == 0
