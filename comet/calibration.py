"""Calibration of comet's built-in core power and workload profiles against Sniper + McPAT.

The measurement (``benchmarks/calibration.py``) runs a program on one Sniper core (Gainestown,
at a fixed operating point) and McPAT on that run; this module turns what they report into
the numbers comet's built-in models produce, and back:

- :func:`measured` reads :mod:`comet.power.mcpat_driver`'s output (Sniper's statistics over
  a window + McPAT's power of that window; per core, the mean over cores running copies of
  one program) into a :class:`Measured`:
  IPC, L3 misses and DRAM accesses per kilo-instruction, read fraction, DRAM bytes/s (in all
  and per bank, with comet's ``bank_stats`` patch), dynamic power (McPAT ``Runtime Dynamic`` of
  the core + its private L2, comet's core unit) and leakage (``Subthreshold`` + ``Gate
  Leakage`` of both, power gating off).
- :func:`predict` evaluates comet's built-in models on a profile phase at the same operating
  point: the interval model (``tau = cpi / f + mpi t_mem / mlp``,
  :func:`comet.perf.interval.time_per_instruction`), the analytic core
  (``C_eff V^2 f activity``, :func:`comet.power.core.dynamic_power`, the activity of a core
  that is busy for the whole epoch as :class:`comet.perf.interval.IntervalModel` counts it)
  and CoMeT's core leakage at McPAT's temperature (:func:`comet.power.leakage.comet_core_leakage`).
- :func:`fit_phase` derives a profile phase from a measurement (comet's ``cpi`` = Sniper's
  cycles outside DRAM stalls per instruction; ``mpki`` = DRAM accesses per kilo-instruction;
  ``mlp`` so that comet's memory time per instruction at latency ``t_mem`` equals Sniper's
  DRAM stall time per instruction); :func:`fit_core` fits ``c_eff`` and ``stall_activity``
  (non-negative least squares of McPAT's dynamic power over the programs) and each
  program's phase ``activity``.
- :func:`fit_idle` gives ``idle_activity`` from McPAT's dynamic power of a core without a
  thread (:func:`idle_rows` its table rows).
- :func:`table_rows` / :func:`write_table` lay the comparison out as CSV with a provenance
  header; :func:`read_table` reads it back.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from comet.errors import InputError
from comet.fileio import write_atomic
from comet.perf.interval import time_per_instruction
from comet.power.core import dynamic_power
from comet.power.leakage import comet_core_leakage

__all__ = [
    "LINE_BYTES",
    "Measured",
    "Predicted",
    "fit_core",
    "fit_idle",
    "fit_phase",
    "idle_rows",
    "measured",
    "predict",
    "read_table",
    "table_rows",
    "write_table",
]

#: bytes per DRAM access (Sniper's and comet's cache line)
LINE_BYTES = 64
#: the largest MLP a fitted phase gets (DRAM accesses that cost Sniper no stall: write-backs)
MLP_CAP = 64.0
#: phase keys of a profile phase (comet.config.PhaseSpec)
PHASE_KEYS = ("cpi", "mpki", "read_fraction", "mlp", "activity")


@dataclass(frozen=True)
class Measured:
    """One program on a Sniper core over a window (per core: the mean over the cores that run
    copies of it), with McPAT's power of that window."""

    seconds: float  #: window length (s)
    f_hz: float
    v: float
    instructions: float
    l3_misses: float  #: L3 load + store misses
    dram_reads: float
    dram_writes: float
    dram_stall_s: float  #: time the core stalled on DRAM (Sniper's CPI stack, s)
    dyn_w: float  #: McPAT Runtime Dynamic, core + private L2 (W)
    leak_w: float  #: McPAT Subthreshold + Gate Leakage, core + private L2 (W)
    temperature_k: float | None = None  #: the temperature McPAT evaluated leakage at
    bank_accesses: tuple[float, ...] = field(default_factory=tuple)  #: per bank, reads + writes

    @property
    def ipc(self) -> float:
        return self.instructions / (self.seconds * self.f_hz)

    @property
    def l3_mpki(self) -> float:
        return 1e3 * self.l3_misses / self.instructions

    @property
    def dram_apki(self) -> float:
        """DRAM accesses (reads + write-backs) per kilo-instruction: comet's ``mpki``."""
        return 1e3 * (self.dram_reads + self.dram_writes) / self.instructions

    @property
    def read_fraction(self) -> float:
        total = self.dram_reads + self.dram_writes
        return self.dram_reads / total if total > 0 else math.nan

    @property
    def dram_bps(self) -> float:
        return (self.dram_reads + self.dram_writes) * LINE_BYTES / self.seconds

    @property
    def bank_bps_max(self) -> float:
        """Bytes/s of the busiest bank (NaN without per-bank counters)."""
        if not self.bank_accesses:
            return math.nan
        return max(self.bank_accesses) * LINE_BYTES / self.seconds


@dataclass(frozen=True)
class Predicted:
    """comet's built-in models on one phase at one operating point (a core busy all epoch)."""

    ipc: float
    mpki: float
    read_fraction: float
    dram_bps: float
    activity: float  #: the core's average activity (0..1)
    dyn_w: float
    leak_w: float

    @property
    def power_w(self) -> float:
        return self.dyn_w + self.leak_w


def _bank_accesses(stats: Mapping[str, Sequence[float]], core: int) -> tuple[float, ...]:
    banks: dict[int, float] = {}
    for key, values in stats.items():
        if key.startswith("dram.bank") and key.endswith(("-reads", "-writes")):
            index = int(key[len("dram.bank") :].split("-", 1)[0])
            banks[index] = banks.get(index, 0.0) + float(values[core])
    return tuple(banks[i] for i in sorted(banks))


def measured(raw: Mapping[str, Any], v: float | None = None) -> Measured:
    """The per-core mean of :mod:`comet.power.mcpat_driver`'s output (``seconds``, ``cores``,
    ``stats``, ``temperature_k``) of a run in which every core runs a copy of the same program
    (one core alone, or CoMeT's 2x2 with four copies).

    Per core: instructions, L3 misses, DRAM stall time and McPAT's power; Sniper's DRAM
    counters live on the cores that hold a memory controller, so the DRAM accesses (and the
    per-bank ones) are the run's total divided by the number of cores.

    Raises:
        InputError: a counter the table needs is missing, or a core executed nothing.
    """
    stats = raw["stats"]
    n = len(raw["cores"])
    try:
        instr = [float(x) for x in stats["performance_model.instruction_count"][:n]]
        reads = sum(float(x) for x in stats["dram.reads"]) / n
        writes = sum(float(x) for x in stats["dram.writes"]) / n
        l3 = [
            float(a) + float(b)
            for a, b in zip(stats["L3.load-misses"], stats["L3.store-misses"], strict=True)
        ]
        cores = raw["cores"]
        dyn = [float(c["core_w"]) + float(c.get("l2_w", 0.0)) for c in cores]
        leak = [
            float(c.get("core_leak_w", math.nan)) + float(c.get("l2_leak_w", 0.0)) for c in cores
        ]
        f_hz = float(cores[0]["f_hz"])
    except (KeyError, IndexError) as exc:
        raise InputError(f"Sniper statistics / McPAT output lack {exc}") from None
    if len(instr) != n or min(instr) <= 0:
        raise InputError("a core executed no instructions in the window")
    stall_fs = 0.0
    for key, values in stats.items():
        obj, _, metric = key.partition(".")
        if obj == "interval_timer" and metric.startswith(
            ("cpiDataCachedram", "cpiInstructionCachedram")
        ):
            stall_fs += sum(float(x) for x in values[:n])
    volt = v if v is not None else cores[0].get("v")
    if not volt:
        raise InputError("no supply voltage: the run has no power/vdd; give v")
    per_core = [_bank_accesses(stats, c) for c in range(n)]
    banks = tuple(sum(x) / n for x in zip(*per_core, strict=True))
    return Measured(
        seconds=float(raw["seconds"]),
        f_hz=f_hz,
        v=float(volt),
        instructions=sum(instr) / n,
        l3_misses=sum(l3) / n,
        dram_reads=reads,
        dram_writes=writes,
        dram_stall_s=stall_fs * 1e-15 / n,
        dyn_w=sum(dyn) / n,
        leak_w=sum(leak) / n,
        temperature_k=raw.get("temperature_k"),
        bank_accesses=banks,
    )


def predict(
    phase: Mapping[str, float],
    f_hz: float,
    v: float,
    t_mem_s: float,
    c_eff_f: float,
    stall_activity: float,
    t_k: float,
) -> Predicted:
    """comet's interval model + analytic core + CoMeT's core leakage on one phase (``cpi``,
    ``mpki``, ``read_fraction``, ``mlp``, ``activity``) for a core busy the whole time: its
    activity is ``activity * (t_core + stall_activity * t_mem) / tau`` per instruction, as
    :class:`comet.perf.interval.IntervalModel` accumulates it."""
    cpi, mlp, act = phase["cpi"], phase["mlp"], phase["activity"]
    mpi = phase["mpki"] / 1e3
    tau = float(time_per_instruction(cpi, f_hz, mpi, t_mem_s, mlp))
    t_core = cpi / f_hz
    t_memi = mpi * t_mem_s / mlp
    activity = act * (t_core + stall_activity * t_memi) / tau
    dyn = float(dynamic_power(c_eff_f, np.array(v), np.array(f_hz), np.array(activity)))
    leak = float(comet_core_leakage(np.array(t_k), np.array(v), np.array(0.0)))
    return Predicted(
        ipc=1.0 / (tau * f_hz),
        mpki=phase["mpki"],
        read_fraction=phase["read_fraction"],
        dram_bps=mpi / tau * LINE_BYTES,
        activity=activity,
        dyn_w=dyn,
        leak_w=leak,
    )


def fit_phase(m: Measured, t_mem_s: float) -> dict[str, float]:
    """The profile phase (``activity`` 1; see :func:`fit_core`) that reproduces a measured
    program's IPC and DRAM traffic in comet's interval model at DRAM latency ``t_mem_s``:
    ``cpi`` = Sniper's cycles outside DRAM stalls per instruction, ``mpki`` = DRAM accesses
    per kilo-instruction, ``mlp = mpi t_mem / (DRAM stall per instruction)`` (capped at
    :data:`MLP_CAP` when DRAM costs Sniper almost no stall, e.g. write-back streams)."""
    mpi = (m.dram_reads + m.dram_writes) / m.instructions
    stall_pi = m.dram_stall_s / m.instructions
    cpi = (m.seconds - m.dram_stall_s) * m.f_hz / m.instructions
    if mpi <= 0:
        mlp = 1.0
    elif stall_pi <= mpi * t_mem_s / MLP_CAP:
        mlp = MLP_CAP
    else:
        mlp = mpi * t_mem_s / stall_pi
    rf = m.read_fraction
    return {
        "cpi": cpi,
        "mpki": 1e3 * mpi,
        "read_fraction": 0.7 if math.isnan(rf) else rf,
        "mlp": mlp,
        "activity": 1.0,
    }


def fit_core(
    measurements: Sequence[Measured],
    phases: Sequence[Mapping[str, float]],
    t_mem_s: float,
    stall_activity: float | None = None,
) -> tuple[float, float, list[float]]:
    """``(c_eff, stall_activity, activities)`` so that comet's analytic core reproduces
    McPAT's dynamic power of every measured program on its fitted phase.

    McPAT's power per ``V^2 f`` is ``c_eff (x + s y)`` with ``x``, ``y`` the shares of time
    the core computes / stalls on DRAM (from the phase): non-negative least squares of
    ``(c_eff, c_eff s)`` over the programs; then each program's phase ``activity`` is its
    measured power over the fitted one, and when an activity exceeds 1 ``c_eff`` grows so
    that the largest is 1 (activities are 0..1). With two programs the fit is exact; with
    one (or a given ``stall_activity``) only ``c_eff`` is fitted, at that stall activity.

    Raises:
        ValueError: no measurement, or the fit gives no switched capacitance.
    """
    from scipy.optimize import nnls

    if len(measurements) != len(phases) or not measurements:
        raise ValueError("one phase per measurement, at least one")
    rows, rhs = [], []
    for m, ph in zip(measurements, phases, strict=True):
        mpi = ph["mpki"] / 1e3
        tau = float(time_per_instruction(ph["cpi"], m.f_hz, mpi, t_mem_s, ph["mlp"]))
        x = ph["cpi"] / m.f_hz / tau
        y = mpi * t_mem_s / ph["mlp"] / tau
        rows.append([x, y])
        rhs.append(m.dyn_w / (m.v**2 * m.f_hz))
    a, b = np.array(rows), np.array(rhs)
    if stall_activity is None and len(rows) < 2:
        raise ValueError("fitting c_eff and stall_activity needs two programs; give stall_activity")
    if stall_activity is None:
        sol, _ = nnls(a, b)
        c_eff = float(sol[0])
        stall = min(float(sol[1]) / c_eff, 1.0) if c_eff > 0 else 0.0
    else:
        stall = float(stall_activity)
        share = a[:, 0] + stall * a[:, 1]
        c_eff = float(share @ b / (share @ share))
    if c_eff <= 0:
        raise ValueError("the fit gives c_eff = 0 (no dynamic power measured?)")
    acts = [r / (c_eff * (x + stall * y)) for (x, y), r in zip(rows, rhs, strict=True)]
    top = max(acts)
    if top > 1.0:
        c_eff *= top
        acts = [a / top for a in acts]
    return c_eff, stall, acts


#: the table's metrics: (name, unit, Measured attribute, Predicted attribute, scale); ``power``
#: of the Sniper + McPAT side is CoMeT's composition: McPAT's dynamic power plus CoMeT's core
#: leakage fit at the same temperature and voltage (CoMeT feeds HotSpot McPAT's ``dynamic``
#: power, ``tools/mcpat.py -t dynamic``, and HotSpot adds ``calc_core_leakage``); McPAT's own
#: leakage is the ``mcpat_leakage`` row (compared with CoMeT's fit).
METRICS: tuple[tuple[str, str, str, str, float], ...] = (
    ("power", "W", "", "power_w", 1.0),
    ("dynamic", "W", "dyn_w", "dyn_w", 1.0),
    ("leakage", "W", "", "leak_w", 1.0),
    ("mcpat_leakage", "W", "leak_w", "leak_w", 1.0),
    ("ipc", "1", "ipc", "ipc", 1.0),
    ("dram_apki", "1/kinstr", "dram_apki", "mpki", 1.0),
    ("l3_mpki", "1/kinstr", "l3_mpki", "", 1.0),
    ("read_fraction", "1", "read_fraction", "read_fraction", 1.0),
    ("dram_bandwidth", "GB/s", "dram_bps", "dram_bps", 1e-9),
    ("bank_bandwidth_max", "GB/s", "bank_bps_max", "", 1e-9),
)
COLUMNS = (
    "cores",
    "profile",
    "program",
    "metric",
    "unit",
    "sniper_mcpat",
    "comet_builtin",
    "builtin_ratio",
    "comet_calibrated",
    "calibrated_ratio",
)


def _ratio(a: float, b: float) -> float:
    return a / b if b and not (math.isnan(a) or math.isnan(b)) else math.nan


def _row(
    cores: int, profile: str, program: str, metric: str, unit: str, ref: float, b: float, c: float
) -> dict[str, Any]:
    """One row of the table (:data:`COLUMNS`): Sniper + McPAT, comet built-in and calibrated."""
    return {
        "cores": cores,
        "profile": profile,
        "program": program,
        "metric": metric,
        "unit": unit,
        "sniper_mcpat": ref,
        "comet_builtin": b,
        "builtin_ratio": _ratio(b, ref),
        "comet_calibrated": c,
        "calibrated_ratio": _ratio(c, ref),
    }


def table_rows(
    profile: str,
    program: str,
    m: Measured,
    builtin: Predicted,
    calibrated: Predicted | None,
    cores: int = 1,
) -> list[dict[str, Any]]:
    """The table's rows of one pair: one per metric (:data:`METRICS`), Sniper + McPAT vs
    comet's built-in profile (and the calibrated one), with the ratios comet / Sniper + McPAT.
    ``builtin`` and ``calibrated`` are predictions at the measurement's operating point and
    temperature, so their leakage is CoMeT's fit there."""
    out = []
    for name, unit, m_attr, p_attr, scale in METRICS:
        if name == "power":
            ref = m.dyn_w + builtin.leak_w
        elif name == "leakage":
            ref = builtin.leak_w
        else:
            ref = float(getattr(m, m_attr)) * scale
        b = float(getattr(builtin, p_attr)) * scale if p_attr else math.nan
        c = float(getattr(calibrated, p_attr)) * scale if (p_attr and calibrated) else math.nan
        out.append(_row(cores, profile, program, name, unit, ref, b, c))
    return out


def idle_rows(
    dyn_w: float,
    mcpat_leak_w: float,
    f_hz: float,
    v: float,
    t_k: float,
    builtin: tuple[float, float],
    calibrated: tuple[float, float] | None,
    cores: int = 1,
) -> list[dict[str, Any]]:
    """The table's power rows of a core without a thread (McPAT's ``Runtime Dynamic`` of an
    idle core beside a busy one): comet's idle core draws ``c_eff V^2 f idle_activity`` plus
    CoMeT's leakage; ``builtin`` / ``calibrated`` are ``(c_eff, idle_activity)``."""
    leak = float(comet_core_leakage(np.array(t_k), np.array(v), np.array(0.0)))

    def dyn(p: tuple[float, float] | None) -> float:
        return math.nan if p is None else p[0] * v * v * f_hz * p[1]

    out = []
    for name, ref, b, c in (
        ("power", dyn_w + leak, dyn(builtin) + leak, dyn(calibrated) + leak),
        ("dynamic", dyn_w, dyn(builtin), dyn(calibrated)),
        ("leakage", leak, leak, leak),
        ("mcpat_leakage", mcpat_leak_w, leak, leak),
    ):
        out.append(_row(cores, "idle", "(no thread)", name, "W", ref, b, c))
    return out


def fit_idle(dyn_w: float, f_hz: float, v: float, c_eff_f: float) -> float:
    """``idle_activity`` that gives an idle core McPAT's dynamic power ``dyn_w`` (0..1)."""
    return min(max(dyn_w / (c_eff_f * v * v * f_hz), 0.0), 1.0)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.4g}"
    return str(x)


def write_table(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], header: Sequence[str]
) -> None:
    """Write the rows as CSV (atomically) after ``# `` header lines (provenance)."""
    buf = io.StringIO()
    for line in header:
        buf.write(f"# {line}\n")
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(r[k]) for k in COLUMNS})
    write_atomic(Path(path), buf.getvalue())


def read_table(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """``(header lines, rows)`` of a table written by :func:`write_table` (numbers as float,
    empty cells NaN)."""
    text = Path(path).read_text()
    header = [ln[2:] for ln in text.splitlines() if ln.startswith("# ")]
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    rows: list[dict[str, Any]] = []
    for r in csv.DictReader(io.StringIO(body)):
        row: dict[str, Any] = {
            k: (float(v) if v else math.nan) if k in COLUMNS[5:] else v for k, v in r.items()
        }
        row["cores"] = int(r["cores"])
        rows.append(row)
    return header, rows
