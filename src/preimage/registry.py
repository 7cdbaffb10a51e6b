"""The one name -> factory registry, filled by decorators (no if/elif chains)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from preimage.errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; ``@registry.register("name")`` adds one, with a help line and any metadata
    the kind of thing needs (a model's config, a command's argument builder).

    Every registry of the package is one of these: representations, inverters, models, experiments, report
    readers and the command line's commands.

    Example:
        >>> reps: Registry[int] = Registry("thing")
        >>> @reps.register("one", unit="piece")
        ... def _one() -> int:
        ...     return 1
        >>> reps.get("one")(), reps.extra("one")["unit"]
        (1, 'piece')
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}  # in registration order
        self._help: dict[str, str] = {}
        self._extra: dict[str, dict[str, Any]] = {}

    def register(self, name: str, help: str = "", **extra: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory, help, **extra)
            return factory

        return decorator

    def add(self, name: str, factory: Callable[..., T], help: str = "", replace: bool = False, **extra: Any) -> None:
        """Register ``factory`` under ``name``; a second registration is an error unless ``replace``."""
        if name in self._entries and not replace:
            raise KeyError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = factory
        doc = (factory.__doc__ or "").strip().splitlines()
        self._help[name] = help or (doc[0] if doc else "")
        self._extra[name] = extra

    def remove(self, name: str) -> None:
        for table in (self._entries, self._help, self._extra):
            table.pop(name, None)

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._entries) from None

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def extra(self, name: str) -> dict[str, Any]:
        """The metadata ``name`` was registered with (an unknown name is an error suggesting the nearest)."""
        self.get(name)
        return self._extra[name]

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def in_order(self) -> list[str]:
        """The names in the order they were registered."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
