"""Accuracy and speed of the structured solver's ``mixed`` precision against ``double``.

Case: the closed-loop benchmark's stack (``3d``, 16 cores + 128 banks, 32x32 grid), 1 ms steps.
1. Transient: 20 s of a varying random block power, both precisions side by side; the largest
   difference of any block temperature (K), sampled every second.
2. Steady-state bias: start ``mixed`` at the exact steady state of a constant power and step for
   10 x the slowest time constant; the drift of the block temperatures (K) is its bias.
3. Speed: the step (advance + block temperatures) in each precision, isolated (best of repeats).

    python benchmarks/precision.py [--seconds 20] [--save benchmarks/results/precision.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from closed_loop import config  # benchmarks/closed_loop.py (run these files as scripts)
from machine import machine

from comet.sim.engine import Simulation
from comet.thermal.solver import ThermalModel
from comet.thermal.structured import one_blas_thread


def model(precision: str) -> tuple[ThermalModel, float]:
    cfg = config("1s", "32x32")
    cfg["sim"]["precision"] = precision
    sim = Simulation(cfg)
    sim.build()
    return sim.models[0], sim.dt


def step_ms(m: ThermalModel, dt: float, p: np.ndarray) -> float:
    best = np.inf
    with one_blas_thread():
        for _ in range(7):
            t = time.perf_counter()
            for _ in range(200):
                m.advance(p, dt)
                m.power_block_temperatures()
            best = min(best, (time.perf_counter() - t) / 200)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="transient length (s)")
    parser.add_argument("--save", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    (dbl, dt), (mix, _) = model("double"), model("mixed")
    rng = np.random.default_rng(0)
    base = rng.random(len(dbl.power_names))
    n = round(args.seconds / dt)
    worst, peak = 0.0, 0.0
    for k in range(n):
        p = base * (1.0 + 0.5 * np.sin(k / 300.0))
        dbl.advance(p, dt)
        mix.advance(p, dt)
        if (k + 1) % round(1.0 / dt) == 0:
            t = dbl.power_block_temperatures()
            worst = max(worst, float(np.abs(mix.power_block_temperatures() - t).max()))
            peak = max(peak, float(t.max()) - 273.15)

    backend = mix.backend
    tau = float(1.0 / backend.lam.min())  # type: ignore[attr-defined]
    mix.set_temperature(mix.steady(base))
    ref = mix.power_block_temperatures()
    for _ in range(round(10 * tau / dt)):
        mix.advance(base, dt)
    bias = float(np.abs(mix.power_block_temperatures() - ref).max())

    t_dbl, t_mix = step_ms(dbl, dt, base), step_ms(mix, dt, base)
    lines = [
        f"machine: {machine()}",
        f"case: 3d, 16 cores + 128 banks, 32x32 grid ({dbl.n_nodes} nodes), 1 ms steps",
        "",
        "| check | result |",
        "|---|---:|",
        f"| transient, {args.seconds:g} s, peak {peak:.1f} C: max abs(mixed - double) | "
        f"{worst:.2e} K |",
        f"| steady-state bias after {10 * tau:.0f} s (10 x slowest tau) | {bias:.2e} K |",
        f"| step, double (ms, best) | {t_dbl:.3f} |",
        f"| step, mixed (ms, best) | {t_mix:.3f} |",
    ]
    report = "\n".join(lines)
    print(report)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
