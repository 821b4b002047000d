"""One registry helper for every plugin kind.

Built-ins and third-party plugins (Python entry points in the groups
``driftscope.codecs``, ``driftscope.converters``, ``driftscope.scalers``,
``driftscope.storage``, ``driftscope.blobstores``, ``driftscope.labeling``,
``driftscope.notifiers``, ``driftscope.outliers``) go through the same path.
A dotted import path (``package.module:Name``) works as a fallback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from driftscope.errors import PluginError

T = TypeVar("T")

_ALL: dict[str, Registry[object]] = {}


class Registry(Generic[T]):
    """A name -> plugin mapping that refuses duplicates and lists valid keys in errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.group = f"driftscope.{kind}"
        self._items: dict[str, T] = {}
        self._entry_points_loaded = False
        _ALL[kind] = self  # type: ignore[assignment]

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@codecs.register("oip_v2")``."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items and self._items[name] is not obj:
            raise PluginError(f"{self.kind} plugin {name!r} is already registered")
        self._items[name] = obj

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._items:
                continue
            try:
                self.add(ep.name, ep.load())
            except Exception as exc:  # a broken third-party plugin must not hide the others
                raise PluginError(
                    f"{self.kind} plugin {ep.name!r} from entry point {ep.value!r} failed to load"
                ) from exc

    def get(self, name: str) -> T:
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
                raise PluginError(f"cannot import {self.kind} plugin {name!r}") from exc
            return obj
        raise PluginError(
            f"unknown {self.kind} plugin {name!r}; valid: {', '.join(sorted(self._items))}"
        )

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items


def all_registries() -> dict[str, Registry[object]]:
    return dict(_ALL)
