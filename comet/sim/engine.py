"""The closed loop: ``Simulation(config).run() -> Run``. This module holds comet's only epoch loop.

Every epoch (default 1 ms)::

    arrivals -> mapping policies (jobs waiting, cores free)
    perf:    interval model (frequencies, placement, bank latency from modes and refresh)
    power:   cores C V^2 f a + leakage(T_prev, V); banks reads/writes/refresh/leakage; logic
    thermal: model.step(power, dt) per stack (exact for the epoch; leakage explicit, or
             iterated to a fixed point with sim.leakage_iterations)
    record:  temperature / power / frequency / bank_mode rows (streamed), events
    policies due: view of the ended epoch -> control -> frequencies, placement, bank modes

Like CoMeT, the power of an epoch uses the temperatures of the previous one (explicit), and the
policies see the temperatures of the epoch that just ended. ``comet replay`` runs the same loop
open: the power of each epoch comes from a trace row (:func:`replay`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from comet.config import RunConfig, config_from_dict, load_config
from comet.errors import InputError
from comet.floorplan.model import Stack
from comet.floorplan.stack_toml import StackInfo, UnitInfo
from comet.perf.distribution import AccessDistribution
from comet.perf.interval import IntervalModel, bank_latency
from comet.perf.workloads import Job, ThreadTable, build_jobs, load_profiles
from comet.policies.base import (
    Control,
    EpochView,
    PolicyError,
    PolicyProtocol,
    SystemInfo,
    WaitingJob,
)
from comet.policies.registry import create_policy
from comet.power import dram as dram_power
from comet.power.core import core_activity, dynamic_power
from comet.power.leakage import resolve_leakage
from comet.power.vf import OperatingPoints
from comet.sim.results import Run, RunLayer, RunWriter, layers_from_stack
from comet.thermal.solver import ThermalModel
from comet.thermal.structured import one_blas_thread

__all__ = ["Simulation", "replay"]

KELVIN = 273.15
ProgressCallback = Callable[[int, int, float], None]


@dataclass
class _PolicySlot:
    name: str
    knob: str
    every: int
    policy: PolicyProtocol


@dataclass
class _Units:
    """Where each unit sits in the concatenated power vector of all stacks."""

    core_idx: np.ndarray  # power index of each core unit (sorted by core)
    core_of_unit: np.ndarray
    unit_frac: np.ndarray  # area fraction of the unit in its core
    unit_starts: np.ndarray  # first unit of each core (for reduceat)
    core_area: np.ndarray
    bank_idx: np.ndarray  # power index of each bank (by bank number)
    logic_idx: np.ndarray
    names_core_units: list[str]
    core_names: list[str]
    bank_names: list[str]
    logic_names: list[str]
    unit_layer: dict[str, str] = field(default_factory=dict)


def _stack_info(stack: Stack) -> StackInfo:
    info = stack.meta.get("info")
    if not isinstance(info, StackInfo):
        raise InputError(f"stack {stack.name}: no unit description (stack.meta['info'])")
    return info


def _index_from_name(name: str) -> int:
    try:
        return int(name.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        raise InputError(f"unit {name!r}: cannot tell its index from its name") from None


class Simulation:
    """A closed-loop simulation of one run config.

    Args:
        config: a :class:`~comet.config.RunConfig`, a dict, or the path of a TOML run config.
        overrides: ``key=value`` strings applied over the config (``--set``).
        policies: extra policies (objects with ``step``, or registry names / file specs) run
            after the configured ones.

    >>> run = Simulation("examples/3d.toml").run("runs/demo")   # doctest: +SKIP
    >>> run.temperature.max()                                    # doctest: +SKIP
    """

    def __init__(
        self,
        config: RunConfig | Mapping[str, Any] | str | os.PathLike[str],
        *,
        overrides: Sequence[str] = (),
        policies: Sequence[PolicyProtocol | str] = (),
    ) -> None:
        if isinstance(config, RunConfig):
            cfg = config
            if overrides:
                data = cfg.to_dict()
                from comet.config import apply_overrides

                cfg2 = config_from_dict(apply_overrides(data, overrides))
                cfg2._base_dir = cfg._base_dir
                cfg = cfg2
        else:
            cfg = load_config(config, overrides)
        self.config = cfg
        self._extra_policies = list(policies)
        self._built = False
        self.writer: RunWriter | None = None
        self.path: Path | None = None

    # ==========================================================================================
    # construction

    def build(self) -> None:
        """Generate the stacks, thermal models, units, workload and policies (idempotent)."""
        if self._built:
            return
        cfg = self.config
        self._build_stacks()
        self._build_units()
        self.dt = float(cfg.sim.epoch)
        self.n_epochs = max(1, round(cfg.sim.duration / self.dt))
        self.rng = np.random.default_rng(cfg.seed)
        self._build_power()
        self._build_workload()
        self._build_state()
        self._build_policies()
        self._built = True

    def _build_stacks(self) -> None:
        from comet.floorplan.generate import generate, thermal_config
        from comet.thermal.hotspot_config import ThermalConfig

        cfg = self.config
        where = None if cfg._base_dir is None else "run config"
        try:
            self.stacks = generate(cfg.architecture.kind, **cfg.architecture.generate_params())
        except InputError as err:
            raise InputError(
                f"architecture.{err.message}", path=err.path if err.path else where, hint=err.hint
            ) from None
        self.kind = cfg.architecture.kind
        self.models: list[ThermalModel] = []
        self.thermal_configs = []
        for stack in self.stacks:
            tc = thermal_config(stack, ThermalConfig()).with_values(**cfg.thermal)
            self.thermal_configs.append(tc)
            try:
                model = ThermalModel.from_stack(
                    stack, tc, solver=cfg.sim.solver, precision=cfg.sim.precision
                )
            except InputError as err:
                raise InputError(f"thermal: {err.message}", hint=err.hint) from None
            self.models.append(model)
        self.offsets = np.cumsum([0] + [len(m.power_names) for m in self.models])
        self.n_power = int(self.offsets[-1])

    def _build_units(self) -> None:
        core_units: list[tuple[int, int, str, float]] = []  # core, power idx, name, area
        banks: dict[int, int] = {}
        logic: dict[int, int] = {}
        self.unit_info: dict[str, UnitInfo] = {}
        blocks: dict[str, Any] = {}
        unit_layer: dict[str, str] = {}
        multi = len(self.stacks) > 1
        for s, (stack, model) in enumerate(zip(self.stacks, self.models, strict=True)):
            info = _stack_info(stack)
            by_name = {u.name: u for u in info.units}
            for layer in stack.layers:
                for b in layer.floorplan:
                    blocks[b.name] = b
                    unit_layer[b.name] = f"{stack.name}.{layer.name}" if multi else layer.name
            for i, name in enumerate(model.power_names):
                u = by_name.get(name)
                if u is None:
                    continue
                self.unit_info[name] = u
                gi = int(self.offsets[s]) + i
                if u.kind in ("core", "core_unit") and u.core is not None:
                    core_units.append((u.core, gi, name, blocks[name].area))
                elif u.kind == "bank" and u.bank is not None:
                    banks[u.bank] = gi
                elif u.kind == "logic":
                    logic[_index_from_name(name)] = gi
        if not core_units:
            raise InputError("architecture: the stack has no cores")
        core_units.sort(key=lambda r: (r[0], r[1]))
        cores = sorted({r[0] for r in core_units})
        if cores != list(range(len(cores))):
            raise InputError("architecture: core indices are not 0..n-1")
        core_of_unit = np.array([r[0] for r in core_units], dtype=np.int64)
        area = np.array([r[3] for r in core_units])
        core_area = np.bincount(core_of_unit, weights=area)
        starts = np.flatnonzero(np.r_[True, core_of_unit[1:] != core_of_unit[:-1]])
        bank_ids = sorted(banks)
        if bank_ids != list(range(len(bank_ids))):
            raise InputError("architecture: bank indices are not 0..n-1")
        logic_ids = sorted(logic)
        self.units = _Units(
            core_idx=np.array([r[1] for r in core_units], dtype=np.int64),
            core_of_unit=core_of_unit,
            unit_frac=area / core_area[core_of_unit],
            unit_starts=starts,
            core_area=core_area,
            bank_idx=np.array([banks[b] for b in bank_ids], dtype=np.int64),
            logic_idx=np.array([logic[i] for i in logic_ids], dtype=np.int64),
            names_core_units=[r[2] for r in core_units],
            core_names=[f"C_{c}" for c in cores],
            bank_names=[f"B_{b}" for b in bank_ids],
            logic_names=[f"LC_{i}" for i in logic_ids],
            unit_layer=unit_layer,
        )
        self.n_cores = len(cores)
        self.n_banks = len(bank_ids)
        self.n_logic = len(logic_ids)
        self._blocks = blocks

    def _positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Core centres (m), core layer, bank centres (m), bank layer, bank group."""
        u = self.units
        core_xy = np.zeros((self.n_cores, 2))
        core_layer = np.zeros(self.n_cores, dtype=np.int64)
        layers_seen: list[str] = []
        for c in range(self.n_cores):
            names = [n for n, k in zip(u.names_core_units, u.core_of_unit, strict=True) if k == c]
            bl = [self._blocks[n] for n in names]
            x0, y0 = min(b.x for b in bl), min(b.y for b in bl)
            x1, y1 = max(b.right for b in bl), max(b.top for b in bl)
            core_xy[c] = ((x0 + x1) / 2, (y0 + y1) / 2)
            layer = self.unit_info[names[0]].layer
            if layer not in layers_seen:
                layers_seen.append(layer)
            core_layer[c] = layers_seen.index(layer)
        bank_xy = np.zeros((self.n_banks, 2))
        bank_layer = np.zeros(self.n_banks, dtype=np.int64)
        bank_group = np.zeros(self.n_banks, dtype=np.int64)
        for b, name in enumerate(u.bank_names):
            blk = self._blocks[name]
            bank_xy[b] = (blk.x + blk.width / 2, blk.y + blk.height / 2)
            info = self.unit_info[name]
            bank_layer[b] = info.bank_layer or 0
            if info.channel is not None:
                bank_group[b] = info.channel
            elif info.vault is not None:
                bank_group[b] = info.vault
        return core_xy, core_layer, bank_xy, bank_layer, bank_group

    def _build_power(self) -> None:
        cfg = self.config
        base = cfg.base_dir
        cc = cfg.cores
        self.op = OperatingPoints(
            cc.f_min,
            cc.f_max,
            cc.f_step,
            v0=cc.voltage.v0,
            slope=cc.voltage.slope,
            table=cc.voltage.points if cc.voltage.model == "table" else None,
        )
        self.mem = cfg.memory.resolved(self.kind)
        self.leak_core = resolve_leakage(cc.leakage, "core", base)
        self.leak_dram = resolve_leakage(self.mem.leakage, "dram", base)
        self.leak_logic = resolve_leakage(self.mem.logic_leakage, "logic", base)
        self.perf = IntervalModel(self.n_cores, cc.stall_activity)
        core_xy, core_layer, bank_xy, bank_layer, bank_group = self._positions()

        def norm(xy: np.ndarray) -> np.ndarray:
            if xy.size == 0:
                return xy
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            span = np.where(hi - lo > 0, hi - lo, 1.0)
            return (xy - lo) / span

        m = self.mem
        try:
            self.distribution = AccessDistribution(
                m.distribution,
                bank_group,
                norm(bank_xy),
                norm(core_xy),
                ways=m.ways,
                hot_fraction=m.hot_fraction,
                hot_share=m.hot_share,
                hot_banks=m.hot_banks,
                local_share=m.local_share,
                rng=np.random.default_rng(cfg.seed + 7919),
            )
        except ValueError as err:
            raise InputError(f"memory.distribution: {err}") from None
        ambient = float(self.thermal_configs[0].ambient) - KELVIN
        self.info = SystemInfo(
            core_names=tuple(self.units.core_names),
            bank_names=tuple(self.units.bank_names),
            logic_names=tuple(self.units.logic_names),
            core_xy=core_xy,
            core_layer=core_layer,
            bank_xy=bank_xy,
            bank_layer=bank_layer,
            bank_group=bank_group,
            f_levels=self.op.levels.copy(),
            voltages=self.op.voltages.copy(),
            epoch_s=float(cfg.sim.epoch),
            configuration=self.kind,
            ambient_degC=ambient,
            c_eff=cc.c_eff,
            influence=self.influence_matrix,
        )
        self._influence: np.ndarray | None = None

    def _build_workload(self) -> None:
        cfg = self.config
        profiles = load_profiles(cfg.workload, cfg.base_dir)
        self.jobs: list[Job] = build_jobs(cfg.workload, profiles, self.rng)
        self.threads = ThreadTable(sum(j.n_threads for j in self.jobs) or 1)
        self.waiting: list[Job] = []
        self.next_job = 0
        self.remaining_threads: dict[int, int] = {}

    def _build_state(self) -> None:
        nc, nb, nl = self.n_cores, self.n_banks, self.n_logic
        f0 = self.config.cores.f_init or self.config.cores.f_max
        self.freq = np.full(nc, float(self.op.snap(f0)))
        self.volt = self.op.voltage(self.freq)
        self.target_freq = self.freq.copy()
        self.thread_of_core = np.full(nc, -1, dtype=np.int64)
        self.job_of_core = np.full(nc, -1, dtype=np.int64)
        self.lost = np.zeros(nc)
        self.dist = np.zeros((nc, nb))
        self.bank_mode = np.zeros(nb, dtype=np.int8)
        self.T_all = np.zeros(self.n_power)  # K, power-block temperatures of the last epoch
        self.P_all = np.zeros(self.n_power)
        self.core_T = np.zeros(nc)
        self.bank_T = np.zeros(nb)
        self.logic_T = np.zeros(nl)
        self.core_P = np.zeros(nc)
        self.bank_P = np.zeros(nb)
        self.logic_P = np.zeros(nl)
        self.core_dyn = np.zeros(nc)
        self.activity = np.zeros(nc)
        self.refresh_rate = np.ones(nb)
        self.t_bank = np.zeros(nb)
        self._lowpower = self.bank_mode == 1  # banks in low-power mode (see set_bank_mode)
        self._refresh_power()  # _p_refresh, W per bank, follows refresh_rate
        self._t_mem = np.zeros(nc)  # s, DRAM latency per core (see _memory_latency)
        self._latency_stale = True  # bank modes or placement changed since _t_mem
        self._banks_hot = False  # some bank was above refresh_double_above last epoch
        self.bank_reads = np.zeros(nb)
        self.bank_writes = np.zeros(nb)
        self.util = np.zeros(nc)
        self._busy = np.zeros(nc)
        self.instructions_total = 0.0
        self.energy: dict[str, float] = {"cores": 0.0, "banks": 0.0, "logic": 0.0}
        self._now = 0.0
        self.epoch = -1
        #: Set (e.g. by a signal handler) to stop the run cleanly before the next epoch.
        self.stop_requested = False
        self._core_unit_area = self.units.core_area[self.units.core_of_unit]
        u = self.units
        #: each core is one power unit, in core order (no per-core units): _leakage skips the
        #: unit maps, which are then identities
        self._whole_cores = bool(
            np.array_equal(u.core_of_unit, np.arange(nc))
            and np.array_equal(u.unit_starts, np.arange(nc))
            and (u.unit_frac == 1.0).all()
        )
        self._trace_idx = np.concatenate(
            (self.units.core_idx, self.units.logic_idx, self.units.bank_idx)
        )
        self._bank_area = np.array([self._blocks[n].area for n in self.units.bank_names])
        self._logic_area = np.array([self._blocks[n].area for n in self.units.logic_names])
        self._ones_b = np.ones(nb)
        self._ones_l = np.ones(nl)

    def _build_policies(self) -> None:
        cfg = self.config
        self.policies: list[_PolicySlot] = []
        for knob, spec in cfg.policies.ordered():
            where = f"policies.{knob}"
            try:
                pol = create_policy(spec.name, spec.params, cfg.base_dir)
            except InputError as err:
                raise InputError(f"{where}: {err.message}", path=err.path, hint=err.hint) from None
            self.policies.append(_PolicySlot(spec.name, knob, spec.epochs(self.dt), pol))
        for extra in self._extra_policies:
            if isinstance(extra, str):
                pol = create_policy(extra, {}, Path.cwd())
                name = extra
            else:
                pol, name = extra, getattr(extra, "name", "") or type(extra).__name__
            self.policies.append(_PolicySlot(name, "plugins", 1, pol))
        self.freq_caps = np.full((max(1, len(self.policies)), self.n_cores), np.inf)
        # The view shows the engine's state arrays that stay put while policies run (they are
        # updated in place, before the next policy call); what a policy can change through
        # the control (placement, bank modes) is copied by _fill_view, so that every policy
        # of an epoch sees the ended epoch.
        self.view = EpochView(
            self.info,
            shared={
                "core_temperature": self.core_T,
                "bank_temperature": self.bank_T,
                "logic_temperature": self.logic_T,
                "core_power": self.core_P,
                "bank_power": self.bank_P,
                "logic_power": self.logic_P,
                "utilization": self.util,
                "instructions": self.perf.instructions,
                "frequency": self.freq,
                "voltage": self.volt,
                "activity": self.activity,
                "bank_reads": self.bank_reads,
                "bank_writes": self.bank_writes,
                "refresh_rate": self.refresh_rate,
            },
        )
        self.control = Control(self)
        self._cpi_out = {k: self.view.buffer(f"cpi_{k}") for k in ("compute", "memory", "other")}
        #: (view buffer, engine array) pairs copied by _fill_view
        self._view_copies: list[tuple[np.ndarray, np.ndarray]] = [
            (self.view.buffer("bank_mode"), self.bank_mode),
            (self.view.buffer("thread_of_core"), self.thread_of_core),
            (self.view.buffer("job_of_core"), self.job_of_core),
        ]
        self._view_ips = self.view.buffer("ips")

    # ==========================================================================================
    # influence matrix (TSP, PID)

    def influence_matrix(self) -> np.ndarray:
        """Steady-state temperature rise (K per W) of every core for 1 W in each unit:
        ``(cores, cores + banks + logic)``, columns in the order cores, banks, logic.
        Computed once (one steady solve per unit) and cached."""
        if self._influence is not None:
            return self._influence
        u = self.units
        nc = self.n_cores
        cols: list[tuple[int, np.ndarray, np.ndarray]] = []  # (col, power idx, weights)
        for c in range(nc):
            sel = u.core_of_unit == c
            cols.append((c, u.core_idx[sel], u.unit_frac[sel]))
        for b in range(self.n_banks):
            cols.append((nc + b, u.bank_idx[b : b + 1], np.ones(1)))
        for i in range(self.n_logic):
            cols.append((nc + self.n_banks + i, u.logic_idx[i : i + 1], np.ones(1)))
        B = np.zeros((nc, len(cols)))
        base = [m.steady(np.zeros(len(m.power_names)), leakage=False) for m in self.models]
        base_T = np.concatenate(
            [m.power_block_temperatures(T) for m, T in zip(self.models, base, strict=True)]
        )
        for col, idx, w in cols:
            s = int(np.searchsorted(self.offsets, idx[0], side="right") - 1)
            p = np.zeros(len(self.models[s].power_names))
            p[idx - self.offsets[s]] = w
            T = self.models[s].power_block_temperatures(self.models[s].steady(p, leakage=False))
            t_all = base_T.copy()
            lo = int(self.offsets[s])
            t_all[lo : lo + len(T)] = T
            rise = t_all[u.core_idx] - base_T[u.core_idx]
            B[:, col] = np.maximum.reduceat(rise, u.unit_starts)
        self._influence = B
        return B

    # ==========================================================================================
    # control actions (called through Control)

    def event(self, kind: str, target: str = "", value: Any = "", detail: str = "") -> None:
        if self.writer is not None and not self.writer.closed:
            self.writer.event(self._now, kind, target, value, detail)

    def _place(self, thread: int, core: int) -> None:
        self.thread_of_core[core] = thread
        self.threads.core[thread] = core
        self.job_of_core[core] = self.threads.job[thread]
        self.dist[core] = self.distribution.row(thread, core)
        self._latency_stale = True

    def _unplace(self, core: int) -> None:
        t = self.thread_of_core[core]
        if t >= 0:
            self.threads.core[t] = -1
        self.thread_of_core[core] = -1
        self.job_of_core[core] = -1
        self.dist[core] = 0.0
        self._latency_stale = True

    def migrate(self, thread: int, core: int) -> None:
        if not 0 <= thread < self.threads.n or self.threads.core[thread] < 0:
            raise ValueError(f"thread {thread} is not running")
        if self.thread_of_core[core] >= 0:
            raise ValueError(f"core {core} is busy (thread {self.thread_of_core[core]}); use swap")
        old = int(self.threads.core[thread])
        self._unplace(old)
        self._place(thread, core)
        self.lost[core] += self.config.cores.migration_latency
        self.event(
            "migration",
            self.units.core_names[core],
            thread,
            f"thread {thread} from {self.units.core_names[old]} to {self.units.core_names[core]}",
        )

    def swap(self, a: int, b: int) -> None:
        ta, tb = int(self.thread_of_core[a]), int(self.thread_of_core[b])
        if a == b or (ta < 0 and tb < 0):
            return
        self._unplace(a)
        self._unplace(b)
        if ta >= 0:
            self._place(ta, b)
            self.lost[b] += self.config.cores.migration_latency
            self.event(
                "migration",
                self.units.core_names[b],
                ta,
                f"thread {ta} from {self.units.core_names[a]} to {self.units.core_names[b]}",
            )
        if tb >= 0:
            self._place(tb, a)
            self.lost[a] += self.config.cores.migration_latency
            self.event(
                "migration",
                self.units.core_names[a],
                tb,
                f"thread {tb} from {self.units.core_names[b]} to {self.units.core_names[a]}",
            )

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
            self._unplace(c)
        for t, src, dst in moved:
            self._place(t, dst)
            if src != dst:
                self.lost[dst] += self.config.cores.migration_latency
                self.event(
                    "migration",
                    self.units.core_names[dst],
                    t,
                    f"thread {t} from {self.units.core_names[src]} to {self.units.core_names[dst]}",
                )

    def map_job(self, job_id: int, cores: list[int]) -> None:
        job = next((j for j in self.waiting if j.id == job_id), None)
        if job is None:
            raise ValueError(f"job {job_id} is not waiting")
        if len(cores) != job.n_threads or len(set(cores)) != len(cores):
            raise ValueError(f"job {job_id} needs {job.n_threads} distinct cores, got {cores}")
        busy = [c for c in cores if self.thread_of_core[c] >= 0]
        if busy:
            raise ValueError(f"cores {busy} are busy")
        ids = self.threads.add_job(job)
        for t, c in zip(ids, cores, strict=True):
            self._place(t, c)
        self.remaining_threads[job.id] = len(ids)
        job.start_s = self._now
        self.waiting.remove(job)
        self.event(
            "map",
            job.name,
            " ".join(self.units.core_names[c] for c in cores),
            f"{job.profile}, {job.n_threads} thread(s), waited {self._now - job.arrival_s:.6g} s",
        )

    def set_bank_mode(self, bank: int, mode: int) -> None:
        if self.bank_mode[bank] != mode:
            self.bank_mode[bank] = mode
            self._lowpower[bank] = self.bank_mode[bank] == 1
            self._latency_stale = True
            self.event("bank_mode", self.units.bank_names[bank], mode)

    # ==========================================================================================
    # the epoch loop

    def _leakage(self, iteration_T: np.ndarray) -> None:
        """Fill P_all from this epoch's dynamic power and leakage at temperatures ``T`` (K)."""
        u = self.units
        cc = self.config.cores
        m = self.mem
        t_units = iteration_T[u.core_idx]
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
        if self.n_banks:
            t_b = iteration_T[u.bank_idx]
            leak = self.leak_dram(t_b, self._ones_b, self._bank_area) * m.leakage_scale
            dram_power.bank_power(
                self.bank_reads,
                self.bank_writes,
                self.dt,
                m.e_read or 0.0,
                m.e_write or 0.0,
                self._lowpower,
                m.lowpower_dynamic,
                m.background,
                self._p_refresh,
                leak,
                m.lowpower_leakage,
                out=self.bank_P,
            )
            self.P_all[u.bank_idx] = self.bank_P
        if self.n_logic:
            t_l = iteration_T[u.logic_idx]
            self.logic_P[:] = m.logic_power + self.leak_logic(t_l, self._ones_l, self._logic_area)
            self.P_all[u.logic_idx] = self.logic_P

    def _refresh_power(self) -> None:
        """Refresh power (W) of every bank at its current refresh rate (``_p_refresh``)."""
        m = self.mem
        self._p_refresh = dram_power.refresh_power(
            m.e_refresh or 0.0, m.rows_per_refresh, m.t_refi, self.refresh_rate
        )

    def _memory_latency(self) -> np.ndarray:
        """DRAM access latency (s) seen by each core's thread: the latency of every bank (mode,
        refresh rate doubled above ``refresh_double_above``) weighted by the core's access
        distribution. Updates ``refresh_rate`` and ``t_bank``; recomputed only when a bank
        mode, a refresh rate or the placement changed (``_latency_stale``)."""
        mem = self.mem
        hot = bool((self.bank_T > mem.refresh_double_above).any())
        if hot or self._banks_hot:  # a refresh rate may have changed
            dram_power.refresh_rate(self.bank_T, mem.refresh_double_above, out=self.refresh_rate)
            self._refresh_power()
            self._latency_stale = True
        self._banks_hot = hot
        if self._latency_stale:
            bank_latency(
                mem.latency or 0.0,
                mem.latency_lowpower,
                self._lowpower,
                self.refresh_rate * (mem.t_rfc / mem.t_refi),
                mem.t_rfc,
                out=self.t_bank,
            )
            self._t_mem = self.dist @ self.t_bank
            self._latency_stale = False
        return self._t_mem

    def _thermal_step(self) -> None:
        iters = self.config.sim.leakage_iterations
        saved = [(m.temperature.copy(), m.time) for m in self.models] if iters else None
        T_iter = self.T_all
        for it in range(iters + 1):
            self._leakage(T_iter)
            if it > 0 and saved is not None:
                for m, (temp, t) in zip(self.models, saved, strict=True):
                    m.temperature = temp.copy()
                    m.time = t
            new_T = np.empty_like(self.T_all)
            for s, m in enumerate(self.models):
                lo, hi = int(self.offsets[s]), int(self.offsets[s + 1])
                m.advance(self.P_all[lo:hi], self.dt)
                new_T[lo:hi] = m.power_block_temperatures()
            if iters and np.max(np.abs(new_T - T_iter)) < self.config.sim.leakage_tolerance:
                T_iter = new_T
                break
            T_iter = new_T
        self.T_all[:] = T_iter

    def _update_temperatures(self) -> None:
        u = self.units
        T = self.T_all
        np.subtract(np.maximum.reduceat(T[u.core_idx], u.unit_starts), KELVIN, out=self.core_T)
        if self.n_banks:
            np.subtract(T[u.bank_idx], KELVIN, out=self.bank_T)
        if self.n_logic:
            np.subtract(T[u.logic_idx], KELVIN, out=self.logic_T)

    def _fill_view(self) -> None:
        v = self.view
        v.epoch = self.epoch
        v.time_s = self._now
        for dst, src in self._view_copies:
            np.copyto(dst, src)
        v.defer(self._fill_derived)
        peak = float(self.core_T.max())
        if self.n_banks:
            peak = max(peak, float(self.bank_T.max()))
        if self.n_logic:
            peak = max(peak, float(self.logic_T.max()))
        v.peak_temperature = peak
        v.waiting_jobs = tuple(
            WaitingJob(j.id, j.name, j.profile, j.n_threads, j.arrival_s) for j in self.waiting
        )

    def _fill_derived(self) -> None:
        """The view's derived quantities of the ended epoch: instructions per second and the
        CPI stack (filled when a policy first reads one of them)."""
        np.divide(self.perf.instructions, self.dt, out=self._view_ips)
        self.perf.cpi_stack(self.freq, out=self._cpi_out)

    def _call(self, index: int, slot: _PolicySlot) -> None:
        self.control._policy_index = index
        try:
            slot.policy.step(self.view, self.control)
        except Exception as err:
            raise PolicyError(slot.name, self.epoch, self._now, err) from err

    def _apply_frequencies(self) -> None:
        op = self.op
        eff = self.freq_caps.min(axis=0)
        np.minimum(self.target_freq, eff, out=eff)
        np.minimum(eff, op.f_max, out=eff)  # clipped to [f_min, f_max]
        np.maximum(eff, op.f_min, out=eff)
        eff = op.snap(eff)
        changed = np.nonzero(eff != self.freq)[0]
        if changed.size:
            lat = self.config.cores.dvfs_latency
            for c in changed.tolist():
                self.event("dvfs", self.units.core_names[c], round(eff[c] / 1e9, 4))
                self.lost[c] += lat
            self.freq[:] = eff
            self.volt[:] = self.op.voltage(self.freq)

    def _arrivals(self) -> None:
        while self.next_job < len(self.jobs) and self.jobs[self.next_job].arrival_s <= (
            self._now + 1e-12
        ):
            job = self.jobs[self.next_job]
            self.waiting.append(job)
            self.event("arrival", job.name, job.n_threads, job.profile)
            self.next_job += 1

    def _mapping(self) -> None:
        if not self.waiting or not (self.thread_of_core < 0).any():
            return
        self._fill_view()
        for i, slot in enumerate(self.policies):
            if slot.knob == "mapping":
                self._call(i, slot)
                if not self.waiting:
                    break
                self._fill_view()

    def _finish_threads(self, finished: list[tuple[int, int, float]], t0: float) -> None:
        for t, c, off in finished:
            self.threads.finish_s[t] = t0 + off
            self._unplace(c)
            job_id = int(self.threads.job[t])
            self.remaining_threads[job_id] -= 1
            if self.remaining_threads[job_id] == 0:
                job = self.jobs[job_id]
                job.finish_s = t0 + off
                self.event(
                    "finish", job.name, round(job.response_s or 0.0, 9), f"{job.profile} done"
                )

    def _init_temperatures(self) -> None:
        init = self.config.sim.init
        for m, tc in zip(self.models, self.thermal_configs, strict=True):
            if init == "ambient" or init == "steady":
                m.set_temperature(float(tc.ambient))
            else:
                m.set_temperature(float(init) + KELVIN)
        for s, m in enumerate(self.models):
            lo, hi = int(self.offsets[s]), int(self.offsets[s + 1])
            self.T_all[lo:hi] = m.power_block_temperatures()
        if init == "steady":
            act = core_activity(self.perf.active_time, self._busy, self.dt, 0.0)
            act += self.config.cores.idle_activity
            dynamic_power(self.config.cores.c_eff, self.volt, self.freq, act, out=self.core_dyn)
            for _ in range(5):
                self._leakage(self.T_all)
                for s, m in enumerate(self.models):
                    lo, hi = int(self.offsets[s]), int(self.offsets[s + 1])
                    T = m.steady(self.P_all[lo:hi], leakage=False)
                    m.set_temperature(T)
                    self.T_all[lo:hi] = m.power_block_temperatures()
        self._update_temperatures()

    def _write_static(self, writer: RunWriter) -> None:
        from comet.floorplan.generate import render

        writer.write_config(self.config.to_dict())
        layers: list[RunLayer] = []
        multi = len(self.stacks) > 1
        index = 0
        for stack in self.stacks:
            info = _stack_info(stack)
            kinds = {
                li.name: {"mixed": "other"}.get(li.kind, li.kind)
                for li in info.layers
                if li.kind in ("core", "dram", "logic", "tim", "interposer", "mixed")
            }
            for la in layers_from_stack(stack, kinds):
                name = f"{stack.name}.{la.name}" if multi else la.name
                layers.append(RunLayer(name, index, la.kind, la.blocks, la.width, la.height))
                index += 1
        writer.write_layers(layers)
        tmp = Path(tempfile.mkdtemp(prefix=".stack-", dir=writer.path))
        try:
            dirs = render(self.stacks, tmp)
            dest = writer.stack_dir
            for d in dirs:
                target = dest if not multi else dest / d.name
                target.mkdir(parents=True, exist_ok=True)
                for f in d.iterdir():
                    shutil.copyfile(f, target / f.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _snapshot(self, writer: RunWriter) -> None:
        grids, names = [], []
        shape = None
        for stack, m in zip(self.stacks, self.models, strict=True):
            g = m.grid_temperatures() - KELVIN
            if shape is None:
                shape = g.shape[1:]
            if g.shape[1:] != shape:
                continue
            grids.append(g)
            prefix = f"{stack.name}." if len(self.stacks) > 1 else ""
            layer_names = list(m.layer_names)[: g.shape[0]]
            layer_names += [f"layer{i}" for i in range(len(layer_names), g.shape[0])]
            names += [prefix + n for n in layer_names]
        writer.grid(self._now, np.concatenate(grids), names)

    def _loop_speed(self) -> float | None:
        """Epochs per second of the epoch loop alone (no set-up, no initial steady state)."""
        start = self._loop_start
        if start is None:
            return None
        loop = time.perf_counter() - start
        return (self.epoch + 1) / loop if loop > 0 else None

    def _summary_extra(self, wall: float) -> dict[str, Any]:
        done = [j for j in self.jobs if j.finish_s is not None]
        arrived = [j for j in self.jobs[: self.next_job]]
        resp = [j.response_s for j in done if j.response_s is not None]
        makespan = None
        if done and len(done) == len(self.jobs):
            makespan = max(j.finish_s or 0.0 for j in done) - min(j.arrival_s for j in self.jobs)
        return {
            "instructions": self.instructions_total,
            "makespan_s": makespan,
            "energy_J": {k: float(v) for k, v in self.energy.items()},
            "jobs": {
                "total": len(self.jobs),
                "arrived": len(arrived),
                "completed": len(done),
                "mean_response_s": float(np.mean(resp)) if resp else None,
                "max_response_s": float(np.max(resp)) if resp else None,
            },
            "epochs_per_s": (self.epoch + 1) / wall if wall > 0 else None,
            "loop_epochs_per_s": self._loop_speed(),
            "configuration": self.kind,
        }

    def run(
        self,
        out_dir: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        progress_every: int = 20,
    ) -> Run:
        """Run the simulation; write the run directory; return its :class:`Run`.

        Args:
            out_dir: run directory (default ``runs/<name>``).
            overwrite: replace an existing run directory.
            progress: ``callback(epoch_done, n_epochs, sim_time_s)`` every ``progress_every``
                epochs and at the end.

        Raises:
            PolicyError: a policy raised (the run is closed with status ``failed``, its
                traces kept, the error in ``events.csv`` and ``summary.json``).
            KeyboardInterrupt: re-raised after closing the run with status ``interrupted``.
        """
        self.build()
        cfg = self.config
        path = Path(out_dir) if out_dir is not None else Path("runs") / cfg.name
        writer = RunWriter(
            path,
            name=cfg.name,
            overwrite=overwrite,
            flush_every=cfg.sim.flush_every,
            thresholds_degC=cfg.thresholds_degC,
        )
        self.writer, self.path = writer, writer.path
        u = self.units
        t_start = time.perf_counter()
        self._loop_start: float | None = None  # set when the epoch loop starts
        try:
            self._write_static(writer)
            writer.open(
                temperature=u.names_core_units + u.logic_names + u.bank_names,
                power=u.names_core_units + u.logic_names + u.bank_names,
                frequency=u.core_names,
                bank_mode=u.bank_names if self.n_banks else None,
            )
            self._init_temperatures()
            for slot in self.policies:
                setup = getattr(slot.policy, "setup", None)
                if callable(setup):
                    try:
                        setup(self.info)
                    except Exception as err:
                        raise PolicyError(slot.name, 0, 0.0, err) from err
            # the step of the epoch length is set-up, not the loop's first epoch; a short run
            # may skip one-off costs a long one repays (ThermalModel.prepare)
            for m in self.models:
                m.prepare(self.dt, self.n_epochs)
            # one BLAS thread for the whole loop: the thermal step's many small products run
            # faster so, and it need not switch the thread count twice per epoch
            with one_blas_thread():
                self._loop_start = time.perf_counter()
                self._loop(writer, progress, progress_every)
            wall = time.perf_counter() - t_start
            writer.close("complete", **self._summary_extra(wall))
        except PolicyError as err:
            self.event("policy-error", err.policy, err.epoch, str(err.error))
            wall = time.perf_counter() - t_start
            writer.close("failed", error=str(err), **self._summary_extra(wall))
            raise
        except KeyboardInterrupt:
            wall = time.perf_counter() - t_start
            writer.close("interrupted", error="interrupted", **self._summary_extra(wall))
            raise
        except BaseException as err:
            wall = time.perf_counter() - t_start
            writer.close(
                "failed", error=f"{type(err).__name__}: {err}", **self._summary_extra(wall)
            )
            raise
        return Run(writer.path)

    def _loop(self, writer: RunWriter, progress: ProgressCallback | None, every: int) -> None:
        cfg = self.config
        dt = self.dt
        cc = cfg.cores
        snap_every = max(1, round(cfg.sim.snapshot_every / dt)) if cfg.sim.snapshot_every else 0
        n = self.n_epochs
        idle_act = cc.idle_activity
        stepping = [(i, s) for i, s in enumerate(self.policies) if s.knob != "mapping"]
        for k in range(n):
            if self.stop_requested:  # a signal asked to stop: leave at an epoch boundary
                raise KeyboardInterrupt
            self.epoch = k
            t0 = k * dt
            t1 = (k + 1) * dt
            self._now = t0
            # -- arrivals and mapping
            self._arrivals()
            self._mapping()
            # -- performance
            t_mem = self._memory_latency()
            finished = self.perf.step(
                dt, self.freq, t_mem, self.lost, self.thread_of_core, self.threads
            )
            self.lost.fill(0.0)
            if self.n_banks:
                np.matmul(self.perf.reads, self.dist, out=self.bank_reads)
                np.matmul(self.perf.writes, self.dist, out=self.bank_writes)
            np.add(self.perf.compute_time, self.perf.memory_time, out=self._busy)
            core_activity(self.perf.active_time, self._busy, dt, idle_act, out=self.activity)
            dynamic_power(cc.c_eff, self.volt, self.freq, self.activity, out=self.core_dyn)
            self.perf.utilization(dt, out=self.util)
            # -- power and temperature
            self._thermal_step()
            self._update_temperatures()
            self._now = t1
            # -- record
            writer.append(
                t1,
                temperature=self.T_all[self._trace_idx] - KELVIN,
                power=self.P_all[self._trace_idx],
                frequency=self.freq / 1e9,
                bank_mode=self.bank_mode if self.n_banks else None,
            )
            self.instructions_total += float(self.perf.instructions.sum())
            self.energy["cores"] += float(self.core_P.sum()) * dt
            if self.n_banks:  # (an empty sum would add 0.0)
                self.energy["banks"] += float(self.bank_P.sum()) * dt
            if self.n_logic:
                self.energy["logic"] += float(self.logic_P.sum()) * dt
            if finished:
                self._finish_threads(finished, t0)
            if snap_every and (k + 1) % snap_every == 0:
                self._snapshot(writer)
            # -- policies due
            due = [(i, s) for i, s in stepping if (k + 1) % s.every == 0]
            if due:
                self._fill_view()
                for i, slot in due:
                    self._call(i, slot)
                self._apply_frequencies()
            if progress is not None and ((k + 1) % every == 0 or k + 1 == n):
                progress(k + 1, n, t1)
            if cfg.sim.stop_when_done and self._all_done():
                if progress is not None and (k + 1) % every:
                    progress(k + 1, n, t1)
                break

    def _all_done(self) -> bool:
        return (
            self.next_job >= len(self.jobs)
            and not self.waiting
            and all(j.finish_s is not None for j in self.jobs)
        )


# ==============================================================================================
# open loop: replay a power trace


def replay(
    trace: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    stacks: Sequence[Stack] | None = None,
    kind: str | None = None,
    params: Mapping[str, Any] | None = None,
    lcf: str | os.PathLike[str] | None = None,
    flp: str | os.PathLike[str] | None = None,
    hotspot_config: str | os.PathLike[str] | None = None,
    materials: str | os.PathLike[str] | None = None,
    interval: float = 1e-3,
    init: str | float = "ambient",
    logic_power: float = 0.272,
    name: str | None = None,
    overwrite: bool = False,
    thermal: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    stop: Any = None,
) -> Run:
    """Feed a power trace through a stack (open loop) and write a run directory.

    ``stop``, if given, is checked before every row: when ``stop.stop_requested`` is true the
    run ends cleanly (status ``interrupted``) at that row boundary.

    The trace is a HotSpot ``.ptrace`` or CoMeT/HotSniper's ``combined_power.trace`` (a header
    of unit names, one row of watts per ``interval`` seconds). Columns are matched to the
    stack's power blocks by name (case-insensitive); blocks without a column get 0 W, except
    logic cores ``LC_i`` (absent from CoMeT's combined trace) which get ``logic_power`` W.

    The stack comes from ``stacks``, a configuration ``kind`` (+ ``params`` of
    :func:`comet.floorplan.generate`), an ``lcf`` (HotSpot layer file) or an ``flp`` (single
    layer, HotSpot's default chip and TIM), with ``hotspot_config`` keys applied
    (``materials``: a HotSpot materials file for configs and LCFs naming materials).

    Raises:
        InputError: unreadable trace, a column that is no block of the stack.
    """
    from comet.floorplan.generate import generate, thermal_config
    from comet.thermal.hotspot_config import ThermalConfig, read_config
    from comet.thermal.traces import read_ptrace

    names, rows = read_ptrace(trace)
    base = ThermalConfig()
    mats = None
    if materials is not None:
        from comet.thermal.materials import read_materials

        mats = read_materials(materials)
    if hotspot_config is not None:
        base = read_config(hotspot_config, materials=mats)
    models: list[ThermalModel] = []
    stack_list: list[Stack]
    if stacks is not None:
        stack_list = list(stacks)
    elif kind is not None:
        stack_list = generate(kind, **dict(params or {}))
    elif lcf is not None:
        from comet.floorplan.lcf import read_lcf

        stack_list = [read_lcf(lcf, mats)]
    elif flp is not None:
        stack_list = []
    else:
        raise InputError("replay: give a configuration kind, an .lcf or an .flp")
    overrides = dict(thermal or {})
    if flp is not None:
        from comet.floorplan.flp import read_flp

        fp = read_flp(flp).translated()
        cfg = base.with_values(**overrides)
        models.append(ThermalModel.from_floorplan(fp, cfg))
        from comet.floorplan.model import Layer

        stack_list = [
            Stack(
                (Layer("chip", fp, cfg.t_chip, cfg.k_chip, cfg.p_chip, True, True),),
                name=Path(flp).stem,
            )
        ]
    else:
        for s in stack_list:
            cfg = (
                thermal_config(s, base) if "info" in s.meta else base.with_values(model_type="grid")
            )
            cfg = cfg.with_values(**overrides)
            models.append(ThermalModel.from_stack(s, cfg))
    # column mapping
    lookup: dict[str, tuple[int, int]] = {}
    for si, m in enumerate(models):
        for pi, pn in enumerate(m.power_names):
            lookup.setdefault(pn.lower(), (si, pi))
    bad = [n for n in names if n.lower() not in lookup]
    if bad:
        raise InputError(
            f"trace column {bad[0]!r} is not a power block of the stack"
            + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""),
            path=trace,
            line=1,
            hint="give the stack the trace was made for (--kind/--param, --lcf or --flp)",
        )
    cols = [lookup[n.lower()] for n in names]
    fixed: list[np.ndarray] = [np.zeros(len(m.power_names)) for m in models]
    given = {(si, pi) for si, pi in cols}
    logic_filled = 0
    for si, m in enumerate(models):
        for pi, pn in enumerate(m.power_names):
            if (si, pi) not in given and pn.upper().startswith("LC_"):
                fixed[si][pi] = logic_power
                logic_filled += 1
    col_stack = np.array([c[0] for c in cols], dtype=np.int64)
    col_index = np.array([c[1] for c in cols], dtype=np.int64)
    # units in the run: the trace's columns
    canon = {pn.lower(): pn for m in models for pn in m.power_names}
    units = [canon[n.lower()] for n in names]
    writer = RunWriter(out_dir, name=name, overwrite=overwrite, flush_every=200)
    multi = len(stack_list) > 1
    t_start = time.perf_counter()
    try:
        writer.write_config(
            {
                "name": writer.name,
                "source": "replay",
                "trace": str(Path(trace).resolve()),
                "interval_s": interval,
                "kind": kind or "",
                "params": {k: str(v) for k, v in (params or {}).items()},
            }
        )
        layers: list[RunLayer] = []
        for stack in stack_list:
            for la in layers_from_stack(stack):
                nm = f"{stack.name}.{la.name}" if multi else la.name
                layers.append(RunLayer(nm, len(layers), la.kind, la.blocks, la.width, la.height))
        writer.write_layers(layers)
        files: dict[str, str | os.PathLike[str]] = {}
        for f in (lcf, flp, hotspot_config, materials):
            if f is not None:
                files[Path(f).name] = f
        if files:
            writer.write_stack_files(files)
        writer.open(temperature=units, power=units)
        for m, tc in zip(models, [m.config for m in models], strict=True):
            if init == "ambient":
                m.set_temperature(float(tc.ambient))
            else:
                m.set_temperature(float(init) + KELVIN)
        powers = [f.copy() for f in fixed]
        temps = [np.zeros(len(m.power_names)) for m in models]
        if logic_filled:
            writer.event(
                0.0, "replay", "LC", logic_power, f"{logic_filled} logic cores at {logic_power} W"
            )
        n = rows.shape[0]
        out_T = np.zeros(len(units))
        for k in range(n):
            if stop is not None and stop.stop_requested:
                raise KeyboardInterrupt
            for si, p in enumerate(powers):
                np.copyto(p, fixed[si])
            row = rows[k]
            for si in range(len(models)):
                sel = col_stack == si
                powers[si][col_index[sel]] = row[sel]
            for si, m in enumerate(models):
                m.advance(powers[si], interval)
                temps[si] = m.power_block_temperatures()
            for j, (si, pi) in enumerate(cols):
                out_T[j] = temps[si][pi]
            writer.append((k + 1) * interval, temperature=out_T - KELVIN, power=row)
            if progress is not None and ((k + 1) % 50 == 0 or k + 1 == n):
                progress(k + 1, n, (k + 1) * interval)
        writer.close("complete", wall_time_s=time.perf_counter() - t_start)
    except KeyboardInterrupt:
        writer.close("interrupted", error="interrupted")
        raise
    except BaseException as err:
        writer.close("failed", error=f"{type(err).__name__}: {err}")
        raise
    return Run(writer.path)
