"""One registry helper for every plugin kind.

Every exchangeable part of driftscope is a *kind* (:data:`PLUGIN_KINDS`) with
one :class:`Registry`. Built-ins register themselves when their package is
imported; third-party plugins are Python entry points in the group
``driftscope.<kind>`` (``driftscope.codecs``, ``driftscope.storage``, ...)
and go through the same :meth:`Registry.add`, so a duplicate name is refused
whoever declares it. A dotted import path (``package.module:Name``) in the
configuration works as a fallback for code that is not packaged.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from driftscope.errors import PluginError

T = TypeVar("T")

#: kind -> (what it is, the package whose import registers the built-ins).
#: The entry-point group of a kind is ``driftscope.<kind>``.
PLUGIN_KINDS: dict[str, tuple[str, str]] = {
    "storage": ("database backend, by URL scheme", "driftscope.storage"),
    "blobstores": ("object store, by URL scheme", "driftscope.storage"),
    "labeling": ("labeling tool", "driftscope.labeling"),
    "codecs": ("wire protocol codec", "driftscope.codecs"),
    "converters": ("model output -> canonical prediction", "driftscope.annotations"),
    "scalers": ("model input size -> original image", "driftscope.annotations"),
    "notifiers": ("alert notifier", "driftscope.alerts"),
    "outliers": ("outlier model", "driftscope.monitoring.outliers"),
}

BUILTIN = "built-in"

_ALL: dict[str, Registry[object]] = {}


class Registry(Generic[T]):
    """A name -> plugin mapping that refuses duplicates and lists valid keys in errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.group = f"driftscope.{kind}"
        self._items: dict[str, T] = {}
        #: name -> "built-in" or the distribution ("name version") that declared it
        self._origin: dict[str, str] = {}
        self._entry_points_loaded = False
        previous = _ALL.get(kind)
        if previous is not None:  # a placeholder made by registry() before the package loaded
            self._items.update(previous._items)  # type: ignore[arg-type]
            self._origin.update(previous._origin)
        _ALL[kind] = self  # type: ignore[assignment]

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@codecs.register("oip_v2")``."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T, *, origin: str = BUILTIN) -> None:
        """Register ``obj`` as ``name``; a second, different object under one name is refused."""
        if name in self._items and self._items[name] is not obj:
            raise PluginError(
                f"{self.kind} plugin {name!r} is already registered "
                f"(by {self._origin.get(name, BUILTIN)}); refusing the one from {origin}"
            )
        self._items[name] = obj
        self._origin[name] = origin

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            try:
                obj = ep.load()
            except Exception as exc:  # name the plugin that broke, keep the cause
                raise PluginError(
                    f"{self.kind} plugin {ep.name!r} from entry point {ep.value!r} failed to load"
                ) from exc
            self.add(ep.name, obj, origin=_distribution(ep))

    def get(self, name: str) -> T:
        """The plugin called ``name``, else the object at import path ``module:attr``."""
        if name in self._items:
            return self._items[name]
        self._load_entry_points()
        if name in self._items:
            return self._items[name]
        if ":" in name:
            module, _, attr = name.partition(":")
            try:
                obj: T = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"cannot import {self.kind} plugin {name!r}: {exc}") from exc
            return obj
        raise PluginError(
            f"unknown {self.kind} plugin {name!r}; valid: {', '.join(sorted(self._items))}"
        )

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def origin(self, name: str) -> str:
        """``"built-in"`` or the distribution (``"name version"``) a plugin comes from."""
        self._load_entry_points()
        return self._origin.get(name, BUILTIN)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items


def _distribution(ep: EntryPoint) -> str:
    dist = ep.dist
    if dist is None:
        return f"entry point {ep.value}"
    return f"{dist.metadata['Name']} {dist.version}"


def registry(kind: str) -> Registry[object]:
    """The registry of ``kind``, made empty (entry points only) if no package created it yet."""
    if kind not in PLUGIN_KINDS and kind not in _ALL:
        raise PluginError(f"unknown plugin kind {kind!r}; valid: {', '.join(sorted(_ALL))}")
    found = _ALL.get(kind)
    return found if found is not None else Registry(kind)


def all_registries() -> dict[str, Registry[object]]:
    """Every registry created so far (see :func:`load_registries` to create them all)."""
    return dict(_ALL)


def load_registries() -> dict[str, Registry[object]]:
    """Import the packages holding the built-ins (those not present are skipped) and return
    a registry for every kind in :data:`PLUGIN_KINDS` plus any other created on the way."""
    for _, package in PLUGIN_KINDS.values():
        if _find(package):
            importlib.import_module(package)
    for kind in PLUGIN_KINDS:
        registry(kind)
    return all_registries()


def _find(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
