"""The steady influence matrix: how much each core warms per watt in each unit.

``B[c, j]`` (K/W) is the steady-state rise of core ``c`` (its hottest unit) for 1 W in unit
``j`` (cores, then banks, then logic cores), without leakage. TSP and PID policies use it.
The network is linear, so each column is one steady solve: ``T(e_j) - T(0)``.
"""

from __future__ import annotations

import numpy as np

from comet.sim.units import UnitIndex
from comet.thermal.stepper import ThermalStepper

__all__ = ["influence_matrix"]


def influence_matrix(stepper: ThermalStepper, units: UnitIndex) -> np.ndarray:
    """``(cores, cores + banks + logic)`` matrix of steady rises (K/W); see the module doc."""
    u = units
    nc = u.n_cores
    cols: list[tuple[int, np.ndarray, np.ndarray]] = []  # (col, power idx, weights)
    for c in range(nc):
        sel = u.core_of_unit == c
        cols.append((c, u.core_idx[sel], u.unit_frac[sel]))
    for b in range(u.n_banks):
        cols.append((nc + b, u.bank_idx[b : b + 1], np.ones(1)))
    for i in range(u.n_logic):
        cols.append((nc + u.n_banks + i, u.logic_idx[i : i + 1], np.ones(1)))
    n_power = int(stepper.offsets[-1])
    B = np.zeros((nc, len(cols)))
    base_T = stepper.steady(np.zeros(n_power))
    p = np.zeros(n_power)
    for col, idx, w in cols:
        p[idx] = w
        rise = stepper.steady(p)[u.core_idx] - base_T[u.core_idx]
        p[idx] = 0.0
        B[:, col] = np.maximum.reduceat(rise, u.unit_starts)
    return B
