"""Operating points: the frequency levels of a core and the voltage of each, V(f).

Default (CoMeT, ``scripts/energystats.py:14-23`` ``build_dvfs_table`` for technology nodes
<= 22 nm -- CoMeT's Gainestown runs at 22 nm, ``config/nehalem.cfg:105`` -- with the levels of
``config/base.cfg:61-63``; marg-tools/CoMeT@5a9d040): frequencies 1.0-4.0 GHz in 0.1 GHz
steps and ``V = 0.6 + 0.8 * f / f_max`` (V), i.e. 0.8 V at 1 GHz and 1.4 V at 4 GHz. (CoMeT
divides by a fixed 4 GHz; comet by ``f_max``, the same for the default 4 GHz.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["OperatingPoints", "linear_voltage"]


def linear_voltage(f_hz: np.ndarray | float, f_max_hz: float, v0: float = 0.6, slope: float = 0.8):
    """CoMeT's V(f) = v0 + slope * f / f_max (V) for frequencies in Hz."""
    return v0 + slope * np.asarray(f_hz, dtype=float) / f_max_hz


class OperatingPoints:
    """Frequency levels (Hz, increasing) and their voltages (V).

    Args:
        f_min, f_max, f_step: range and step (Hz); levels are f_min + k * f_step up to f_max.
        v0, slope: linear V(f) (ignored when ``table`` is given).
        table: ``[(f_GHz, V), ...]`` increasing in f; V is interpolated linearly (and held
            constant outside the table).
    """

    def __init__(
        self,
        f_min: float = 1e9,
        f_max: float = 4e9,
        f_step: float = 0.1e9,
        *,
        v0: float = 0.6,
        slope: float = 0.8,
        table: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        if not 0 < f_min <= f_max or f_step <= 0:
            raise ValueError("need 0 < f_min <= f_max and f_step > 0")
        n = int(np.floor((f_max - f_min) / f_step + 1e-9)) + 1
        levels = f_min + f_step * np.arange(n)
        if f_max - levels[-1] > 1e-6 * f_step:
            levels = np.append(levels, f_max)
        self.levels = np.round(levels, 3)
        self.f_min, self.f_max, self.f_step = float(f_min), float(f_max), float(f_step)
        if table:
            tf = np.array([p[0] for p in table], dtype=float) * 1e9
            tv = np.array([p[1] for p in table], dtype=float)
            self.voltages = np.interp(self.levels, tf, tv)
        else:
            self.voltages = linear_voltage(self.levels, f_max, v0, slope)
        #: V^2 f of every level (W / F per unit activity), for quick power predictions
        self.v2f = self.voltages**2 * self.levels

    def __len__(self) -> int:
        return self.levels.size

    def index(self, f_hz: np.ndarray | float) -> np.ndarray:
        """Index of the highest level <= f (rounding down like CoMeT's ondemand governor;
        f below f_min maps to level 0)."""
        idx = np.searchsorted(self.levels, np.asarray(f_hz, dtype=float) + 1e-3, side="right") - 1
        # searchsorted gives at most len(levels), so only the lower end needs a bound
        return np.maximum(idx, 0)

    def snap(self, f_hz: np.ndarray | float) -> np.ndarray:
        """The level at or just below each frequency (Hz)."""
        return self.levels[self.index(f_hz)]

    def voltage(self, f_hz: np.ndarray | float) -> np.ndarray:
        """Voltage (V) of the level at or below each frequency."""
        return self.voltages[self.index(f_hz)]
