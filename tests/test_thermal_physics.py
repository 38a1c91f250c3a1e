"""Physics of the thermal core against closed forms, and the properties every solver must have.

- a 1-D slab: steady temperature rise = power x series resistance, and the slowest time constant
  of the transient = 4 L^2 / (pi^2 alpha) (insulated top, fixed-temperature bottom), scaled by
  HotSpot's capacitance factor;
- energy balance: in steady state the heat leaving to ambient equals the power in;
- symmetry: a uniform power map on a uniform die gives a symmetric temperature map;
- the solvers agree with each other, and one long step equals many short ones.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from comet.floorplan.flp import read_flp
from comet.floorplan.lcf import read_lcf
from comet.floorplan.model import Block, Floorplan, Layer, Stack
from comet.thermal.hotspot_config import C_FACTOR, ThermalConfig, read_config
from comet.thermal.materials import read_materials
from comet.thermal.network import (
    GridLayer,
    GridStructure,
    ThermalNetwork,
    assemble_grid,
)
from comet.thermal.package import PackageLinks
from comet.thermal.rational import cf_exp
from comet.thermal.solver import ThermalModel
from comet.thermal.traces import read_ptrace

REF = Path(__file__).parent / "data" / "reference"


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def slab_network(
    n_layers: int, thickness: float, k: float, c: float, side: float, g_bottom: float, cells: int
) -> ThermalNetwork:
    """A 1-D slab cut into ``n_layers`` uniform layers, no package periphery.

    The last layer is tied to ambient by ``g_bottom`` (W/K per cell) in series with its own
    thickness, as HotSpot ties its sink; power enters the top layer (index 0).
    """
    t = thickness / n_layers
    cw = side / cells
    a = cw * cw
    layers = [GridLayer(f"s{i}", "lcf", k, c, t, True, i == 0, 0) for i in range(n_layers)]
    rz = t / (k * a)
    g_amb = np.zeros(n_layers)
    g_amb[-1] = 1.0 / (rz + 1.0 / g_bottom)
    package = PackageLinks(0, np.zeros(0), np.zeros(0), (), {}, {})
    s = GridStructure(
        rows=cells,
        cols=cells,
        cell_width=cw,
        cell_height=cw,
        layers=layers,
        gx=np.full(n_layers, k * t),
        gy=np.full(n_layers, k * t),
        gz=np.full(n_layers - 1, 1.0 / rz),
        g_amb=g_amb,
        cap=np.full(n_layers, C_FACTOR * c * t * a),
        edges=[],
        package=package,
    )
    G, C, g = assemble_grid(s)
    import scipy.sparse as sp

    nc = cells * cells
    power = sp.csr_matrix(
        (np.full(nc, 1.0 / nc), (np.arange(nc), np.zeros(nc, int))), shape=(G.shape[0], 1)
    )
    flp = Floorplan((Block("top", side, side, 0.0, 0.0),))
    from comet.thermal.mapping import block_grid_map

    return ThermalNetwork(
        model_type="grid",
        G=G,
        C=C,
        g_amb=g,
        power_matrix=power,
        power_names=["top"],
        ambient=300.0,
        layer_names=[ly.name for ly in layers],
        floorplans=[flp],
        package=package,
        grid=s,
        maps=[block_grid_map(flp, side, side, cells, cells)],
        block_layer_floorplan=[0] * n_layers,
        dump_prefixes=[f"layer_{i}_" for i in range(n_layers)],
    )


def ev6_config(**overrides: object) -> ThermalConfig:
    materials = read_materials(REF / "ev6" / "example.materials")
    pairs = [(k, str(v)) for k, v in overrides.items()]
    return read_config(REF / "ev6" / "hotspot.config", pairs, materials)


@pytest.fixture(scope="module")
def ev6_flp() -> Floorplan:
    return read_flp(REF / "ev6" / "ev6.flp")


@pytest.fixture(scope="module")
def gcc() -> np.ndarray:
    return read_ptrace(REF / "ev6" / "gcc.ptrace")[1]


# ------------------------------------------------------------------------------------------------
# 1-D slab
# ------------------------------------------------------------------------------------------------

K_SI, C_SI = 100.0, 1.75e6
SIDE, THICK = 4e-3, 2e-3


@pytest.mark.parametrize("solver", ["dense", "structured", "sparse"])
def test_slab_steady_is_power_times_series_resistance(solver: str) -> None:
    n, g_bottom = 20, 50.0
    net = slab_network(n, THICK, K_SI, C_SI, SIDE, g_bottom, cells=3)
    model = ThermalModel(net, ThermalConfig(grid_map_mode="avg", init_temp=300.0), solver=solver)
    power = 7.0
    T = model.steady(np.array([power]))
    # closed form: all heat flows down through the slab and the bottom conductance
    r_total = THICK / (K_SI * SIDE * SIDE) + 1.0 / (g_bottom * 9)
    # the top node sits at the top layer's node: its own rz is between it and layer 1
    expected_top = 300.0 + power * r_total
    top = model.block_temperatures(T)["s0"][0]
    assert top == pytest.approx(expected_top, rel=1e-9)
    grid = model.grid_temperatures(T)
    assert np.ptp(grid, axis=(1, 2)).max() < 1e-9  # uniform planes: a 1-D problem


def test_slab_first_time_constant() -> None:
    """Slowest mode of an insulated-top slab on a fixed-temperature bottom: 4 L^2/(pi^2 alpha)."""
    # HotSpot's lumped chain puts a full cell of capacitance on the insulated top node, so it
    # behaves like a slab half a cell thicker: the error is ~1/n. 2000 layers: ~0.05 %.
    n = 2000
    net = slab_network(n, THICK, K_SI, C_SI, SIDE, g_bottom=1e9, cells=1)
    model = ThermalModel(net, ThermalConfig(grid_map_mode="avg", init_temp=300.0), solver="sparse")
    tau_exact = 4 * THICK**2 / (math.pi**2 * (K_SI / C_SI)) * C_FACTOR
    # measure the decay of the top temperature after a power step, at late times
    power = np.array([5.0])
    T_ss = model.block_temperatures(model.steady(power))["s0"][0]
    t1, t2 = 3 * tau_exact, 4 * tau_exact
    model.set_temperature(300.0)
    model.step(power, t1)
    d1 = T_ss - model.block_temperatures()["s0"][0]
    model.step(power, t2 - t1)
    d2 = T_ss - model.block_temperatures()["s0"][0]
    tau = (t2 - t1) / math.log(d1 / d2)
    # the lumped chain's node sits on the top face; half-cell offset is O(1/n^2)
    assert tau == pytest.approx(tau_exact, rel=1e-3)


# ------------------------------------------------------------------------------------------------
# energy balance, symmetry
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_type", "solver"),
    [("block", "auto"), ("grid", "dense"), ("grid", "structured"), ("grid", "sparse")],
)
def test_energy_balance_ev6(
    ev6_flp: Floorplan, gcc: np.ndarray, model_type: str, solver: str
) -> None:
    cfg = ev6_config(model_type=model_type, grid_rows=16, grid_cols=20)
    model = ThermalModel.from_floorplan(ev6_flp, cfg, solver=solver)
    p = gcc.mean(axis=0)
    T = model.steady(p)
    assert model.heat_to_ambient(T) == pytest.approx(p.sum(), rel=1e-9)


def test_energy_balance_stack3d() -> None:
    import os

    cwd = os.getcwd()
    os.chdir(REF / "stack3d")
    try:
        stack = read_lcf("stack.lcf")
        cfg = read_config("hotspot.config", [("grid_rows", "16"), ("grid_cols", "16")])
        p = read_ptrace("stack.ptrace")[1].mean(axis=0)
    finally:
        os.chdir(cwd)
    model = ThermalModel.from_stack(stack, cfg)
    T = model.steady(p)
    assert model.heat_to_ambient(T) == pytest.approx(p.sum(), rel=1e-9)


def test_secondary_path_energy_balance(ev6_flp: Floorplan, gcc: np.ndarray) -> None:
    cfg = ev6_config(model_type="grid", grid_rows=8, grid_cols=8, model_secondary=1)
    model = ThermalModel.from_floorplan(ev6_flp, cfg)
    p = gcc.mean(axis=0)
    T = model.steady(p)
    assert model.heat_to_ambient(T) == pytest.approx(p.sum(), rel=1e-9)
    # part of the heat now leaves through the PCB: the die is cooler than without it
    plain = ThermalModel.from_floorplan(ev6_flp, cfg.with_values(model_secondary=0))
    assert (
        model.power_block_temperatures(T).max()
        < plain.power_block_temperatures(plain.steady(p)).max()
    )
    # and the transient of the secondary-path network runs and stays finite
    model.step(p, 0.01)
    assert np.isfinite(model.temperature).all()


@pytest.mark.parametrize("solver", ["dense", "structured"])
def test_uniform_power_gives_symmetric_map(solver: str) -> None:
    die = Floorplan((Block("die", 0.01, 0.01, 0.0, 0.0),))
    cfg = ThermalConfig(model_type="grid", grid_rows=12, grid_cols=12, grid_map_mode="avg")
    model = ThermalModel.from_floorplan(die, cfg, solver=solver)
    grid = model.grid_temperatures(model.steady(np.array([40.0])))
    for layer in grid:
        assert np.allclose(layer, layer[::-1, :], atol=1e-9, rtol=0)
        assert np.allclose(layer, layer[:, ::-1], atol=1e-9, rtol=0)
        assert np.allclose(layer, layer.T, atol=1e-9, rtol=0)
    # and the centre is hottest on the die
    assert grid[0].argmax() in {5 * 12 + 5, 5 * 12 + 6, 6 * 12 + 5, 6 * 12 + 6}


# ------------------------------------------------------------------------------------------------
# solvers agree; accuracy does not depend on the step length
# ------------------------------------------------------------------------------------------------


def test_solvers_agree_on_a_non_square_grid(ev6_flp: Floorplan, gcc: np.ndarray) -> None:
    cfg = ev6_config(model_type="grid", grid_rows=12, grid_cols=10)
    models = {
        s: ThermalModel.from_floorplan(ev6_flp, cfg, solver=s)
        for s in ("dense", "sparse", "structured")
    }
    p = gcc.mean(axis=0)
    steady = {s: m.steady(p) for s, m in models.items()}
    assert np.abs(steady["sparse"] - steady["dense"]).max() < 1e-8
    assert np.abs(steady["structured"] - steady["dense"]).max() < 1e-8
    for dt in (1e-4, 1e-2, 1.0):
        for m in models.values():
            m.set_temperature(cfg.init_temp)
        for row in gcc[:3]:
            out = {s: m.step(row, dt).copy() for s, m in models.items()}
        # dense is exact; the rational approximation of degree 8 is within microkelvins
        assert np.abs(out["sparse"] - out["dense"]).max() < 1e-4
        assert np.abs(out["structured"] - out["dense"]).max() < 1e-4


@pytest.mark.parametrize("solver", ["dense", "structured"])
def test_one_long_step_equals_many_short_ones(
    ev6_flp: Floorplan, gcc: np.ndarray, solver: str
) -> None:
    n = 8 if solver == "dense" else 16
    cfg = ev6_config(model_type="grid", grid_rows=n, grid_cols=n)
    a = ThermalModel.from_floorplan(ev6_flp, cfg, solver=solver)
    b = ThermalModel.from_floorplan(ev6_flp, cfg, solver=solver)
    p = gcc[0] * 2
    a.step(p, 0.01)
    for _ in range(10):
        b.step(p, 0.001)
    assert np.abs(a.temperature - b.temperature).max() < 1e-5
    assert a.time == pytest.approx(b.time)


def test_steady_state_is_a_fixed_point_of_step(ev6_flp: Floorplan, gcc: np.ndarray) -> None:
    cfg = ev6_config(model_type="grid", grid_rows=16, grid_cols=16)
    model = ThermalModel.from_floorplan(ev6_flp, cfg)
    p = gcc.mean(axis=0)
    T = model.steady(p)
    model.set_temperature(T)
    for dt in (1e-3, 0.1, 100.0):
        model.step(p, dt)
        assert np.abs(model.temperature - T).max() < 1e-8
    # a very long step reaches the steady state from anywhere
    model.set_temperature(cfg.init_temp)
    model.step(p, 1e5)
    assert np.abs(model.temperature - T).max() < 1e-6


# ------------------------------------------------------------------------------------------------
# rational approximation, leakage, initial state
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("degree", [6, 8, 10, 12])
def test_cf_rational_error_on_the_negative_axis(degree: int) -> None:
    r = cf_exp(degree)
    x = -np.concatenate([[0.0], np.logspace(-8, 8, 5000)])
    err = np.abs(r(x) - np.exp(x)).max()
    assert err < 2 * 9.28903 ** (-degree)
    assert r(np.array([0.0]))[0] == pytest.approx(1.0, abs=1e-14)


def test_leakage_raises_temperature_and_balances(ev6_flp: Floorplan, gcc: np.ndarray) -> None:
    cfg = ev6_config(model_type="block", leakage_used=1)
    model = ThermalModel.from_floorplan(ev6_flp, cfg)
    p = gcc.mean(axis=0)
    T_leak = model.steady(p)
    T_plain = model.steady(p, leakage=False)
    assert (T_leak[: len(p)] > T_plain[: len(p)]).all()
    # heat out = dynamic power + the leakage at the converged block temperatures (to ~0.01 K)
    areas = np.array([b.area for b in ev6_flp])
    leak = 1.5e4 * areas * np.exp(0.036 * (model.power_block_temperatures(T_leak) - 383.15))
    assert model.heat_to_ambient(T_leak) == pytest.approx(p.sum() + leak.sum(), rel=1e-4)


def test_leakage_runaway_is_reported(ev6_flp: Floorplan, gcc: np.ndarray) -> None:
    from comet.errors import InputError

    cfg = ev6_config(model_type="block", leakage_used=1, r_convec=50.0)
    model = ThermalModel.from_floorplan(ev6_flp, cfg)
    with pytest.raises(InputError, match="runaway"):
        model.steady(gcc.mean(axis=0) * 20)


def test_uniform_init_follows_hotspot_occupancy(ev6_flp: Floorplan) -> None:
    """HotSpot starts grid cells at sum(occupancy) x init_temp: ev6 does not tile the die."""
    cfg = ev6_config(model_type="grid", grid_rows=64, grid_cols=64)
    model = ThermalModel.from_floorplan(ev6_flp, cfg, solver="structured")
    grid = model.grid_temperatures()
    assert grid.max() == pytest.approx(318.15, abs=1e-9)
    assert 300.0 < grid.min() < 318.0  # partly covered cells start colder, as in HotSpot
    assert np.all(model.package_temperatures() == 318.15)


def test_dump_roundtrip_through_init(ev6_flp: Floorplan, gcc: np.ndarray) -> None:
    cfg = ev6_config(model_type="block")
    model = ThermalModel.from_floorplan(ev6_flp, cfg)
    T = model.steady(gcc.mean(axis=0))
    names, values = model.dump(T)
    assert len(names) == 4 * len(ev6_flp) + 12
    model.set_from_dump(names[::-1], values[::-1])
    assert np.allclose(model.temperature, T)


def test_stack_layers_of_different_footprint_are_rejected() -> None:
    from comet.errors import InputError

    a = Floorplan((Block("a", 0.01, 0.01, 0, 0),), source="a.flp")
    b = Floorplan((Block("b", 0.01, 0.02, 0, 0),), source="b.flp")
    stack = Stack(
        (
            Layer("a", a, 1e-4, 100.0, 1.75e6, has_power=True),
            Layer("b", b, 1e-4, 100.0, 1.75e6),
        )
    )
    with pytest.raises(InputError, match=r"b\.flp.*footprint"):
        ThermalModel.from_stack(stack, ThermalConfig(model_type="grid", grid_rows=4, grid_cols=4))
