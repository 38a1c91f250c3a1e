"""The run configuration of a closed-loop simulation: pydantic models, TOML loading, overrides.

A run config is a TOML file::

    name = "3d-demo"
    seed = 1

    [sim]
    duration = "200ms"          # durations take units: s, ms, us, ns (a bare number is s)
    epoch = "1ms"

    [architecture]              # any parameter of comet.floorplan.generate()
    kind = "3d"
    cores = "4x4"
    grid = "32x32"              # thermal grid (grid_rows x grid_cols)

    [cores]
    f_max = "4GHz"              # frequencies: GHz, MHz, Hz (a bare number is Hz)

    [workload]
    [[workload.jobs]]
    profile = "compute"
    threads = 4

    [policies]
    dvfs = "ondemand"           # or {name = "ondemand", every = 1, up_threshold = 0.7}
    dram = "lowpower"
    plugins = ["examples/plugins/my_policy.py:HotspotCapper"]

Quantities are strings with units (``"20.55nJ"``, ``"600ns"``, ``"0.272W"``, ``"85C"``) or bare
numbers in SI base units (J, s, W, Hz, F), except temperatures whose bare numbers are deg C.
:func:`load_config` reads a file, applies ``--set`` overrides (:func:`apply_overrides`) and
validates; every problem is an :class:`~comet.errors.InputError` of the form
``file: key: what is wrong (hint)``.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from comet.errors import InputError

__all__ = [
    "MEMORY_DEFAULTS",
    "RunConfig",
    "apply_overrides",
    "config_from_dict",
    "load_config",
    "parse_duration",
    "parse_quantity",
]

# --------------------------------------------------------------------------------------------
# quantities with units

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>[a-zA-Zµμ°]*)\s*$")

#: dimension -> {unit: factor to SI}
UNITS: dict[str, dict[str, float]] = {
    "time": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9, "min": 60.0},
    "frequency": {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9},
    "energy": {"j": 1.0, "mj": 1e-3, "uj": 1e-6, "µj": 1e-6, "nj": 1e-9, "pj": 1e-12},
    "power": {"w": 1.0, "mw": 1e-3, "uw": 1e-6, "kw": 1e3},
    "capacitance": {"f": 1.0, "uf": 1e-6, "nf": 1e-9, "pf": 1e-12},
    "voltage": {"v": 1.0, "mv": 1e-3},
}
_CASE_SENSITIVE = {"time"}


def parse_quantity(value: Any, dimension: str) -> float:
    """A value in SI units from ``"600ns"``, ``"4 GHz"``, ``"20.55nJ"`` or a bare number (SI).

    Temperatures (``dimension="temperature"``) are returned in deg C: ``"85C"``, ``"358.15K"``
    or a bare number (deg C).

    Raises:
        ValueError: not a number with a unit of that dimension.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a {dimension}")
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        m = _QUANTITY_RE.match(value)
        if m is None:
            raise ValueError(f"{value!r} is not a {dimension} ({_examples(dimension)})")
        num, unit = float(m["num"]), m["unit"]
        if dimension == "temperature":
            u = unit.lstrip("°").lower()
            if u in ("", "c", "degc"):
                out = num
            elif u == "k":
                out = num - 273.15
            else:
                raise ValueError(f"{value!r}: unknown temperature unit {unit!r} (use C or K)")
        else:
            table = UNITS[dimension]
            key = unit if dimension in _CASE_SENSITIVE else unit.lower()
            if key == "":
                out = num
            elif key in table:
                out = num * table[key]
            else:
                raise ValueError(
                    f"{value!r}: unknown {dimension} unit {unit!r} (use {', '.join(table)})"
                )
    else:
        raise ValueError(f"{value!r} is not a {dimension} ({_examples(dimension)})")
    if not math.isfinite(out):
        raise ValueError(f"{value!r} is not finite")
    return out


def _examples(dimension: str) -> str:
    return {
        "time": "examples: 5s, 1ms, 600ns",
        "frequency": "examples: 4GHz, 3600MHz",
        "energy": "examples: 20.55nJ, 1e-9",
        "power": "examples: 0.272W, 50mW",
        "capacitance": "examples: 1nF, 1e-9",
        "voltage": "examples: 0.8V",
        "temperature": "examples: 85C, 358.15K, 80",
    }.get(dimension, "")


def parse_duration(value: Any) -> float:
    """A duration in s from ``"5s"``, ``"1ms"``, ``"10us"``, ``"100ns"`` or a bare number (s)."""
    return parse_quantity(value, "time")


def _nonneg(dimension: str) -> Any:
    def check(value: Any) -> float:
        out = parse_quantity(value, dimension)
        if out < 0:
            raise ValueError(f"must not be negative, got {value!r}")
        return out

    return BeforeValidator(check)


def _positive(dimension: str) -> Any:
    def check(value: Any) -> float:
        out = parse_quantity(value, dimension)
        if out <= 0:
            raise ValueError(f"must be positive, got {value!r}")
        return out

    return BeforeValidator(check)


Duration = Annotated[float, _positive("time")]
NonNegDuration = Annotated[float, _nonneg("time")]
Frequency = Annotated[float, _positive("frequency")]
Energy = Annotated[float, _nonneg("energy")]
PowerW = Annotated[float, _nonneg("power")]
Capacitance = Annotated[float, _nonneg("capacitance")]
Voltage = Annotated[float, _positive("voltage")]
Celsius = Annotated[float, BeforeValidator(lambda v: parse_quantity(v, "temperature"))]

#: Highest temperature a config may name (deg C): silicon melts at 1414 C (1687 K).
MAX_DEGC = 1414.0


def _temperature(value: Any) -> float:
    """A temperature (deg C) above absolute zero and below :data:`MAX_DEGC`."""
    out = parse_quantity(value, "temperature")
    if not -273.15 < out <= MAX_DEGC:
        raise ValueError(
            f"{value!r} is {out:g} C, outside -273.15 C (0 K) .. {MAX_DEGC:g} C (silicon melts)"
        )
    return out


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]

# --------------------------------------------------------------------------------------------
# per-configuration memory defaults

#: DRAM defaults per configuration, from CoMeT's ``config/gainestown_{DDR,3Dmem,2_5D,3D}.cfg``
#: (marg-tools/CoMeT at commit 5a9d040): ``perf_model/dram/latency`` (ns) and
#: ``memory/energy_per_{read,write,refresh}_access`` (nJ), ``memory/logic_core_power`` (W).
# Sources (comet.sources, the README's table): CoMeT's config/gainestown_<DDR|3Dmem|2_5D|3D>.cfg
# (marg-tools/CoMeT@5a9d040): latency line 40; energy_per_read/write/refresh_access lines
# 67-69 (the stacked ones from CACTI-3DD, line 66; DDR's 30/30/5 nJ without a derivation).
MEMORY_DEFAULTS: dict[str, dict[str, float]] = {
    "ddr": {"latency": 45e-9, "e_read": 30e-9, "e_write": 30e-9, "e_refresh": 5e-9},
    "3dmem": {"latency": 29e-9, "e_read": 20.55e-9, "e_write": 20.55e-9, "e_refresh": 3.55e-9},
    "2.5d": {"latency": 20e-9, "e_read": 20.55e-9, "e_write": 20.55e-9, "e_refresh": 3.55e-9},
    "3d": {"latency": 15e-9, "e_read": 20.55e-9, "e_write": 20.55e-9, "e_refresh": 3.55e-9},
    # chiplets: DRAM stacks on an interposer beside the cores, as in 2.5d (CoMeT's 2_5D values)
    "chiplets": {"latency": 20e-9, "e_read": 20.55e-9, "e_write": 20.55e-9, "e_refresh": 3.55e-9},
}

# --------------------------------------------------------------------------------------------
# sections


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class InitConfig(_Section):
    """``sim.init`` as a table: where the run's thermal state comes from (one of these).

    Attributes:
        file: a HotSpot init/steady node file (``-init_file``, ``-steady_file``,
            ``-all_transient_file``; HotSpot's node names, K), or a list of files for the
            stacks of a multi-package configuration (``ddr``, ``3dmem``); each file must fit
            one stack exactly (every node, no others). A plain string ``init = "path"`` is
            read as ``file``, or as ``run`` when the path is a directory.
        run: a previous run directory: its saved final state (``state.npz``) -- every node of
            every stack, and the time, which the traces continue from.
        steady: ``"idle"`` (the idle chip, as ``init = "steady"``), ``"workload"`` (the steady
            state of the workload's average dynamic power, estimated by an unrecorded pre-run
            of ``estimate`` seconds of the same config started from the idle steady state), or
            a power per core (``"3W"``: each core's dynamic power, banks idle). Leakage is
            evaluated at the steady temperatures (5 fixed-point iterations).
        estimate: length of the ``steady = "workload"`` pre-run (s); comet's choice of 20 ms:
            20 epochs average the interval model's per-epoch noise while costing little.
    """

    file: str | list[str] | None = None
    run: str | None = None
    steady: str | None = None
    estimate: Duration = 0.02

    @field_validator("steady")
    @classmethod
    def _steady(cls, v: Any) -> Any:
        if v is None:
            return v
        text = str(v).strip().lower()
        if text in ("idle", "workload"):
            return text
        try:
            watts = parse_quantity(v, "power")
        except ValueError:
            raise ValueError(
                f"{v!r}: give 'idle', 'workload' or a power per core such as '3W'"
            ) from None
        if not watts >= 0:
            raise ValueError(f"{v!r}: the power per core must be >= 0")
        return f"{watts!r}W"

    @model_validator(mode="after")
    def _one(self) -> InitConfig:
        given = [k for k in ("file", "run", "steady") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of file, run, steady"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


def _init_value(v: Any) -> Any:
    """``sim.init``: ambient | steady | deg C | a path (file or run directory) | a table."""
    if isinstance(v, str):
        text = v.strip()
        if text.lower() in ("ambient", "steady"):
            return text.lower()
        if not text or _QUANTITY_RE.match(text):  # a number (with a unit): a temperature
            return _temperature(text)
        if not any(c in text for c in "./\\"):
            raise ValueError(
                f"{text!r}: give 'ambient', 'steady', a temperature, a path (an init file or "
                "a run directory, e.g. './run') or a table such as {steady = 'workload'}"
            )
        v = {"file": text}
    if isinstance(v, int | float) and not isinstance(v, bool):
        return _temperature(v)
    if isinstance(v, Mapping):
        try:
            return InitConfig.model_validate(dict(v))
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first.get("loc", ()))
            msg = str(first.get("msg", "")).removeprefix("Value error, ")
            raise ValueError(f"{key}: {msg}" if key else msg) from None
    return v


class SimConfig(_Section):
    """``[sim]``: time and numerics.

    Attributes:
        duration: simulated time (s); the run may stop earlier with ``stop_when_done``.
        epoch: epoch length (s), CoMeT's ``hotspot/sampling_interval`` (1 ms).
        init: initial temperature: ``ambient`` (every node at the package's ambient, like a
            cold start), ``steady`` (steady state of the idle chip), a temperature (deg C), a
            HotSpot init file or a run directory (a path), or a table (:class:`InitConfig`:
            ``{file = ...}``, ``{run = ...}``, ``{steady = "workload"}``, ``{steady = "3W"}``).
        warmup: simulated before the recorded part (s): the closed loop runs (workload,
            policies), the recorders see nothing; the traces' time starts at 0 after it.
        state_every: also save the run's state (``state.npz``, ``state.pkl``) at this
            interval (s), so that a run killed hard can be resumed from the last one; None =
            at the end only (complete, interrupted or failed).
        leakage_iterations: 0 = leakage from the previous epoch's temperatures (explicit, as
            CoMeT); n > 0 = iterate the epoch up to n times towards a fixed point.
        leakage_tolerance: fixed-point tolerance (K).
        stop_when_done: stop when every job has finished and no more will arrive.
        snapshot_every: grid snapshots (grid.npz) at this interval (s); None = none.
        flush_every: epochs buffered before the CSV traces are appended.
        solver: thermal back end (``auto``, ``dense``, ``sparse``, ``structured``, ``reduced``).
        record_cpi: write ``cpi.csv`` (the CPI stack as time per component and core, every
            epoch); default: when the performance model is not the built-in ``interval``.
        precision: transient steps of the structured back end: ``mixed`` (default: the large
            per-mode matrices stored in float32, arithmetic in float64; within 5e-5 K of
            ``double``, and about twice as fast in the epoch loop) or ``double``.
    """

    duration: Duration = 0.1
    epoch: Duration = 1e-3
    init: Literal["ambient", "steady"] | float | InitConfig = "ambient"
    warmup: NonNegDuration = 0.0
    state_every: Duration | None = None
    leakage_iterations: int = Field(default=0, ge=0, le=50)
    leakage_tolerance: float = Field(default=0.01, gt=0)
    stop_when_done: bool = False
    snapshot_every: Duration | None = None
    flush_every: int = Field(default=50, ge=1)
    solver: Literal["auto", "dense", "sparse", "structured", "reduced"] = "auto"
    record_cpi: bool | None = None
    precision: Literal["mixed", "double"] = "mixed"

    @field_validator("init", mode="before")
    @classmethod
    def _init(cls, v: Any) -> Any:
        return _init_value(v)

    @model_validator(mode="after")
    def _epochs(self) -> SimConfig:
        from comet.limits import EPOCHS

        if self.epoch > self.duration:
            raise ValueError(
                f"epoch: {self.epoch:g} s is longer than sim.duration {self.duration:g} s"
            )
        try:
            EPOCHS.check(self.duration / self.epoch, "duration / epoch")
        except InputError as err:
            raise ValueError(f"epoch: {err}") from None
        return self


class ArchitectureConfig(BaseModel):
    """``[architecture]``: the configuration and any :func:`comet.floorplan.generate` parameter.

    ``kind`` is ``ddr``, ``3dmem``, ``2.5d``, ``3d`` or ``chiplets`` (CoMeT's spellings
    accepted); ``grid``
    (``"32x32"``) sets ``grid_rows`` and ``grid_cols``. Other keys are checked by the
    generator.
    """

    model_config = ConfigDict(extra="allow")

    kind: str = "3d"
    grid: str | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        from comet.floorplan.params import canonical_kind

        try:
            return canonical_kind(v)
        except InputError as err:
            raise ValueError(err.message.removeprefix("kind: ") + f" ({err.hint})") from None

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from comet.limits import GRID_CELLS

        parts = str(v).lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) >= 1 for p in parts):
            raise ValueError(f"{v!r} is not ROWSxCOLS (example: 32x32)")
        try:
            GRID_CELLS.check(int(parts[0]) * int(parts[1]), f"grid {v}")
        except InputError as err:
            raise ValueError(str(err)) from None
        return v

    @model_validator(mode="after")
    def _grid_keys(self) -> ArchitectureConfig:
        from comet.limits import GRID_CELLS

        extra = self.model_extra or {}
        dims = [extra.get("grid_rows", 1), extra.get("grid_cols", 1)]
        if all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            try:
                GRID_CELLS.check(dims[0] * dims[1], "grid_rows x grid_cols")
            except InputError as err:
                raise ValueError(str(err)) from None
        return self

    def generate_params(self) -> dict[str, Any]:
        """Keywords of :func:`comet.floorplan.generate` (``grid`` split into rows and cols)."""
        params = dict(self.model_extra or {})
        if self.grid is not None:
            rows, cols = (int(p) for p in self.grid.lower().split("x"))
            params["grid_rows"], params["grid_cols"] = rows, cols
        return params


class VoltageConfig(_Section):
    """``[cores.voltage]``: V(f). ``linear``: V = v0 + slope * f / f_max (CoMeT's
    ``build_dvfs_table`` for 22 nm: 0.6 + 0.8 f/f_max); ``table``: piecewise-linear
    interpolation of ``points = [[GHz, V], ...]``."""

    model: Literal["linear", "table"] = "linear"
    v0: float = Field(default=0.6, ge=0.0, le=10.0)
    slope: float = Field(default=0.8, ge=0.0, le=10.0)
    points: list[tuple[float, float]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _table(self) -> VoltageConfig:
        if self.model == "table":
            if len(self.points) < 2:
                raise ValueError("points: a table needs at least two [GHz, V] points")
            fs = [p[0] for p in self.points]
            if any(b <= a for a, b in zip(fs, fs[1:], strict=False)):
                raise ValueError("points: frequencies must increase")
            if any(v <= 0 for _, v in self.points):
                raise ValueError("points: voltages must be positive")
        return self


class CoresConfig(_Section):
    """``[cores]``: operating points, dynamic power and leakage of the cores.

    Attributes:
        f_min, f_max, f_step: frequency range and step (Hz); CoMeT's base.cfg: 1-4 GHz, 0.1 GHz.
        f_init: initial frequency (Hz), default f_max.
        voltage: V(f), see :class:`VoltageConfig`.
        c_eff: effective switched capacitance (F): P_dyn = c_eff V^2 f activity.
        stall_activity: activity of a core stalled on memory, relative to computing.
        idle_activity: activity of a core without a thread (clock tree etc.).
        leakage: ``comet`` (CoMeT's logistic fit, scaled by V/1.2), ``hotspot`` (HotSpot's
            exponential), ``none``, or ``module:function`` / ``path.py:function`` with
            signature ``f(T_K: ndarray, V: ndarray, area_m2: ndarray) -> W``.
        leakage_scale: factor on the leakage curve.
        dvfs_latency: time a core stalls when its frequency changes (s); CoMeT: 0.
        migration_latency: time a migrated thread loses (s).
    """

    # sources: comet.sources / README 'Defaults and their sources'; CoMeT config/base.cfg:61-63
    f_min: Annotated[Frequency, Field(le=1e12)] = 1.0e9
    f_max: Annotated[Frequency, Field(le=1e12)] = 4.0e9
    f_step: Frequency = 0.1e9
    f_init: Frequency | None = None
    # CoMeT scripts/energystats.py:23 (22 nm DVFS table)
    voltage: VoltageConfig = Field(default_factory=VoltageConfig)
    # calibrated against Sniper 8.1 + McPAT 1.3 (McPAT's per-core dynamic power of four
    # programs, and of a core without a thread, on CoMeT's 2x2 gainestown at 3.6 GHz; see
    # benchmarks/results/calibration.csv and comet.sources)
    c_eff: Annotated[Capacitance, Field(le=1e-6)] = 0.62e-9
    stall_activity: Fraction = 0.23
    idle_activity: Fraction = 0.19
    # CoMeT temperature.c:686 x Vdd/1.2; dvfs_latency: CoMeT base.cfg:315
    leakage: str = "comet"
    leakage_scale: float = Field(default=1.0, ge=0, le=1e3)
    dvfs_latency: NonNegDuration = 0.0
    migration_latency: NonNegDuration = 0.0

    @model_validator(mode="after")
    def _range(self) -> CoresConfig:
        if self.f_min > self.f_max:
            raise ValueError(f"f_min: {self.f_min:g} Hz is above f_max {self.f_max:g} Hz")
        if self.f_init is not None and not self.f_min <= self.f_init <= self.f_max:
            raise ValueError("f_init: must lie between f_min and f_max")
        from comet.limits import OPERATING_POINTS

        try:
            OPERATING_POINTS.check(
                (self.f_max - self.f_min) / self.f_step + 1, "(f_max - f_min) / f_step + 1"
            )
        except InputError as err:
            raise ValueError(f"f_step: {err}") from None
        return self


class MemoryConfig(_Section):
    """``[memory]``: DRAM timing, energy and access distribution. ``None`` = the
    configuration's default (:data:`MEMORY_DEFAULTS`, CoMeT's).

    Attributes:
        latency: access latency in normal mode (s).
        latency_lowpower: access latency of a bank in low-power mode (s); CoMeT: 600 ns.
        e_read, e_write, e_refresh: energy per read / write access and per refreshed row (J).
        t_refi: refresh interval (s), 7.8 us (JEDEC, CoMeT).
        rows_per_refresh: rows per refresh command (CoMeT: 64 Mb banks / 8 K commands = 1).
        t_rfc: time a bank is blocked by one refresh (s); costs bandwidth and latency.
        refresh_double_above: temperature above which the refresh rate doubles (deg C, JEDEC
            extended range 85 C).
        background: constant background power per bank (W); CoMeT: 0.
        leakage: ``comet`` (CoMeT's logistic DRAM fit), ``none``, or a function spec.
        lowpower_dynamic, lowpower_leakage: scale of dynamic energy and leakage in low-power
            mode (CoMeT's base.cfg: 0.1 and 0.01).
        logic_power: constant power per logic core of 3dmem / 2.5d (W); CoMeT: 0.272 W.
        logic_leakage: ``comet`` (CoMeT's SRAM-layer logistic fit), ``none``, or a spec.
        distribution: how accesses spread over banks: ``uniform`` (CoMeT), ``interleaved``
            (each thread over ``ways`` channels/vaults), ``hotset`` (``hot_share`` of the
            accesses on ``hot_fraction`` of the banks), ``local`` (``local_share`` on the
            vault nearest to the thread's core).
    """

    # None: the configuration's (MEMORY_DEFAULTS); latency_lowpower: CoMeT base.cfg:233
    latency: Duration | None = None
    latency_lowpower: Duration = 600e-9
    e_read: Energy | None = None
    e_write: Energy | None = None
    e_refresh: Energy | None = None
    # CoMeT cfg:70 / JEDEC DDR3; rows_per_refresh: memTherm_core.py:32; t_rfc: JEDEC DDR3 2 Gb
    # (comet's choice of density); 85 C: JEDEC DDR3 extended range; background: memTherm_core.py:33
    t_refi: Duration = 7.8e-6
    rows_per_refresh: float = Field(default=1.0, ge=0)
    t_rfc: NonNegDuration = 160e-9
    refresh_double_above: Celsius = 85.0
    background: PowerW = 0.0
    # CoMeT temperature.c:1301; lowpower_*: base.cfg:241-242; logic_power: cfg:71;
    # logic_leakage: temperature.c:645; uniform: cache-line interleaving (cfg:64); the rest: comet's
    leakage: str = "comet"
    leakage_scale: float = Field(default=1.0, ge=0)
    lowpower_dynamic: Fraction = 0.1
    lowpower_leakage: Fraction = 0.01
    logic_power: PowerW = 0.272
    logic_leakage: str = "comet"
    distribution: Literal["uniform", "interleaved", "hotset", "local"] = "uniform"
    ways: int | None = Field(default=None, ge=1)
    hot_fraction: float = Field(default=0.125, gt=0, le=1)
    hot_share: Fraction = 0.8
    hot_banks: list[int] | None = None
    local_share: Fraction = 0.8

    def resolved(self, kind: str) -> MemoryConfig:
        """A copy with the configuration's defaults filled in."""
        defaults = MEMORY_DEFAULTS[kind]
        values = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        return self.model_copy(update=values)


class PhaseSpec(_Section):
    """One phase of a thread: ``instructions`` of given characteristics, or ``sleep`` (s).

    Attributes:
        instructions: instructions of the phase.
        cpi: core CPI (cycles per instruction without LLC misses; scales with 1/f).
        mpki: LLC misses (DRAM accesses) per kilo-instruction.
        read_fraction: share of DRAM accesses that are reads.
        mlp: memory-level parallelism (overlapping misses).
        activity: switching activity while computing (scales c_eff).
        sleep: duration (s) of an idle phase (the thread holds its core, executes nothing).
    """

    instructions: float = Field(default=0.0, ge=0)
    # phase defaults: comet's choice (comet.sources)
    cpi: float = Field(default=1.0, gt=0)
    mpki: float = Field(default=0.0, ge=0)
    read_fraction: Fraction = 0.67
    mlp: float = Field(default=1.0, gt=0)
    activity: Fraction = 1.0
    sleep: NonNegDuration = 0.0

    @model_validator(mode="after")
    def _work(self) -> PhaseSpec:
        if self.instructions == 0 and self.sleep == 0:
            raise ValueError("a phase needs instructions > 0 or sleep > 0")
        if self.instructions > 0 and self.sleep > 0:
            raise ValueError("a phase has either instructions or sleep, not both")
        return self


class ProfileSpec(_Section):
    """A workload profile: phases run in order, ``repeat`` times."""

    description: str = ""
    phases: list[PhaseSpec]
    repeat: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _size(self) -> ProfileSpec:
        from comet.limits import PHASES

        try:
            PHASES.check(len(self.phases) * self.repeat, "phases x repeat")
        except InputError as err:
            raise ValueError(f"repeat: {err}") from None
        return self


class JobSpec(_Section):
    """``[[workload.jobs]]``: a job of ``threads`` threads of a profile.

    ``instructions`` rescales the profile to that many instructions per thread; ``arrival`` is
    the arrival time (s) for ``workload.arrival = "fixed"``; ``count`` repeats the job.
    ``trace`` (a SIFT trace, relative to the config) or ``command`` (a program and its
    arguments, run live) make it a job of an external simulator (``[perf] model = "sniper"``),
    which then ignores ``profile`` and ``instructions``.
    """

    profile: str = "compute"
    threads: int = Field(default=1, ge=1)
    instructions: float | None = Field(default=None, gt=0)
    arrival: NonNegDuration = 0.0
    count: int = Field(default=1, ge=1)
    name: str | None = None
    trace: str | None = None
    command: list[str] | None = None

    @model_validator(mode="after")
    def _program(self) -> JobSpec:
        if self.trace is not None and self.command is not None:
            raise ValueError("trace: give a trace or a command, not both")
        if self.command is not None and not self.command:
            raise ValueError("command: give the program and its arguments")
        return self


class WorkloadConfig(_Section):
    """``[workload]``: jobs, arrivals and profiles.

    ``arrival = "fixed"``: the ``jobs`` at their own arrival times. ``uniform`` / ``poisson`` /
    ``explicit``: in addition, an open system of ``count`` jobs (explicit: one per entry of
    ``times``) arriving every ``interval`` (uniform), with exponential gaps of mean ``interval``
    (poisson, seeded by the run's ``seed``) or at ``times``; their profiles are taken from
    ``mix`` in turn (``mix_order = "cycle"``) or at random (``"random"``), with ``threads``
    threads and ``instructions`` per thread. ``profiles`` defines extra profiles inline;
    ``profile_files`` loads TOML files of ``[profiles.<name>]`` tables.
    """

    arrival: Literal["fixed", "uniform", "poisson", "explicit"] = "fixed"
    interval: Duration = 10e-3
    count: int = Field(default=0, ge=0)
    times: list[NonNegDuration] = Field(default_factory=list)
    mix: list[str] = Field(default_factory=lambda: ["compute"])
    mix_order: Literal["cycle", "random"] = "cycle"
    threads: int = Field(default=1, ge=1)
    instructions: float | None = Field(default=None, gt=0)
    jobs: list[JobSpec] = Field(default_factory=list)
    profiles: dict[str, ProfileSpec] = Field(default_factory=dict)
    profile_files: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _open(self) -> WorkloadConfig:
        if self.arrival == "explicit" and not self.times:
            raise ValueError("times: arrival = 'explicit' needs a list of arrival times")
        if self.arrival in ("uniform", "poisson") and self.count == 0:
            raise ValueError(f"count: arrival = {self.arrival!r} needs count >= 1 jobs")
        if not self.mix:
            raise ValueError("mix: give at least one profile name")
        from comet.limits import THREADS

        total = sum(j.threads * j.count for j in self.jobs)
        if self.arrival in ("uniform", "poisson"):
            total += self.count * self.threads
        elif self.arrival == "explicit":
            total += len(self.times) * self.threads
        try:
            THREADS.check(total, "threads of all jobs")
        except InputError as err:
            raise ValueError(f"jobs: {err}") from None
        return self


class PolicySpec(BaseModel):
    """One policy: ``name`` (built-in, entry point, or ``path/to/file.py:ClassName``),
    ``every`` (call it every N epochs, or a duration like ``"10ms"``) and its parameters."""

    model_config = ConfigDict(extra="allow")

    name: str
    every: int | float | str = 1

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("policy name is empty")
        return v.strip()

    @field_validator("every")
    @classmethod
    def _every(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("every: give a number of epochs or a duration")
        if isinstance(v, int):
            if v < 1:
                raise ValueError("every: must be at least 1 epoch")
            return v
        seconds = parse_duration(v)
        if seconds <= 0:
            raise ValueError("every: must be positive")
        return seconds

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def epochs(self, epoch_s: float) -> int:
        """``every`` in epochs (a duration is rounded to the nearest whole epoch, at least 1)."""
        if isinstance(self.every, int):
            return self.every
        return max(1, round(float(self.every) / epoch_s))


def _policy_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ValueError(
            f"{value!r} is not a policy: give a name, a table {{name = ..., ...}} or a list"
        )
    out: list[Any] = []
    for item in value:
        if not isinstance(item, str | Mapping | BaseModel):
            raise ValueError(
                f"{item!r} is not a policy: give a name, a table {{name = ..., ...}} or a list"
            )
        if isinstance(item, str):
            if item.strip().lower() in ("off", "none", ""):
                continue
            out.append({"name": item})
        else:
            out.append(item)
    return out


PolicyList = Annotated[list[PolicySpec], BeforeValidator(_policy_list)]


class PoliciesConfig(_Section):
    """``[policies]``: management policies per knob, run in this order every epoch they are
    due: ``mapping``, ``migration``, ``dvfs``, ``dram``, then ``plugins`` in the given order.

    Each entry is a name, a table ``{name = ..., every = ..., <params>}`` or a list of them;
    ``"off"`` disables a knob's policy. CoMeT's default: no DVFS (frequencies stay at f_init),
    no migration, ``first-unused`` mapping, no DRAM policy.
    """

    mapping: PolicyList = Field(default_factory=lambda: [PolicySpec(name="first-unused")])
    migration: PolicyList = Field(default_factory=list)
    dvfs: PolicyList = Field(default_factory=list)
    dram: PolicyList = Field(default_factory=list)
    plugins: PolicyList = Field(default_factory=list)

    def ordered(self) -> list[tuple[str, PolicySpec]]:
        """``(knob, spec)`` in the composition order."""
        out: list[tuple[str, PolicySpec]] = []
        for knob in ("mapping", "migration", "dvfs", "dram", "plugins"):
            out += [(knob, spec) for spec in getattr(self, knob)]
        return out


class _BackendSection(BaseModel):
    """A back-end choice with its parameters: every key but the name is a keyword of the back
    end's constructor, checked when the config loads
    (:meth:`comet.registry.Registry.check_params`)."""

    model_config = ConfigDict(extra="allow")

    def params(self) -> dict[str, Any]:
        """The back end's parameters (the extra keys)."""
        return dict(self.model_extra or {})


class PerfConfig(_BackendSection):
    """``[perf]``: the performance model, ``model = "interval"`` (built in) or ``"sniper"``
    (:mod:`comet.perf.sniper`), a plugin's name or ``path/to/file.py:Class``; other keys are
    the model's parameters (e.g. ``sniper_root``, ``config`` for Sniper)."""

    model: str = "interval"


class PowerConfig(_BackendSection):
    """``[power]``: the core power model, ``core = "analytic"`` (``C_eff V^2 f a``, built in)
    or ``"fitted"`` (per-event coefficients fitted from McPAT runs, :mod:`comet.power.fitted`),
    a plugin's name or ``path/to/file.py:Class``; other keys are the model's parameters."""

    core: str = "analytic"


#: keys of ``[thermal]`` that choose the thermal back end instead of setting HotSpot values
THERMAL_BACKEND_KEYS = ("backend", "hotspot", "hotspot_state", "hotspot_timeout")


class RunConfig(_Section):
    """A whole run. ``thermal`` holds HotSpot keys applied over each stack's own package
    configuration (e.g. ``r_convec = 0.2``). ``thresholds_degC`` sets ``time_above_s`` in the
    summary and the lines the viewers draw."""

    name: str = "run"
    seed: int = Field(default=1, ge=0, lt=2**63)
    sim: SimConfig = Field(default_factory=SimConfig)
    architecture: ArchitectureConfig = Field(default_factory=ArchitectureConfig)
    thermal: dict[str, Any] = Field(default_factory=dict)
    perf: PerfConfig = Field(default_factory=PerfConfig)
    power: PowerConfig = Field(default_factory=PowerConfig)
    cores: CoresConfig = Field(default_factory=CoresConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    workload: WorkloadConfig = Field(default_factory=WorkloadConfig)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    thresholds_degC: list[Annotated[float, BeforeValidator(_temperature)]] = Field(
        default_factory=lambda: [80.0, 85.0]
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", v):
            raise ValueError(f"{v!r}: use letters, digits and . _ + - (it names the run directory)")
        return v

    @field_validator("thermal")
    @classmethod
    def _thermal(cls, v: dict[str, Any]) -> dict[str, Any]:
        from comet.thermal.hotspot_config import ThermalConfig, check_values

        known = set(ThermalConfig.keys())
        for key in v:
            if key not in known and key not in THERMAL_BACKEND_KEYS:
                raise ValueError(f"{key!r} is not a HotSpot configuration key")
        backend = v.get("backend", "builtin")
        if not isinstance(backend, str) or not backend:
            raise ValueError(f"backend: {backend!r} is not the name of a thermal back end")
        if "hotspot" in v and not isinstance(v["hotspot"], str):
            raise ValueError("hotspot: expected the path of a HotSpot binary")
        chosen = {k: x for k, x in v.items() if k in THERMAL_BACKEND_KEYS}
        try:
            values = check_values({k: x for k, x in v.items() if k not in THERMAL_BACKEND_KEYS})
        except InputError as err:
            raise ValueError(str(err)) from None
        return {**values, **chosen}

    @model_validator(mode="after")
    def _snapshots(self) -> RunConfig:
        from comet.limits import GRID_CELLS, SNAPSHOT_BYTES, snapshot_bytes

        every = self.sim.snapshot_every
        if not every:
            return self
        params = self.architecture.generate_params()
        rows = int(self.thermal.get("grid_rows", params.get("grid_rows", 64)))
        cols = int(self.thermal.get("grid_cols", params.get("grid_cols", 64)))
        try:
            GRID_CELLS.check(rows * cols, f"grid {rows}x{cols}")
            n = math.floor(self.sim.duration / max(every, self.sim.epoch))
            SNAPSHOT_BYTES.check(
                snapshot_bytes(n, 1, rows, cols),
                f"sim.snapshot_every: {n} snapshots of {rows}x{cols} per layer",
            )
        except InputError as err:
            raise ValueError(str(err)) from None
        return self

    @model_validator(mode="after")
    def _programs_need_a_simulator(self) -> RunConfig:
        # jobs naming a trace / program need a back end that runs them (Sniper), and Sniper
        # needs one for every job; messages name the first offending job
        w = self.workload
        external = [i for i, j in enumerate(w.jobs) if j.trace or j.command]
        if self.perf.model == "sniper":
            missing = [i for i, j in enumerate(w.jobs) if not (j.trace or j.command)]
            if missing or not w.jobs:
                key = f"workload.jobs.{missing[0]}" if missing else "workload.jobs"
                raise ValueError(
                    f"{key}: perf.model = 'sniper' runs SIFT traces or programs: give each job "
                    "trace = 'prog.sift' or command = ['./prog', ...]"
                )
            if w.arrival != "fixed":
                raise ValueError("workload.arrival: the sniper model needs fixed jobs")
            for i, j in enumerate(w.jobs):
                if j.arrival != 0 or j.threads != 1:
                    raise ValueError(
                        f"workload.jobs.{i}: Sniper jobs arrive at 0 with threads = 1 (its "
                        "programs are all on its command line, one thread each)"
                    )
            if any(j.command for j in w.jobs) and sum(j.count for j in w.jobs) > 1:
                raise ValueError(
                    "workload.jobs: a live program (command) runs alone in Sniper; use SIFT "
                    "traces for a multi-program mix"
                )
        elif external and self.perf.model == "interval":
            raise ValueError(
                f"workload.jobs.{external[0]}: trace / command jobs need perf.model = "
                "'sniper' (the interval model runs profiles)"
            )
        return self

    def thermal_values(self) -> dict[str, Any]:
        """The HotSpot configuration values of ``[thermal]`` (without the back-end keys)."""
        return {k: v for k, v in self.thermal.items() if k not in THERMAL_BACKEND_KEYS}

    def thermal_backend(self) -> tuple[str, dict[str, Any]]:
        """``(name, parameters)`` of the thermal back end (``[thermal] backend``)."""
        names = {"hotspot": "binary", "hotspot_state": "state", "hotspot_timeout": "timeout"}
        params = {names[k]: v for k, v in self.thermal.items() if k in names}
        return str(self.thermal.get("backend", "builtin")), params

    def check_backends(self) -> None:
        """Resolve the configured back ends and check their parameters (no instance is built).

        Raises:
            InputError: unknown back end or parameter.
        """
        from comet.perf.registry import PERF_MODELS
        from comet.power.registry import CORE_POWER_MODELS
        from comet.thermal.stepper import THERMAL_BACKENDS

        PERF_MODELS.check_params(self.perf.model, self.perf.params(), self.base_dir)
        CORE_POWER_MODELS.check_params(self.power.core, self.power.params(), self.base_dir)
        name, params = self.thermal_backend()
        THERMAL_BACKENDS.check_params(name, params, self.base_dir)

    def check_workload(self) -> None:
        """Every profile the workload names exists. Profile files are read relative to the
        config's directory; a config from data with profile files is checked when it runs
        (its base directory is set later).

        Raises:
            InputError: unknown profile, unreadable profile file.
        """
        if self.workload.profile_files and self._base_dir is None:
            return
        from comet.perf.workloads import check_profiles

        check_profiles(self.workload, self.base_dir)

    # where the config came from (for relative paths of plugins and profile files)
    _base_dir: Path | None = None
    _path: Path | None = None

    @property
    def source(self) -> str | None:
        """The file the config was read from (for messages), None for a config from data."""
        return None if self._path is None else str(self._path)

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        return self._base_dir or Path.cwd()

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain TOML-able data (None values dropped)."""
        data = self.model_dump(mode="json", exclude_none=True)
        return _drop_empty(data)


def _drop_empty(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_empty(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_empty(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------
# loading and overrides


def _error_key(err: Mapping[str, Any]) -> str:
    parts = [str(p) for p in err.get("loc", ()) if not str(p).startswith("function-")]
    # pydantic puts the validator type (e.g. 'constrained-str') in loc for unions; keep keys
    keys = [p for p in parts if not p.startswith(("literal[", "union[", "float", "str"))]
    return ".".join(keys)


def _format_validation(err: ValidationError) -> tuple[str, str]:
    """``(key, message)`` of the first error of a pydantic ValidationError."""
    first = err.errors(include_url=False)[0]
    key = _error_key(first)
    msg = str(first.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if first.get("type") == "extra_forbidden":
        msg = "unknown key (check the spelling; see the documented keys of this section)"
    msg = msg.replace("Input should be", "must be")
    # messages from model validators name their own key ("epoch: ...")
    m = re.match(r"^([a-z_]+): (.*)$", msg)
    if m and not key.endswith(m.group(1)):
        key = f"{key}.{m.group(1)}" if key else m.group(1)
        msg = m.group(2)
    elif m and key.endswith(m.group(1)):
        msg = m.group(2)
    return key, msg


def config_from_dict(
    data: Mapping[str, Any], *, path: str | os.PathLike[str] | None = None
) -> RunConfig:
    """Validate a config dict.

    Raises:
        InputError: ``file: key: what is wrong``.
    """
    try:
        cfg = RunConfig.model_validate(dict(data))
    except ValidationError as err:
        key, msg = _format_validation(err)
        raise InputError(f"{key}: {msg}" if key else msg, path=path) from None
    if path is not None:
        cfg._base_dir = Path(path).resolve().parent
        cfg._path = Path(path)
    try:
        cfg.check_backends()
        cfg.check_workload()
    except InputError as err:
        raise InputError(err.message, path=err.path or path, hint=err.hint) from None
    return cfg


def _parse_override_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax if it parses (numbers, booleans, lists, inline tables,
    quoted strings), else the raw string (``5s``, ``ondemand``)."""
    if re.fullmatch(r"[+-]?0[xob][0-9a-fA-F_]+", text.strip()):
        return text  # hexadecimal / octal / binary TOML integers: kept as written ("0x4")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a raw config dict (in place; also returned).

    A numeric path component indexes a list (``workload.jobs.0.threads=4``).

    Raises:
        InputError: an override without ``=`` or a path through a non-table value.
    """
    for item in overrides:
        if "=" not in item:
            raise InputError(
                f"--set {item!r}: expected key=value", hint="example: --set sim.duration=5s"
            )
        key, _, raw = item.partition("=")
        key = key.strip()
        parts = [p for p in key.split(".") if p]
        if not parts:
            raise InputError(f"--set {item!r}: empty key")
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise InputError(f"--set {key}: {where} is not an index of the list")
                node = node[int(part)]
            elif isinstance(node, dict):
                nxt = node.get(part)
                if nxt is None:
                    nxt = node[part] = {}
                elif not isinstance(nxt, dict | list):
                    raise InputError(f"--set {key}: {where} is a value, not a table")
                node = nxt
            else:  # pragma: no cover - guarded above
                raise InputError(f"--set {key}: {where} is a value, not a table")
        last = parts[-1]
        value = _parse_override_value(raw.strip())
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise InputError(f"--set {key}: {last} is not an index of the list")
            node[int(last)] = value
        else:
            node[last] = value
    return data


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    overrides: Sequence[str] = (),
) -> RunConfig:
    """Read a run config (TOML file or dict), apply ``--set`` overrides, validate.

    Raises:
        InputError: missing file, bad TOML (with the line), or a validation error
            ``file: key: what``.
    """
    path: Path | None = None
    if isinstance(source, Mapping):
        data = _deepcopy(dict(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError("run config not found", path=path, hint="give a .toml run config")
        from comet.fileio import read_text

        text = read_text(path, "run config")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            text = str(err)
            m = re.search(r"\(at line (\d+), column \d+\)", text)
            line = getattr(err, "lineno", None) or (int(m.group(1)) if m else None)
            msg = text.split(" (at line")[0]
            raise InputError(f"not valid TOML: {msg}", path=path, line=line) from None
    apply_overrides(data, overrides)
    return config_from_dict(data, path=path)


def _deepcopy(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _deepcopy(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_deepcopy(v) for v in obj]
    return obj
