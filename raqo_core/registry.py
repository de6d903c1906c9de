"""The one registry every extension point uses: names mapped to objects, or to ``"module:attribute"`` strings
imported on first use (registering costs nothing at start-up), optionally extended by an entry-point group."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from raqo_core.errors import RAQOError

T = TypeVar("T")


class Registry(Generic[T]):
    """``kind`` names what is registered (in error messages); ``check`` validates names;
    ``entry_points``: a ``importlib.metadata`` group whose entries join the registry on first lookup."""

    def __init__(self, kind: str, *, check: Callable[[str], bool] = str.isidentifier, entry_points: str | None = None) -> None:
        self.kind = kind
        self._check = check
        self._group = entry_points
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, entry: T | str) -> None:
        """``entry``: the object, or ``"module:attribute"`` (imported when first looked up)."""
        if not isinstance(name, str) or not name or not self._check(name):
            raise RAQOError(f"{self.kind} name must be a non-empty identifier (no ':'), got {name!r}")
        self._entries[name] = entry

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order (entry points after the built-ins)."""
        if self._group is not None:
            from importlib.metadata import entry_points

            for ep in entry_points(group=self._group):
                self._entries.setdefault(ep.name, ep.value)
            self._group = None
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def get(self, name: str) -> T:
        if name not in self:
            raise RAQOError(f"unknown {self.kind} {name!r}; expected one of {self.names()}")
        entry = self._entries[name]
        if isinstance(entry, str):  # resolved on every lookup (modules import once), so the attribute stays patchable
            module, _, attr = entry.partition(":")
            return getattr(importlib.import_module(module), attr)
        return entry

    def copy(self) -> Registry[T]:
        """An independent copy (tests register into it without touching the process-wide one)."""
        other: Registry[T] = Registry(self.kind, check=self._check, entry_points=self._group)
        other._entries = dict(self._entries)
        return other
