"""Leakage power as a function of temperature (and voltage for cores).

Defaults are CoMeT's logistic fits (``hotspot_tool/temperature.c`` of marg-tools/CoMeT,
commit 5a9d040: lines 686 core, 1301 DRAM bank, 645 logic core), per unit, temperature in K,
power in W::

    P(T) = (top + (bottom - top) / (1 + (T / T50) ** slope)) / 1000

=============  =========  =========  =========  =========  ===============================
unit           top        bottom     T50 (K)    slope      CoMeT function
=============  =========  =========  =========  =========  ===============================
core           9447.469   643.729    373.2385   43.37272   ``calc_core_leakage`` x V/1.2
DRAM bank      1070.333   2.10718    456.2595   5.405409   ``calc_leakage`` (x bank mode)
logic core     5482.052   140.2015   440.6993   16.57078   ``calc_lc_leakage``
=============  =========  =========  =========  =========  ===============================

CoMeT scales the core fit by the supply voltage normalized to 1.2 V (``-v`` of its HotSpot,
``Vdd / 1.2``: ``scripts/memTherm_core.py:676``, applied in ``temperature.c:806``).
HotSpot's own exponential model (``1.5e4 W/m^2 * area * exp(0.036 (T - 383.15))``)
is available as ``hotspot``.

A leakage model is any callable ``f(T_K, V, area_m2) -> W`` (arrays, one value per unit);
:func:`resolve_leakage` turns a config string (``comet``, ``hotspot``, ``none``,
``module:function``, ``path/to/file.py:function``) into one.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from comet.errors import InputError, describe, raised_at

__all__ = [
    "LeakageModel",
    "comet_core_leakage",
    "comet_dram_leakage",
    "comet_logic_leakage",
    "hotspot_leakage",
    "logistic",
    "resolve_leakage",
]

LeakageModel = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

#: CoMeT's fits: (top, bottom, T50 K, slope) in mW
CORE_FIT = (9447.469, 643.729, 373.2385, 43.37272)
DRAM_FIT = (1070.333, 2.10718, 456.2595, 5.405409)
LOGIC_FIT = (5482.052, 140.2015, 440.6993, 16.57078)
#: CoMeT normalizes the core voltage to 1.2 V
CORE_V_REF = 1.2
#: HotSpot's exponential model (uvahotspot/HotSpot temperature.c calc_leakage: leak_alpha,
#: leak_beta, leak_Tbase; leakage_mode 0)
HOTSPOT_ALPHA = 1.5e4  # W/m^2
HOTSPOT_BETA = 0.036  # 1/K
HOTSPOT_T0 = 383.15  # K


def logistic(t_k: np.ndarray, top: float, bottom: float, t50: float, slope: float) -> np.ndarray:
    """CoMeT's 4-parameter logistic fit, returned in W (the fit constants are in mW)."""
    x = np.power(np.asarray(t_k, dtype=float) / t50, slope)
    return (top + (bottom - top) / (1.0 + x)) / 1000.0


def comet_core_leakage(t_k: np.ndarray, v: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """CoMeT's core leakage (W): the logistic core fit times ``V / 1.2``; per core, not per
    area (``area_m2`` is ignored)."""
    return logistic(t_k, *CORE_FIT) * (np.asarray(v, dtype=float) / CORE_V_REF)


def comet_dram_leakage(t_k: np.ndarray, v: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """CoMeT's DRAM bank leakage (W) per bank (64 Mb banks); ``v`` and ``area_m2`` ignored."""
    return logistic(t_k, *DRAM_FIT)


def comet_logic_leakage(t_k: np.ndarray, v: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """CoMeT's logic-core (SRAM base layer) leakage (W) per logic core."""
    return logistic(t_k, *LOGIC_FIT)


def hotspot_leakage(t_k: np.ndarray, v: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """HotSpot's exponential leakage (W): ``1.5e4 * area * exp(0.036 * (T - 383.15))``."""
    t = np.asarray(t_k, dtype=float)
    return (
        HOTSPOT_ALPHA * np.asarray(area_m2, dtype=float) * np.exp(HOTSPOT_BETA * (t - HOTSPOT_T0))
    )


def no_leakage(t_k: np.ndarray, v: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """Zero leakage."""
    return np.zeros(np.shape(t_k))


_DEFAULTS: dict[str, LeakageModel] = {
    "core": comet_core_leakage,
    "dram": comet_dram_leakage,
    "logic": comet_logic_leakage,
}


def load_object(spec: str, base_dir: Path | None = None, what: str = "object") -> object:
    """``module:attr`` or ``path/to/file.py:attr`` -> the attribute (paths relative to
    ``base_dir``, else the working directory).

    Raises:
        InputError: malformed spec, missing file or module, missing attribute.
    """
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise InputError(
            f"{what} {spec!r}: expected module:name or path/to/file.py:name",
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        if not path.is_file():
            raise InputError(f"{what} {spec!r}: file not found", path=path)
        mod_name = f"comet_plugin_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(mod_name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            if loader_spec is None or loader_spec.loader is None:  # pragma: no cover
                raise InputError(f"{what} {spec!r}: cannot import", path=path)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            try:
                loader_spec.loader.exec_module(module)
            except KeyboardInterrupt:
                del sys.modules[mod_name]
                raise
            except BaseException as err:  # SystemExit too: a plugin must not end comet
                del sys.modules[mod_name]
                at = raised_at(err, path)
                raise InputError(
                    f"{what} {spec!r}: importing the file failed: {describe(err)}"
                    + (f" (at {at})" if at else ""),
                    path=path,
                ) from None
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise InputError(f"{what} {spec!r}: cannot import module {target!r}: {err}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # the module raised (or exited) while it was imported
            at = raised_at(err)
            raise InputError(
                f"{what} {spec!r}: importing module {target!r} failed: {describe(err)}"
                + (f" (at {at})" if at else "")
            ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise InputError(f"{what} {spec!r}: {target} has no {attr!r}") from None


def resolve_leakage(spec: str, unit: str, base_dir: Path | None = None) -> LeakageModel:
    """The leakage model named by a config string.

    Args:
        spec: ``comet`` (CoMeT's fit for ``unit``), ``hotspot``, ``none``, or a
            ``module:function`` / ``file.py:function`` spec.
        unit: ``core``, ``dram`` or ``logic`` (which CoMeT fit ``comet`` means).
        base_dir: directory for relative file paths.
    """
    key = spec.strip().lower()
    if key == "comet":
        return _DEFAULTS[unit]
    if key == "hotspot":
        return hotspot_leakage
    if key in ("none", "off", "0"):
        return no_leakage
    func = load_object(spec, base_dir, what=f"{unit} leakage")
    if not callable(func):
        raise InputError(f"{unit} leakage {spec!r} is not callable")
    target, _, _ = spec.rpartition(":")
    plugin_file = None
    if target.endswith(".py") or "/" in target:
        plugin_file = (
            Path(target) if Path(target).is_absolute() else (base_dir or Path.cwd()) / target
        )

    def guarded(*args: Any, **kwargs: Any) -> Any:
        """The user's function; anything it raises (sys.exit() too) is one line naming it."""
        try:
            out = func(*args, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as err:
            at = raised_at(err, plugin_file)
            raise InputError(
                f"{unit} leakage {spec!r} raised: {describe(err)}" + (f" (at {at})" if at else ""),
                hint="the run stopped and is marked failed; its traces so far are kept",
            ) from None
        watts = np.asarray(out, dtype=float)
        if not (np.isfinite(watts) & (watts >= 0.0)).all():
            bad = watts[~(np.isfinite(watts) & (watts >= 0.0))].ravel()[0]
            raise InputError(
                f"{unit} leakage {spec!r} returned {float(bad)!r} W",
                hint="a leakage function returns finite watts >= 0 per unit",
            )
        return out

    return guarded
