"""The performance-model protocol: what the epoch loop asks of a performance back end.

Every epoch the loop hands the model the operating conditions of the epoch about to run and
gets back, in :class:`EpochCounters`, what the cores did::

    model.start(system)                     # once, before the first epoch
    ids = model.admit(job)                  # a job is mapped: thread ids of its threads
    finished = model.step(inputs)           # one epoch; counters filled in place
    model.counters.instructions             # per core, this epoch
    model.close()                           # once, at the end (also after an error)

Back ends: ``interval`` (comet's built-in interval model, :mod:`comet.perf.interval`) and
``sniper`` (a lockstep bridge to a running Sniper, :mod:`comet.perf.sniper`); plugins through
the registry (:data:`comet.perf.registry.PERF_MODELS`).

Conventions: times in seconds, frequencies in Hz, counts as floats (the interval model counts
fractional instructions). Arrays of :class:`EpochCounters` are allocated once by the model
and overwritten every epoch; the loop reads them and never keeps a reference across epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from comet.perf.workloads import Job

__all__ = [
    "CPI_GROUPS",
    "EpochCounters",
    "EpochInputs",
    "Finished",
    "PerfSystem",
    "PerformanceModel",
    "cpi_stack",
    "group_times",
]

#: the three CPI-stack groups policies see (``view.cpi_compute`` ...), and which components
#: of a back end's CPI stack fall into each (components not named here count as ``other``)
CPI_GROUPS: dict[str, tuple[str, ...]] = {
    "compute": (
        "compute",
        "base",
        "branch",
        "ifetch",
        "l1d",
        "l2",
        "l3",
    ),
    "memory": ("memory", "dram"),
    "other": ("other", "sync", "dvfs", "lost", "idle"),
}


@dataclass(frozen=True)
class PerfSystem:
    """What a performance model knows of the system it runs on (given once, at start).

    Attributes:
        n_cores, n_banks: cores and DRAM banks.
        core_names, bank_names: CoMeT's unit names (``C_i``, ``B_i``).
        epoch_s: epoch length (s).
        f_levels_hz: the DVFS levels (Hz), ascending.
        f_init_hz: the frequency every core starts at (Hz).
        n_epochs: epochs the run will have at most.
        seed: the run's seed.
        base_dir: directory relative paths of the run config resolve against.
        run_dir: the run directory when the run writes one (a back end may keep its own
            outputs in a subdirectory, e.g. ``sniper/``), else None.
        bank_of_channel: bank indices of each memory channel/vault (for back ends that count
            accesses per controller).
    """

    n_cores: int
    n_banks: int
    core_names: tuple[str, ...]
    bank_names: tuple[str, ...]
    epoch_s: float
    f_levels_hz: np.ndarray
    f_init_hz: float
    n_epochs: int
    seed: int = 1
    base_dir: Path = field(default_factory=Path.cwd)
    run_dir: Path | None = None
    bank_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class EpochInputs:
    """The operating conditions of the epoch about to run (arrays owned by the loop; read,
    do not keep).

    Attributes:
        dt: epoch length (s).
        freq_hz: frequency per core (Hz).
        thread_of_core: thread id per core, -1 when idle.
        lost_s: time each core loses at the start of the epoch (DVFS transition, migration).
        t_mem_s: DRAM latency seen by each core's thread (s): the latency of every bank
            (``bank_latency_s``) weighted by the thread's access distribution.
        bank_latency_s: average access latency of each bank (s): mode and refresh.
    """

    dt: float
    freq_hz: np.ndarray
    thread_of_core: np.ndarray
    lost_s: np.ndarray
    t_mem_s: np.ndarray
    bank_latency_s: np.ndarray


@dataclass
class EpochCounters:
    """What the cores did in the ended epoch, per core (arrays of length ``n_cores``).

    Attributes:
        instructions: instructions executed.
        compute_time: time executing, not stalled on DRAM (s).
        memory_time: time stalled on DRAM (s).
        sleep_time: time a placed thread slept (s).
        lost_time: time lost to DVFS transitions and migrations (s).
        active_time: activity-weighted busy time (s), for the analytic power model.
        reads, writes: DRAM accesses issued by the core.
        bank_reads, bank_writes: DRAM accesses per bank (length ``n_banks``) when the back end
            counts them per bank (``has_bank_counts``); otherwise the loop spreads ``reads`` /
            ``writes`` over the banks with the configured access distribution.
        cpi: CPI-stack components as time per core (s) (``compute``, ``memory``, ``other`` for
            the interval model; Sniper's ``base``, ``branch``, ``l1d``, ``dram``, ``sync`` ...).
            The groups of :data:`CPI_GROUPS` add them up for policies.
        events: per-core event counts of the epoch for event-based power models
            (``l1d_accesses``, ``branch_mispredictions`` ...); empty for the interval model.
    """

    instructions: np.ndarray
    compute_time: np.ndarray
    memory_time: np.ndarray
    sleep_time: np.ndarray
    lost_time: np.ndarray
    active_time: np.ndarray
    reads: np.ndarray
    writes: np.ndarray
    bank_reads: np.ndarray
    bank_writes: np.ndarray
    has_bank_counts: bool = False
    cpi: dict[str, np.ndarray] = field(default_factory=dict)
    events: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def zeros(cls, n_cores: int, n_banks: int) -> EpochCounters:
        """Counters of ``n_cores`` cores and ``n_banks`` banks, all zero."""
        z = np.zeros((8, n_cores))
        return cls(
            instructions=z[0],
            compute_time=z[1],
            memory_time=z[2],
            sleep_time=z[3],
            lost_time=z[4],
            active_time=z[5],
            reads=z[6],
            writes=z[7],
            bank_reads=np.zeros(n_banks),
            bank_writes=np.zeros(n_banks),
        )

    def busy_time(self, out: np.ndarray | None = None) -> np.ndarray:
        """Compute plus memory time (s) per core."""
        return np.add(self.compute_time, self.memory_time, out=out)


#: ``(thread, core, t_offset_s)``: a thread that finished during the epoch, ``t_offset_s``
#: after the epoch's start
Finished = tuple[int, int, float]


@runtime_checkable
class PerformanceModel(Protocol):
    """A performance back end (see the module docstring for the call order)."""

    #: the registry name
    name: str
    #: the ended epoch's counters (filled by :meth:`step`)
    counters: EpochCounters

    def start(self, system: PerfSystem) -> None:
        """Prepare for a run on ``system`` (allocate counters, start a simulator)."""
        ...

    def admit(self, job: Job) -> list[int]:
        """A job has been mapped to cores: create its threads, return their ids (0, 1, ...
        in the order threads are admitted over the run)."""
        ...

    def step(self, inputs: EpochInputs) -> Sequence[Finished]:
        """Run one epoch; fill :attr:`counters`; return the threads that finished."""
        ...

    def close(self) -> None:
        """End the run (stop a simulator; idempotent)."""
        ...


def group_times(counters: EpochCounters) -> dict[str, list[np.ndarray]]:
    """The CPI components of ``counters`` by group of :data:`CPI_GROUPS` (unknown
    components count as ``other``)."""
    known = {c: g for g, comps in CPI_GROUPS.items() for c in comps}
    out: dict[str, list[np.ndarray]] = {g: [] for g in CPI_GROUPS}
    for comp, arr in counters.cpi.items():
        out[known.get(comp, "other")].append(arr)
    return out


def cpi_stack(
    counters: EpochCounters,
    freq_hz: np.ndarray,
    out: dict[str, np.ndarray],
    groups: dict[str, list[np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """Cycles per instruction of each group (``compute``, ``memory``, ``other``) per core,
    written into ``out``; NaN for cores that executed nothing. ``groups`` is
    :func:`group_times` of the counters (computed when not given)."""
    groups = group_times(counters) if groups is None else groups
    instr = counters.instructions
    ran = instr > 0
    every = bool(ran.all())  # the usual case: no masked (slower) operations needed
    for key, dst in out.items():
        parts = groups.get(key, [])
        if not parts:
            dst.fill(0.0 if every else np.nan)
            if not every:
                dst[ran] = 0.0
            continue
        t = parts[0]
        if len(parts) > 1:
            t = np.sum(parts, axis=0)
        if every:
            np.multiply(t, freq_hz, out=dst)
            np.divide(dst, instr, out=dst)
        else:
            dst.fill(np.nan)
            np.multiply(t, freq_hz, out=dst, where=ran)
            np.divide(dst, instr, out=dst, where=ran)
    return out
