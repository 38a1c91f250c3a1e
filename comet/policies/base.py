"""The policy hook protocol: a read-only view of the last epoch and a control object.

A policy is any object with a ``step(view, control)`` method (and optionally
``setup(info)``), called every ``every`` epochs after the epoch's temperatures are known::

    class MyPolicy(Policy):
        name = "my-policy"

        def __init__(self, limit_degC: float = 75.0) -> None:
            self.limit = limit_degC

        def step(self, view: EpochView, control: Control) -> None:
            hot = view.core_temperature > self.limit
            control.limit_frequencies(np.where(hot, view.info.f_min, np.inf))

Parameters of the config table (``{name = "...", every = 2, limit_degC = 70}``) are passed to
the constructor as keywords.

**View** (:class:`EpochView`): the epoch that just ended -- time, per-core and per-bank
temperatures (deg C), power (W), utilization, CPI stack, frequencies (Hz), voltages, bank
modes, thread placement, jobs waiting. Its arrays are read-only and are overwritten in place
before the next call: copy what you keep.

**Control** (:class:`Control`), applied as the policy calls it:

* ``set_frequency(core, hz)`` / ``set_frequencies(hz)``: the governor target (last writer wins).
* ``limit_frequency(core, hz)`` / ``limit_frequencies(hz)``: this policy's cap (``inf`` = none);
  a cap stays until the same policy changes it.
* the effective frequency of a core = ``min(target, all caps)``, snapped down to a level and
  clipped to [f_min, f_max]; a change costs ``cores.dvfs_latency``.
* ``migrate(thread, core)`` (to a free core), ``swap(core_a, core_b)``,
  ``set_placement(thread_of_core)``; ``map(job, cores)`` starts a waiting job;
  ``set_bank_mode(bank, mode)`` / ``set_bank_modes(modes)`` (0 normal, 1 low-power);
  ``event(kind, target, value, detail)`` writes to ``events.csv``.

**Composition**: policies run in the order mapping, migration, dvfs, dram, plugins (config
order inside each); later calls see the placement changes of earlier ones (through
``control``), while ``view`` always shows the ended epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from comet.errors import InputError

__all__ = [
    "Control",
    "EpochView",
    "Policy",
    "PolicyError",
    "PolicyProtocol",
    "SystemInfo",
    "WaitingJob",
]


class PolicyError(InputError):
    """A policy raised: names the policy, the epoch and the simulated time."""

    def __init__(self, policy: str, epoch: int, time_s: float, error: BaseException) -> None:
        self.policy = policy
        self.epoch = epoch
        self.time_s = time_s
        self.error = error
        super().__init__(
            f"policy {policy!r} raised at epoch {epoch} (t = {time_s:.6g} s): "
            f"{type(error).__name__}: {error}",
            hint="the run stopped; its traces up to that epoch are kept",
        )


@dataclass(frozen=True)
class SystemInfo:
    """What does not change during a run.

    Attributes:
        core_names, bank_names, logic_names: unit names (``C_i``, ``B_i``, ``LC_i``).
        core_xy: (cores, 2) core centres (m) on the processor die.
        core_layer: core layer index of each core (0 = first core layer).
        bank_xy: (banks, 2) bank centres (m) on the memory die.
        bank_layer, bank_group: DRAM layer and channel/vault of each bank.
        f_levels: frequency levels (Hz, increasing); f_min, f_max (Hz).
        voltages: voltage of each level (V).
        epoch_s: epoch length (s).
        configuration: ``ddr``, ``3dmem``, ``2.5d`` or ``3d``.
        ambient_degC: ambient temperature of the processor package.
        influence: callable returning the steady-state influence matrix (deg C per W) of
            every power unit on every core, ``(cores, cores + banks + logic)`` in the order
            cores, banks, logic (computed once on first call; see :mod:`comet.policies.dvfs`).
        c_eff: effective capacitance of the cores (F), for power predictions.
    """

    core_names: tuple[str, ...]
    bank_names: tuple[str, ...]
    logic_names: tuple[str, ...]
    core_xy: np.ndarray
    core_layer: np.ndarray
    bank_xy: np.ndarray
    bank_layer: np.ndarray
    bank_group: np.ndarray
    f_levels: np.ndarray
    voltages: np.ndarray
    epoch_s: float
    configuration: str
    ambient_degC: float
    c_eff: float
    influence: Callable[[], np.ndarray] = field(repr=False, compare=False)

    @property
    def n_cores(self) -> int:
        return len(self.core_names)

    @property
    def n_banks(self) -> int:
        return len(self.bank_names)

    @property
    def f_min(self) -> float:
        return float(self.f_levels[0])

    @property
    def f_max(self) -> float:
        return float(self.f_levels[-1])

    def core_distance(self) -> np.ndarray:
        """(cores, cores) distances between core centres (m); cores on different layers add
        one core width per layer (they are stacked)."""
        d = np.hypot(*(self.core_xy[:, None, :] - self.core_xy[None, :, :]).transpose(2, 0, 1))
        return d + np.abs(self.core_layer[:, None] - self.core_layer[None, :]) * 1e-3


@dataclass(frozen=True)
class WaitingJob:
    """A job waiting to be mapped: id, name, profile, threads, arrival time (s)."""

    id: int
    name: str
    profile: str
    threads: int
    arrival_s: float


class EpochView:
    """Read-only state at the end of an epoch (arrays overwritten in place between calls).

    Args:
        info: the run's :class:`SystemInfo`.
        n_threads_hint: unused (kept for compatibility).
        shared: arrays to show instead of the view's own buffers, by attribute name (the
            engine passes its state arrays that no policy call can change, so they need no
            copy every epoch); each must have the attribute's length and dtype.
    """

    def __init__(
        self,
        info: SystemInfo,
        n_threads_hint: int = 0,
        shared: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        nc, nb, nl = info.n_cores, info.n_banks, len(info.logic_names)
        shared = shared or {}
        self.info = info
        self.epoch = -1
        self.time_s = 0.0
        self.dt = info.epoch_s
        self.peak_temperature = float("nan")
        self._arrays: dict[str, np.ndarray] = {}
        self._deferred_views: dict[str, np.ndarray] = {}
        self._fill: Callable[[], object] | None = None
        for name, n, dtype in (
            ("core_temperature", nc, float),
            ("bank_temperature", nb, float),
            ("logic_temperature", nl, float),
            ("core_power", nc, float),
            ("bank_power", nb, float),
            ("logic_power", nl, float),
            ("utilization", nc, float),
            ("ips", nc, float),
            ("instructions", nc, float),
            ("cpi_compute", nc, float),
            ("cpi_memory", nc, float),
            ("cpi_other", nc, float),
            ("frequency", nc, float),
            ("voltage", nc, float),
            ("activity", nc, float),
            ("bank_mode", nb, np.int8),
            ("thread_of_core", nc, np.int64),
            ("job_of_core", nc, np.int64),
            ("bank_reads", nb, float),
            ("bank_writes", nb, float),
            ("refresh_rate", nb, float),
        ):
            arr = shared.get(name)
            if arr is None:
                arr = np.zeros(n, dtype=dtype)
            elif arr.shape != (n,) or arr.dtype != np.dtype(dtype):
                raise ValueError(f"EpochView: shared {name} must be ({n},) {np.dtype(dtype)}")
            self._arrays[name] = arr
            view = arr.view()
            view.flags.writeable = False
            if name in self._DEFERRED:
                self._deferred_views[name] = view
            else:
                setattr(self, name, view)
        self.waiting_jobs: tuple[WaitingJob, ...] = ()
        self.completed_jobs = 0

    # typed attributes (set in __init__ through setattr)
    core_temperature: np.ndarray
    bank_temperature: np.ndarray
    logic_temperature: np.ndarray
    core_power: np.ndarray
    bank_power: np.ndarray
    logic_power: np.ndarray
    utilization: np.ndarray
    instructions: np.ndarray
    frequency: np.ndarray
    voltage: np.ndarray
    activity: np.ndarray
    bank_mode: np.ndarray
    thread_of_core: np.ndarray
    job_of_core: np.ndarray
    bank_reads: np.ndarray
    bank_writes: np.ndarray
    refresh_rate: np.ndarray

    #: derived per-core quantities few policies read: filled on their first read in an epoch
    _DEFERRED = ("ips", "cpi_compute", "cpi_memory", "cpi_other")

    def buffer(self, name: str) -> np.ndarray:
        """The writable array behind a view attribute (for the engine only)."""
        return self._arrays[name]

    def defer(self, fill: Callable[[], object]) -> None:
        """(Engine) ``fill()`` writes this epoch's ``ips`` and CPI-stack buffers; it is called
        on the first read of one of them (the ended epoch's state does not change meanwhile)."""
        self._fill = fill

    def _deferred(self, name: str) -> np.ndarray:
        if self._fill is not None:
            fill, self._fill = self._fill, None
            fill()
        return self._deferred_views[name]

    @property
    def ips(self) -> np.ndarray:
        """Instructions per second per core."""
        return self._deferred("ips")

    @property
    def cpi_compute(self) -> np.ndarray:
        """Compute cycles per instruction per core (NaN for cores that executed nothing)."""
        return self._deferred("cpi_compute")

    @property
    def cpi_memory(self) -> np.ndarray:
        """Memory-stall cycles per instruction per core (NaN: nothing executed)."""
        return self._deferred("cpi_memory")

    @property
    def cpi_other(self) -> np.ndarray:
        """Other (lost, sleeping) cycles per instruction per core (NaN: nothing executed)."""
        return self._deferred("cpi_other")

    @property
    def cpi_stack(self) -> dict[str, np.ndarray]:
        """CPI by cause per core: ``compute``, ``memory``, ``other``."""
        return {"compute": self.cpi_compute, "memory": self.cpi_memory, "other": self.cpi_other}

    @property
    def active(self) -> np.ndarray:
        """Bool per core: a thread is placed on it."""
        return self.thread_of_core >= 0

    @property
    def peak_core_temperature(self) -> float:
        return float(self.core_temperature.max()) if self.core_temperature.size else float("nan")

    @property
    def free_cores(self) -> np.ndarray:
        """Indices of cores without a thread."""
        return np.flatnonzero(self.thread_of_core < 0)


class Control:
    """What a policy may change. Methods validate their arguments and raise ``ValueError``
    for impossible requests (the engine reports the policy by name)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._policy_index = 0
        self._readonly: dict[str, np.ndarray] = {}

    def _readonly_view(self, name: str) -> np.ndarray:
        """A read-only view of the engine's array ``name`` (made once per array)."""
        arr = getattr(self._engine, name)
        view = self._readonly.get(name)
        if view is None or view.base is not arr:
            view = arr.view()
            view.flags.writeable = False
            self._readonly[name] = view
        return view

    # -- frequencies ---------------------------------------------------------------------------
    def _core(self, core: int) -> int:
        n = self._engine.n_cores
        c = int(core)
        if not 0 <= c < n:
            raise ValueError(f"core {core} out of range 0..{n - 1}")
        return c

    @property
    def target_frequency(self) -> np.ndarray:
        """Pending governor targets (Hz), read-only."""
        return self._readonly_view("target_freq")

    def set_frequency(self, core: int, f_hz: float) -> None:
        """Set the governor target of ``core`` (Hz)."""
        self._engine.target_freq[self._core(core)] = float(f_hz)

    def set_frequencies(self, f_hz: Sequence[float] | np.ndarray | float) -> None:
        """Set the governor targets of all cores (Hz; a scalar applies to all)."""
        target = self._engine.target_freq
        arr = np.asarray(f_hz, dtype=float)
        if arr.shape != target.shape:
            arr = np.broadcast_to(arr, target.shape)
        # positive and finite: NaN fails both comparisons
        if not np.logical_and(arr > 0.0, arr < np.inf).all():
            raise ValueError("frequencies must be positive and finite (Hz)")
        target[:] = arr

    def limit_frequency(self, core: int, f_hz: float) -> None:
        """Cap the frequency of ``core`` (Hz; ``inf`` removes this policy's cap)."""
        self._engine.freq_caps[self._policy_index, self._core(core)] = float(f_hz)

    def limit_frequencies(self, f_hz: Sequence[float] | np.ndarray | float) -> None:
        """Caps for all cores (Hz; ``inf`` = no cap)."""
        arr = np.broadcast_to(np.asarray(f_hz, dtype=float), (self._engine.n_cores,))
        if np.isnan(arr).any() or (arr <= 0).any():
            raise ValueError("frequency caps must be positive (Hz) or inf")
        self._engine.freq_caps[self._policy_index] = arr

    # -- placement ------------------------------------------------------------------------------
    @property
    def thread_of_core(self) -> np.ndarray:
        """Current placement (including this epoch's earlier changes), read-only."""
        return self._readonly_view("thread_of_core")

    def migrate(self, thread: int, core: int) -> None:
        """Move ``thread`` to the free ``core``."""
        self._engine.migrate(int(thread), self._core(core))

    def swap(self, core_a: int, core_b: int) -> None:
        """Exchange the threads (or idleness) of two cores."""
        self._engine.swap(self._core(core_a), self._core(core_b))

    def set_placement(self, thread_of_core: Sequence[int] | np.ndarray) -> None:
        """Place the running threads anew: ``thread_of_core[c]`` = thread id or -1; every
        placed thread must appear exactly once."""
        self._engine.set_placement(np.asarray(thread_of_core, dtype=np.int64))

    def map(self, job: int, cores: Sequence[int]) -> None:
        """Start waiting job ``job`` with one thread on each of ``cores`` (free cores)."""
        self._engine.map_job(int(job), [self._core(c) for c in cores])

    # -- DRAM ------------------------------------------------------------------------------------
    def set_bank_mode(self, bank: int, mode: int) -> None:
        """Bank ``bank`` to mode 0 (normal) or 1 (low-power)."""
        n = self._engine.n_banks
        if not 0 <= int(bank) < n:
            raise ValueError(f"bank {bank} out of range 0..{n - 1}")
        if int(mode) not in (0, 1):
            raise ValueError(f"bank mode must be 0 (normal) or 1 (low-power), got {mode}")
        self._engine.set_bank_mode(int(bank), int(mode))

    def set_bank_modes(self, modes: Sequence[int] | np.ndarray) -> None:
        """Modes of all banks (0 normal, 1 low-power)."""
        arr = np.asarray(modes).reshape(-1)
        if arr.size != self._engine.n_banks or (
            arr.dtype != bool and not ((arr == 0) | (arr == 1)).all()
        ):
            raise ValueError(f"need {self._engine.n_banks} bank modes of 0 or 1")
        for b in np.nonzero(arr != self._engine.bank_mode)[0].tolist():
            self._engine.set_bank_mode(int(b), int(arr[b]))

    # -- events ----------------------------------------------------------------------------------
    def event(self, kind: str, target: str = "", value: Any = "", detail: str = "") -> None:
        """Write a line to ``events.csv`` at the current time."""
        self._engine.event(kind, target, value, detail)


@runtime_checkable
class PolicyProtocol(Protocol):
    """What the engine needs from a policy."""

    def step(self, view: EpochView, control: Control) -> None: ...


class Policy:
    """Base class of the built-in policies (plugins may subclass it or just have ``step``).

    Attributes:
        name: registry name.
        knob: what it acts on (``frequency``, ``placement``, ``mapping``, ``bank_mode``).
    """

    name: ClassVar[str] = ""
    knob: ClassVar[str] = ""

    def setup(self, info: SystemInfo) -> None:
        """Called once before the first epoch."""

    def step(self, view: EpochView, control: Control) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
