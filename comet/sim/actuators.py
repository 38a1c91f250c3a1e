"""Actuators: what policies act on through :class:`~comet.policies.base.Control`.

* frequencies: each core's governor target and every policy's cap; the effective frequency
  is ``min(target, caps)`` snapped down to a DVFS level and clipped to [f_min, f_max]
  (:meth:`Actuators.apply_frequencies`), and a change costs ``cores.dvfs_latency``;
* placement: which thread runs on which core (map a waiting job, migrate, swap, a whole new
  placement); a move costs ``cores.migration_latency``;
* bank modes (normal / low-power).

Every change is an event (``dvfs``, ``migration``, ``map``, ``bank_mode``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from comet.perf.protocol import PerformanceModel
from comet.power.vf import OperatingPoints
from comet.sim.dram_state import DramState
from comet.sim.jobs import JobQueue
from comet.sim.units import UnitIndex

__all__ = ["Actuators"]


class Actuators:
    """Frequencies, placement and bank modes of the running system.

    Args:
        units: the unit index (core and bank names).
        op: the operating points.
        f_init: initial frequency (Hz; snapped to a level).
        dvfs_latency, migration_latency: costs of a change (s).
        dram: the bank state.
        perf: the performance model (threads are admitted to it).
        queue: the job queue.
        event: ``event(kind, target, value, detail)``.
        n_policies: policies that may set caps.
        now: returns the current simulated time (s).
    """

    def __init__(
        self,
        units: UnitIndex,
        op: OperatingPoints,
        f_init: float,
        dvfs_latency: float,
        migration_latency: float,
        dram: DramState,
        perf: PerformanceModel,
        queue: JobQueue,
        event: Callable[..., None],
        n_policies: int,
        now: Callable[[], float],
    ) -> None:
        nc = units.n_cores
        self.units = units
        self.op = op
        self.dvfs_latency = dvfs_latency
        self.migration_latency = migration_latency
        self.dram = dram
        self.perf = perf
        self.queue = queue
        self.event = event
        self._now = now
        self.n_cores = nc
        self.n_banks = units.n_banks
        self.freq = np.full(nc, float(op.snap(f_init)))
        self.volt = op.voltage(self.freq)
        self.target_freq = self.freq.copy()
        self.freq_caps = np.full((max(1, n_policies), nc), np.inf)
        self.thread_of_core = np.full(nc, -1, dtype=np.int64)
        self.job_of_core = np.full(nc, -1, dtype=np.int64)
        #: time each core loses at the start of the next epoch (s)
        self.lost = np.zeros(nc)
        #: per thread (ids from the performance model): its core (-1 = not placed), its job
        self.core_of_thread: list[int] = []
        self.job_of_thread: list[int] = []

    @property
    def bank_mode(self) -> np.ndarray:
        return self.dram.bank_mode

    # -- placement ---------------------------------------------------------------------------

    def _place(self, thread: int, core: int) -> None:
        self.thread_of_core[core] = thread
        self.core_of_thread[thread] = core
        self.job_of_core[core] = self.job_of_thread[thread]
        self.dram.place(core, thread)

    def unplace(self, core: int) -> None:
        """``core`` becomes idle."""
        t = self.thread_of_core[core]
        if t >= 0:
            self.core_of_thread[t] = -1
        self.thread_of_core[core] = -1
        self.job_of_core[core] = -1
        self.dram.clear(core)

    def _moved(self, thread: int, src: int, dst: int) -> None:
        self.lost[dst] += self.migration_latency
        names = self.units.core_names
        self.event(
            "migration", names[dst], thread, f"thread {thread} from {names[src]} to {names[dst]}"
        )

    def migrate(self, thread: int, core: int) -> None:
        if not 0 <= thread < len(self.core_of_thread) or self.core_of_thread[thread] < 0:
            raise ValueError(f"thread {thread} is not running")
        if self.thread_of_core[core] >= 0:
            raise ValueError(f"core {core} is busy (thread {self.thread_of_core[core]}); use swap")
        old = int(self.core_of_thread[thread])
        self.unplace(old)
        self._place(thread, core)
        self._moved(thread, old, core)

    def swap(self, a: int, b: int) -> None:
        ta, tb = int(self.thread_of_core[a]), int(self.thread_of_core[b])
        if a == b or (ta < 0 and tb < 0):
            return
        self.unplace(a)
        self.unplace(b)
        if ta >= 0:
            self._place(ta, b)
            self._moved(ta, a, b)
        if tb >= 0:
            self._place(tb, a)
            self._moved(tb, b, a)

    def set_placement(self, new: np.ndarray) -> None:
        if new.shape != self.thread_of_core.shape:
            raise ValueError(f"placement needs {self.n_cores} entries")
        old = self.thread_of_core.copy()
        placed_old = sorted(int(t) for t in old if t >= 0)
        placed_new = sorted(int(t) for t in new if t >= 0)
        if placed_old != placed_new or (new < -1).any():
            raise ValueError("a new placement must place exactly the running threads, once each")
        moved = [(int(t), int(np.flatnonzero(old == t)[0]), c) for c, t in enumerate(new) if t >= 0]
        for c in range(self.n_cores):
            self.unplace(c)
        for t, src, dst in moved:
            self._place(t, dst)
            if src != dst:
                self._moved(t, src, dst)

    def map_job(self, job_id: int, cores: list[int]) -> None:
        job = self.queue.waiting_job(job_id)
        if len(cores) != job.n_threads or len(set(cores)) != len(cores):
            raise ValueError(f"job {job_id} needs {job.n_threads} distinct cores, got {cores}")
        busy = [c for c in cores if self.thread_of_core[c] >= 0]
        if busy:
            raise ValueError(f"cores {busy} are busy")
        ids = self.perf.admit(job)
        for t in ids:
            while len(self.core_of_thread) <= t:
                self.core_of_thread.append(-1)
                self.job_of_thread.append(-1)
            self.job_of_thread[t] = job.id
        for t, c in zip(ids, cores, strict=True):
            self._place(t, c)
        now = self._now()
        self.queue.started(job, len(ids), now)
        self.event(
            "map",
            job.name,
            " ".join(self.units.core_names[c] for c in cores),
            f"{job.profile}, {job.n_threads} thread(s), waited {now - job.arrival_s:.6g} s",
        )

    def thread_finished(self, thread: int, core: int, t_s: float) -> None:
        """``thread`` on ``core`` finished at ``t_s`` (s)."""
        self.unplace(core)
        self.queue.thread_finished(self.job_of_thread[thread], t_s)

    # -- banks -------------------------------------------------------------------------------

    def set_bank_mode(self, bank: int, mode: int) -> None:
        if self.dram.set_mode(bank, mode):
            self.event("bank_mode", self.units.bank_names[bank], mode)

    # -- frequencies -------------------------------------------------------------------------

    def apply_frequencies(self) -> None:
        """The effective frequency of every core from the targets and the caps."""
        op = self.op
        eff = self.freq_caps.min(axis=0)
        np.minimum(self.target_freq, eff, out=eff)
        np.minimum(eff, op.f_max, out=eff)  # clipped to [f_min, f_max]
        np.maximum(eff, op.f_min, out=eff)
        eff = op.snap(eff)
        changed = np.nonzero(eff != self.freq)[0]
        if changed.size:
            lat = self.dvfs_latency
            for c in changed.tolist():
                self.event("dvfs", self.units.core_names[c], round(eff[c] / 1e9, 4))
                self.lost[c] += lat
            self.freq[:] = eff
            self.volt[:] = self.op.voltage(self.freq)

    def state(self) -> dict[str, Any]:
        """Placement and frequencies as plain data (for saved state)."""
        return {
            "freq_hz": self.freq.tolist(),
            "target_hz": self.target_freq.tolist(),
            "thread_of_core": self.thread_of_core.tolist(),
        }
