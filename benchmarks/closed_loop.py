"""Speed of the closed loop (issue 4): epochs per second of ``comet run``'s epoch loop.

Case: ``3d`` with 16 cores (4x4, 1.707 mm) and 128 banks (4x4x8), thermal grid 32x32, 1 ms
epochs, ``ondemand`` DVFS + ``lowpower`` DRAM policy, 16 threads (compute, memory, mixed,
phased) over >= 1 s simulated. Target: >= 1000 epochs/s (faster than real time) on 2 cores.

Printed: machine and commit, set-up time (stack generation, thermal model, propagator), epochs
per second of the loop, the share of the loop spent in the thermal step (``model.step`` +
block temperatures, timed separately on the same model), and with ``--profile`` a pyinstrument
profile of the loop (where the time goes).

    python benchmarks/closed_loop.py [--duration 1s] [--grid 32x32] [--profile]
                                     [--save benchmarks/results/closed_loop.md]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import machine  # benchmarks/machine.py (run these files as scripts)

from comet.sim.engine import Simulation


def config(duration: str, grid: str) -> dict[str, Any]:
    return {
        "name": "bench-closed-loop",
        "seed": 1,
        "sim": {"duration": duration, "epoch": "1ms", "flush_every": 100},
        "architecture": {
            "kind": "3d",
            "cores": "4x4",
            "core_size": "1.707mm",
            "banks": "4x4x8",
            "grid": grid,
        },
        "workload": {
            "jobs": [
                {"profile": "compute", "threads": 4, "instructions": 5e9},
                {"profile": "memory", "threads": 4, "instructions": 5e9},
                {"profile": "mixed", "threads": 4, "instructions": 5e9},
                {"profile": "phased", "threads": 4, "instructions": 5e9},
            ]
        },
        "policies": {"dvfs": "ondemand", "dram": "lowpower"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="1s", help="simulated time (default 1s)")
    parser.add_argument("--grid", default="32x32", help="thermal grid (default 32x32)")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile of the loop")
    parser.add_argument("--save", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    t0 = time.perf_counter()
    sim = Simulation(config(args.duration, args.grid))
    sim.build()
    for m in sim.models:  # the propagator for the epoch length is part of the set-up
        m.step(np.zeros(len(m.power_names)), sim.dt)
        m.time = 0.0
    t_setup = time.perf_counter() - t0

    loop_time: dict[str, float] = {}
    original = sim._loop

    def timed_loop(*a: Any, **kw: Any) -> None:
        t = time.perf_counter()
        original(*a, **kw)
        loop_time["s"] = time.perf_counter() - t

    sim._loop = timed_loop  # type: ignore[method-assign]
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    with tempfile.TemporaryDirectory() as tmp:
        run = sim.run(Path(tmp) / "run")
        epochs = int(run.summary["epochs"])
        peak = max(v for v in run.summary["peak_degC"].values() if v is not None)
    if profiler is not None:
        profiler.stop()
    eps = epochs / loop_time["s"]

    # the thermal step alone (advance + block temperatures), on the same models
    model_powers = [np.full(len(m.power_names), 0.5) for m in sim.models]
    n_probe = min(200, epochs)
    t = time.perf_counter()
    for _ in range(n_probe):
        for m, p in zip(sim.models, model_powers, strict=True):
            m.advance(p, sim.dt)
            m.power_block_temperatures()
    thermal_ms = (time.perf_counter() - t) / n_probe * 1e3
    loop_ms = 1e3 / eps
    nodes = sum(m.n_nodes for m in sim.models)
    lines = [
        f"machine: {machine()}",
        f"case: 3d, {sim.n_cores} cores, {sim.n_banks} banks, grid {args.grid} "
        f"({nodes} thermal nodes, solver {type(sim.models[0].backend).__name__}), "
        f"1 ms epochs, ondemand + lowpower, {args.duration} simulated",
        "",
        "| set-up (s) | epochs | loop (s) | epochs/s | ms/epoch | thermal step (ms) | "
        "rest of the loop (ms) | peak (C) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {t_setup:.2f} | {epochs} | {loop_time['s']:.2f} | {eps:.0f} | {loop_ms:.3f} | "
        f"{thermal_ms:.3f} | {max(loop_ms - thermal_ms, 0):.3f} | {peak:.1f} |",
        "",
        f"target >= 1000 epochs/s: {'met' if eps >= 1000 else 'NOT met'}"
        f" (thermal step {thermal_ms / loop_ms * 100:.0f}% of the loop)",
    ]
    report = "\n".join(lines)
    print(report)
    if profiler is not None:
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        print("\nprofile of the run (pyinstrument):\n")
        print(text)
        report += "\n\n```\n" + text + "\n```\n"
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
