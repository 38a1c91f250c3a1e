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
from numba import njit

from comet.perf.protocol import EpochCounters, EpochInputs, PerfSystem
from comet.perf.workloads import Job, ThreadTable

__all__ = ["IntervalModel", "IntervalPerformance", "bank_latency", "time_per_instruction"]


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
    busy = np.minimum(np.maximum(refresh_busy, 0.0), 0.95)  # np.clip, cheaper on few values
    result = base / (1.0 - busy) + busy * 0.5 * t_rfc_s
    if out is None:
        return np.asarray(result)
    np.copyto(out, result)
    return out


#: rows of :attr:`IntervalModel.table`
_INSTRUCTIONS, _COMPUTE, _MEMORY, _SLEEP, _READS, _WRITES, _ACTIVE, _LOST = range(8)


@njit(cache=True)
def _start_epoch(
    dt: float,
    thread_of_core: np.ndarray,
    done: np.ndarray,
    lost_s: np.ndarray,
    table: np.ndarray,
    run: np.ndarray,
    time_left: np.ndarray,
    elapsed: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Start an epoch of ``dt`` s: clear ``table``; mark in ``run`` the cores whose thread is
    not done; for those, the time lost at the start (``min(lost_s, dt)``) goes to the
    ``_LOST`` row and to ``elapsed`` and ``time_left = dt - lost``. Returns how many run."""
    table[:, :] = 0.0
    n_run = 0
    for c in range(thread_of_core.size):
        t = thread_of_core[c]
        run[c] = t >= 0 and not done[t]
        if run[c]:
            lost = min(lost_s[c], dt)
            table[_LOST, c] = lost
            elapsed[c] = lost
            time_left[c] = dt - lost
            n_run += 1
    return n_run


@njit(cache=True)
def _advance_threads(
    run: np.ndarray,
    thread_of_core: np.ndarray,
    time_left: np.ndarray,
    elapsed: np.ndarray,
    freq_hz: np.ndarray,
    t_mem_s: np.ndarray,
    stall_activity: float,
    sleeping: np.ndarray,
    cpi: np.ndarray,
    mpi: np.ndarray,
    mlp: np.ndarray,
    left: np.ndarray,
    read_fraction: np.ndarray,
    activity: np.ndarray,
    executed: np.ndarray,
    table: np.ndarray,
    ended: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """One pass of :meth:`IntervalModel.step`: on every core ``c`` with ``run[c]``, thread
    ``thread_of_core[c]`` runs in its current phase for ``time_left[c]`` s or until the phase
    ends (``ended[c]``; False on the other cores). Returns how many phases ended.

    Per thread: time per instruction ``tau = cpi / f + mpi * t_mem / mlp`` (s); it executes
    ``min(left, time_left / tau)`` instructions (a sleep phase passes ``min(left, time_left)``
    seconds). Adds the per-core results to ``table`` (rows ``_INSTRUCTIONS`` .. ``_ACTIVE``),
    takes the work from ``left`` and adds it to ``executed`` (per thread), and moves
    ``elapsed`` / ``time_left`` (s) on.
    """
    n_ended = 0
    for c in range(run.size):
        ended[c] = False
        if not run[c]:
            continue
        t = thread_of_core[c]
        asleep = sleeping[t]
        t_core = cpi[t] / freq_hz[c]
        t_memi = mpi[t] * t_mem_s[c] / mlp[t]
        tau = t_core + t_memi
        lt = left[t]
        capacity = time_left[c] if asleep else time_left[c] / tau
        end = capacity >= lt
        amount = lt if end else capacity
        instr = 0.0 if asleep else amount
        comp = instr * t_core
        mem = instr * t_memi
        used = amount if asleep else comp + mem
        acc = instr * mpi[t]
        rf = read_fraction[t]
        table[_INSTRUCTIONS, c] += instr
        table[_COMPUTE, c] += comp
        table[_MEMORY, c] += mem
        table[_SLEEP, c] += amount if asleep else 0.0
        table[_READS, c] += acc * rf
        table[_WRITES, c] += acc * (1.0 - rf)
        table[_ACTIVE, c] += activity[t] * (comp + stall_activity * mem)
        left[t] = lt - amount
        executed[t] += instr
        elapsed[c] += used
        rest = time_left[c] - used
        time_left[c] = rest if (rest >= 0.0 or rest != rest) else 0.0  # np.maximum(rest, 0)
        ended[c] = end
        n_ended += end
    return n_ended


class IntervalModel:
    """Per-core results of one epoch, in preallocated arrays (overwritten every epoch).

    Attributes (per core): ``instructions``, ``compute_time``, ``memory_time``, ``sleep_time``,
    ``lost_time`` (DVFS transition / migration, s), ``reads``, ``writes`` (DRAM accesses),
    ``active_time`` (activity-weighted busy time, s: computing counts its phase activity,
    stalling on memory ``stall_activity`` of it). They are the rows of ``table``
    (8, cores).

    The per-thread arithmetic of an epoch is compiled (:func:`_advance_threads`, one pass per
    phase boundary crossed); phase changes and finished threads are handled here.
    """

    def __init__(self, n_cores: int, stall_activity: float = 0.25) -> None:
        self.n_cores = n_cores
        self.stall_activity = float(stall_activity)
        self.table = np.zeros((8, n_cores))
        self.instructions = self.table[_INSTRUCTIONS]
        self.compute_time = self.table[_COMPUTE]
        self.memory_time = self.table[_MEMORY]
        self.sleep_time = self.table[_SLEEP]
        self.lost_time = self.table[_LOST]
        self.reads = self.table[_READS]
        self.writes = self.table[_WRITES]
        self.active_time = self.table[_ACTIVE]
        # per-core scratch of step()
        self._run = np.zeros(n_cores, dtype=bool)
        self._ended = np.zeros(n_cores, dtype=bool)
        self._time_left = np.zeros(n_cores)
        self._elapsed = np.zeros(n_cores)

    def warm_up(self) -> None:
        """Load the compiled kernels now (set-up) rather than inside the first epoch: numba's
        cache is read at a kernel's first call (~0.2-0.3 s). One call of each on a throw-away
        one-core table with no thread running: same argument types, nothing changes here."""
        probe = IntervalModel(1, self.stall_activity)
        threads = ThreadTable(1)
        tofc = np.full(1, -1, dtype=np.int64)
        z = np.zeros(1)
        probe.step(1e-3, z + 1e9, z, z, tofc, threads)  # _start_epoch; no thread runs
        probe._pass(tofc, z + 1e9, z, threads)  # _advance_threads; no core runs

    def _pass(
        self, tofc: np.ndarray, freq: np.ndarray, t_mem: np.ndarray, threads: ThreadTable
    ) -> int:
        """One :func:`_advance_threads` pass over the cores marked in ``self._run``."""
        return int(
            _advance_threads(
                self._run,
                tofc,
                self._time_left,
                self._elapsed,
                freq,
                t_mem,
                self.stall_activity,
                threads.sleeping,
                threads.cpi,
                threads.mpi,
                threads.mlp,
                threads.left,
                threads.read_fraction,
                threads.activity,
                threads.executed,
                self.table,
                self._ended,
            )
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
        tofc = np.asarray(thread_of_core, dtype=np.int64)
        run, ended, time_left, elapsed = self._run, self._ended, self._time_left, self._elapsed
        n_run = _start_epoch(
            float(dt),
            tofc,
            threads.done,
            np.asarray(lost_s, dtype=float),
            self.table,
            run,
            time_left,
            elapsed,
        )
        freq = np.asarray(freq_hz, dtype=float)
        t_mem = np.asarray(t_mem_s, dtype=float)
        finished: list[tuple[int, int, float]] = []
        for _ in range(10_000):  # phase boundaries crossed within one epoch
            if n_run == 0:
                break
            n_ended = self._pass(tofc, freq, t_mem, threads)
            if n_ended == 0:
                break
            cores = np.nonzero(ended)[0]
            th = tofc[cores]
            threads.next_phase(th)
            done_now = threads.done[th]
            for t, c, off in zip(
                th[done_now].tolist(),
                cores[done_now].tolist(),
                elapsed[cores[done_now]].tolist(),
                strict=True,
            ):
                finished.append((t, c, min(off, dt)))
            # the threads that start a new phase with time left run another pass
            run[:] = False
            go = cores[~done_now & (time_left[cores] > 1e-15)]
            run[go] = True
            n_run = go.size
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
        every = bool(ran.all())  # the usual case: no masked (slower) operations needed
        for key, t in (
            ("compute", self.compute_time),
            ("memory", self.memory_time),
            ("other", self.lost_time + self.sleep_time),
        ):
            dst = out[key]
            if every:
                np.multiply(t, freq_hz, out=dst)
                np.divide(dst, self.instructions, out=dst)
            else:
                dst.fill(np.nan)
                np.multiply(t, freq_hz, out=dst, where=ran)
                np.divide(dst, self.instructions, out=dst, where=ran)
        return out


class IntervalPerformance:
    """comet's built-in interval model behind the performance-model protocol
    (:class:`comet.perf.protocol.PerformanceModel`, registry name ``interval``).

    Threads run the phase tables of their jobs' profiles (:class:`ThreadTable`); each epoch
    is one :meth:`IntervalModel.step`. The counters are the model's own arrays (no copies).

    Args:
        stall_activity: switching activity while stalled on DRAM, relative to computing
            (``cores.stall_activity`` of the run config).
    """

    name = "interval"

    def __init__(self, stall_activity: float = 0.25) -> None:
        if not 0.0 <= float(stall_activity) <= 1.0:
            raise ValueError(f"stall_activity {stall_activity!r} must be within 0..1")
        self.stall_activity = float(stall_activity)
        self.model: IntervalModel | None = None
        self.threads = ThreadTable(1)

    def start(self, system: PerfSystem) -> None:
        m = IntervalModel(system.n_cores, self.stall_activity)
        m.warm_up()  # compiled kernels loaded at set-up, not in the first epoch
        self.model = m
        self.threads = ThreadTable(max(1, system.n_cores))
        self._other = np.zeros(system.n_cores)
        self.counters = EpochCounters(
            instructions=m.instructions,
            compute_time=m.compute_time,
            memory_time=m.memory_time,
            sleep_time=m.sleep_time,
            lost_time=m.lost_time,
            active_time=m.active_time,
            reads=m.reads,
            writes=m.writes,
            bank_reads=np.zeros(system.n_banks),
            bank_writes=np.zeros(system.n_banks),
            cpi={"compute": m.compute_time, "memory": m.memory_time, "other": self._other},
        )

    def admit(self, job: Job) -> list[int]:
        return self.threads.add_job(job)

    def step(self, inputs: EpochInputs) -> list[tuple[int, int, float]]:
        assert self.model is not None, "start() first"
        finished = self.model.step(
            inputs.dt,
            inputs.freq_hz,
            inputs.t_mem_s,
            inputs.lost_s,
            inputs.thread_of_core,
            self.threads,
        )
        np.add(self.model.lost_time, self.model.sleep_time, out=self._other)
        return finished

    def close(self) -> None:
        pass
