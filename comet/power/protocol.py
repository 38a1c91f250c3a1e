"""The core-power-model protocol: dynamic power of the cores from an epoch's counters.

The loop asks a core power model for each core's dynamic (switching) power of the ended
epoch; leakage, which depends on temperature, is added by the power assembly
(:mod:`comet.sim.power_assembly`) with the configured leakage curve::

    model.start(system)                               # once
    model.dynamic(counters, freq_hz, volt, dt, out)   # W per core, written into ``out``

Back ends: ``analytic`` (``C_eff V^2 f activity``, :class:`comet.power.core.AnalyticCorePower`)
and ``fitted`` (a per-event linear model per operating point, fitted from McPAT runs,
:mod:`comet.power.fitted`); plugins through :data:`comet.power.registry.CORE_POWER_MODELS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from comet.perf.protocol import EpochCounters

__all__ = ["CorePowerModel", "PowerSystem"]


@dataclass(frozen=True)
class PowerSystem:
    """What a core power model knows of the system.

    Attributes:
        n_cores: cores.
        f_levels_hz: DVFS levels (Hz), ascending; ``voltages`` the supply voltage of each (V).
        idle_activity: switching activity of an idle (or stalled-idle) core, from
            ``cores.idle_activity``.
        c_eff_f: effective switched capacitance per core (F), from ``cores.c_eff``.
    """

    n_cores: int
    f_levels_hz: np.ndarray
    voltages: np.ndarray
    idle_activity: float
    c_eff_f: float


@runtime_checkable
class CorePowerModel(Protocol):
    """A core power back end."""

    name: str

    def start(self, system: PowerSystem) -> None:
        """Prepare for a run on ``system``."""
        ...

    def dynamic(
        self,
        counters: EpochCounters,
        freq_hz: np.ndarray,
        volt: np.ndarray,
        dt: float,
        out: np.ndarray,
    ) -> np.ndarray:
        """Dynamic power (W) of each core in the ended epoch, written into ``out``."""
        ...
