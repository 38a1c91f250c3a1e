"""Hostile inputs and the one property they must meet (issue 11).

Shared by the bounded fuzz test (``tests/test_fuzz.py``, hypothesis) and the long fuzz run
(``benchmarks/fuzz.py``). Every case is a plain function of its drawn parameters that returns an
:class:`Outcome`:

* ``ok``: the reader or verb succeeded and every number it produced is finite;
* ``rejected``: a clean refusal - an :class:`~comet.errors.InputError` of one line from a reader,
  or exit status 2 with at most 3 lines on stderr and no traceback from a verb;
* ``failure``: anything else (a traceback, another exit status, a longer message, a non-finite
  output), with a class name for the report.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

from comet.cli import main
from comet.errors import InputError
from comet.sim.results import Run, dumps_toml
from tests.loop_helpers import tiny

#: Limits the fuzz runs under (small, so a valid draw stays fast; the refusals are exercised).
FUZZ_LIMITS = {
    "COMET_MAX_EPOCHS": "400",
    "COMET_MAX_GRID_CELLS": "4096",
    "COMET_MAX_OPERATING_POINTS": "2000",
    "COMET_MAX_SNAPSHOT_BYTES": "10000000",
    "COMET_MAX_BLOCKS": "512",
}

#: Values a hostile user types (units, sizes, hex, non-finite, huge, tiny, empty, non-ASCII).
TOKENS: tuple[str, ...] = (
    "nan", "inf", "-inf", "-1", "0", "1", "3", "0.5", "1e308", "-1e308", "1e-300", "1e-30s",
    "2147483648", "2147483648x8", "64x64", "4x4", "2x2x2", "0x4", "0o7", "0b1", "1km", "1Hz",
    "1e12GHz", "5ms", "1e308ms", "1s", "-5ms", '"nan"', '"1km"', '"64x64"', '"ondemand"',
    "ondemand", "off", "true", "[nan]", "[1, 2]", "{}", "{name = 5}", '""', "é", "\x00",
    "85C", "-300C", "1e6", "358.15K", "2mm", "50um", "1e-12mm", "1e300m", "3.4mm", "30",
)  # fmt: skip

#: Keys of a run config worth mutating (every section, the [thermal] keys included).
CONFIG_KEYS: tuple[str, ...] = (
    "name", "seed", "thresholds_degC",
    "sim.duration", "sim.epoch", "sim.init", "sim.snapshot_every", "sim.leakage_iterations",
    "sim.leakage_tolerance", "sim.flush_every", "sim.solver", "sim.precision",
    "architecture.kind", "architecture.cores", "architecture.banks", "architecture.grid",
    "architecture.core_size", "architecture.bank_size", "architecture.tim_thickness",
    "architecture.channels", "architecture.r_convec",
    "thermal.r_convec", "thermal.ambient", "thermal.t_sink", "thermal.k_chip",
    "thermal.c_convec", "thermal.grid_rows", "thermal.grid_cols", "thermal.s_spreader",
    "thermal.p_interface", "thermal.model_secondary",
    "cores.f_min", "cores.f_max", "cores.f_step", "cores.f_init", "cores.c_eff",
    "cores.leakage", "cores.leakage_scale", "cores.voltage.v0", "cores.voltage.slope",
    "cores.stall_activity", "cores.dvfs_latency",
    "memory.latency", "memory.e_read", "memory.t_refi", "memory.refresh_double_above",
    "memory.distribution", "memory.hot_fraction",
    "workload.arrival", "workload.count", "workload.interval",
    "workload.jobs.0.threads", "workload.jobs.0.instructions", "workload.jobs.0.profile",
    "policies.dvfs", "policies.mapping", "policies.migration", "policies.dram",
)  # fmt: skip

#: Options of ``comet floorplan`` that take a value.
FLOORPLAN_OPTIONS: tuple[str, ...] = (
    "--cores", "--core-size", "--banks", "--bank-size", "--gap", "--grid", "--tim-thickness",
    "--core-thickness", "--r-convec", "--filler", "--channels", "--interposer-thickness",
)  # fmt: skip


def _hotspot_options() -> tuple[str, ...]:
    from comet.thermal.hotspot_config import ThermalConfig

    skip = {"init_file", "steady_file", "package_config_file", "grid_layer_file",
            "grid_steady_file", "grid_transient_file"}  # fmt: skip
    return tuple(f"-{k}" for k in ThermalConfig.keys() if k not in skip)  # noqa: SIM118


#: ``-name`` options of ``comet hotspot`` (every thermal key but the file names).
HOTSPOT_OPTIONS: tuple[str, ...] = _hotspot_options()

FLP = "# two blocks\nA\t0.002\t0.002\t0\t0\nB\t0.002\t0.002\t0.002\t0\n"
PTRACE = "A\tB\n1.0\t2.0\n1.5\t0.5\n0.2\t3.0\n"
HOTSPOT_CONFIG = (
    "# block model\n-t_chip 0.00015\n-k_chip 100.0\n-p_chip 1.75e6\n-r_convec 0.1\n"
    "-s_sink 0.06\n-ambient 318.15\n-sampling_intvl 0.001\n-model_type block\n"
)
MATERIALS = "# materials\n\nsilicon\nsolid\n100.0\n1.75e6\n\ncopper\nsolid\n400.0\n3.55e6\n"
LCF = (
    "# layer 0\n0\nY\nY\n1.75e6\n0.01\n0.00015\na.flp\n\n"
    "# layer 1\n1\nY\nN\n4e6\n0.25\n2e-05\na.flp\n"
)

#: reader name -> (seed text, file name)
READER_SEEDS: dict[str, tuple[str, str]] = {
    "flp": (FLP, "a.flp"),
    "ptrace": (PTRACE, "p.ptrace"),
    "hotspot_config": (HOTSPOT_CONFIG, "h.config"),
    "materials": (MATERIALS, "m.materials"),
    "lcf": (LCF, "s.lcf"),
    "run_config": ("", "run.toml"),  # filled in by base_config_text()
}


@dataclass(frozen=True)
class Outcome:
    """What one input gave: ``kind`` ok | rejected | failure, ``cls`` a short class name."""

    kind: str
    cls: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.kind == "failure"


def base_config_text() -> str:
    """The tiny run config (3d, 2x2 cores, 8x8 grid) of 3 epochs every fuzzed run starts from."""
    return dumps_toml(tiny(sim={"duration": "3ms", "epoch": "1ms", "flush_every": 2}))


# ---------------------------------------------------------------------------- mutations


def mutate(data: bytes, ops: Sequence[tuple[int, int, int]]) -> bytes:
    """Apply byte-level mutations ``(op, position, value)``: 0 delete a byte, 1 insert a byte,
    2 replace a byte, 3 insert a :data:`TOKENS` entry, 4 duplicate a line, 5 truncate,
    6 replace a number-like token by a :data:`TOKENS` entry."""
    out = bytearray(data)
    for op, pos, value in ops:
        n = len(out)
        at = pos % (n + 1)
        if op == 0 and n:
            del out[at % n]
        elif op == 1:
            out[at:at] = bytes([value % 256])
        elif op == 2 and n:
            out[at % n] = value % 256
        elif op == 3:
            out[at:at] = TOKENS[value % len(TOKENS)].encode()
        elif op == 4:
            lines = bytes(out).split(b"\n")
            k = at % len(lines)
            lines.insert(k, lines[k])
            out = bytearray(b"\n".join(lines))
        elif op == 5:
            del out[at:]
        elif op == 6:
            words = bytes(out).split(b" ") if b"\t" not in out else bytes(out).split(b"\t")
            k = at % len(words)
            words[k] = TOKENS[value % len(TOKENS)].encode()
            sep = b"\t" if b"\t" in out else b" "
            out = bytearray(sep.join(words))
    return bytes(out)


# ---------------------------------------------------------------------------- the property


def _clean_cli(code: int, stderr: str, exc: BaseException | None) -> Outcome | None:
    """The outcome of a verb unless it exited 0 (then the caller checks its outputs)."""
    if exc is not None and not isinstance(exc, SystemExit):
        return Outcome("failure", f"traceback:{type(exc).__name__}", str(exc)[:300])
    if "Traceback" in stderr:
        return Outcome("failure", "traceback-printed", stderr[-300:])
    if code == 0:
        return None
    if code != 2:
        return Outcome("failure", f"exit-{code}", stderr[-300:])
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if not 1 <= len(lines) <= 3:
        return Outcome("failure", "long-error", stderr[-300:])
    if not lines[-1].startswith(("comet: error: ", "Error: ")):
        return Outcome("failure", "unlabelled-error", stderr[-300:])
    return Outcome("rejected", "exit-2", lines[-1][:200])


def invoke(args: Sequence[str]) -> tuple[int, str, BaseException | None]:
    """Run ``comet ARGS`` in process (click's runner): exit status, stderr, exception."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    return result.exit_code, result.stderr, result.exception


def _finite_run(out: Path) -> Outcome:
    try:
        run = Run(out)
        arrays = [run.temperature, run.power, run.frequency]
        status = run.status
    except InputError as err:
        return Outcome("failure", "unreadable-output", str(err)[:300])
    if status != "complete":
        return Outcome("failure", f"status-{status}", str(run.summary.get("error"))[:300])
    for df in arrays:
        if not df.empty and not np.isfinite(df.to_numpy(dtype=float)).all():
            return Outcome("failure", "non-finite-output", str(out))
    if not len(run.temperature):
        return Outcome("failure", "empty-output", str(out))
    return Outcome("ok", "ran")


def run_case(tmp: Path, overrides: Sequence[tuple[str, str]]) -> Outcome:
    """``comet run`` of the tiny config with ``--set key=token`` overrides."""
    cfg = tmp / "run.toml"
    cfg.write_text(base_config_text())
    out = tmp / "out"
    args = ["run", str(cfg), "-q", "-o", str(out), "--overwrite"]
    for key, token in overrides:
        args += ["--set", f"{key}={token}"]
    code, err, exc = invoke(args)
    outcome = _clean_cli(code, err, exc)
    return outcome if outcome is not None else _finite_run(out)


def floorplan_case(tmp: Path, kind: str, options: Sequence[tuple[str, str]]) -> Outcome:
    """``comet floorplan KIND`` with hostile option values (no picture: matplotlib is slow)."""
    out = tmp / "fp"
    shutil.rmtree(out, ignore_errors=True)
    args = ["floorplan", kind, "-o", str(out), "--no-picture"]
    for opt, token in options:
        args += [opt, token]
    code, err, exc = invoke(args)
    outcome = _clean_cli(code, err, exc)
    if outcome is not None:
        return outcome
    from comet.floorplan.lcf import read_lcf

    for lcf in out.glob("*/stack.lcf"):
        try:
            stack = read_lcf(lcf)
        except InputError as e:
            return Outcome("failure", "unreadable-output", str(e)[:300])
        values = [v for la in stack.layers for b in la.floorplan for v in (b.width, b.x)]
        if not all(math.isfinite(v) for v in values):
            return Outcome("failure", "non-finite-output", str(lcf))
    return Outcome("ok", "generated")


def _read(reader: str, path: Path, tmp: Path) -> list[float]:
    """Call one reader; the numbers it returned."""
    if reader == "flp":
        from comet.floorplan.flp import read_flp

        return [v for b in read_flp(path) for v in (b.width, b.height, b.x, b.y)]
    if reader == "ptrace":
        from comet.thermal.traces import read_ptrace

        return list(read_ptrace(path)[1].ravel())
    if reader == "hotspot_config":
        from comet.thermal.hotspot_config import read_config

        cfg = read_config(path)
        return [float(v) for v in vars(cfg).values() if isinstance(v, int | float)]
    if reader == "materials":
        from comet.thermal.materials import read_materials

        return [v for m in read_materials(path).values() for v in (m.conductivity, m.heat_capacity)]
    if reader == "lcf":
        from comet.floorplan.lcf import read_lcf

        (tmp / "a.flp").write_text(FLP)
        stack = read_lcf(path)
        return [v for la in stack.layers for v in (la.thickness, la.conductivity)]
    if reader == "run_config":
        from comet.config import load_config

        cfg = load_config(path)
        return [cfg.sim.duration, cfg.sim.epoch, cfg.cores.f_max, cfg.cores.c_eff]
    raise KeyError(reader)


def reader_case(tmp: Path, reader: str, ops: Sequence[tuple[int, int, int]]) -> Outcome:
    """A reader on a mutated copy of its seed file."""
    seed, name = READER_SEEDS[reader]
    if reader == "run_config":
        seed = base_config_text()
    path = tmp / name
    path.write_bytes(mutate(seed.encode(), ops))
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # HotSpot-style warnings for unknown keys are fine
            values = _read(reader, path, tmp)
    except InputError as err:
        text = str(err)
        if "\n" in text or not text:
            return Outcome("failure", f"{reader}:multi-line-error", text[:300])
        return Outcome("rejected", f"{reader}:input-error", text[:200])
    except Exception as err:  # noqa: BLE001 - the property: nothing else may escape
        return Outcome("failure", f"{reader}:{type(err).__name__}", str(err)[:300])
    if not all(math.isfinite(float(v)) for v in values):
        return Outcome("failure", f"{reader}:non-finite-value", str(values)[:300])
    return Outcome("ok", f"{reader}:read")


def replay_case(tmp: Path, ops_trace: Sequence[tuple[int, int, int]], interval: str) -> Outcome:
    """``comet replay`` of a mutated power trace over a 2-block floorplan."""
    (tmp / "a.flp").write_text(FLP)
    trace = tmp / "p.ptrace"
    trace.write_bytes(mutate(PTRACE.encode(), ops_trace))
    out = tmp / "replay"
    args = ["replay", str(trace), "--flp", str(tmp / "a.flp"), "-o", str(out), "--overwrite"]
    args += ["-q", "--interval", interval]
    code, err, exc = invoke(args)
    outcome = _clean_cli(code, err, exc)
    return outcome if outcome is not None else _finite_run(out)


def hotspot_case(
    tmp: Path, ops_config: Sequence[tuple[int, int, int]], extra: Sequence[str]
) -> Outcome:
    """``comet hotspot`` with a mutated config file and hostile ``-name value`` options."""
    (tmp / "a.flp").write_text(FLP)
    (tmp / "p.ptrace").write_text(PTRACE)
    config = tmp / "h.config"
    config.write_bytes(mutate(HOTSPOT_CONFIG.encode(), ops_config))
    out = tmp / "out.ttrace"
    out.unlink(missing_ok=True)
    args = ["hotspot", "-c", str(config), "-f", str(tmp / "a.flp"), "-p", str(tmp / "p.ptrace")]
    args += ["-o", str(out), *extra]
    code, err, exc = invoke(args)
    outcome = _clean_cli(code, err, exc)
    if outcome is not None:
        return outcome
    if out.exists():
        from comet.thermal.traces import read_ttrace

        try:
            values = read_ttrace(out)[1]
        except InputError as e:
            return Outcome("failure", "unreadable-output", str(e)[:300])
        if not np.isfinite(values).all():
            return Outcome("failure", "non-finite-output", str(out))
    return Outcome("ok", "simulated")


#: files of a run directory the damaged-run case corrupts
RUN_FILES = ("grid.npz", "events.csv", "temperature.csv", "layers.json", "summary.json",
             "config.toml", "power.csv")  # fmt: skip


def damaged_run_case(
    tmp: Path, source: Path, victim: str, ops: Sequence[tuple[int, int, int]], verb: str
) -> Outcome:
    """``comet plot`` or ``comet video`` on a copy of a run with one file corrupted."""
    run = tmp / "damaged"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(source, run)
    p = run / victim
    if p.exists():
        p.write_bytes(mutate(p.read_bytes(), ops))
    if verb == "plot":
        args = ["plot", str(run), "-o", str(tmp / "plots")]
    else:
        args = ["video", str(run), "-o", str(tmp / "v.gif"), "--quiet", "--frames", "3"]
    code, err, exc = invoke(args)
    outcome = _clean_cli(code, err, exc)
    if outcome is not None:
        return outcome
    written = list((tmp / "plots").glob("*")) if verb == "plot" else [tmp / "v.gif"]
    if not written or any(w.stat().st_size == 0 for w in written):
        return Outcome("failure", "empty-output", str(written)[:300])
    return Outcome("ok", f"{verb}-drawn")


def make_source_run(tmp: Path) -> Path:
    """A small complete run with grid snapshots (the seed of the damaged-run case)."""
    cfg = tmp / "src.toml"
    cfg.write_text(dumps_toml(tiny(sim={"duration": "4ms", "snapshot_every": "2ms"})))
    code, err, exc = invoke(["run", str(cfg), "-q", "-o", str(tmp / "src")])
    if code != 0:
        raise RuntimeError(f"the seed run failed: {err} {exc}")
    return tmp / "src"


def with_limits(fn: Callable[[], Outcome]) -> Outcome:
    """Run ``fn`` under :data:`FUZZ_LIMITS` (restoring the environment)."""
    saved = {k: os.environ.get(k) for k in FUZZ_LIMITS}
    os.environ.update(FUZZ_LIMITS)
    try:
        return fn()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def describe(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Counts by kind and by failure class."""
    kinds: dict[str, int] = {}
    failures: dict[str, int] = {}
    for o in outcomes:
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
        if o.failed:
            failures[o.cls] = failures.get(o.cls, 0) + 1
    return {"kinds": kinds, "failures": failures}
