"""McPAT samples for fitting :mod:`comet.power.fitted`: Sniper runs at fixed operating points,
McPAT on each, per-core event rates and dynamic power.

McPAT (HewlettPackard/mcpat) is run through Sniper's own ``tools/mcpat.py`` (it builds McPAT's
XML from Sniper's statistics) by :mod:`comet.power.mcpat_driver` in a separate interpreter,
with power gating off. A core's dynamic power is McPAT's ``Runtime Dynamic`` of the core plus
its private L2 (comet's core unit holds both); its event rates are Sniper's statistics over the
same interval mapped to comet's event names (:data:`comet.perf.sniper.wire.EVENTS`, busy
``cycles`` from the CPI stack without synchronisation, ``instructions``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from comet.errors import InputError
from comet.perf.sniper.wire import EVENTS, cpi_component
from comet.power.fitted import Sample

__all__ = ["interval_markers", "mcpat_samples", "rates_from_stats", "run_sniper_point"]


def interval_markers(duration_s: float, interval_s: float) -> list[str]:
    """``from:to`` statistics markers of Sniper's ``periodic-stats`` script over a run of
    ``duration_s`` ended by ``stop-by-time`` (whose ROI end comes before the last periodic
    snapshot: the last window ends at ``roi-end``)."""
    step = round(interval_s * 1e9) * 10**6  # fs, as the script computes them
    n = int(duration_s / interval_s + 1e-9)
    names = ["periodic-0"] + [f"periodic-{k * step}" for k in range(1, n)] + ["roi-end"]
    return [f"{a}:{b}" for a, b in zip(names, names[1:], strict=False)]


def rates_from_stats(stats: Mapping[str, Sequence[float]], core: int, seconds: float, f_hz: float):
    """comet event rates (per s) of one core from Sniper's statistics over ``seconds``."""
    rates: dict[str, float] = {}
    for name, keys in EVENTS.items():
        rates[name] = sum(float(stats[k][core]) for k in keys if k in stats) / seconds
    rates["instructions"] = float(stats["performance_model.instruction_count"][core]) / seconds
    busy_fs = 0.0
    for key, values in stats.items():
        obj, _, metric = key.partition(".")
        if (
            obj in ("interval_timer", "performance_model")
            and metric.startswith("cpi")
            and cpi_component(metric) != "sync"
            and metric not in ("cpiStartTime", "cpiFastforwardTime")
        ):
            busy_fs += float(values[core])
    rates["cycles"] = busy_fs * 1e-15 * f_hz / seconds
    return rates


def mcpat_samples(
    results_dir: str | os.PathLike[str],
    sniper_root: str | os.PathLike[str],
    mcpat_bin: str | os.PathLike[str],
    *,
    voltage: float | None = None,
    partial: str | None = None,
    out_prefix: str | os.PathLike[str] | None = None,
) -> tuple[list[Sample], dict[str, Any]]:
    """Per-core samples of one Sniper results directory (one McPAT call, ~27 s).

    Args:
        voltage: the supply voltage the run stands for (V); default the run's ``power/vdd``.
        partial: ``from:to`` stats markers of an interval (default the ROI).

    Returns:
        ``(samples, raw)``: the samples and the driver's raw output.

    Raises:
        InputError: McPAT or Sniper's front end failed (their last output in the message).
    """
    results_dir = Path(results_dir)
    out = Path(out_prefix) if out_prefix is not None else results_dir / "comet-mcpat"
    cmd = [
        sys.executable,
        str(Path(__file__).with_name("mcpat_driver.py")),
        str(sniper_root),
        str(mcpat_bin),
        str(results_dir),
        str(out),
    ]
    if partial:
        cmd.append(partial)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise InputError(f"McPAT on {results_dir} failed (exit {proc.returncode}): {tail}")
    raw = json.loads(proc.stdout)
    samples = []
    for c, core in enumerate(raw["cores"]):
        v = voltage if voltage is not None else core["v"]
        if not v:
            raise InputError(f"{results_dir}: no power/vdd in the run's config; give voltage")
        rates = rates_from_stats(raw["stats"], c, raw["seconds"], core["f_hz"])
        samples.append(Sample(core["f_hz"], float(v), rates, core["core_w"] + core["l2_w"]))
    return samples, raw


def run_sniper_point(
    run_sniper: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    traces: Sequence[str],
    f_hz: float,
    v: float,
    duration_s: float,
    config: str = "gainestown",
    interval_s: float | None = None,
    idle_cores: int = 0,
    extra: Sequence[str] = (),
) -> Path:
    """A fixed-operating-point Sniper run of a trace mix (one core per trace) for ``duration_s``
    simulated seconds (Sniper's ``stop-by-time`` script), with ``power/vdd`` = ``v``; with
    ``interval_s``, Sniper's ``periodic-stats`` script also writes its statistics every that
    long (markers :func:`interval_markers`), for one McPAT sample per interval. ``idle_cores``
    more cores without a thread give samples of a core's power without events. ``extra``:
    more ``run-sniper`` arguments (e.g. ``-g perf_model/dram/bank_stats/banks=8``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(run_sniper), "-d", str(out), "-n", str(len(traces) + idle_cores), "-c", config,
        "-g", f"perf_model/core/frequency={f_hz / 1e9:.6g}", "-g", f"power/vdd={v:.6g}",
        "-s", f"stop-by-time:{round(duration_s * 1e9)}",
        *(["-s", f"periodic-stats:{round(interval_s * 1e9)}"] if interval_s else []),
        *extra,
        f"--traces={','.join(str(Path(t).resolve()) for t in traces)}", "--sim-end=last",
    ]  # fmt: skip
    with open(out / "sniper.log", "wb") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=out)
    if rc != 0:
        lines = (out / "sniper.log").read_text(errors="replace").strip().splitlines()[-3:]
        raise InputError(
            f"Sniper run at {f_hz / 1e9:g} GHz failed (exit {rc}): {' | '.join(lines)}"
        )
    return out
