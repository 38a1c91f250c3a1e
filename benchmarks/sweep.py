"""Speed of sweeps (issue 9): ``comet sweep`` with --jobs 1 vs --jobs 2, and the per-run
overhead of the Dask path and of the local pool against a plain in-process run.

1. Parallel speed-up: a 16-run sweep (``3d``, 2x2 cores, 4x4x8 banks, 16x16 grid, an open
   Poisson workload, 16 seeds), run end to end by the real command (``comet sweep ... --jobs
   N`` in a subprocess, so worker start-up is included) into a fresh directory, ``--repeat``
   times per N; the median wall times and their ratio. Target: >= 1.7x on 2 cores.
2. Per-run overhead: the same kind of run made short (``--short``, 100 ms simulated), timed
   (a) in-process with ``Simulation(cfg).run()`` after a warm-up run, (b) through
   ``run_sweep`` on a Dask ``LocalCluster`` of one single-threaded worker process (the cluster
   started and warmed up beforehand, its start-up reported on its own), (c) through the local
   pool with one worker: the slope of its wall time between a 1-run and an N-run sweep (the
   intercept is its start-up). Overhead per run = (time per run on that path) - plain.

    python benchmarks/sweep.py [--runs 16] [--duration 1s] [--grid 16x16] [--repeat 3]
                               [--save benchmarks/results/sweep.md]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine  # benchmarks/machine.py (run these files as scripts)

from comet.sim.results import dumps_toml

ROOT = Path(__file__).resolve().parents[1]


def base_config(duration: str, grid: str = "16x16") -> dict[str, Any]:
    return {
        "name": "bench-sweep",
        "seed": 1,
        "sim": {"duration": duration, "epoch": "1ms", "flush_every": 100},
        "architecture": {"kind": "3d", "cores": "2x2", "banks": "4x4x8", "grid": grid},
        "workload": {
            "arrival": "poisson",
            "interval": "30ms",
            "count": 12,
            "mix": ["compute", "mixed", "memory"],
            "mix_order": "random",
            "instructions": 4e8,
        },
        "policies": {"mapping": "coolest-first", "dvfs": "ondemand", "dram": "lowpower"},
    }


def sweep_file(directory: Path, runs: int, duration: str, grid: str) -> Path:
    p = directory / "bench-sweep.toml"
    text = dumps_toml(base_config(duration, grid))
    seeds = ", ".join(str(s) for s in range(1, runs + 1))
    p.write_text(text + f"\n[matrix]\nseed = [{seeds}]\n")
    return p


def time_cli(sweep: Path, out: Path, jobs: int) -> tuple[float, float, float]:
    """Wall time (s), CPU time of the process tree (s), sum of the runs' own wall times (s)."""
    cmd = [
        sys.executable,
        "-c",
        "from comet.cli import main; main()",
        "sweep",
        str(sweep),
        "-o",
        str(out),
        "--jobs",
        str(jobs),
        "-q",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    runs = [json.loads(p.read_text())["wall_time_s"] for p in out.glob("runs/*/summary.json")]
    return wall, cpu, sum(runs)


def speedup(runs: int, duration: str, repeat: int, grid: str) -> dict[str, Any]:
    walls: dict[int, list[float]] = {1: [], 2: []}
    cpus: dict[int, list[float]] = {1: [], 2: []}
    loads: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="comet-bench-sweep-") as tmp:
        sweep = sweep_file(Path(tmp), runs, duration, grid)
        for i in range(repeat):
            for jobs in (1, 2):
                load = os.getloadavg()[0]
                w, cpu, in_runs = time_cli(sweep, Path(tmp) / f"j{jobs}-{i}", jobs)
                walls[jobs].append(w)
                cpus[jobs].append(cpu)
                loads[jobs].append(load)
                print(
                    f"  --jobs {jobs} #{i + 1}: {w:.1f} s wall, {cpu:.1f} s CPU "
                    f"({cpu / w:.2f} cores busy), runs' own time {in_runs:.1f} s, "
                    f"load before {load:.1f}",
                    flush=True,
                )
    m1, m2 = statistics.median(walls[1]), statistics.median(walls[2])
    return {
        "walls": walls,
        "cpus": cpus,
        "loads": loads,
        "median1": m1,
        "median2": m2,
        "speedup": m1 / m2,
        "best_speedup": min(walls[1]) / min(walls[2]),
        # what the CPU times allow when every process has a core of its own
        "cpu_bound": statistics.median(cpus[1]) / (statistics.median(cpus[2]) / 2),
    }


def overhead(runs: int, duration: str) -> dict[str, float]:
    from distributed import Client, LocalCluster

    from comet.config import config_from_dict
    from comet.sim.engine import Simulation
    from comet.sweep.plan import plan_from_dict
    from comet.sweep.runner import run_sweep

    cfg = base_config(duration)
    plan = plan_from_dict({**cfg, "matrix": {"seed": list(range(1, runs + 1))}})
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="comet-bench-overhead-") as tmp:
        d = Path(tmp)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # as in the sweep workers
            Simulation(config_from_dict(cfg)).run(d / "warm")
            t0 = time.perf_counter()
            for r in plan.runs:
                Simulation(r.run_config()).run(d / "plain" / r.id)
            out["plain"] = (time.perf_counter() - t0) / runs
        t0 = time.perf_counter()
        cluster = LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        out["dask_start"] = time.perf_counter() - t0
        try:
            warm = plan_from_dict({**cfg, "seed": 999})
            run_sweep(warm, d / "dask-warm", scheduler=client, quiet=True)  # imports, JIT cache
            t0 = time.perf_counter()
            run_sweep(plan, d / "dask", scheduler=client, quiet=True)
            out["dask"] = (time.perf_counter() - t0) / runs
        finally:
            client.close()
            cluster.close()
        # the local pool is made per sweep: its start-up (spawn, imports, compiled kernels
        # loaded) is the intercept of wall time vs runs, the per-run cost its slope
        one = plan_from_dict({**cfg, "seed": 998})
        t0 = time.perf_counter()
        run_sweep(one, d / "local-1", jobs=1, quiet=True)
        t1 = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_sweep(plan, d / "local", jobs=1, quiet=True)
        tn = time.perf_counter() - t0
        out["local"] = (tn - t1) / (runs - 1)
        out["local_start"] = t1 - out["local"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--duration", default="1s")
    ap.add_argument("--grid", default="16x16", help="thermal grid of the sweep's runs")
    ap.add_argument("--short", default="100ms", help="simulated time of the overhead runs")
    ap.add_argument("--overhead-runs", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--save", type=Path, default=None)
    args = ap.parse_args()
    head = machine()
    print(head)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"speed-up: {args.runs} runs of {args.duration}, {args.repeat} repeats", flush=True)
    sp = speedup(args.runs, args.duration, args.repeat, args.grid)
    print(f"overhead: {args.overhead_runs} runs of {args.short}", flush=True)
    ov = overhead(args.overhead_runs, args.short)
    load_after = os.getloadavg()[0]
    lines = [
        "# comet sweep: parallel speed-up and per-run overhead (issue 9)",
        "",
        f"Machine: {head}. Load average after: {load_after:.2f} (the machine is shared with",
        "other agents' jobs; wall times are noisy, medians of the repeats).",
        "",
        f"Command: `python benchmarks/sweep.py --runs {args.runs} --duration {args.duration} "
        f"--grid {args.grid} --repeat {args.repeat}`",
        "",
        f"## {args.runs}-run sweep, end to end (`comet sweep ... --jobs N`, worker start-up "
        "included)",
        "",
        f"Each run: 3d, 2x2 cores, 4x4x8 banks, {args.grid} grid, Poisson arrivals (12 jobs), "
        f"ondemand + lowpower, {args.duration} simulated; the 16 runs differ by seed.",
        "",
        "| --jobs | wall times (s) | median (s) | CPU time of the tree (s) | cores busy "
        "(CPU / wall) | load average before |",
        "|---|---|---|---|---|---|",
    ]
    for jobs in (1, 2):
        walls = ", ".join(f"{w:.1f}" for w in sp["walls"][jobs])
        cpus = ", ".join(f"{c:.1f}" for c in sp["cpus"][jobs])
        busy = ", ".join(
            f"{c / w:.2f}" for c, w in zip(sp["cpus"][jobs], sp["walls"][jobs], strict=True)
        )
        loads = ", ".join(f"{x:.1f}" for x in sp["loads"][jobs])
        lines.append(
            f"| {jobs} | {walls} | {sp[f'median{jobs}']:.1f} | {cpus} | {busy} | {loads} |"
        )
    lines += [
        "",
        f"Speed-up --jobs 2 vs --jobs 1: **{sp['speedup']:.2f}x** median, "
        f"{sp['best_speedup']:.2f}x best vs best (target >= 1.7x). 'cores busy' near 2 for "
        "--jobs 2 means the two workers got two cores; below it, the neighbours took the rest.",
        "",
        f"From the CPU times (median CPU of --jobs 1 / half the median CPU of --jobs 2, i.e. "
        f"the wall-time ratio if each process had a core of its own): {sp['cpu_bound']:.2f}x. "
        "An estimate, not a measurement; the extra CPU of --jobs 2 is the second worker's "
        "start-up.",
        "",
        f"## Per-run overhead ({args.overhead_runs} runs of {args.short} simulated)",
        "",
        "| path | s per run | overhead per run (s) |",
        "|---|---|---|",
        f"| plain `Simulation(cfg).run()` in-process (warm) | {ov['plain']:.3f} | - |",
        f"| Dask LocalCluster, 1 worker process (warm) | {ov['dask']:.3f} | "
        f"{ov['dask'] - ov['plain']:+.3f} |",
        f"| local pool, --jobs 1 (slope of wall time vs runs) | {ov['local']:.3f} | "
        f"{ov['local'] - ov['plain']:+.3f} |",
        "",
        f"Start-up, once per sweep: Dask LocalCluster of 1 worker process {ov['dask_start']:.2f}"
        f" s (plus the first run's imports in the worker); local pool {ov['local_start']:.2f} s"
        " (spawn, imports, compiled kernels loaded from numba's cache, first run's set-up).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.save:
        args.save.write_text(text)


if __name__ == "__main__":
    main()
