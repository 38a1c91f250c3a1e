"""Transient steps of networks whose layers carry per-cell materials (2.5D fillers, dies
smaller than the layer below, ``-detailed_3D on``) against the exact exponential.

Reference: the dense eigen-decomposition of the small network (exact to round-off). The back
end chosen for such networks (the reduced-order model, :mod:`comet.thermal.reduced`; and the
sparse rational one, the exact reference of larger cases) must stay within 1e-4 K of it
over 1 s of 1 ms steps with power changing every step, and keep the energy balance.
"""

from __future__ import annotations

import numpy as np
import pytest

from comet.floorplan.generate import generate, thermal_config
from comet.floorplan.model import Block, Floorplan, Layer, Stack
from comet.thermal.backends_linear import DenseEigen
from comet.thermal.hotspot_config import ThermalConfig
from comet.thermal.solver import ThermalModel

MOLD = {"heat_capacity": 1.7e6, "resistivity": 1.0 / 0.9}  # mold compound, k 0.9 W/(m K)


def chiplet_stack() -> Stack:
    """Two dies (cores, memory) of different sizes on a 10 x 8 mm interposer, the rest of
    the die layer mold compound; a TIM over everything (the numerics see per-cell materials)."""
    w, h = 0.010, 0.008
    die = Floorplan(
        (
            Block("C_0", 0.004, 0.004, 0.0005, 0.002),
            Block("B_0", 0.003, 0.005, 0.0060, 0.0015),
            Block("X0", 0.0005, h, 0.0, 0.0, **MOLD),
            Block("X1", 0.0015, h, 0.0045, 0.0, **MOLD),
            Block("X2", 0.001, h, 0.009, 0.0, **MOLD),
            Block("X3", 0.004, 0.002, 0.0005, 0.0, **MOLD),
            Block("X4", 0.004, 0.002, 0.0005, 0.006, **MOLD),
            Block("X5", 0.003, 0.0015, 0.006, 0.0, **MOLD),
            Block("X6", 0.003, 0.0015, 0.006, 0.0065, **MOLD),
        ),
        source="die",
    )
    whole = Floorplan((Block("I_0", w, h, 0.0, 0.0),), source="interposer")
    tim = Floorplan((Block("TIM", w, h, 0.0, 0.0),), source="tim")
    return Stack(
        (
            Layer("interposer", whole, 1e-4, 100.0, 1.75e6),
            Layer("dies", die, 1.5e-4, 100.0, 1.75e6, has_power=True),
            Layer("tim", tim, 2e-5, 4.0, 4e6, lateral=False),
        )
    )


def _models(case: str, solver: str = "reduced") -> tuple[ThermalModel, ThermalModel]:
    if case == "2.5d":
        (stack,) = generate("2.5d", cores="2x2", banks="2x2x2", grid_rows=5, grid_cols=6)
        cfg = thermal_config(stack)
    else:
        stack = chiplet_stack()
        cfg = ThermalConfig(
            model_type="grid", grid_rows=6, grid_cols=7, detailed_3D_used=1, grid_map_mode="avg"
        )
    fast = ThermalModel.from_stack(stack, cfg, solver=solver)
    exact = ThermalModel.from_stack(stack, cfg, solver="dense")
    assert not fast.network.grid.uniform  # type: ignore[union-attr]
    assert isinstance(exact.backend, DenseEigen)
    return fast, exact


@pytest.mark.parametrize("solver", ["reduced", "sparse"])
@pytest.mark.parametrize("case", ["2.5d", "chiplets"])
def test_step_matches_the_exact_exponential_over_one_second(case: str, solver: str) -> None:
    fast, exact = _models(case, solver)
    rng = np.random.default_rng(7)
    n = len(fast.power_names)
    worst = 0.0
    for _ in range(1000):  # 1 s of 1 ms steps, new power every step
        p = rng.uniform(0.0, 3.0, n) * (rng.random(n) < 0.7)
        fast.advance(p, 1e-3)
        exact.advance(p, 1e-3)
        worst = max(worst, float(np.abs(fast.temperature - exact.temperature).max()))
    assert worst <= 1e-4
    rise = exact.temperature.max() - exact.config.init_temp
    assert rise > 1.0  # the case heats up: the comparison is not of two idle states
    blocks = np.abs(fast.power_block_temperatures() - exact.power_block_temperatures())
    assert blocks.max() <= 1e-4


@pytest.mark.parametrize("case", ["2.5d", "chiplets"])
def test_energy_balance(case: str) -> None:
    fast, exact = _models(case)
    p = np.linspace(0.5, 2.0, len(fast.power_names))
    for model in (fast, exact):
        T = model.steady(p, leakage=False)
        assert model.heat_to_ambient(T) == pytest.approx(p.sum(), rel=1e-9)
    # transient: energy stored + energy out = energy in, with the heat out integrated exactly
    # by sub-stepping (the step is exact for any length: 100 steps of 0.1 ms = one of 10 ms)
    model = fast
    C = model.network.C
    E0 = float(C @ model.temperature)
    out = 0.0
    sub = 1e-5
    prev = model.heat_to_ambient()
    for _ in range(1000):
        model.advance(p, sub)
        now = model.heat_to_ambient()
        out += 0.5 * (prev + now) * sub
        prev = now
    stored = float(C @ model.temperature) - E0
    assert stored + out == pytest.approx(p.sum() * 1000 * sub, rel=1e-4)
