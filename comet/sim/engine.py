"""The runs built on comet's one epoch loop (:mod:`comet.sim.loop`): the closed loop
(:class:`Simulation`, ``comet run``) and the open loop (:func:`replay`, ``comet replay``).

:class:`Simulation` builds everything a closed-loop run needs from its config -- the stacks,
the thermal stepper, the unit index, the performance and core power models, the bank state,
the job queue, the actuators and the policies -- and runs the loop with the
:class:`~comet.sim.closed_loop.ClosedLoop` as its power source. The performance model, the
core power model and the thermal stepper are chosen in the run config (``[perf] model``,
``[power] core``, ``[thermal] backend``) from their registries; the loop only sees their
protocols.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from comet.config import RunConfig, config_from_dict, load_config
from comet.errors import InputError
from comet.floorplan.model import Stack
from comet.perf.distribution import AccessDistribution
from comet.perf.protocol import PerfSystem
from comet.perf.registry import PERF_MODELS
from comet.perf.workloads import build_jobs, load_profiles
from comet.policies.base import PolicyError, PolicyProtocol, SystemInfo
from comet.policies.registry import create_policy
from comet.power.leakage import resolve_leakage
from comet.power.protocol import PowerSystem
from comet.power.registry import CORE_POWER_MODELS
from comet.power.vf import OperatingPoints
from comet.sim.actuators import Actuators
from comet.sim.closed_loop import ClosedLoop, PolicySlot
from comet.sim.dram_state import DramState
from comet.sim.influence import influence_matrix
from comet.sim.jobs import JobQueue
from comet.sim.loop import EpochLoop, Recorder, Recorders
from comet.sim.power_assembly import PowerAssembly
from comet.sim.recorders import MemoryRecorder, write_run_static
from comet.sim.results import Run, RunLayer, RunWriter, layers_from_stack
from comet.sim.units import UnitIndex
from comet.thermal.stepper import THERMAL_BACKENDS, ThermalStepper, ThermalSystem

__all__ = ["EpochLoop", "Simulation", "replay"]

KELVIN = 273.15
ProgressCallback = Callable[[int, int, float], None]


# ==============================================================================================
# the closed loop


class Simulation:
    """A closed-loop simulation of one run config.

    Args:
        config: a :class:`~comet.config.RunConfig`, a dict, or the path of a TOML run config.
        overrides: ``key=value`` strings applied over the config (``--set``).
        policies: extra policies (objects with ``step``, or registry names / file specs) run
            after the configured ones.

    >>> run = Simulation("examples/3d.toml").run("runs/demo")   # doctest: +SKIP
    >>> run.temperature.max()                                    # doctest: +SKIP
    >>> mem = Simulation("examples/3d.toml").run(in_memory=True) # doctest: +SKIP
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
        self._caller_summary: dict[str, Any] = {}  # run(summary_extra=...)
        self._built = False
        self.writer: RunWriter | None = None
        self.path: Path | None = None
        #: Set (e.g. by a signal handler) to stop the run cleanly before the next epoch.
        self.stop_requested = False
        self._influence: np.ndarray | None = None
        self.loop: EpochLoop | None = None
        #: what the initial state came from (one line per part), after :meth:`run` starts
        self.init_info: list[str] = []
        #: the recorders' clock at the first recorded epoch's start (s)
        self.record_start = 0.0
        self._resume_dir: Path | None = None
        self._shared_models: list[Any] | None = None
        self._n_warm = 0
        self._k_start = 0

    # ==========================================================================================
    # construction

    def build(self, run_dir: Path | None = None) -> None:
        """Generate the stacks, build the back ends, units, workload and policies (idempotent)."""
        if self._built:
            return
        cfg = self.config
        self._check_init()
        self.dt = float(cfg.sim.epoch)
        self.n_epochs = max(1, round(cfg.sim.duration / self.dt))
        self.rng = np.random.default_rng(cfg.seed)
        self._build_thermal(run_dir)
        self.units = UnitIndex.from_stacks(
            self.stacks,
            [
                self.stepper.power_names[self.stepper.offsets[s] : self.stepper.offsets[s + 1]]
                for s in range(len(self.stacks))
            ],
        )
        self.n_cores = self.units.n_cores
        self.n_banks = self.units.n_banks
        self.n_logic = self.units.n_logic
        # only cores, banks and logic cores ever carry power (fillers and spacers never): a
        # reduced thermal basis needs the responses to those alone
        set_powered = getattr(self.stepper, "set_powered", None)
        if callable(set_powered):
            set_powered(self.units.trace_idx)
        self._build_loop(run_dir)
        self._built = True

    def _build_thermal(self, run_dir: Path | None) -> None:
        from comet.floorplan.generate import generate, thermal_config
        from comet.thermal.hotspot_config import ThermalConfig

        cfg = self.config
        where = cfg.source
        try:
            self.stacks = generate(cfg.architecture.kind, **cfg.architecture.generate_params())
        except InputError as err:
            raise InputError(
                f"architecture.{err.message}", path=err.path if err.path else where, hint=err.hint
            ) from None
        self.kind = cfg.architecture.kind
        values = cfg.thermal_values()
        self.thermal_configs = [
            thermal_config(stack, ThermalConfig()).with_values(**values) for stack in self.stacks
        ]
        name, params = cfg.thermal_backend()
        try:
            stepper: ThermalStepper = THERMAL_BACKENDS.create(name, params, cfg.base_dir)
            stepper.start(
                ThermalSystem(
                    tuple(self.stacks),
                    tuple(self.thermal_configs),
                    solver=cfg.sim.solver,
                    precision=cfg.sim.precision,
                    work_dir=None if run_dir is None else run_dir / "thermal",
                    models=None if self._shared_models is None else tuple(self._shared_models),
                )
            )
        except InputError as err:
            if err.path is not None or cfg.source is None:
                raise
            raise InputError(err.message, path=cfg.source, line=err.line, hint=err.hint) from None
        self.stepper = stepper
        self.n_power = len(stepper.power_names)

    @property
    def models(self) -> list[Any]:
        """The built-in stepper's thermal models (one per stack); empty for other back ends."""
        return list(getattr(self.stepper, "models", []))

    def _build_loop(self, run_dir: Path | None) -> None:
        cfg = self.config
        base = cfg.base_dir
        cc = cfg.cores
        u = self.units
        self.op = OperatingPoints(
            cc.f_min,
            cc.f_max,
            cc.f_step,
            v0=cc.voltage.v0,
            slope=cc.voltage.slope,
            table=cc.voltage.points if cc.voltage.model == "table" else None,
        )
        self.mem = mem = cfg.memory.resolved(self.kind)
        core_xy, core_layer, bank_xy, bank_layer, bank_group = u.positions()

        def norm(xy: np.ndarray) -> np.ndarray:
            if xy.size == 0:
                return xy
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            span = np.where(hi - lo > 0, hi - lo, 1.0)
            return (xy - lo) / span

        try:
            distribution = AccessDistribution(
                mem.distribution,
                bank_group,
                norm(bank_xy),
                norm(core_xy),
                ways=mem.ways,
                hot_fraction=mem.hot_fraction,
                hot_share=mem.hot_share,
                hot_banks=mem.hot_banks,
                local_share=mem.local_share,
                rng=np.random.default_rng(cfg.seed + 7919),
            )
        except ValueError as err:
            raise InputError(f"memory.distribution: {err}") from None
        ambient = float(self.thermal_configs[0].ambient) - KELVIN
        self.info = SystemInfo(
            core_names=tuple(u.core_names),
            bank_names=tuple(u.bank_names),
            logic_names=tuple(u.logic_names),
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
        # -- back ends
        params = cfg.perf.params()
        if cfg.perf.model == "interval":
            params.setdefault("stall_activity", cc.stall_activity)
        self.perf = PERF_MODELS.create(cfg.perf.model, params, base)
        f0 = float(self.op.snap(cc.f_init or cc.f_max))
        self.perf.start(
            PerfSystem(
                n_cores=u.n_cores,
                n_banks=u.n_banks,
                core_names=tuple(u.core_names),
                bank_names=tuple(u.bank_names),
                epoch_s=self.dt,
                f_levels_hz=self.op.levels.copy(),
                f_init_hz=f0,
                n_epochs=self.n_epochs,
                seed=cfg.seed,
                base_dir=base,
                run_dir=run_dir,
                bank_group=bank_group,
            )
        )
        self.core_power = CORE_POWER_MODELS.create(cfg.power.core, cfg.power.params(), base)
        self.core_power.start(
            PowerSystem(
                n_cores=u.n_cores,
                f_levels_hz=self.op.levels.copy(),
                voltages=self.op.voltages.copy(),
                idle_activity=cc.idle_activity,
                c_eff_f=cc.c_eff,
            )
        )
        # -- workload, state, policies
        profiles = load_profiles(cfg.workload, base)
        self.queue = JobQueue(build_jobs(cfg.workload, profiles, self.rng), self.event)
        self.dram = DramState(mem, u.n_cores, u.n_banks, distribution)
        self.policies = self._build_policies()
        self.actuators = Actuators(
            u,
            self.op,
            f0,
            cc.dvfs_latency,
            cc.migration_latency,
            self.dram,
            self.perf,
            self.queue,
            self.event,
            len(self.policies),
            self._now,
        )
        self.assembly = PowerAssembly(
            u,
            self.n_power,
            self.dt,
            cc,
            mem,
            resolve_leakage(cc.leakage, "core", base),
            resolve_leakage(mem.leakage, "dram", base),
            resolve_leakage(mem.logic_leakage, "logic", base),
            self.dram,
        )
        self.assembly.volt = self.actuators.volt
        self.closed = ClosedLoop(
            units=u,
            dt=self.dt,
            perf=self.perf,
            core_power=self.core_power,
            assembly=self.assembly,
            dram=self.dram,
            actuators=self.actuators,
            queue=self.queue,
            policies=self.policies,
            info=self.info,
            stop_when_done=cfg.sim.stop_when_done,
            record_cpi=(
                cfg.perf.model != "interval" if cfg.sim.record_cpi is None else cfg.sim.record_cpi
            ),
        )
        self.view = self.closed.view
        self.control = self.closed.control
        self._recorders = Recorders([])

    def _now(self) -> float:
        """The recorders' clock (s): event times."""
        return self._recorders.now

    def _build_policies(self) -> list[PolicySlot]:
        cfg = self.config
        slots: list[PolicySlot] = []
        for knob, spec in cfg.policies.ordered():
            where = f"policies.{knob}"
            try:
                pol = create_policy(spec.name, spec.params, cfg.base_dir)
            except InputError as err:
                raise InputError(f"{where}: {err.message}", path=err.path, hint=err.hint) from None
            slots.append(PolicySlot(spec.name, knob, spec.epochs(self.dt), pol))
        for extra in self._extra_policies:
            if isinstance(extra, str):
                pol = create_policy(extra, {}, Path.cwd())
                name = extra
            else:
                pol, name = extra, getattr(extra, "name", "") or type(extra).__name__
            slots.append(PolicySlot(name, "plugins", 1, pol))
        return slots

    def influence_matrix(self) -> np.ndarray:
        """Steady-state temperature rise (K per W) of every core for 1 W in each unit:
        ``(cores, cores + banks + logic)``, columns in the order cores, banks, logic.
        Computed once and cached (:func:`comet.sim.influence.influence_matrix`)."""
        if self._influence is None:
            self._influence = influence_matrix(self.stepper, self.units)
        return self._influence

    def event(self, kind: str, target: str = "", value: Any = "", detail: str = "") -> None:
        """Record an event at the loop's current time (in every recorder)."""
        self._recorders.event(kind, target, value, detail)

    # ==========================================================================================
    # running

    def _init_temperatures(self) -> None:
        """Set the initial thermal state from ``sim.init`` (see :class:`comet.config.SimConfig`)
        and fill :attr:`init_info` (what it came from) and :attr:`record_start`."""
        from comet.config import InitConfig

        init = self.config.sim.init
        st = self.stepper
        ambient = [float(tc.ambient) for tc in self.thermal_configs]
        self.record_start = 0.0
        if isinstance(init, InitConfig):
            st.set_uniform(ambient)
            if init.file is not None:
                path = self._init_path(init.file if isinstance(init.file, str) else "")
                if isinstance(init.file, str) and path.is_dir():
                    self._init_from_run(path)
                else:
                    files = [init.file] if isinstance(init.file, str) else list(init.file)
                    paths = [self._init_path(f) for f in files]
                    for f in paths:
                        if not f.is_file():
                            raise InputError(f"sim.init: init file {str(f)!r} not found")
                    from comet.sim.state import apply_node_dumps

                    self.init_info = apply_node_dumps(
                        st, paths, [stack.name for stack in self.stacks]
                    )
            elif init.run is not None:
                self._init_from_run(self._init_path(init.run))
            else:
                assert init.steady is not None
                self._init_steady(init.steady, init.estimate)
        elif init == "ambient":
            st.set_uniform(ambient)
            self.init_info = ["ambient"]
        elif init == "steady":
            st.set_uniform(ambient)
            self._init_steady("idle", 0.0)
        else:
            st.set_uniform(float(init) + KELVIN)
            self.init_info = [f"every node at {float(init):g} C"]
        self.closed.after_thermal(np.asarray(st.block_temperatures(), dtype=float), 0.0)

    def _check_init(self) -> None:
        """The files ``sim.init`` names exist (before any work starts)."""
        from comet.config import InitConfig
        from comet.sim.state import STATE_FILE

        init = self.config.sim.init
        if not isinstance(init, InitConfig) or init.steady is not None:
            return
        if init.run is not None or (
            isinstance(init.file, str) and self._init_path(init.file).is_dir()
        ):
            d = self._init_path(init.run if init.run is not None else str(init.file))
            if not d.is_dir():
                raise InputError(f"sim.init: run directory {str(d)!r} not found")
            if not (d / STATE_FILE).is_file():
                raise InputError(
                    f"sim.init: {str(d)!r} holds no {STATE_FILE} (not a finished comet run?)"
                )
            return
        files = [init.file] if isinstance(init.file, str) else list(init.file or [])
        for f in files:
            if not self._init_path(f).is_file():
                raise InputError(f"sim.init: init file {str(self._init_path(f))!r} not found")

    def _init_path(self, text: str) -> Path:
        p = Path(text).expanduser()
        return p if p.is_absolute() else self.config.base_dir / p

    def _init_from_run(self, run_dir: Path) -> None:
        from comet.sim.state import apply_thermal_state, load_state

        state = load_state(run_dir)
        self.init_info = [apply_thermal_state(self.stepper, state, str(run_dir))]
        self.record_start = float(state["time_s"])

    def _init_steady(self, what: str, estimate: float) -> None:
        """Steady state of a constant power: the idle chip, the workload's average dynamic
        power (an unrecorded pre-run of ``estimate`` s) or a given dynamic power per core;
        leakage at the steady temperatures, iterated 5 times."""
        from comet.perf.protocol import EpochCounters

        st = self.stepper
        a = self.assembly
        if what == "workload":
            dyn, reads, writes = self._estimate_workload(estimate)
            a.core_dyn[:] = dyn
            a.bank_reads[:] = reads
            a.bank_writes[:] = writes
            label = (
                f"steady state of the workload's average power ({estimate * 1e3:g} ms pre-run: "
                f"{dyn.mean():.3g} W dynamic per core, {reads.sum() + writes.sum():.4g} "
                "DRAM accesses per epoch)"
            )
        elif what == "idle":
            # the idle chip: no instructions, idle activity
            idle = EpochCounters.zeros(self.n_cores, self.n_banks)
            self.core_power.dynamic(
                idle, self.actuators.freq, self.actuators.volt, self.dt, a.core_dyn
            )
            label = "steady state of the idle chip"
        else:
            watts = float(what.removesuffix("W"))
            a.core_dyn[:] = watts
            a.bank_reads[:] = 0.0
            a.bank_writes[:] = 0.0
            label = f"steady state of {watts:g} W dynamic per core, banks idle"
        T = np.array(st.block_temperatures(), dtype=float)
        for _ in range(5):
            st.set_steady(a.assemble(T))
            T = np.array(st.block_temperatures(), dtype=float)
        if what != "idle":  # the first epoch computes its own dynamic power and accesses
            a.core_dyn[:] = 0.0
            a.bank_reads[:] = 0.0
            a.bank_writes[:] = 0.0
        self.init_info = [f"{label}; leakage iterated 5 times; peak {T.max() - KELVIN:.2f} C"]

    def _estimate_workload(self, estimate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Average per-core dynamic power (W) and per-bank reads / writes per epoch of an
        in-memory pre-run of the same config (``estimate`` s, from the idle steady state,
        sharing this simulation's thermal networks)."""
        data = self.config.to_dict()
        data["sim"] = {
            **data["sim"],
            "init": "steady",
            "warmup": 0.0,
            "duration": max(estimate, self.dt),
            "snapshot_every": None,
        }
        data["sim"] = {k: v for k, v in data["sim"].items() if v is not None}
        cfg = config_from_dict(data)
        cfg._base_dir = self.config._base_dir
        # policy objects given to this simulation are not shared with the pre-run (their
        # state would carry over); named ones are created afresh
        pre = Simulation(cfg, policies=[p for p in self._extra_policies if isinstance(p, str)])
        if self.models:
            pre._shared_models = self.models
        pre.build()
        acc = _Averager(pre.closed)
        pre._init_temperatures()
        pre._setup_policies()
        loop = EpochLoop(acc, pre.stepper, Recorders([]), dt=pre.dt, n_epochs=pre.n_epochs)
        try:
            loop.run()
        finally:
            pre.perf.close()
            if not self.models:
                pre.stepper.close()
        for m in self.models:  # the shared networks: the pre-run's clock is not this run's
            m.time = 0.0
        return acc.result()

    def _save_state(self, status: str) -> None:
        """Write ``state.npz`` (and ``state.pkl`` when the closed loop pickles) into the run
        directory, at an epoch boundary only."""
        from comet.sim.state import save_closed_state, save_state

        loop = self.loop
        if self.path is None or loop is None or not loop.at_boundary:
            return
        epoch = self._k_start + loop.epochs_done
        time_s = loop.record_start + loop.epochs_done * self.dt
        save_state(
            self.path,
            self.stepper,
            time_s=time_s,
            clock_s=epoch * self.dt,
            epoch=epoch,
            dt=self.dt,
            frequency_hz=self.actuators.freq,
            status=status,
            base_dir=str(self.config.base_dir),
        )
        from comet.sim.state import model_state

        models = self.models
        payload = {
            "closed": self.closed,
            "models": [model_state(m) for m in models],
            "stepper": None if models else self.stepper.save(),
            "epoch": epoch,
            "time_s": time_s,
            "n_warm": self._n_warm,
        }
        fixed = {"sim": self, "units": self.units, "stepper_obj": self.stepper}
        _, why = save_closed_state(self.path, payload, fixed)
        if why:
            self.event("state", "state.pkl", "not saved", why[:200])

    def _checkpoint(self) -> None:
        """``sim.state_every``: the traces flushed to disk, then the state saved, so that the
        files hold at least the rows up to the saved state."""
        if self.writer is not None:
            self.writer.flush()
        self._save_state("running")

    def resume(self, run_dir: str | os.PathLike[str]) -> None:
        """Make :meth:`run` continue the interrupted run ``run_dir`` exactly: its closed-loop
        and thermal state (``state.pkl``), its traces and events copied into the new run
        directory first, so that it ends as one uninterrupted run would."""
        self._resume_dir = Path(run_dir)

    def _restore_resume(self, rec: Recorders) -> int:
        """Restore the saved run (see :meth:`resume`); returns the epochs left to run."""
        from comet.sim.results import Run
        from comet.sim.state import load_closed_state, load_state

        d = self._resume_dir
        assert d is not None
        old = Run(d)
        status = old.stored_summary.get("status")
        if status == "complete":
            raise InputError(
                f"run {str(d)!r} is complete: nothing to resume",
                hint="start a new run from its state with --init-from",
            )
        state = load_state(d)
        fixed = {"sim": self, "units": self.units, "stepper_obj": self.stepper}
        payload = load_closed_state(d, fixed)
        closed: ClosedLoop = payload["closed"]
        if payload["stepper"] is not None:
            self.stepper.restore(payload["stepper"])
        else:
            from comet.sim.state import set_model_state

            for m, ms in zip(self.models, payload["models"], strict=True):
                set_model_state(m, ms)
            self.stepper._refresh()  # type: ignore[attr-defined]
        if not np.allclose(self.stepper.block_temperatures(), state["block_K"], atol=1e-9):
            raise InputError(f"{str(d)!r}: state.pkl and state.npz disagree", path=d)
        # the restored closed loop replaces the one built from the config
        self.closed = closed
        self.perf, self.core_power = closed.perf, closed.core_power
        self.assembly, self.dram, self.actuators = closed.assembly, closed.dram, closed.act
        self.queue, self.policies = closed.queue, closed.policies
        self.view, self.control = closed.view, closed.control
        self.info = closed.view.info
        epoch = int(payload["epoch"])
        self._n_warm = int(payload["n_warm"])
        self._k_start = epoch
        self.record_start = float(payload["time_s"])
        done = epoch - self._n_warm
        # the traces up to the saved state (a run killed after its last checkpoint has more
        # rows: those epochs are simulated again), into the new run directory
        t_end = self.record_start + 1e-9 * self.dt
        temp, power, freq, bmode = (
            df[df.index <= t_end]
            for df in (old.temperature, old.power, old.frequency, old.bank_mode)
        )
        if len(temp) != done:
            raise InputError(
                f"{str(d)!r}: {len(temp)} trace rows, the saved state is after {done} epochs",
                hint="the run directory was changed after the run",
            )
        u = self.units
        for i, t in enumerate(temp.index.to_numpy()):
            rec.append(
                float(t),
                temperature=temp.iloc[i][u.trace_names].to_numpy(),
                power=power.iloc[i][u.trace_names].to_numpy(),
                frequency=freq.iloc[i][u.core_names].to_numpy(),
                bank_mode=bmode.iloc[i][u.bank_names].to_numpy() if self.n_banks else None,
            )
        ev = old.events
        ev = ev[ev.index <= t_end]
        for t, row in zip(ev.index.to_numpy(), ev.itertuples(index=False), strict=True):
            for r in rec.items:
                r.event(float(t), str(row.kind), str(row.target), row.value, str(row.detail))
        grid = old.grid
        if grid is not None:
            for t, g in zip(grid.times_s, grid.temperature_degC, strict=True):
                if t > t_end:
                    break
                for r in rec.items:
                    r.grid(float(t), np.asarray(g, dtype=float), grid.layer_names)
        self.init_info = [
            f"resumed {str(d)!r} after {done} recorded epochs (t = {self.record_start:g} s)"
        ]
        rec.now = self.record_start
        self.event("resume", str(d), done, f"t = {self.record_start:g} s")
        return self.n_epochs - done

    def _setup_policies(self) -> None:
        for slot in self.policies:
            setup = getattr(slot.policy, "setup", None)
            if callable(setup):
                try:
                    setup(self.info)
                except Exception as err:
                    raise PolicyError(slot.name, 0, 0.0, err) from err

    def _warmup(self) -> None:
        """``sim.warmup``: the closed loop runs unrecorded (events dropped); the run's
        energy and instruction counts restart after it."""
        n = round(self.config.sim.warmup / self.dt)
        self._n_warm = n
        self._k_start = n
        if not n:
            return
        recorded = self._recorders
        self._recorders = Recorders([])
        try:
            warm = EpochLoop(
                self.closed,
                self.stepper,
                self._recorders,
                dt=self.dt,
                n_epochs=n,
                leakage_iterations=self.config.sim.leakage_iterations,
                leakage_tolerance=self.config.sim.leakage_tolerance,
                stop=self,
            )
            from comet.thermal.structured import one_blas_thread

            with one_blas_thread():
                warm.run()
        finally:
            self._recorders = recorded
        self.closed.instructions_total = 0.0
        for key in self.closed.energy:
            self.closed.energy[key] = 0.0
        self.init_info.append(f"warm-up of {n * self.dt:g} s unrecorded")
        self.event("init", "", "", self.init_info[-1])

    def _summary_extra(self, wall: float) -> dict[str, Any]:
        return {**self._summary_own(wall), **self._caller_summary}

    def _summary_own(self, wall: float) -> dict[str, Any]:
        loop = self.loop
        done = loop.epochs_done if loop is not None else 0
        return {
            "init": list(self.init_info),
            "warmup_s": self._n_warm * self.dt,
            "start_time_s": self.record_start,
            **self.closed.summary(),
            "epochs_per_s": done / wall if wall > 0 else None,
            "loop_epochs_per_s": loop.epochs_per_s if loop is not None else None,
            "configuration": self.kind,
            "backends": {
                "perf": self.config.perf.model,
                "core_power": self.config.power.core,
                "thermal": self.config.thermal_backend()[0],
            },
        }

    def run(
        self,
        out_dir: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        progress_every: int = 20,
        in_memory: bool = False,
        recorders: Sequence[Recorder] = (),
        summary_extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run the simulation; write the run directory; return its :class:`Run`.

        Args:
            out_dir: run directory (default ``runs/<name>``).
            overwrite: replace an existing run directory.
            progress: ``callback(epoch_done, n_epochs, sim_time_s)`` every ``progress_every``
                epochs and at the end.
            in_memory: write no run directory; return a :class:`~comet.sim.recorders.MemoryRun`.
            recorders: more recorders to attach to the loop.
            summary_extra: more keys for the run's summary, written in the same atomic write
                as the rest (a sweep's run id and parameters).

        Raises:
            PolicyError: a policy raised (the run is closed with status ``failed``, its
                traces kept, the error in ``events.csv`` and ``summary.json``).
            KeyboardInterrupt: re-raised after closing the run with status ``interrupted``.
        """
        cfg = self.config
        self._caller_summary = dict(summary_extra or {})
        writer: RunWriter | None = None
        memory: MemoryRecorder | None = None
        if in_memory:
            self.build()
        else:
            path = Path(out_dir) if out_dir is not None else Path("runs") / cfg.name
            existed = path.exists()
            writer = RunWriter(
                path,
                name=cfg.name,
                overwrite=overwrite,
                flush_every=cfg.sim.flush_every,
                thresholds_degC=cfg.thresholds_degC,
            )
            self.writer, self.path = writer, writer.path
            try:
                self.build(run_dir=writer.path)
            except BaseException as err:
                # bad input found while building: nothing of the run is left behind
                writer.close("failed", error=f"{type(err).__name__}: {err}")
                if not existed:
                    shutil.rmtree(writer.path, ignore_errors=True)
                raise
        u = self.units
        items: list[Recorder] = list(recorders)
        if writer is not None:
            items.insert(0, writer)
        if in_memory:
            memory = MemoryRecorder(cfg.name, cfg.thresholds_degC, u.unit_layer)
            items.insert(0, memory)
        self._recorders = rec = Recorders(items)
        t_start = time.perf_counter()
        snap = max(1, round(cfg.sim.snapshot_every / self.dt)) if cfg.sim.snapshot_every else 0
        try:
            if writer is not None:
                write_run_static(writer, cfg.to_dict(), self.stacks)
            rec.open(
                temperature=u.trace_names,
                power=u.trace_names,
                frequency=u.core_names,
                bank_mode=u.bank_names if self.n_banks else None,
                cpi=self.closed.cpi_columns,
            )
            n_left = self.n_epochs
            if self._resume_dir is not None:
                n_left = self._restore_resume(rec)
                self._prepare_step(n_left)
            else:
                self._init_temperatures()
                rec.now = self.record_start
                for line in self.init_info:
                    self.event("init", "", "", line)
                self._setup_policies()
                self._prepare_step(n_left)
                self._warmup()
            self.loop = EpochLoop(
                self.closed,
                self.stepper,
                rec,
                dt=self.dt,
                n_epochs=n_left,
                leakage_iterations=cfg.sim.leakage_iterations,
                leakage_tolerance=cfg.sim.leakage_tolerance,
                snapshot_every=snap,
                stop=self,
                k_start=self._k_start,
                record_start=self.record_start,
                checkpoint_every=(
                    max(1, round(cfg.sim.state_every / self.dt))
                    if cfg.sim.state_every and writer is not None
                    else 0
                ),
                checkpoint=self._checkpoint,
            )
            self._loop(rec, progress, progress_every)
            wall = time.perf_counter() - t_start
            self._save_state("complete")
            rec.close("complete", **self._summary_extra(wall))
        except PolicyError as err:
            self.event("policy-error", err.policy, err.epoch, str(err.error))
            wall = time.perf_counter() - t_start
            self._save_state("failed")
            rec.close("failed", error=str(err), **self._summary_extra(wall))
            raise
        except KeyboardInterrupt:
            wall = time.perf_counter() - t_start
            self._save_state("interrupted")
            rec.close("interrupted", error="interrupted", **self._summary_extra(wall))
            raise
        except BaseException as err:
            wall = time.perf_counter() - t_start
            rec.close("failed", error=f"{type(err).__name__}: {err}", **self._summary_extra(wall))
            raise
        finally:
            self.perf.close()
            self.stepper.close()
        if memory is not None:
            return memory.result()
        assert writer is not None
        return Run(writer.path)

    def _prepare_step(self, n_epochs: int) -> None:
        """Build the thermal step of the epoch length now, from the initial state: set-up,
        not the first epoch's cost (a reduced-order basis is built here, with every BLAS
        thread); a short run may skip one-off costs a long one repays
        (:meth:`ThermalModel.prepare`)."""
        prepare = getattr(self.stepper, "prepare", None)
        if callable(prepare):
            prepare(self.dt, n_epochs)

    def _loop(self, recorders: Recorders, progress: ProgressCallback | None, every: int) -> None:
        """The epoch loop, with one BLAS thread: the thermal step's many small products run
        faster so, and it need not switch the thread count twice per epoch."""
        from comet.thermal.structured import one_blas_thread

        assert self.loop is not None
        with one_blas_thread():
            self.loop.run(progress, every)


class _Averager:
    """A closed loop as a power source that also sums each epoch's dynamic core power and
    bank accesses (the ``steady = "workload"`` estimate)."""

    def __init__(self, closed: ClosedLoop) -> None:
        self.closed = closed
        a = closed.assembly
        self._dyn = np.zeros_like(a.core_dyn)
        self._reads = np.zeros_like(a.bank_reads)
        self._writes = np.zeros_like(a.bank_writes)
        self.n = 0

    def begin(self, k: int, t0: float) -> None:
        self.closed.begin(k, t0)
        a = self.closed.assembly
        self._dyn += a.core_dyn
        self._reads += a.bank_reads
        self._writes += a.bank_writes
        self.n += 1

    def power(self, T: np.ndarray) -> np.ndarray:
        return self.closed.power(T)

    def after_thermal(self, T: np.ndarray, t1: float) -> None:
        self.closed.after_thermal(T, t1)

    def record(self) -> dict[str, Any]:
        return {}

    def account(self, k: int, t0: float) -> None:
        self.closed.account(k, t0)

    def end(self, k: int) -> bool:
        return self.closed.end(k)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = max(self.n, 1)
        return self._dyn / n, self._reads / n, self._writes / n


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
    backend: str = "builtin",
    backend_params: Mapping[str, Any] | None = None,
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
    ``backend`` names the thermal back end (``builtin`` or ``hotspot``). ``init``:
    ``"ambient"``, a temperature (deg C) or a HotSpot init/steady node file that fits the
    stack (every node; :func:`comet.sim.state.apply_node_dumps`).

    Raises:
        InputError: unreadable trace, a column that is no block of the stack.
    """
    from comet.floorplan.generate import generate, thermal_config
    from comet.sim.trace_source import TraceSource
    from comet.thermal.hotspot_config import ThermalConfig, read_config
    from comet.thermal.solver import ThermalModel
    from comet.thermal.traces import read_ptrace

    names, rows = read_ptrace(trace)
    base = ThermalConfig()
    mats = None
    if materials is not None:
        from comet.thermal.materials import read_materials

        mats = read_materials(materials)
    if hotspot_config is not None:
        base = read_config(hotspot_config, materials=mats)
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
    configs = []
    models: list[ThermalModel] | None = None
    if flp is not None:
        from comet.floorplan.flp import read_flp
        from comet.floorplan.model import Layer

        fp = read_flp(flp).translated()
        cfg = base.with_values(**overrides)
        models = [ThermalModel.from_floorplan(fp, cfg)]
        configs = [cfg]
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
            configs.append(cfg.with_values(**overrides))
    stepper: ThermalStepper = THERMAL_BACKENDS.create(backend, backend_params)
    stepper.start(
        ThermalSystem(
            tuple(stack_list),
            tuple(configs),
            models=None if models is None or backend != "builtin" else tuple(models),
        )
    )
    # column mapping
    lookup: dict[str, int] = {}
    for gi, pn in enumerate(stepper.power_names):
        lookup.setdefault(pn.lower(), gi)
    bad = [n for n in names if n.lower() not in lookup]
    if bad:
        raise InputError(
            f"trace column {bad[0]!r} is not a power block of the stack"
            + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""),
            path=trace,
            line=1,
            hint="give the stack the trace was made for (--kind/--param, --lcf or --flp)",
        )
    cols = np.array([lookup[n.lower()] for n in names], dtype=np.int64)
    fixed = np.zeros(len(stepper.power_names))
    given = set(cols.tolist())
    logic_filled = 0
    for gi, pn in enumerate(stepper.power_names):
        if gi not in given and pn.upper().startswith("LC_"):
            fixed[gi] = logic_power
            logic_filled += 1
    # units in the run: the trace's columns
    units = [stepper.power_names[c] for c in cols]
    writer = RunWriter(out_dir, name=name, overwrite=overwrite, flush_every=200)
    multi = len(stack_list) > 1
    t_start = time.perf_counter()
    rec = Recorders([writer])
    try:
        writer.write_config(
            {
                "name": writer.name,
                "source": "replay",
                "trace": str(Path(trace).resolve()),
                "interval_s": interval,
                "kind": kind or "",
                "params": {k: str(v) for k, v in (params or {}).items()},
                "thermal_backend": backend,
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
        rec.open(temperature=units, power=units)
        if isinstance(init, str) and init != "ambient":  # a HotSpot init/steady node file
            from comet.sim.state import apply_node_dumps

            stepper.set_uniform([float(tc.ambient) for tc in configs])
            for line in apply_node_dumps(stepper, [init], [s.name for s in stack_list]):
                writer.event(0.0, "init", "", "", line)
        elif init == "ambient":
            stepper.set_uniform([float(tc.ambient) for tc in configs])
        else:
            stepper.set_uniform(float(init) + KELVIN)
        if logic_filled:
            writer.event(
                0.0, "replay", "LC", logic_power, f"{logic_filled} logic cores at {logic_power} W"
            )
        source = TraceSource(rows, cols, fixed, celsius=True)
        loop = EpochLoop(source, stepper, rec, dt=interval, n_epochs=rows.shape[0], stop=stop)
        loop.run(progress, 50)
        rec.close("complete", wall_time_s=time.perf_counter() - t_start)
    except KeyboardInterrupt:
        rec.close("interrupted", error="interrupted")
        raise
    except BaseException as err:
        rec.close("failed", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        stepper.close()
    return Run(writer.path)
