"""The closed loop as a power source of the epoch loop: performance -> power -> (thermal) ->
policies -> controls.

Per epoch (:mod:`comet.sim.engine` calls these in order)::

    begin:        arrivals; mapping policies; the performance model runs the epoch at the
                  frequencies and placement in force; DRAM accesses per bank; dynamic power
    power(T):     the power vector with leakage at T (the previous epoch's temperatures,
                  or an iterate)
    after_thermal: the epoch's temperatures per core / bank / logic core (deg C)
    record:       the trace rows
    account:      instructions, energy, finished threads
    end:          policies due see the ended epoch and act; the new frequencies take effect

Like CoMeT, the power of an epoch uses the temperatures of the previous one (explicit), and
policies see the temperatures of the epoch that just ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from comet.perf.protocol import EpochInputs, PerformanceModel, cpi_stack, group_times
from comet.policies.base import (
    Control,
    EpochView,
    PolicyError,
    PolicyProtocol,
    SystemInfo,
    WaitingJob,
)
from comet.power.protocol import CorePowerModel
from comet.sim.actuators import Actuators
from comet.sim.dram_state import DramState
from comet.sim.jobs import JobQueue
from comet.sim.power_assembly import PowerAssembly
from comet.sim.units import UnitIndex

__all__ = ["ClosedLoop", "PolicySlot"]

KELVIN = 273.15


@dataclass
class PolicySlot:
    name: str
    knob: str
    every: int
    policy: PolicyProtocol


class ClosedLoop:
    """The state and the per-epoch steps of a closed-loop run (see the module docstring)."""

    def __init__(
        self,
        *,
        units: UnitIndex,
        dt: float,
        perf: PerformanceModel,
        core_power: CorePowerModel,
        assembly: PowerAssembly,
        dram: DramState,
        actuators: Actuators,
        queue: JobQueue,
        policies: list[PolicySlot],
        info: SystemInfo,
        stop_when_done: bool,
        record_cpi: bool = False,
    ) -> None:
        self.units = units
        self.dt = dt
        self.perf = perf
        self.core_power = core_power
        self.assembly = assembly
        self.dram = dram
        self.act = actuators
        self.queue = queue
        self.policies = policies
        self.stepping = [(i, s) for i, s in enumerate(policies) if s.knob != "mapping"]
        self.stop_when_done = stop_when_done
        nc, nb, nl = units.n_cores, units.n_banks, units.n_logic
        self.T = np.zeros(assembly.P_all.size)  # K, power-block temperatures of the last epoch
        self.core_T = np.zeros(nc)
        self.bank_T = np.zeros(nb)
        self.logic_T = np.zeros(nl)
        self.util = np.zeros(nc)
        # The view shows the state arrays that stay put while policies run (they are updated
        # in place, before the next policy call); what a policy can change through the control
        # (placement, bank modes) is copied by fill_view, so that every policy of an epoch
        # sees the ended epoch.
        activity = getattr(core_power, "activity", None)
        view = EpochView(
            info,
            shared={
                "core_temperature": self.core_T,
                "bank_temperature": self.bank_T,
                "logic_temperature": self.logic_T,
                "core_power": assembly.core_P,
                "bank_power": assembly.bank_P,
                "logic_power": assembly.logic_P,
                "utilization": self.util,
                "instructions": perf.counters.instructions,
                "frequency": actuators.freq,
                "voltage": actuators.volt,
                "activity": activity if isinstance(activity, np.ndarray) else np.zeros(nc),
                "bank_reads": assembly.bank_reads,
                "bank_writes": assembly.bank_writes,
                "refresh_rate": dram.refresh_rate,
            },
        )
        self.view = view
        self.control = Control(actuators)
        self.instructions_total = 0.0
        self.energy: dict[str, float] = {"cores": 0.0, "banks": 0.0, "logic": 0.0}
        self.epoch = -1
        self.now = 0.0
        self._trace_idx = units.trace_idx
        self._finished: list[tuple[int, int, float]] = []
        self._inputs = EpochInputs(
            dt=dt,
            freq_hz=actuators.freq,
            thread_of_core=actuators.thread_of_core,
            lost_s=actuators.lost,
            t_mem_s=dram.t_mem,
            bank_latency_s=dram.t_bank,
        )
        self._cpi_out = {k: view.buffer(f"cpi_{k}") for k in ("compute", "memory", "other")}
        self._groups: dict[str, list[np.ndarray]] | None = None
        #: (view buffer, state array) pairs copied by fill_view
        self._view_copies: list[tuple[np.ndarray, np.ndarray]] = [
            (view.buffer("bank_mode"), dram.bank_mode),
            (view.buffer("thread_of_core"), actuators.thread_of_core),
            (view.buffer("job_of_core"), actuators.job_of_core),
        ]
        self._view_ips = view.buffer("ips")
        #: CPI-stack components recorded in cpi.csv (none: not recorded)
        self.cpi_components = list(perf.counters.cpi) if record_cpi else []
        self._cpi_row = np.zeros(len(self.cpi_components) * nc)

    @property
    def cpi_columns(self) -> list[str] | None:
        """Columns of ``cpi.csv`` (``<core>.<component>``), or None when not recorded."""
        if not self.cpi_components:
            return None
        return [f"{c}.{k}" for c in self.units.core_names for k in self.cpi_components]

    # -- the policy view -----------------------------------------------------------------

    def fill_view(self) -> None:
        v = self.view
        v.epoch = self.epoch
        v.time_s = self.now
        for dst, src in self._view_copies:
            np.copyto(dst, src)
        v.defer(self._fill_derived)
        peak = float(self.core_T.max())
        if self.units.n_banks:
            peak = max(peak, float(self.bank_T.max()))
        if self.units.n_logic:
            peak = max(peak, float(self.logic_T.max()))
        v.peak_temperature = peak
        v.waiting_jobs = tuple(
            WaitingJob(j.id, j.name, j.profile, j.n_threads, j.arrival_s)
            for j in self.queue.waiting
        )

    def _fill_derived(self) -> None:
        """The view's derived quantities of the ended epoch: instructions per second and the
        CPI stack (filled when a policy first reads one of them)."""
        c = self.perf.counters
        np.divide(c.instructions, self.dt, out=self._view_ips)
        if self._groups is None:
            self._groups = group_times(c)
        cpi_stack(c, self.act.freq, self._cpi_out, self._groups)

    def _call(self, index: int, slot: PolicySlot) -> None:
        self.control._policy_index = index
        try:
            slot.policy.step(self.view, self.control)
        except Exception as err:
            raise PolicyError(slot.name, self.epoch, self.now, err) from err

    def _mapping(self) -> None:
        if not self.queue.waiting or not (self.act.thread_of_core < 0).any():
            return
        self.fill_view()
        for i, slot in enumerate(self.policies):
            if slot.knob == "mapping":
                self._call(i, slot)
                if not self.queue.waiting:
                    break
                self.fill_view()

    # -- the epoch -----------------------------------------------------------------------

    def begin(self, k: int, t0: float) -> None:
        self.epoch = k
        self.now = t0
        self.queue.arrivals(t0)
        self._mapping()
        self._inputs.t_mem_s = self.dram.latency(self.bank_T)
        self._finished = list(self.perf.step(self._inputs))
        self.act.lost.fill(0.0)
        c = self.perf.counters
        a = self.assembly
        if self.units.n_banks:
            if c.has_bank_counts:
                np.copyto(a.bank_reads, c.bank_reads)
                np.copyto(a.bank_writes, c.bank_writes)
            else:
                np.matmul(c.reads, self.dram.dist, out=a.bank_reads)
                np.matmul(c.writes, self.dram.dist, out=a.bank_writes)
        self.core_power.dynamic(c, self.act.freq, self.act.volt, self.dt, a.core_dyn)
        np.divide(c.compute_time, self.dt, out=self.util)

    def power(self, T: np.ndarray) -> np.ndarray:
        return self.assembly.assemble(T)

    def after_thermal(self, T: np.ndarray, t1: float) -> None:
        np.copyto(self.T, T)
        u = self.units
        np.subtract(np.maximum.reduceat(T[u.core_idx], u.unit_starts), KELVIN, out=self.core_T)
        if u.n_banks:
            np.subtract(T[u.bank_idx], KELVIN, out=self.bank_T)
        if u.n_logic:
            np.subtract(T[u.logic_idx], KELVIN, out=self.logic_T)
        self.now = t1

    def record(self) -> dict[str, Any]:
        return {
            "temperature": self.T[self._trace_idx] - KELVIN,
            "power": self.assembly.P_all[self._trace_idx],
            "frequency": self.act.freq / 1e9,
            "bank_mode": self.dram.bank_mode if self.units.n_banks else None,
            "cpi": self._cpi() if self.cpi_components else None,
        }

    def _cpi(self) -> np.ndarray:
        row = self._cpi_row.reshape(self.units.n_cores, len(self.cpi_components))
        cpi = self.perf.counters.cpi
        for j, k in enumerate(self.cpi_components):
            row[:, j] = cpi[k]
        return self._cpi_row

    def account(self, k: int, t0: float) -> None:
        a = self.assembly
        dt = self.dt
        self.instructions_total += float(self.perf.counters.instructions.sum())
        self.energy["cores"] += float(a.core_P.sum()) * dt
        if self.units.n_banks:  # (an empty sum would add 0.0)
            self.energy["banks"] += float(a.bank_P.sum()) * dt
        if self.units.n_logic:
            self.energy["logic"] += float(a.logic_P.sum()) * dt
        for t, c, off in self._finished:
            self.act.thread_finished(t, c, t0 + off)

    def end(self, k: int) -> bool:
        due = [(i, s) for i, s in self.stepping if (k + 1) % s.every == 0]
        if due:
            self.fill_view()
            for i, slot in due:
                self._call(i, slot)
            self.act.apply_frequencies()
        return self.stop_when_done and self.queue.all_done()

    def summary(self) -> dict[str, Any]:
        return {
            "instructions": self.instructions_total,
            "energy_J": {k: float(v) for k, v in self.energy.items()},
            **self.queue.summary(),
        }
