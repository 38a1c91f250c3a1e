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

import contextlib
import inspect
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from comet.errors import InputError, describe, raised_at
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
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # SystemExit too: a plugin must not end comet
            at = raised_at(err)
            raise InputError(
                f"policy {name!r}: loading entry point {eps[name].value!r} failed: "
                f"{describe(err)}" + (f" (at {at})" if at else "")
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
        if factory in BUILTINS.values():
            raise InputError(f"policy {name!r}: {err}") from None
        at = raised_at(err, _plugin_file(name, base_dir))
        raise InputError(
            f"policy {name!r}: constructing it failed: {describe(err)}"
            + (f" (at {at})" if at else "")
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # anything, SystemExit included: one line naming the plugin
        at = raised_at(err, _plugin_file(name, base_dir))
        raise InputError(
            f"policy {name!r}: constructing it failed: {describe(err)}"
            + (f" (at {at})" if at else "")
        ) from None
    if not callable(getattr(policy, "step", None)):
        raise InputError(
            f"policy {name!r} has no step(view, control) method",
            hint="see comet.policies.base for the protocol",
        )
    if factory not in BUILTINS.values():
        guard_plugin(policy, _plugin_file(name, base_dir))
    return policy  # type: ignore[no-any-return]


def _plugin_file(name: str, base_dir: Path | None) -> Path | None:
    target, sep, _ = name.rpartition(":")
    if not sep or not (target.endswith(".py") or "/" in target):
        return None
    path = Path(target)
    return path if path.is_absolute() else (base_dir or Path.cwd()) / path


class PluginFailure(RuntimeError):
    """A plugin's step/setup raised something the epoch loop does not catch (``SystemExit``,
    ``BaseException`` subclasses) or any exception; the message names the plugin's file:line.
    Subclasses are named after the original exception, so messages read ``ZeroDivisionError:
    division by zero (at my_policy.py:12)``."""


_FAILURE_TYPES: dict[str, type[PluginFailure]] = {}


def _failure(err: BaseException, plugin_file: Path | None) -> PluginFailure:
    name = "SystemExit" if isinstance(err, SystemExit) else type(err).__name__
    cls = _FAILURE_TYPES.get(name)
    if cls is None:
        cls = _FAILURE_TYPES[name] = type(name, (PluginFailure,), {})
    text = describe(err)
    text = text.split(": ", 1)[1] if ": " in text and not isinstance(err, SystemExit) else text
    at = raised_at(err, plugin_file)
    return cls(text + (f" (at {at})" if at else ""))


def guard_plugin(policy: Any, plugin_file: Path | None = None) -> Any:
    """Make the plugin's ``step`` and ``setup`` raise :class:`PluginFailure` (an ``Exception``,
    which the epoch loop turns into a failed run naming the policy and the epoch) for anything
    they raise but ``KeyboardInterrupt``, ``sys.exit()`` included. The object keeps its class;
    methods are wrapped on the instance."""
    import functools

    for method in ("step", "setup"):
        fn = getattr(policy, method, None)
        if not callable(fn) or getattr(fn, "_comet_guarded", False):
            continue

        def guarded(*args: Any, _fn: Any = fn, **kwargs: Any) -> Any:
            try:
                return _fn(*args, **kwargs)
            except (KeyboardInterrupt, PluginFailure):
                raise
            except BaseException as err:
                raise _failure(err, plugin_file) from err

        wrapper = functools.wraps(fn)(guarded)
        wrapper._comet_guarded = True  # type: ignore[attr-defined]
        with contextlib.suppress(AttributeError, TypeError):  # __slots__: left as is
            setattr(policy, method, wrapper)
    return policy
