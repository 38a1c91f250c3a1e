"""A small synthetic run directory for the results / plot / video / GUI tests.

Stack (HotSpot order, layer 0 farthest from the sink), footprint 4 mm x 4 mm:

    0 core   2x2 cores C_0..C_3 (2 mm x 2 mm); C_3 (top right, x >= 2 mm, y >= 2 mm) is HOT
    1 tim0   one block TIM0
    2 dram0  banks B_0..B_7 (4 columns x 2 rows, 1 mm x 2 mm); B_7 (top right) is warm
    3 dram1  banks B_8..B_15 (same layout)

The traces are analytic (first-order rises to per-unit targets) so tests can compare displayed
values with :func:`expected_temperature`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from comet.floorplan.model import Block
from comet.sim.results import RunLayer, RunWriter

MM = 1e-3
EPOCH_S = 1e-3
AMBIENT_DEGC = 45.0
TAU_S = 0.01
HOT_CORE = "C_3"
HOT_BANK = "B_7"


def _cores() -> tuple[Block, ...]:
    return tuple(
        Block(f"C_{2 * r + c}", 2 * MM, 2 * MM, c * 2 * MM, r * 2 * MM)
        for r in range(2)
        for c in range(2)
    )


def _banks(first: int) -> tuple[Block, ...]:
    return tuple(
        Block(f"B_{first + 4 * r + c}", 1 * MM, 2 * MM, c * 1 * MM, r * 2 * MM)
        for r in range(2)
        for c in range(4)
    )


def layers() -> list[RunLayer]:
    w = h = 4 * MM
    return [
        RunLayer("core", 0, "core", _cores(), w, h),
        RunLayer("tim0", 1, "tim", (Block("TIM0", w, h, 0.0, 0.0),), w, h),
        RunLayer("dram0", 2, "dram", _banks(0), w, h),
        RunLayer("dram1", 3, "dram", _banks(8), w, h),
    ]


CORES = [f"C_{i}" for i in range(4)]
BANKS = [f"B_{i}" for i in range(16)]
UNITS = CORES + BANKS


def rise_degC(unit: str) -> float:
    """Steady rise above ambient of each unit (deg C)."""
    if unit == HOT_CORE:
        return 50.0  # -> 95 deg C
    if unit.startswith("C_"):
        return 15.0 + 2.0 * int(unit[2:])
    i = int(unit[2:])
    base = 8.0 if i < 8 else 5.0
    return base + (12.0 if i % 8 == 7 else 0.5 * (i % 8))


def power_W(unit: str) -> float:
    if unit == HOT_CORE:
        return 12.0
    if unit.startswith("C_"):
        return 3.0 + 0.5 * int(unit[2:])
    return 0.25 + (0.3 if int(unit[2:]) % 8 == 7 else 0.0)


def expected_temperature(unit: str, time_s: float) -> float:
    """The temperature (deg C) the fixture writes for ``unit`` at the end of an epoch."""
    return AMBIENT_DEGC + rise_degC(unit) * (1.0 - np.exp(-time_s / TAU_S))


def _grid(temps: dict[str, float], run_layers: list[RunLayer], n: int) -> np.ndarray:
    out = np.zeros((len(run_layers), n, n), dtype=np.float32)
    cell = 4 * MM / n
    ys = 4 * MM - (np.arange(n) + 0.5) * cell  # row 0 = north
    xs = (np.arange(n) + 0.5) * cell
    gx, gy = np.meshgrid(xs, ys)
    for li, layer in enumerate(run_layers):
        if layer.name == "tim0":
            out[li] = np.mean([temps[c] for c in CORES])
            continue
        for b in layer.blocks:
            inside = (gx >= b.x) & (gx < b.x + b.width) & (gy >= b.y) & (gy < b.y + b.height)
            out[li][inside] = temps[b.name]
        # a hot spot in the middle of the hot core's area, 3 deg C above its block value
        if layer.name == "core":
            out[li][(np.abs(gx - 3 * MM) < cell) & (np.abs(gy - 3 * MM) < cell)] += 3.0
    return out


def make_run(
    path: str | Path,
    *,
    epochs: int = 60,
    grid_every: int = 0,
    grid_n: int = 16,
    complete: bool = True,
) -> Path:
    """Write the synthetic run to ``path`` and return it.

    ``grid_every`` > 0 stores a grid snapshot every that many epochs; ``complete=False`` leaves
    the run without ``summary.json`` (as a run killed hard would).
    """
    path = Path(path)
    run_layers = layers()
    w = RunWriter(path, name="synthetic", flush_every=7, overwrite=True)
    w.write_config({"name": "synthetic", "epoch_s": EPOCH_S, "thresholds_degC": [80.0, 90.0]})
    w.write_layers(run_layers)
    w.open(temperature=UNITS, power=UNITS, frequency=CORES, bank_mode=BANKS[:8])
    freq = {c: 3.0 for c in CORES}
    for k in range(1, epochs + 1):
        t = k * EPOCH_S
        temps = {u: expected_temperature(u, t) for u in UNITS}
        if temps[HOT_CORE] > 90.0 and freq[HOT_CORE] == 3.0:
            freq[HOT_CORE] = 2.0
            w.event(t, "dvfs", HOT_CORE, 2.0, "DTM: above 90 degC")
        modes = [1.0 if (i == 7 and t > 0.02) else 0.0 for i in range(8)]
        w.append(
            t,
            temperature=[temps[u] for u in UNITS],
            power={u: power_W(u) for u in UNITS},
            frequency=[freq[c] for c in CORES],
            bank_mode=modes,
        )
        if grid_every and k % grid_every == 0:
            w.grid(t, _grid(temps, run_layers, grid_n), [la.name for la in run_layers])
    w.close(instructions=1_000_000, makespan_s=epochs * EPOCH_S)
    if not complete:
        # what a hard kill leaves: flushed traces, no summary.json
        (path / "summary.json").unlink()
    return path
