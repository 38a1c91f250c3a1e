"""The state of the DRAM banks in the loop: modes, refresh rates, latencies, access shares.

Each bank is in normal (0) or low-power (1) mode (set by policies); its refresh rate doubles
above ``memory.refresh_double_above`` (JEDEC's extended range); its access latency follows
from both (:func:`comet.perf.interval.bank_latency`). Each core's thread spreads its accesses
over the banks by the configured distribution (a row of :attr:`DramState.dist`), so the latency
a core sees is ``dist @ t_bank``. Everything is recomputed only when a mode, a refresh rate or
the placement changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from comet.perf.distribution import AccessDistribution
from comet.perf.interval import bank_latency
from comet.power import dram as dram_power

__all__ = ["DramState"]


class DramState:
    """Bank modes, refresh rates and latencies, and each core's access distribution.

    Args:
        mem: the resolved ``[memory]`` config of the configuration.
        n_cores, n_banks: sizes.
        distribution: the access distribution (rows per thread and core).
    """

    def __init__(
        self, mem: Any, n_cores: int, n_banks: int, distribution: AccessDistribution
    ) -> None:
        self.mem = mem
        self.distribution = distribution
        self.dist = np.zeros((n_cores, n_banks))
        self.bank_mode = np.zeros(n_banks, dtype=np.int8)
        self.lowpower = self.bank_mode == 1  # banks in low-power mode
        self.refresh_rate = np.ones(n_banks)
        self.t_bank = np.zeros(n_banks)
        self.p_refresh = np.zeros(n_banks)
        self.refresh_power()
        self.t_mem = np.zeros(n_cores)  # s, DRAM latency per core (see latency)
        self._stale = True  # bank modes or placement changed since t_mem
        self._hot = False  # some bank was above refresh_double_above last epoch

    def place(self, core: int, thread: int) -> None:
        """``thread`` now runs on ``core``: its access distribution."""
        self.dist[core] = self.distribution.row(thread, core)
        self._stale = True

    def clear(self, core: int) -> None:
        """``core`` is idle."""
        self.dist[core] = 0.0
        self._stale = True

    def set_mode(self, bank: int, mode: int) -> bool:
        """Put ``bank`` in ``mode``; True if it changed."""
        if self.bank_mode[bank] == mode:
            return False
        self.bank_mode[bank] = mode
        self.lowpower[bank] = self.bank_mode[bank] == 1
        self._stale = True
        return True

    def refresh_power(self) -> None:
        """Refresh power (W) of every bank at its current refresh rate (``p_refresh``)."""
        m = self.mem
        self.p_refresh = dram_power.refresh_power(
            m.e_refresh or 0.0, m.rows_per_refresh, m.t_refi, self.refresh_rate
        )

    def latency(self, bank_T: np.ndarray) -> np.ndarray:
        """DRAM access latency (s) seen by each core's thread: the latency of every bank
        (mode, refresh rate doubled above ``refresh_double_above``) weighted by the core's
        access distribution, at bank temperatures ``bank_T`` (deg C) of the last epoch.
        Updates ``refresh_rate``, ``p_refresh`` and ``t_bank``."""
        mem = self.mem
        hot = bool((bank_T > mem.refresh_double_above).any())
        if hot or self._hot:  # a refresh rate may have changed
            dram_power.refresh_rate(bank_T, mem.refresh_double_above, out=self.refresh_rate)
            self.refresh_power()
            self._stale = True
        self._hot = hot
        if self._stale:
            bank_latency(
                mem.latency or 0.0,
                mem.latency_lowpower,
                self.lowpower,
                self.refresh_rate * (mem.t_rfc / mem.t_refi),
                mem.t_rfc,
                out=self.t_bank,
            )
            self.t_mem = self.dist @ self.t_bank
            self._stale = False
        return self.t_mem
