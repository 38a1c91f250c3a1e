"""Speed of the closed loop for every configuration (issues 4 and 10).

Case: the 16-core example (``examples/3d-16core.toml``: 16 cores, 128 banks, all its policies:
coolest-first mapping, hot-to-cold migration every 10 ms, ondemand DVFS, low-power DRAM mode,
Poisson arrivals) switched to each configuration with ``--set architecture.kind=...`` (``ddr``
with ``architecture.banks=8x16``), at each thermal grid. Each run is a fresh process (so its
peak memory is its own); per case the median of ``--repeat`` runs of the loop's own speed
(``loop_epochs_per_s`` of the run summary: the epoch loop without set-up) is reported, with the
set-up time, the solver, the node count and the peak resident memory. With ``--profile`` one
more run per case (``--profile-grid``) is made under pyinstrument and its profile printed: where
an epoch's time goes. The machine may be shared: the spread of the runs is printed too.

    python benchmarks/closed_loop.py [--kinds ddr,3dmem,2.5d,3d,...] [--grids 16x16,32x32,64x64]
        [--duration 300ms] [--slow-duration 30ms] [--repeat 5] [--profile]
        [--save benchmarks/results/closed_loop.md]

``--kinds`` takes any configuration the floorplan generator knows and defaults to all of them
(``comet.floorplan.params.KINDS``); per-kind ``--set`` overrides live in ``KIND_SETS``, and
``chiplets`` runs the chiplet example (``examples/chiplets.toml``, its own policies:
``KIND_EXAMPLE``); ``--example`` another run config for the others.
Kinds in ``--slow-kinds`` are run for ``--slow-duration`` (a rate is measured, not a total;
before the reduced-order step, 2.5d ran on the sparse solver at a few epochs per second).
``build s`` is ``Simulation.build`` (floorplans, networks, models); ``step set-up s`` the time
``run()`` spends before its first epoch (the thermal step of the epoch length: for per-cell
networks the reduced-order basis, :mod:`comet.thermal.reduced`), i.e. the run's wall time
minus the loop's.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine  # benchmarks/machine.py (run these files as scripts)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "3d-16core.toml"
#: per configuration: the --set overrides that make the 16-core example that configuration
KIND_SETS: dict[str, list[str]] = {
    "ddr": ["architecture.kind=ddr", "architecture.banks=8x16"],
    "3dmem": ["architecture.kind=3dmem"],
    "2.5d": ["architecture.kind=2.5d"],
    "3d": ["architecture.kind=3d"],
}


#: kinds run from an example of their own (its policies) instead of the 16-core example
KIND_EXAMPLE: dict[str, Path] = {"chiplets": ROOT / "examples" / "chiplets.toml"}


def _overrides(kind: str, grid: str, duration: str) -> list[str]:
    if kind in KIND_EXAMPLE:
        sets: list[str] = []
    else:
        sets = KIND_SETS.get(kind, [f"architecture.kind={kind}"])
    return [*sets, f"architecture.grid={grid}", f"sim.duration={duration}"]


def worker(example: str, overrides: list[str], profile: bool) -> None:
    """One run in this process; prints one JSON line (and the profile text before it)."""
    from comet.config import load_config
    from comet.sim.engine import Simulation

    t0 = time.perf_counter()
    sim = Simulation(load_config(example, overrides))
    sim.build()
    t_build = time.perf_counter() - t0
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    with tempfile.TemporaryDirectory() as tmp:
        run = sim.run(Path(tmp) / "run")
        summary = dict(run.summary)
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall = summary.get("wall_s", summary.get("wall_time_s"))
    loop_eps = summary.get("loop_epochs_per_s")
    epochs = summary.get("epochs") or 0
    info = [getattr(m.backend, "info", None) for m in sim.models]
    out = {
        "loop_eps": loop_eps,
        # set-up inside run(): the thermal step of the epoch (a reduced basis is built there)
        "prepare_s": (wall - epochs / loop_eps) if wall and loop_eps else None,
        "order": sum(i.order for i in info if i is not None) or None,
        "epochs": summary.get("epochs"),
        "build_s": t_build,
        "wall_s": wall,
        "peak_MB": peak_kb / 1024,
        "solvers": sorted({m.backend.name for m in sim.models}),
        "nodes": sum(m.n_nodes for m in sim.models),
    }
    print("RESULT " + json.dumps(out))


def _spawn(example: str, overrides: list[str], profile: bool, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", "--example", example]
    for o in overrides:
        cmd += ["--set", o]
    if profile:
        cmd.append("--profile")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.splitlines()
    res = [ln for ln in lines if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not res:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    out: dict[str, Any] = json.loads(res[-1][len("RESULT ") :])
    if profile:
        out["profile"] = "\n".join(ln for ln in lines if not ln.startswith("RESULT "))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", dest="sets", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--example", default=str(EXAMPLE), help="run config (3d-16core)")
    from comet.floorplan.params import KINDS  # every configuration the generator knows

    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="configurations, comma list (all known)"
    )
    parser.add_argument("--grids", default="16x16,32x32,64x64", help="thermal grids, comma list")
    parser.add_argument("--duration", default="300ms", help="simulated time per run (300ms)")
    parser.add_argument(
        "--slow-duration", default="30ms", help="simulated time for sparse-solver kinds (30ms)"
    )
    parser.add_argument("--slow-kinds", default="", help="kinds run for --slow-duration (none)")
    parser.add_argument(
        "--solver",
        default="auto",
        help="sim.solver of every run (auto: per-cell networks take the reduced-order step "
        "unless the run is too short to repay it)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (median of)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--profile", action="store_true", help="one profiled run per kind")
    parser.add_argument("--profile-grid", default="32x32", help="grid of the profiled runs")
    parser.add_argument("--save", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.worker:
        worker(args.example, args.sets, args.profile)
        return

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    grids = [g.strip() for g in args.grids.split(",") if g.strip()]
    slow = {k.strip() for k in args.slow_kinds.split(",") if k.strip()}
    example = str(Path(args.example).resolve())
    lines = [
        f"machine: {machine()}",
        f"case: {Path(example).name} (all its policies) per configuration, 1 ms epochs; "
        f"{args.duration} simulated ({args.slow_duration} for {', '.join(sorted(slow)) or '-'})"
        f"; median of {args.repeat} runs, each a fresh process",
        "",
        "| kind | grid | solver | nodes | loop epochs/s median | min-max | build s | "
        "step set-up s | reduced order | peak MB | target 1000 |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    print("\n".join(lines), flush=True)
    profiles: list[tuple[str, str]] = []
    for kind in kinds:
        for grid in grids:
            duration = args.slow_duration if kind in slow else args.duration
            ov = _overrides(kind, grid, duration)
            if args.solver != "auto":
                ov.append(f"sim.solver={args.solver}")
            ex = str(KIND_EXAMPLE.get(kind, example))
            runs: list[dict[str, Any]] = []
            for _ in range(args.repeat):
                runs.append(_spawn(ex, ov, False, args.timeout))
                if "error" in runs[-1]:  # a failed or timed-out case is not repeated
                    break
            ok = [r for r in runs if "error" not in r and r.get("loop_eps")]
            if not ok:
                err = runs[0].get("error", "no loop speed") if runs else "no runs"
                row = f"| {kind} | {grid} | - | - | failed: {err} | | | | | | |"
            else:
                eps = sorted(float(r["loop_eps"]) for r in ok)
                med = statistics.median(eps)
                r0 = ok[0]
                prep = [r["prepare_s"] for r in ok if r.get("prepare_s") is not None]
                prep_txt = f"{statistics.median(prep):.1f}" if prep else "-"
                row = (
                    f"| {kind} | {grid} | {'+'.join(r0['solvers'])} | {r0['nodes']} | {med:.0f} "
                    f"| {eps[0]:.0f}-{eps[-1]:.0f} | "
                    f"{statistics.median(r['build_s'] for r in ok):.2f} | {prep_txt} | "
                    f"{r0.get('order') or '-'} | "
                    f"{max(r['peak_MB'] for r in ok):.0f} | {'met' if med >= 1000 else 'not met'} |"
                )
            lines.append(row)
            print(row, flush=True)
            if args.profile and grid == args.profile_grid:
                pr = _spawn(ex, ov, True, args.timeout)
                profiles.append((f"{kind} {grid}", pr.get("profile", pr.get("error", ""))))
    report = "\n".join(lines)
    for label, text in profiles:
        block = f"\n\nprofile of one run, {label} (pyinstrument):\n\n```\n{text.strip()}\n```"
        print(block)
        report += block
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
