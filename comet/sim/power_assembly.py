"""Power assembly: the power vector of an epoch from dynamic power and temperatures.

Per epoch the loop knows each core's dynamic power (from the core power model), each bank's
reads and writes, and the temperatures the leakage is evaluated at (the previous epoch's, or
an iterate). :meth:`PowerAssembly.assemble` turns them into the stepper's power vector:

* cores: ``dynamic + leakage(T, V) * leakage_scale``, split over a core's units by area;
* banks: reads, writes, background, refresh and leakage, low-power mode scaling
  (:func:`comet.power.dram.bank_power`);
* logic cores: constant power plus leakage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from comet.power import dram as dram_power
from comet.sim.dram_state import DramState
from comet.sim.units import UnitIndex

__all__ = ["PowerAssembly"]


class PowerAssembly:
    """Holds the per-epoch power arrays and fills them (no allocation per epoch).

    Args:
        units: the unit index.
        n_power: length of the power vector.
        dt: epoch length (s).
        cores: the ``[cores]`` config (leakage scale).
        mem: the resolved ``[memory]`` config.
        leak_core, leak_dram, leak_logic: leakage curves ``f(T_K, V, area_m2) -> W``.
        dram: the bank state (low-power mask, refresh power).
    """

    def __init__(
        self,
        units: UnitIndex,
        n_power: int,
        dt: float,
        cores: Any,
        mem: Any,
        leak_core: Any,
        leak_dram: Any,
        leak_logic: Any,
        dram: DramState,
    ) -> None:
        self.units = units
        self.dt = dt
        self.cores = cores
        self.mem = mem
        self.leak_core = leak_core
        self.leak_dram = leak_dram
        self.leak_logic = leak_logic
        self.dram = dram
        nc, nb, nl = units.n_cores, units.n_banks, units.n_logic
        self.P_all = np.zeros(n_power)
        self.core_P = np.zeros(nc)
        self.bank_P = np.zeros(nb)
        self.logic_P = np.zeros(nl)
        #: dynamic power of each core (W), set by the loop before :meth:`assemble`
        self.core_dyn = np.zeros(nc)
        #: DRAM reads / writes of each bank in the epoch, set before :meth:`assemble`
        self.bank_reads = np.zeros(nb)
        self.bank_writes = np.zeros(nb)
        self._whole_cores = units.whole_cores
        self._core_unit_area = units.core_area[units.core_of_unit]
        self._bank_area = units.area(units.bank_names)
        self._logic_area = units.area(units.logic_names)
        self._ones_b = np.ones(nb)
        self._ones_l = np.ones(nl)
        self.volt = np.zeros(nc)  # the loop's voltage array (set by the loop)

    def assemble(self, T: np.ndarray) -> np.ndarray:
        """Fill and return ``P_all`` (W) with the leakage at block temperatures ``T`` (K)."""
        u = self.units
        cc = self.cores
        m = self.mem
        t_units = T[u.core_idx]
        if self._whole_cores:  # the unit maps are identities, the area fractions exactly 1
            leak_cores = self.leak_core(t_units, self.volt, self._core_unit_area) * cc.leakage_scale
            np.add(self.core_dyn, leak_cores, out=self.core_P)
            self.P_all[u.core_idx] = self.core_P
        else:
            v_units = self.volt[u.core_of_unit]
            leak_units = (
                self.leak_core(t_units, v_units, self._core_unit_area)
                * u.unit_frac
                * cc.leakage_scale
            )
            self.P_all[u.core_idx] = self.core_dyn[u.core_of_unit] * u.unit_frac + leak_units
            self.core_P[:] = np.add.reduceat(self.P_all[u.core_idx], u.unit_starts)
        if u.n_banks:
            t_b = T[u.bank_idx]
            leak = self.leak_dram(t_b, self._ones_b, self._bank_area) * m.leakage_scale
            dram_power.bank_power(
                self.bank_reads,
                self.bank_writes,
                self.dt,
                m.e_read or 0.0,
                m.e_write or 0.0,
                self.dram.lowpower,
                m.lowpower_dynamic,
                m.background,
                self.dram.p_refresh,
                leak,
                m.lowpower_leakage,
                out=self.bank_P,
            )
            self.P_all[u.bank_idx] = self.bank_P
        if u.n_logic:
            t_l = T[u.logic_idx]
            self.logic_P[:] = m.logic_power + self.leak_logic(t_l, self._ones_l, self._logic_area)
            self.P_all[u.logic_idx] = self.logic_P
        return self.P_all
