"""One registry mechanism for comet's back ends: built-ins, entry points, ``file.py:Class``.

Every pluggable part of the loop (performance model, core power model, thermal stepper) has
one :class:`Registry`. A name is looked up, in this order:

1. the registry's built-ins (a class, or a ``"module:Class"`` string imported on first use, so
   a back end that needs a heavy or optional import costs nothing until it is chosen);
2. entry points of the registry's group (``comet.perf_models``, ``comet.power_models``,
   ``comet.thermal_backends``): a package declares
   ``[project.entry-points."comet.perf_models"] my-model = "my_pkg.perf:MyModel"``;
3. ``path/to/file.py:ClassName`` (relative to the run config's directory) or
   ``package.module:ClassName``.

:meth:`Registry.create` instantiates the class with the config table's parameters as keywords
and checks the object has the protocol's methods; every problem is one
:class:`~comet.errors.InputError` naming the config key.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from comet.errors import InputError

__all__ = ["Registry"]


class Registry:
    """Named back ends of one kind.

    Args:
        what: what the back ends are, for messages (``"performance model"``).
        key: the run-config key that names one (``"perf.model"``), for messages.
        group: the entry-point group.
        builtins: name -> class or ``"module:Class"``.
        methods: methods an instance must have (the protocol).
    """

    def __init__(
        self,
        what: str,
        key: str,
        group: str,
        builtins: Mapping[str, type | str],
        methods: Sequence[str],
    ) -> None:
        self.what = what
        self.key = key
        self.group = group
        self.builtins = dict(builtins)
        self.methods = tuple(methods)

    def available(self) -> dict[str, str]:
        """Name -> origin (``builtin`` or the entry point's value)."""
        out = dict.fromkeys(self.builtins, "builtin")
        for ep in entry_points(group=self.group):
            out.setdefault(ep.name, ep.value)
        return out

    def _hint(self) -> str:
        return (
            f"built-ins: {', '.join(sorted(self.builtins))}; or an entry point of group "
            f"{self.group!r}, or path/to/file.py:ClassName"
        )

    def resolve(self, name: str, base_dir: Path | None = None) -> Any:
        """The class (or factory) ``name`` refers to.

        Raises:
            InputError: unknown name, import failure.
        """
        if not isinstance(name, str) or not name:
            raise InputError(f"{self.key}: expected the name of a {self.what}", hint=self._hint())
        target = self.builtins.get(name)
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ImportError as err:
                raise InputError(
                    f"{self.key}: {self.what} {name!r} cannot be imported: {err}"
                ) from None
        if target is not None:
            return target
        eps = {ep.name: ep for ep in entry_points(group=self.group)}
        if name in eps:
            try:
                return eps[name].load()
            except Exception as err:
                raise InputError(
                    f"{self.key}: loading entry point {eps[name].value!r} failed: "
                    f"{type(err).__name__}: {err}"
                ) from None
        if ":" in name:
            from comet.power.leakage import load_object

            try:
                return load_object(name, base_dir, what=self.what)
            except InputError as err:
                raise InputError(f"{self.key}: {err.message}", path=err.path) from None
        raise InputError(f"{self.key}: unknown {self.what} {name!r}", hint=self._hint())

    def check_params(
        self, name: str, params: Mapping[str, Any], base_dir: Path | None = None
    ) -> Any:
        """Resolve ``name`` and check ``params`` are keywords of its constructor; returns the
        class (None for a built-in given no parameters: it is not imported until built). Used
        when a config loads, before anything is built."""
        if name in self.builtins and not params:
            return None
        factory = self.resolve(name, base_dir)
        if not callable(factory):
            raise InputError(f"{self.key}: {self.what} {name!r} is not a class")
        try:
            sig = inspect.signature(factory)
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            return factory
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return factory
        unknown = [k for k in params if k not in sig.parameters]
        if unknown:
            known = [p for p in sig.parameters if p != "self"]
            raise InputError(
                f"{self.key.rpartition('.')[0] or self.key}.{unknown[0]}: unknown parameter "
                f"of {self.what} {name!r}",
                hint=f"its parameters: {', '.join(known) or 'none'}",
            )
        return factory

    def create(
        self, name: str, params: Mapping[str, Any] | None = None, base_dir: Path | None = None
    ) -> Any:
        """An instance of back end ``name`` built with ``params``.

        Raises:
            InputError: unknown name or parameter, a constructor that rejects a value, an
                object without the protocol's methods.
        """
        params = dict(params or {})
        self.check_params(name, params, base_dir)
        factory = self.resolve(name, base_dir)
        try:
            obj = factory(**params)
        except InputError:
            raise
        except (TypeError, ValueError) as err:
            raise InputError(f"{self.key}: {self.what} {name!r}: {err}") from None
        missing = [m for m in self.methods if not callable(getattr(obj, m, None))]
        if missing:
            raise InputError(
                f"{self.key}: {self.what} {name!r} has no {missing[0]}() method",
                hint=f"a {self.what} needs: {', '.join(self.methods)}",
            )
        return obj
