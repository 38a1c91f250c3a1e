"""Core power: dynamic switching power plus temperature- and voltage-dependent leakage.

``P = C_eff * V^2 * f * activity + P_leak(T, V)`` (W). ``activity`` is the activity-weighted
share of the epoch the core spent busy (see :class:`comet.perf.interval.IntervalModel`), plus
the idle activity of the rest; an idle core still leaks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from comet.perf.protocol import EpochCounters
    from comet.power.protocol import PowerSystem

__all__ = ["AnalyticCorePower", "core_activity", "dynamic_power"]


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


class AnalyticCorePower:
    """``C_eff V^2 f activity`` behind the core-power-model protocol (registry name
    ``analytic``): the activity of a core is its activity-weighted busy time over the epoch
    plus the idle activity of the rest (:func:`core_activity`).

    Args:
        c_eff: effective switched capacitance (F); default ``cores.c_eff``.
        idle_activity: activity of idle time; default ``cores.idle_activity``.
    """

    name = "analytic"

    def __init__(self, c_eff: float | None = None, idle_activity: float | None = None) -> None:
        for key, v in (("c_eff", c_eff), ("idle_activity", idle_activity)):
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{key} {v!r} must be finite and >= 0")
        self._c_eff = c_eff
        self._idle = idle_activity
        self.activity = np.zeros(0)

    def start(self, system: PowerSystem) -> None:
        self.c_eff = float(system.c_eff_f if self._c_eff is None else self._c_eff)
        self.idle_activity = float(system.idle_activity if self._idle is None else self._idle)
        #: each core's activity in the ended epoch (0..1)
        self.activity = np.zeros(system.n_cores)
        self._busy = np.zeros(system.n_cores)

    def dynamic(
        self,
        counters: EpochCounters,
        freq_hz: np.ndarray,
        volt: np.ndarray,
        dt: float,
        out: np.ndarray,
    ) -> np.ndarray:
        np.add(counters.compute_time, counters.memory_time, out=self._busy)
        core_activity(counters.active_time, self._busy, dt, self.idle_activity, out=self.activity)
        return dynamic_power(self.c_eff, volt, freq_hz, self.activity, out=out)
