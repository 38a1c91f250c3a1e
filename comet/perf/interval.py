"""Interval performance model: per core and epoch, how many instructions a thread executes.

Time per instruction (s)::

    tau = CPI_core / f  +  MPI * t_mem / MLP

``CPI_core`` (cycles per instruction without LLC misses) scales with the core frequency ``f``
(Hz); the memory part -- misses per instruction ``MPI`` times the DRAM access latency
``t_mem`` (s) over the memory-level parallelism ``MLP`` -- does not, so memory-bound code gains
little from frequency. ``t_mem`` is the access-weighted latency of the banks a thread uses
(normal / low-power mode, refresh). This is the first-order interval model of Karkhanis & Smith
(ISCA 2004) and Eyerman et al. (TOCS 2009) that Sniper refines; comet keeps one interval per
phase and epoch.

The :class:`IntervalModel` advances every placed thread through one epoch, crossing phase
boundaries inside the epoch, and reports per core: instructions, compute / memory / sleep /
lost time, DRAM reads and writes, and the activity-weighted busy time used by the power model.
"""

from __future__ import annotations

import numpy as np

from comet.perf.workloads import ThreadTable

__all__ = ["IntervalModel", "bank_latency", "time_per_instruction"]


def time_per_instruction(
    cpi: np.ndarray | float,
    f_hz: np.ndarray | float,
    mpi: np.ndarray | float,
    t_mem_s: np.ndarray | float,
    mlp: np.ndarray | float,
) -> np.ndarray:
    """Seconds per instruction: ``cpi / f + mpi * t_mem / mlp``.

    Args:
        cpi: core cycles per instruction (no LLC misses).
        f_hz: core frequency (Hz).
        mpi: LLC misses (DRAM accesses) per instruction.
        t_mem_s: DRAM access latency (s).
        mlp: memory-level parallelism (>= 1 typically).
    """
    return np.asarray(cpi) / np.asarray(f_hz) + np.asarray(mpi) * np.asarray(t_mem_s) / np.asarray(
        mlp
    )


def bank_latency(
    latency_s: float,
    latency_lowpower_s: float,
    lowpower: np.ndarray,
    refresh_busy: np.ndarray,
    t_rfc_s: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Average access latency (s) of each bank.

    A bank in low-power mode answers in ``latency_lowpower_s`` (CoMeT: 600 ns) instead of
    ``latency_s``. Refresh blocks a bank for ``refresh_busy`` (fraction of time, t_RFC / t_REFI,
    doubled above 85 C): an access that arrives during a refresh waits t_RFC / 2 on average,
    and the remaining availability stretches the service (``/(1 - busy)``), so a higher refresh
    rate costs bandwidth and latency.

    Args:
        latency_s, latency_lowpower_s: access latencies (s).
        lowpower: bool (or 0/1) per bank.
        refresh_busy: fraction of time each bank is refreshing (0..1).
        t_rfc_s: duration of one refresh (s).
        out: optional output array (per bank).
    """
    base = np.where(lowpower, latency_lowpower_s, latency_s)
    busy = np.clip(refresh_busy, 0.0, 0.95)
    result = base / (1.0 - busy) + busy * 0.5 * t_rfc_s
    if out is None:
        return np.asarray(result)
    np.copyto(out, result)
    return out


class IntervalModel:
    """Per-core results of one epoch, in preallocated arrays (overwritten every epoch).

    Attributes (per core): ``instructions``, ``compute_time``, ``memory_time``, ``sleep_time``,
    ``lost_time`` (DVFS transition / migration, s), ``reads``, ``writes`` (DRAM accesses),
    ``active_time`` (activity-weighted busy time, s: computing counts its phase activity,
    stalling on memory ``stall_activity`` of it).
    """

    def __init__(self, n_cores: int, stall_activity: float = 0.25) -> None:
        self.n_cores = n_cores
        self.stall_activity = float(stall_activity)
        z = np.zeros
        self.instructions = z(n_cores)
        self.compute_time = z(n_cores)
        self.memory_time = z(n_cores)
        self.sleep_time = z(n_cores)
        self.lost_time = z(n_cores)
        self.reads = z(n_cores)
        self.writes = z(n_cores)
        self.active_time = z(n_cores)
        self._arrays = (
            self.instructions,
            self.compute_time,
            self.memory_time,
            self.sleep_time,
            self.lost_time,
            self.reads,
            self.writes,
            self.active_time,
        )

    def step(
        self,
        dt: float,
        freq_hz: np.ndarray,
        t_mem_s: np.ndarray,
        lost_s: np.ndarray,
        thread_of_core: np.ndarray,
        threads: ThreadTable,
    ) -> list[tuple[int, int, float]]:
        """Run every placed thread for one epoch of ``dt`` seconds.

        Args:
            dt: epoch length (s).
            freq_hz: frequency per core (Hz).
            t_mem_s: DRAM latency seen by each core's thread (s).
            lost_s: time each core loses at the start of the epoch (DVFS, migration; s).
            thread_of_core: thread id per core, -1 when idle.
            threads: the thread table (advanced in place).

        Returns:
            ``(thread, core, t_offset_s)`` of every thread that finished during the epoch,
            ``t_offset_s`` being when inside the epoch.
        """
        for a in self._arrays:
            a.fill(0.0)
        occ = np.flatnonzero(thread_of_core >= 0)
        if occ.size == 0:
            return []
        th = thread_of_core[occ]
        live = ~threads.done[th]
        occ, th = occ[live], th[live]
        lost = np.minimum(lost_s[occ], dt)
        self.lost_time[occ] = lost
        elapsed = lost.copy()
        time_left = dt - lost
        finished: list[tuple[int, int, float]] = []
        stall = self.stall_activity
        for _ in range(10_000):  # phase boundaries crossed within one epoch
            if occ.size == 0:
                break
            f = freq_hz[occ]
            sleeping = threads.sleeping[th]
            cpi, mpi, mlp = threads.cpi[th], threads.mpi[th], threads.mlp[th]
            t_core = cpi / f
            t_memi = mpi * t_mem_s[occ] / mlp
            tau = t_core + t_memi
            left = threads.left[th]
            capacity = np.where(sleeping, time_left, time_left / tau)
            ended = capacity >= left
            amount = np.where(ended, left, capacity)
            instr = np.where(sleeping, 0.0, amount)
            comp = instr * t_core
            mem = instr * t_memi
            used = np.where(sleeping, amount, comp + mem)
            acc = instr * mpi
            rf = threads.read_fraction[th]
            act = threads.activity[th]
            self.instructions[occ] += instr
            self.compute_time[occ] += comp
            self.memory_time[occ] += mem
            self.sleep_time[occ] += np.where(sleeping, amount, 0.0)
            self.reads[occ] += acc * rf
            self.writes[occ] += acc * (1.0 - rf)
            self.active_time[occ] += act * (comp + stall * mem)
            threads.left[th] = left - amount
            threads.executed[th] += instr
            elapsed += used
            time_left = np.maximum(time_left - used, 0.0)
            if not ended.any():
                break
            threads.next_phase(th[ended])
            done_now = ended & threads.done[th]
            for t, c, off in zip(
                th[done_now].tolist(),
                occ[done_now].tolist(),
                elapsed[done_now].tolist(),
                strict=True,
            ):
                finished.append((t, c, min(off, dt)))
            keep = ended & ~done_now & (time_left > 1e-15)
            occ, th, time_left, elapsed = occ[keep], th[keep], time_left[keep], elapsed[keep]
        return finished

    # -- derived per-core quantities --------------------------------------------------------

    def utilization(self, dt: float, out: np.ndarray | None = None) -> np.ndarray:
        """Share of the epoch spent computing (not stalled on DRAM, not idle), as CoMeT's
        ``getUtilizationOfCore`` (non-memory part of the CPI stack)."""
        if out is None:
            out = np.empty(self.n_cores)
        np.divide(self.compute_time, dt, out=out)
        return out

    def cpi_stack(
        self, freq_hz: np.ndarray, out: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Cycles per instruction by cause (``compute``, ``memory``, ``other``: lost and idle
        time) per core; NaN for cores that executed nothing. ``out`` gives arrays to fill."""
        if out is None:
            out = {k: np.empty(self.n_cores) for k in ("compute", "memory", "other")}
        ran = self.instructions > 0
        for key, t in (
            ("compute", self.compute_time),
            ("memory", self.memory_time),
            ("other", self.lost_time + self.sleep_time),
        ):
            dst = out[key]
            dst.fill(np.nan)
            np.multiply(t, freq_hz, out=dst, where=ran)
            np.divide(dst, self.instructions, out=dst, where=ran)
        return out
