"""One registry of policies: built-ins, entry points, and ``path/to/file.py:ClassName``.

Lookup order for a name:

1. built-ins (:data:`BUILTINS`);
2. entry points of the group ``comet.policies`` (a package declares
   ``[project.entry-points."comet.policies"] my-policy = "my_pkg.policies:MyPolicy"``);
3. ``path/to/file.py:ClassName`` (relative to the run config's directory) or
   ``package.module:ClassName``.

:func:`create_policy` instantiates it with the config parameters and checks it has ``step``.
"""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from comet.errors import InputError
from comet.policies import dram, dvfs, mapping, migration
from comet.policies.base import PolicyProtocol
from comet.power.leakage import load_object

__all__ = ["BUILTINS", "ENTRY_POINT_GROUP", "available", "create_policy", "resolve_policy"]

ENTRY_POINT_GROUP = "comet.policies"

#: built-in policies by name
BUILTINS: dict[str, type] = {
    cls.name: cls
    for cls in (
        dvfs.Constant,
        dvfs.MaxFrequency,
        dvfs.Ondemand,
        dvfs.Throttle,
        dvfs.PowerPID,
        dvfs.ThermalSafePower,
        migration.Rotate,
        migration.HotToCold,
        mapping.FirstUnused,
        mapping.CoolestFirst,
        mapping.Spread,
        dram.LowPower,
    )
}
_ALIASES = {"first_unused": "first-unused", "hot_to_cold": "hot-to-cold", "constfreq": "constant"}


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> dict[str, str]:
    """Name -> origin (``builtin`` or the entry point's value) of every named policy."""
    out = dict.fromkeys(BUILTINS, "builtin")
    for name, ep in _entry_points().items():
        out.setdefault(name, ep.value)
    return out


def resolve_policy(name: str, base_dir: Path | None = None) -> Any:
    """The class (or factory) a policy name refers to.

    Raises:
        InputError: unknown name, bad spec, import failure.
    """
    key = _ALIASES.get(name.lower(), name)
    if key in BUILTINS:
        return BUILTINS[key]
    eps = _entry_points()
    if name in eps:
        try:
            return eps[name].load()
        except Exception as err:
            raise InputError(
                f"policy {name!r}: loading entry point {eps[name].value!r} failed: "
                f"{type(err).__name__}: {err}"
            ) from None
    if ":" in name:
        return load_object(name, base_dir, what="policy")
    raise InputError(
        f"unknown policy {name!r}",
        hint=f"built-ins: {', '.join(sorted(BUILTINS))}; or an entry point of group "
        f"{ENTRY_POINT_GROUP!r}, or path/to/file.py:ClassName",
    )


def create_policy(
    name: str, params: dict[str, Any] | None = None, base_dir: Path | None = None
) -> PolicyProtocol:
    """Instantiate policy ``name`` with ``params`` (keywords of its constructor).

    Raises:
        InputError: unknown policy, unknown or bad parameter, object without ``step``.
    """
    factory = resolve_policy(name, base_dir)
    params = dict(params or {})
    if not callable(factory):
        raise InputError(f"policy {name!r} is not a class")
    try:
        sig = inspect.signature(factory)
        accepts_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        unknown = [k for k in params if k not in sig.parameters and not accepts_kw]
    except (TypeError, ValueError):  # pragma: no cover - builtins without signature
        unknown = []
        sig = None
    if unknown:
        known = [p for p in (sig.parameters if sig else {}) if p != "self"]
        raise InputError(
            f"policy {name!r}: unknown parameter {unknown[0]!r}",
            hint=f"its parameters: {', '.join(known) or 'none'}",
        )
    try:
        policy = factory(**params)
    except (TypeError, ValueError) as err:
        raise InputError(f"policy {name!r}: {err}") from None
    if not callable(getattr(policy, "step", None)):
        raise InputError(
            f"policy {name!r} has no step(view, control) method",
            hint="see comet.policies.base for the protocol",
        )
    return policy  # type: ignore[no-any-return]
