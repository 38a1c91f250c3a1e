"""Physics sanity of the generated configurations with comet's solver (steady state).

Same power everywhere: 10 W per core, 0.1 W per bank, 0.25 W per logic core. Expected:
the 3d cores are the hottest (the DRAM's heat crosses them, the footprint is the smallest),
the cores of ddr and 3dmem (their own package) the coolest and equal, 2.5d in between (one
package, but side by side); memory is hotter in 3d than in 3dmem; every stack sends all its
power to ambient.
"""

from __future__ import annotations

import numpy as np
import pytest

from comet.floorplan.generate import generate, thermal_config
from comet.floorplan.model import Stack

ThermalModel = pytest.importorskip("comet.thermal.solver").ThermalModel

CORE_W, BANK_W, LOGIC_W = 10.0, 0.1, 0.25
POWER = {"core": CORE_W, "core_unit": None, "bank": BANK_W, "logic": LOGIC_W}


def _solve(stack: Stack) -> dict[str, float]:
    """Steady state: peak core and memory temperature (deg C), power in and heat out (W)."""
    model = ThermalModel.from_stack(stack, thermal_config(stack))
    info = stack.meta["info"]
    kinds = {u.name: u.kind for u in info.units}
    area = {b.name: b.area for ly in stack.layers for b in ly.floorplan}
    core_area = {u.core: 0.0 for u in info.cores}
    for u in info.cores:
        core_area[u.core] += area[u.name]
    power = []
    for name in model.power_names:
        kind = kinds[name]
        if kind == "core_unit":  # the core's power spread over its units by area
            u = info.unit(name)
            power.append(CORE_W * area[name] / core_area[u.core])
        else:
            power.append(POWER.get(kind) or 0.0)
    p = np.array(power)
    T = model.steady(p)
    blocks = model.power_block_temperatures(T) - 273.15
    cores = [
        t for n, t in zip(model.power_names, blocks, strict=True) if kinds[n].startswith("core")
    ]
    memory = [
        t for n, t in zip(model.power_names, blocks, strict=True) if kinds[n] in ("bank", "logic")
    ]
    return {
        "core": max(cores, default=float("nan")),
        "memory": max(memory, default=float("nan")),
        "power": float(p.sum()),
        "heat_out": float(model.heat_to_ambient(T)),
    }


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in ("ddr", "3dmem", "2.5d", "3d"):
        stacks = generate(kind, grid_rows=16, grid_cols=16)
        out[kind] = {s.name: _solve(s) for s in stacks}
    return out


def test_same_core_power_everywhere(results: dict[str, dict[str, dict[str, float]]]) -> None:
    core_stack = {"ddr": "processor", "3dmem": "processor", "2.5d": "package", "3d": "package"}
    for kind, name in core_stack.items():
        assert results[kind][name]["power"] >= 4 * CORE_W
    assert results["ddr"]["processor"]["power"] == pytest.approx(4 * CORE_W)
    assert results["3dmem"]["processor"]["power"] == pytest.approx(4 * CORE_W)


def test_heat_balance_per_stack(results: dict[str, dict[str, dict[str, float]]]) -> None:
    for stacks in results.values():
        for r in stacks.values():
            assert r["heat_out"] == pytest.approx(r["power"], rel=1e-6)


def test_peak_core_temperature_order(results: dict[str, dict[str, dict[str, float]]]) -> None:
    ddr = results["ddr"]["processor"]["core"]
    mem3 = results["3dmem"]["processor"]["core"]
    d25 = results["2.5d"]["package"]["core"]
    d3 = results["3d"]["package"]["core"]
    assert ddr == pytest.approx(mem3, abs=1e-9)  # the same processor package
    assert ddr < d25 < d3
    assert ddr > 45.0  # above ambient (318.15 K)


def test_memory_hotter_in_3d_than_in_3dmem(results: dict[str, dict[str, dict[str, float]]]) -> None:
    assert results["3d"]["package"]["memory"] > results["3dmem"]["memory"]["memory"]
    # an off-chip DDR die at 1.6 W stays close to ambient
    assert 45.0 < results["ddr"]["memory"]["memory"] < results["3dmem"]["memory"]["memory"]


def test_dimm_spreader_cools_the_dram() -> None:
    bare = _solve(generate("ddr", grid_rows=8, grid_cols=8)[1])
    spread = _solve(generate("ddr", grid_rows=8, grid_cols=8, dimm_spreader=True)[1])
    assert spread["memory"] < bare["memory"]


def test_core_units_keep_the_heat_balance() -> None:
    (stack,) = generate("3d", banks="4x4x2", core_units="builtin", grid_rows=16, grid_cols=16)
    r = _solve(stack)
    assert r["power"] == pytest.approx(4 * CORE_W + 32 * BANK_W)
    assert r["heat_out"] == pytest.approx(r["power"], rel=1e-6)


def test_3d_cores_at_bottom_heat_the_whole_stack() -> None:
    """Cores farthest from the sink: their 40 W cross all DRAM layers on the way out."""
    (top,) = generate("3d", grid_rows=16, grid_cols=16)
    (bottom,) = generate("3d", grid_rows=16, grid_cols=16, cores_at_bottom=True)
    t, b = _solve(top), _solve(bottom)
    assert b["core"] > t["core"] + 10.0
    assert b["memory"] > t["memory"]
    assert b["heat_out"] == pytest.approx(b["power"], rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ddr", "3dmem", "2.5d", "3d"])
def test_64_cores_512_banks_solve(kind: str) -> None:
    params: dict[str, object] = {"cores": "8x8", "core_size": "1.707mm"}
    params["banks"] = "16x32" if kind == "ddr" else "8x8x8"
    params["bank_size"] = "0.8535mm" if kind == "ddr" else "1.707mm"
    for stack in generate(kind, grid_rows=32, grid_cols=32, **params):
        r = _solve(stack)
        assert r["heat_out"] == pytest.approx(r["power"], rel=1e-6)
        for key in ("core", "memory"):
            assert np.isnan(r[key]) or 45.0 < r[key] < 1000.0
