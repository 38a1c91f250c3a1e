"""Speed and accuracy of the thermal solver on the reference cases (issue 2).

Cases (inputs and HotSpot 7 outputs in tests/data/reference):
  (a) ev6, grid 64x64, 100 rows of 10 ms   (HotSpot 7: SuperLU build 0.53 s/row, RK4 2.14 s/row)
  (b) stack3d (10 LCF layers + spreader + sink), grid 64x64, 1000 rows of 1 ms
      (HotSpot 7: RK4 build 1.94 s/row, SuperLU build 18 s/row)

Printed per case: one-time set-up (read files, build network, factorize, build the propagator
for the row length), milliseconds per transient row, steady solve, total per row with set-up
spread over the run, and the largest difference from HotSpot's RK4 transient and steady outputs.

Then the whole process (issue 10): ``comet hotspot`` on the ev6 case (100 rows, 64x64, a
transient trace and the steady file), timed as a fresh process ``--process-runs`` times (median
and best wall time, median CPU time of the process; ``hyperfine`` is used too when installed).
The wall time includes Python's start and every import; on a shared machine the CPU time is
the steadier figure.

    python benchmarks/thermal.py [--degree 8] [--process-runs 9]
                                 [--save benchmarks/results/thermal.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine  # benchmarks/machine.py (run these files as scripts)

from comet.floorplan.flp import read_flp
from comet.floorplan.lcf import read_lcf
from comet.thermal.hotspot_config import read_config
from comet.thermal.materials import read_materials
from comet.thermal.solver import ThermalModel
from comet.thermal.traces import read_node_dump, read_ptrace, read_ttrace

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"
HOTSPOT_FASTEST = {"ev6": 0.53, "stack3d": 1.94}  # s per row, HotSpot 7's faster build


def run_case(name: str, degree: int) -> dict[str, float]:
    cwd = os.getcwd()
    os.chdir(REF / name)  # HotSpot resolves LCF floorplans against the working directory
    try:
        t0 = time.perf_counter()
        if name == "ev6":
            materials = read_materials("example.materials")
            config = read_config(
                "hotspot.config",
                [("model_type", "grid"), ("grid_rows", "64"), ("grid_cols", "64")],
                materials,
            )
            model = ThermalModel.from_floorplan(read_flp("ev6.flp"), config, degree=degree)
            names, power = read_ptrace("gcc.ptrace")
            expected_trace = "expected/grid64.ttrace"
            expected_steady = "expected/grid64.steady"
        else:
            config = read_config("hotspot.config", [("grid_rows", "64"), ("grid_cols", "64")])
            model = ThermalModel.from_stack(read_lcf("stack.lcf"), config, degree=degree)
            names, power = read_ptrace("stack.ptrace")
            expected_trace = "expected/grid64.ttrace"
            expected_steady = "expected/grid64.steady"
        dt = config.sampling_intvl
        model.step(np.zeros(len(model.power_names)), dt)  # builds the propagator for dt
        model.set_temperature(config.init_temp)
        model.time = 0.0
        t1 = time.perf_counter()
        rows = np.empty((power.shape[0], len(names)))
        for k, row in enumerate(power):
            model.advance(row, dt)
            rows[k] = model.power_block_temperatures()
        t2 = time.perf_counter()
        steady = model.steady(power.mean(axis=0))
        t3 = time.perf_counter()
        model.steady(power.mean(axis=0))
        t4 = time.perf_counter()
        _, ref_rows = read_ttrace(expected_trace)
        ref_names, ref_steady = read_node_dump(expected_steady)
        dump_names, dump_vals = model.dump(steady)
        lookup = dict(zip(dump_names, dump_vals, strict=True))
        steady_err = max(abs(lookup[n] - v) for n, v in zip(ref_names, ref_steady, strict=True))
        n_rows = power.shape[0]
        return {
            "rows": n_rows,
            "nodes": model.n_nodes,
            "setup_s": t1 - t0,
            "row_ms": (t2 - t1) / n_rows * 1e3,
            "steady_first_s": t3 - t2,
            "steady_s": t4 - t3,
            "total_row_ms": (t2 - t0) / n_rows * 1e3,
            "trace_err_K": float(np.max(np.abs(rows - ref_rows))),
            "steady_err_K": float(steady_err),
            "speedup": HOTSPOT_FASTEST[name] / ((t2 - t0) / n_rows),
        }
    finally:
        os.chdir(cwd)


#: the whole-process case: HotSpot's example 2 on a 64x64 grid, as a user types it
EV6_COMMAND = [
    "hotspot", "-c", "hotspot.config", "-f", "ev6.flp", "-p", "gcc.ptrace",
    "-materials_file", "example.materials", "-model_type", "grid",
    "-grid_rows", "64", "-grid_cols", "64", "-o", "out.ttrace", "-steady_file", "out.steady",
]  # fmt: skip


def whole_process(runs: int) -> dict[str, float | str]:
    """Wall and CPU time (s) of ``comet hotspot`` on ev6 as a fresh process, ``runs`` times."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "ev6"
        shutil.copytree(REF / "ev6", work)
        code = "import sys; from comet.cli import main; sys.argv[0] = 'comet'; main()"
        cmd = [sys.executable, "-c", code, *EV6_COMMAND]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        walls, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
            walls.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out: dict[str, float | str] = {
            "wall_median": statistics.median(walls),
            "wall_best": min(walls),
            "cpu_median": statistics.median(cpus),
            "hyperfine": "",
        }
        if shutil.which("hyperfine"):
            import shlex

            res = subprocess.run(
                ["hyperfine", "-N", "--warmup", "1", "--runs", str(runs), shlex.join(cmd)],
                cwd=work, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            line = next((ln for ln in res.stdout.splitlines() if "Time (mean" in ln), "")
            out["hyperfine"] = " ".join(line.split())
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--degree", type=int, default=8, help="CF rational degree (even)")
    parser.add_argument(
        "--process-runs", type=int, default=9, help="fresh-process runs of comet hotspot (9)"
    )
    parser.add_argument("--save", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    lines = [
        f"machine: {machine()}",
        f"solver: structured (DCT + per-mode eigen + Woodbury edges), CF degree {args.degree}",
        "",
        "| case | nodes | rows | set-up s | ms/row | ms/row incl. set-up | steady s (1st/again)"
        " | max diff vs HotSpot RK4 K (trace / steady) | speed-up vs HotSpot's faster build |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("ev6", "(a) ev6 64x64, 10 ms rows"),
        ("stack3d", "(b) stack3d 64x64, 1 ms"),
    ):
        r = run_case(name, args.degree)
        lines.append(
            f"| {label} | {r['nodes']} | {r['rows']} | {r['setup_s']:.3f} | {r['row_ms']:.2f} "
            f"| {r['total_row_ms']:.2f} | {r['steady_first_s']:.3f} / {r['steady_s']:.4f} "
            f"| {r['trace_err_K']:.4f} / {r['steady_err_K']:.4f} | {r['speedup']:.0f}x |"
        )
    if args.process_runs > 0:
        w = whole_process(args.process_runs)
        lines += [
            "",
            f"whole process, `comet {' '.join(EV6_COMMAND)}` (ev6, 100 rows, 64x64), "
            f"{args.process_runs} fresh processes:",
            "",
            "| wall s median | wall s best | CPU s median | per row incl. everything (ms) |",
            "|---:|---:|---:|---:|",
            f"| {w['wall_median']:.3f} | {w['wall_best']:.3f} | {w['cpu_median']:.3f} "
            f"| {float(w['wall_median']) / 100 * 1e3:.1f} |",
        ]
        if w["hyperfine"]:
            lines.append(f"\nhyperfine: {w['hyperfine']}")
    text = "\n".join(lines)
    print(text)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(text + "\n")


if __name__ == "__main__":
    main()
