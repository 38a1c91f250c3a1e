"""Workloads: profiles (phases of instructions or sleep), jobs, arrivals, thread state.

Built-in profiles live in ``comet/perf/data/profiles.toml`` (``compute``, ``memory``, ``mixed``,
``chase``, ``phased``, ``idle``; ``compute-bound``, ``memory-bound``, ``phase-changing`` are
aliases); the first four are calibrated against Sniper + McPAT (``benchmarks/calibration.py``).
A job has ``threads`` identical threads of one profile; jobs arrive at fixed times or as an open
system (uniform, Poisson or explicit arrival times, seeded) like CoMeT's open scheduler
(``scheduler/open``: ``distribution``, ``arrivalInterval``, ``explicitArrivalTimes``) and leave
when all their threads are done, so response times and the makespan can be measured.

:class:`ThreadTable` holds the state of all threads as arrays (the epoch loop indexes it by
core); its phase parameters are per thread and change only at phase boundaries.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from comet.config import JobSpec, ProfileSpec, WorkloadConfig
from comet.errors import InputError

__all__ = [
    "ALIASES",
    "Job",
    "ThreadTable",
    "build_jobs",
    "builtin_profiles",
    "check_profiles",
    "load_profiles",
]

#: aliases of the built-in profile names
ALIASES = {
    "compute-bound": "compute",
    "memory-bound": "memory",
    "phase-changing": "phased",
}

#: columns of the per-phase parameter table
PHASE_FIELDS = ("instructions", "cpi", "mpki", "read_fraction", "mlp", "activity", "sleep")


def _read_profiles_toml(text: str, path: str) -> dict[str, ProfileSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", path=path) from None
    table = data.get("profiles")
    if not isinstance(table, dict) or not table:
        raise InputError("no [profiles.<name>] tables", path=path)
    out: dict[str, ProfileSpec] = {}
    for name, spec in table.items():
        try:
            out[name] = ProfileSpec.model_validate(spec)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            key = ".".join(str(p) for p in first["loc"])
            msg = str(first["msg"]).removeprefix("Value error, ")
            raise InputError(f"profiles.{name}.{key}: {msg}", path=path) from None
    return out


def builtin_profiles() -> dict[str, ProfileSpec]:
    """The documented built-in profiles (``comet/perf/data/profiles.toml``)."""
    res = files("comet.perf").joinpath("data/profiles.toml")
    return _read_profiles_toml(res.read_text(encoding="utf-8"), "comet/perf/data/profiles.toml")


def load_profiles(
    workload: WorkloadConfig, base_dir: str | os.PathLike[str] | None = None
) -> dict[str, ProfileSpec]:
    """Built-in profiles, then ``profile_files`` (relative to ``base_dir``), then the inline
    ``profiles`` of the config; later definitions replace earlier ones of the same name."""
    profiles = builtin_profiles()
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    for f in workload.profile_files:
        p = Path(f)
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            raise InputError("workload.profile_files: file not found", path=p)
        from comet.fileio import read_text

        profiles.update(_read_profiles_toml(read_text(p, "profile file"), str(p)))
    profiles.update(workload.profiles)
    return profiles


def check_profiles(workload: WorkloadConfig, base_dir: str | os.PathLike[str] | None) -> None:
    """Every profile the workload names exists (built-in, ``profile_files``, inline): checked
    when the config loads, so a sweep refuses a misspelt profile before any run starts.

    Raises:
        InputError: ``workload.jobs.<i>.profile`` or ``workload.mix``: unknown profile.
    """
    profiles = load_profiles(workload, base_dir)
    for i, job in enumerate(workload.jobs):
        _profile(profiles, job.profile, f"workload.jobs.{i}.profile")
    for name in workload.mix:
        _profile(profiles, name, "workload.mix")


def _profile(profiles: Mapping[str, ProfileSpec], name: str, where: str) -> ProfileSpec:
    key = ALIASES.get(name, name)
    if key not in profiles:
        raise InputError(
            f"{where}: unknown profile {name!r}",
            hint=f"known: {', '.join(sorted(profiles))}; or define [workload.profiles.{name}]",
        )
    return profiles[key]


def phase_table(profile: ProfileSpec, instructions: float | None = None) -> np.ndarray:
    """The phases of a profile (``repeat`` expanded) as a ``(phases, 7)`` array of
    :data:`PHASE_FIELDS`; ``instructions`` rescales the instruction counts to that total."""
    rows = [[getattr(ph, f) for f in PHASE_FIELDS] for ph in profile.phases] * profile.repeat
    table = np.array(rows, dtype=float)
    if instructions is not None:
        total = table[:, 0].sum()
        if total <= 0:
            raise InputError("instructions: the profile has only sleep phases, nothing to rescale")
        table[:, 0] *= instructions / total
    return table


@dataclass
class Job:
    """A job: ``threads`` threads of a profile.

    Attributes:
        id: job index (order of arrival).
        name: label (``<profile>-<id>`` unless given).
        profile: profile name.
        arrival_s: arrival time (s).
        phases: ``(phases, 7)`` table (see :func:`phase_table`).
        threads: thread ids (filled when the job is admitted to the thread table).
        start_s: when its first thread started (s), or None.
        finish_s: when its last thread finished (s), or None.
        trace, command: the SIFT trace or program of a job an external simulator runs
            (``[perf] model = "sniper"``), else None.
    """

    id: int
    name: str
    profile: str
    arrival_s: float
    phases: np.ndarray
    n_threads: int
    threads: list[int] = field(default_factory=list)
    start_s: float | None = None
    finish_s: float | None = None
    trace: str | None = None
    command: list[str] | None = None

    @property
    def instructions(self) -> float:
        """Instructions per thread."""
        return float(self.phases[:, 0].sum())

    @property
    def response_s(self) -> float | None:
        """Finish minus arrival (s), once done."""
        return None if self.finish_s is None else self.finish_s - self.arrival_s


def _arrival_times(w: WorkloadConfig, rng: np.random.Generator) -> list[float]:
    if w.arrival == "fixed":
        return []
    if w.arrival == "explicit":
        return sorted(float(t) for t in w.times)
    if w.arrival == "uniform":
        return [i * w.interval for i in range(w.count)]
    gaps = rng.exponential(w.interval, size=w.count)
    # CoMeT's open scheduler lets the first task arrive at time 0
    return list(np.concatenate(([0.0], np.cumsum(gaps[:-1]))))


def build_jobs(
    workload: WorkloadConfig,
    profiles: Mapping[str, ProfileSpec],
    rng: np.random.Generator,
) -> list[Job]:
    """All jobs of a run, sorted by arrival time (stable: config order for ties)."""
    specs: list[tuple[float, JobSpec, str]] = []
    for i, job in enumerate(workload.jobs):
        _profile(profiles, job.profile, f"workload.jobs.{i}.profile")
        for _ in range(job.count):
            specs.append((job.arrival, job, job.name or ""))
    times = _arrival_times(workload, rng)
    for i, t in enumerate(times):
        if workload.mix_order == "cycle":
            name = workload.mix[i % len(workload.mix)]
        else:
            name = workload.mix[int(rng.integers(len(workload.mix)))]
        _profile(profiles, name, "workload.mix")
        spec = JobSpec(profile=name, threads=workload.threads, instructions=workload.instructions)
        specs.append((t, spec, ""))
    specs.sort(key=lambda s: s[0])
    jobs: list[Job] = []
    for k, (t, spec, name) in enumerate(specs):
        prof = _profile(profiles, spec.profile, "workload")
        jobs.append(
            Job(
                id=k,
                name=name or f"{ALIASES.get(spec.profile, spec.profile)}-{k}",
                profile=ALIASES.get(spec.profile, spec.profile),
                arrival_s=float(t),
                phases=phase_table(prof, spec.instructions),
                n_threads=spec.threads,
                trace=spec.trace,
                command=spec.command,
            )
        )
    return jobs


class ThreadTable:
    """State of every thread, as arrays indexed by thread id.

    Per thread: ``job``, ``phase`` (index in its job's phase table), ``left`` (instructions, or
    seconds of a sleep phase, left in the current phase), ``done``, ``core`` (-1 when not
    placed), the current phase's parameters ``cpi``, ``mpi`` (misses per instruction),
    ``read_fraction``, ``mlp``, ``activity``, ``sleeping``, and counters ``executed``
    (instructions) and ``finish_s``.
    """

    _FIELDS: tuple[tuple[str, Any, Any], ...] = (
        ("job", np.int64, -1),
        ("phase", np.int64, 0),
        ("left", float, 0.0),
        ("done", bool, False),
        ("core", np.int64, -1),
        ("cpi", float, 1.0),
        ("mpi", float, 0.0),
        ("read_fraction", float, 0.0),
        ("mlp", float, 1.0),
        ("activity", float, 0.0),
        ("sleeping", bool, False),
        ("executed", float, 0.0),
        ("finish_s", float, np.nan),
    )
    job: np.ndarray
    phase: np.ndarray
    left: np.ndarray
    done: np.ndarray
    core: np.ndarray
    cpi: np.ndarray
    mpi: np.ndarray
    read_fraction: np.ndarray
    mlp: np.ndarray
    activity: np.ndarray
    sleeping: np.ndarray
    executed: np.ndarray
    finish_s: np.ndarray

    def __init__(self, capacity: int = 64) -> None:
        self.n = 0
        self._alloc(max(1, capacity))
        self.tables: list[np.ndarray] = []
        self._table_of_thread: list[int] = []

    def _alloc(self, cap: int) -> None:
        for name, dtype, fill in self._FIELDS:
            new = np.full(cap, fill, dtype=dtype)
            old = getattr(self, name, None)
            if old is not None:
                new[: self.n] = old[: self.n]
            setattr(self, name, new)
        self.capacity = cap

    def add_job(self, job: Job) -> list[int]:
        """Create the threads of ``job`` (not placed); returns their ids."""
        need = self.n + job.n_threads
        if need > self.capacity:
            self._alloc(max(need, 2 * self.capacity))
        ids = list(range(self.n, need))
        self.n = need
        table_index = len(self.tables)
        self.tables.append(job.phases)
        self._table_of_thread.extend([table_index] * len(ids))
        for t in ids:
            self.job[t] = job.id
            self.phase[t] = 0
            self._load_phase(t)
        job.threads = ids
        return ids

    def _load_phase(self, t: int) -> None:
        table = self.tables[self._table_of_thread[t]]
        p = int(self.phase[t])
        if p >= table.shape[0]:
            self.done[t] = True
            self.left[t] = 0.0
            self.sleeping[t] = False
            self.activity[t] = 0.0
            return
        instr, cpi, mpki, rf, mlp, act, sleep = table[p]
        self.sleeping[t] = instr <= 0.0
        self.left[t] = sleep if instr <= 0.0 else instr
        self.cpi[t], self.mpi[t] = cpi, mpki / 1000.0
        self.read_fraction[t], self.mlp[t] = rf, mlp
        self.activity[t] = 0.0 if instr <= 0.0 else act

    def next_phase(self, threads: Sequence[int] | np.ndarray) -> None:
        """Advance the given threads to their next phase (marks them done after the last)."""
        for t in np.asarray(threads, dtype=np.int64).tolist():
            self.phase[t] += 1
            self._load_phase(t)
