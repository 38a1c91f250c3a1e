"""Core power: dynamic switching power plus temperature- and voltage-dependent leakage.

``P = C_eff * V^2 * f * activity + P_leak(T, V)`` (W). ``activity`` is the activity-weighted
share of the epoch the core spent busy (see :class:`comet.perf.interval.IntervalModel`), plus
the idle activity of the rest; an idle core still leaks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["core_activity", "dynamic_power"]


def dynamic_power(
    c_eff_f: float | np.ndarray,
    v: np.ndarray,
    f_hz: np.ndarray,
    activity: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Switching power (W): ``c_eff * V^2 * f * activity``.

    Args:
        c_eff_f: effective switched capacitance (F).
        v: supply voltage (V).
        f_hz: clock frequency (Hz).
        activity: switching activity (0..1).
        out: optional output array.
    """
    result = np.multiply(v, v, out=out)
    result *= f_hz
    result *= activity
    result *= c_eff_f
    return result


def core_activity(
    active_time_s: np.ndarray,
    busy_time_s: np.ndarray,
    dt: float,
    idle_activity: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Average activity over an epoch of ``dt`` s: the activity-weighted busy time plus
    ``idle_activity`` for the rest of the epoch."""
    idle = np.minimum(np.maximum(dt - busy_time_s, 0.0), dt)  # np.clip, cheaper on few values
    result = np.add(active_time_s, idle_activity * idle, out=out)
    result /= dt
    return result
