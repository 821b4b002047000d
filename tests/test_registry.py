"""The registry helper: duplicates refused, valid keys listed, entry points, import paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftscope import registry as reg
from driftscope.errors import PluginError
from driftscope.registry import PLUGIN_KINDS, Registry, load_registries, registry


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch):
    """A registry of a throw-away kind, removed again after the test."""
    monkeypatch.setattr(reg, "_ALL", dict(reg._ALL))
    return Registry("testkind")


def _dist(site: Path, name: str, entry_points: str, module: str | None = None) -> None:
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)
    if module is not None:
        (site / f"{name}_mod.py").write_text(module)


def test_duplicates_refused_and_valid_keys_listed(fresh):
    fresh.add("a", int)
    fresh.add("a", int)  # the same object again is fine (re-import)
    with pytest.raises(PluginError, match="'a' is already registered"):
        fresh.add("a", float)
    fresh.add("b", float)
    with pytest.raises(PluginError, match="unknown testkind plugin 'c'; valid: a, b"):
        fresh.get("c")


def test_import_path_fallback(fresh):
    assert fresh.get("pathlib:Path") is Path
    with pytest.raises(PluginError, match="cannot import testkind plugin 'nope.mod:X'"):
        fresh.get("nope.mod:X")


def test_entry_points_go_through_the_same_path(fresh, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "good", "[driftscope.testkind]\nthing = good_mod:Thing\n", "class Thing: pass\n")
    monkeypatch.syspath_prepend(str(site))
    assert fresh.names() == ["thing"]
    assert fresh.get("thing").__name__ == "Thing"
    assert fresh.origin("thing") == "good 1.0"


def test_broken_entry_point_names_the_plugin(fresh, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "broken", "[driftscope.testkind]\nbad = broken_mod:Missing\n", "x = 1\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(PluginError, match="testkind plugin 'bad' from entry point") as info:
        fresh.names()
    assert isinstance(info.value.__cause__, AttributeError)


def test_every_kind_has_a_registry():
    found = load_registries()
    for kind in PLUGIN_KINDS:
        assert found[kind].group == f"driftscope.{kind}"
    with pytest.raises(PluginError, match="unknown plugin kind 'nope'"):
        registry("nope")


def test_a_placeholder_is_taken_over_by_the_package_registry(monkeypatch):
    monkeypatch.setattr(reg, "_ALL", {})
    placeholder = registry("notifiers")
    placeholder.add("early", str)
    real = Registry("notifiers")  # what the package's own module does on import
    assert registry("notifiers") is real and real.get("early") is str
