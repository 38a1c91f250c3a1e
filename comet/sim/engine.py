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
        self._built = False
        self.writer: RunWriter | None = None
        self.path: Path | None = None
        #: Set (e.g. by a signal handler) to stop the run cleanly before the next epoch.
        self.stop_requested = False
        self._influence: np.ndarray | None = None
        self.loop: EpochLoop | None = None

    # ==========================================================================================
    # construction

    def build(self, run_dir: Path | None = None) -> None:
        """Generate the stacks, build the back ends, units, workload and policies (idempotent)."""
        if self._built:
            return
        cfg = self.config
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
            lambda: self._recorders.now,
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
        )
        self.view = self.closed.view
        self.control = self.closed.control
        self._recorders = Recorders([])

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
        init = self.config.sim.init
        st = self.stepper
        if init == "ambient" or init == "steady":
            st.set_uniform([float(tc.ambient) for tc in self.thermal_configs])
        else:
            st.set_uniform(float(init) + KELVIN)
        if init == "steady":
            # the idle chip: no instructions, idle activity, leakage iterated 5 times
            from comet.perf.protocol import EpochCounters

            idle = EpochCounters.zeros(self.n_cores, self.n_banks)
            a = self.assembly
            self.core_power.dynamic(
                idle, self.actuators.freq, self.actuators.volt, self.dt, a.core_dyn
            )
            T = np.array(st.block_temperatures(), dtype=float)
            for _ in range(5):
                st.set_steady(a.assemble(T))
                T = np.array(st.block_temperatures(), dtype=float)
        self.closed.after_thermal(np.asarray(st.block_temperatures(), dtype=float), 0.0)

    def _summary_extra(self, wall: float) -> dict[str, Any]:
        loop = self.loop
        done = loop.epochs_done if loop is not None else 0
        return {
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
    ) -> Any:
        """Run the simulation; write the run directory; return its :class:`Run`.

        Args:
            out_dir: run directory (default ``runs/<name>``).
            overwrite: replace an existing run directory.
            progress: ``callback(epoch_done, n_epochs, sim_time_s)`` every ``progress_every``
                epochs and at the end.
            in_memory: write no run directory; return a :class:`~comet.sim.recorders.MemoryRun`.
            recorders: more recorders to attach to the loop.

        Raises:
            PolicyError: a policy raised (the run is closed with status ``failed``, its
                traces kept, the error in ``events.csv`` and ``summary.json``).
            KeyboardInterrupt: re-raised after closing the run with status ``interrupted``.
        """
        cfg = self.config
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
            )
            self._init_temperatures()
            self.loop = EpochLoop(
                self.closed,
                self.stepper,
                rec,
                dt=self.dt,
                n_epochs=self.n_epochs,
                leakage_iterations=cfg.sim.leakage_iterations,
                leakage_tolerance=cfg.sim.leakage_tolerance,
                snapshot_every=snap,
                stop=self,
            )
            for slot in self.policies:
                setup = getattr(slot.policy, "setup", None)
                if callable(setup):
                    try:
                        setup(self.info)
                    except Exception as err:
                        raise PolicyError(slot.name, 0, 0.0, err) from err
            self._loop(rec, progress, progress_every)
            wall = time.perf_counter() - t_start
            rec.close("complete", **self._summary_extra(wall))
        except PolicyError as err:
            self.event("policy-error", err.policy, err.epoch, str(err.error))
            wall = time.perf_counter() - t_start
            rec.close("failed", error=str(err), **self._summary_extra(wall))
            raise
        except KeyboardInterrupt:
            wall = time.perf_counter() - t_start
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

    def _loop(self, recorders: Recorders, progress: ProgressCallback | None, every: int) -> None:
        """The epoch loop, with one BLAS thread: the thermal step's many small products run
        faster so, and it need not switch the thread count twice per epoch."""
        from comet.thermal.structured import one_blas_thread

        assert self.loop is not None
        with one_blas_thread():
            self.loop.run(progress, every)


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
    ``backend`` names the thermal back end (``builtin`` or ``hotspot``).

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
        if init == "ambient":
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
