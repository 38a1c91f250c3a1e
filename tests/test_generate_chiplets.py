"""Dies of different sizes on an interposer: chiplets, 2.5D layouts, positions, fillers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from comet.errors import InputError
from comet.floorplan.flp import uncovered_area, validate_floorplan
from comet.floorplan.generate import _Rect, free_rects, generate, render, validate_generated
from comet.floorplan.materials_lib import MATERIALS
from comet.floorplan.model import Block, Floorplan, Stack
from comet.floorplan.params import canonical_kind
from comet.floorplan.stack_toml import read_stack_toml

MM = 1e-3


def _blocks(stack: Stack) -> dict[str, Block]:
    return {b.name: b for layer in stack.layers for b in layer.floorplan}


def _layer(stack: Stack, block: str) -> str:
    return next(ly.name for ly in stack.layers if block in ly.floorplan.names)


def _covers(b: Block, x: float, y: float, w: float, h: float) -> bool:
    return np.allclose([b.x, b.y, b.width, b.height], [x, y, w, h], atol=1e-12, rtol=0)


# ------------------------------------------------------------------ free area


@pytest.mark.parametrize("seed", range(6))
def test_free_rects_tile_the_rest(seed: int) -> None:
    """Random dies on a snapped grid: dies + free rectangles tile the interposer exactly."""
    rng = np.random.default_rng(seed)
    width, height = 20 * MM, 12 * MM
    dies: list[_Rect] = []
    for _ in range(40):
        w, h = rng.integers(1, 6, 2) * MM
        x, y = rng.integers(0, 20, 1)[0] * MM, rng.integers(0, 12, 1)[0] * MM
        r = _Rect(float(x), float(y), float(w), float(h))
        inside = r.right <= width and r.top <= height
        apart = all(r.right <= d.x or d.right <= r.x or r.top <= d.y or d.top <= r.y for d in dies)
        if inside and apart:
            dies.append(r)
    free = free_rects(width, height, dies)
    fp = Floorplan(
        tuple(Block(f"d{i}", r.w, r.h, r.x, r.y) for i, r in enumerate(dies))
        + tuple(Block(f"f{i}", r.w, r.h, r.x, r.y) for i, r in enumerate(free))
    )
    validate_floorplan(fp, "random", tol=1e-9)  # no overlaps
    assert fp.area == pytest.approx(width * height, rel=1e-12)
    assert uncovered_area(fp) < 1e-15
    # merging keeps the count small: never more than one per slab and free interval
    assert len(free) <= 2 * (2 * len(dies) + 1) * (len(dies) + 1)


def test_free_rects_of_nothing_and_everything() -> None:
    assert free_rects(2.0, 1.0, []) == [_Rect(0.0, 0.0, 2.0, 1.0)]
    assert free_rects(2.0, 1.0, [_Rect(0.0, 0.0, 2.0, 1.0)]) == []


# ------------------------------------------------------------------ chiplets


def test_chiplets_defaults() -> None:
    assert canonical_kind("chiplet") == "chiplets"
    (stack,) = generate("chiplets")
    validate_generated(stack)
    info = stack.meta["info"]
    blocks = _blocks(stack)
    assert info.configuration == "chiplets"
    # 2 chiplets of 2x2 cores, 2 stacks of a logic die and 4 DRAM dies of 4x4 banks
    assert len(info.cores) == 8 and len(info.logic_cores) == 32 and len(info.banks) == 128
    assert [u.core for u in info.cores] == list(range(8))
    assert {u.core: u.die for u in info.cores} == {c: c // 4 for c in range(8)}
    # banks stack by stack, vaults global (the logic core under the bank has the same vault)
    for u in info.banks:
        assert u.die == u.bank // 64
        assert u.bank_layer == (u.bank % 64) // 16
        assert u.vault == 16 * u.die + u.bank % 16
        lc = blocks[f"LC_{u.vault}"]
        b = blocks[u.name]
        assert (lc.x, lc.y) == (b.x, b.y)
    assert [info.unit(f"LC_{v}").vault for v in range(32)] == list(range(32))
    # the cores share the bottom die level with the logic dies (cores in the logic layer)
    names = [ly.name for ly in stack.layers]
    assert names[:3] == ["interposer", "tim0", "core0_logic"]
    assert names[-2:] == ["dram3", "tim5"]
    assert _layer(stack, "C_0") == _layer(stack, "LC_0") == "core0_logic"
    # the default arrangement: chiplets side by side, stacks above each other to their right,
    # 1.3 mm apart; the interposer is their bounding box
    side = 6.828 * MM
    assert blocks["C_0"].x == 0.0 and blocks["C_4"].x == pytest.approx(side + 1.3 * MM)
    assert blocks["LC_0"].x == pytest.approx(2 * side + 2 * 1.3 * MM)
    assert blocks["LC_16"].y == pytest.approx(side + 1.3 * MM)
    assert stack.width == pytest.approx(3 * side + 2 * 1.3 * MM)
    assert stack.height == pytest.approx(2 * side + 1.3 * MM)
    # over each chiplet: its bulk silicon in every DRAM and TIM layer; mold compound between
    spacer = [u for u in info.units if u.kind == "filler" and u.material == "silicon"]
    assert len(spacer) == 2 * (len(names) - 4)  # not in interposer, bond, core layer, top TIM
    for u in spacer:
        b = blocks[u.name]
        assert b.width == pytest.approx(side) and b.height == pytest.approx(side)
    mold = [u for u in info.units if u.material == "mold_compound"]
    assert mold and all(blocks[u.name].resistivity == pytest.approx(1 / 0.9) for u in mold)
    assert stack.meta["config"]["detailed_3D_used"] == 1


def test_chiplets_positions_and_sizes(tmp_path: Path) -> None:
    (stack,) = generate(
        "chiplets",
        chiplets="1x1",
        dram_stacks="2x1",
        cores="1x1",
        core_size="4mm",
        banks="2x2x2",
        bank_size="1mm",
        chiplet_positions="3mm,1mm",
        stack_positions=[["0", "0"], ["10mm", "3mm"]],
        interposer_size="14mmx8mm",
        filler="underfill",
    )
    blocks = _blocks(stack)
    assert _covers(blocks["C_0"], 3 * MM, 1 * MM, 4 * MM, 4 * MM)
    assert _covers(blocks["LC_0"], 0, 0, 1 * MM, 1 * MM)
    assert blocks["LC_4"].x == pytest.approx(10 * MM) and blocks["LC_4"].y == pytest.approx(3 * MM)
    assert (stack.width, stack.height) == (14 * MM, 8 * MM)
    for layer in stack.layers:
        assert layer.floorplan.area == pytest.approx(14 * MM * 8 * MM, rel=1e-12)
    under = [u for u in stack.meta["info"].units if u.material == "underfill"]
    assert under
    (d,) = render([stack], tmp_path)
    assert read_stack_toml(d) == stack.meta["info"]


def test_chiplets_with_stacked_cores_and_the_spacer_layout() -> None:
    (stack,) = generate("chiplets", cores="2x2x2", banks="4x4x2", layout="spacer")
    info = stack.meta["info"]
    assert len(info.cores) == 16
    names = [ly.name for ly in stack.layers]
    # levels: logic | dram0 + core0 | dram1 + core1 (the cores next to the sink)
    assert names == [
        "interposer", "tim0", "logic", "tim1", "core0_dram0", "tim2", "core1_dram1", "tim3",
    ]  # fmt: skip
    blocks = _blocks(stack)
    tim2 = [b.name for b in stack.layers[5].floorplan]
    assert {"TIM2_chip0", "TIM2_chip1", "TIM2_mem0", "TIM2_mem1"} <= set(tim2)
    assert blocks["TIM2_chip0"].heat_capacity is None  # TIM between the two core dies


def test_chiplets_of_different_sizes() -> None:
    """One core grid per chiplet: a 2x2, a 1x1 and a two-layer 1x2 chiplet, centred in a row."""
    (stack,) = generate("chiplets", chiplet_cores="2x2;1x1;1x2x2", core_size="2mm")
    validate_generated(stack)
    info = stack.meta["info"]
    blocks = _blocks(stack)
    assert [(u.core, u.die) for u in info.cores] == [
        (0, 0), (1, 0), (2, 0), (3, 0), (4, 1), (5, 2), (6, 2), (7, 2), (8, 2)
    ]  # fmt: skip
    assert _layer(stack, "C_5") == "core0_logic" and _layer(stack, "C_7") == "core1_dram0"
    # the 1x1 chiplet (2 mm) is centred in its 4 mm tall row, 1.3 mm right of the 2x2 one
    assert blocks["C_4"].x == pytest.approx(4 * MM + 1.3 * MM)
    assert blocks["C_4"].y == pytest.approx(blocks["C_0"].y + 1 * MM)
    # TIM between the two core layers of chiplet 2 only
    tim1 = stack.layers[3]
    assert "TIM1_chip2" in tim1.floorplan.names and "TIM1_chip0" not in tim1.floorplan.names


@pytest.mark.parametrize(
    ("kind", "params", "starts"),
    [
        ("chiplets", {"chiplet_positions": "0,0;1mm,0"}, "chiplets: dies chip0 and chip1 overlap"),
        ("chiplets", {"chiplet_positions": "0,0"}, "chiplet_positions: 1 positions for 2"),
        ("chiplets", {"chiplet_positions": "0;0"}, "chiplet_positions:"),
        ("chiplets", {"stack_positions": "-1mm,0;0,9mm"}, "stack_positions:"),
        ("chiplets", {"interposer_size": "10mm"}, "chiplets: die"),
        ("chiplets", {"chiplets": "2x1x2"}, "chiplets: give AxB"),
        ("chiplets", {"chiplets": "2x1", "chiplet_cores": "1x1"}, "chiplet_cores: 1 core grids"),
        ("chiplets", {"chiplet_cores": "1x1;zz"}, "chiplet_cores:"),
        ("2.5d", {"chiplet_cores": "1x1"}, "chiplet_cores: only chiplets"),
        ("chiplets", {"core_pos": "0,0"}, "core_pos: only 2.5d"),
        ("2.5d", {"chiplets": "2x2"}, "chiplets: only chiplets"),
        ("2.5d", {"mem_pos": "1mm,0"}, "2.5d: dies core and mem overlap"),
        ("2.5d", {"layout": "sideways"}, "layout: unknown layout"),
        ("2.5d", {"tim_layers": "some"}, "tim_layers:"),
        ("2.5d", {"interposer_size": "5mmx"}, "interposer_size:"),
        ("3d", {"layout": "spacer"}, "layout: only 2.5d and chiplets"),
        ("3dmem", {"interposer_margin": "1mm"}, "interposer_margin: only"),
        ("chiplets", {"bank_thickness": "100um"}, "core_thickness: in chiplets"),
    ],
)
def test_bad_placements_give_one_line(kind: str, params: dict[str, object], starts: str) -> None:
    with pytest.raises(InputError) as err:
        generate(kind, **params)
    assert str(err.value).startswith(starts), str(err.value)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ 2.5D layouts


def test_2_5d_cores_in_logic_layer() -> None:
    (stack,) = generate("2.5d", layout="cores-in-logic-layer")
    validate_generated(stack)
    info = stack.meta["info"]
    names = [ly.name for ly in stack.layers]
    assert names[:5] == ["interposer", "tim0", "core0_logic", "tim1", "dram0"]
    assert names[-2:] == ["dram7", "tim9"]
    assert _layer(stack, "C_0") == _layer(stack, "LC_15") == "core0_logic"
    core_die = (0.0, 0.0, 6.828 * MM, 6.828 * MM)
    # above the cores, in every DRAM and TIM layer: the processor die's bulk silicon
    for layer in stack.layers[3:-1]:
        over = [b for b in layer.floorplan if _covers(b, *core_die)]
        assert len(over) == 1
        unit = info.unit(over[0].name)
        assert unit.kind == "filler" and unit.material == "silicon"
    # same geometry as the spacer layout, the core die upside down
    (spacer,) = generate("2.5d")
    assert [ly.thickness for ly in spacer.layers] == [ly.thickness for ly in stack.layers]
    assert _layer(spacer, "C_0") == "core0_dram7"
    assert stack.meta["config"] == spacer.meta["config"]


def test_2_5d_layout_aliases_and_full_tim() -> None:
    (a,) = generate("2.5d", layout="comet", tim_layers="full", spacer="comet_air")
    (b,) = generate("2.5d", layout="cores_in_logic_layer", tim_layers="full", spacer="comet_air")
    assert [ly.floorplan for ly in a.layers] == [ly.floorplan for ly in b.layers]
    for layer in a.layers:
        if layer.name.startswith("tim"):
            (block,) = layer.floorplan.blocks
            assert block.name == f"TIM{layer.name[3:]}" and block.heat_capacity is None
    air = MATERIALS["comet_air"]
    dram0 = next(ly for ly in a.layers if ly.name == "dram0")
    over = [blk for blk in dram0.floorplan if blk.x == 0.0]
    assert over and all(blk.resistivity == pytest.approx(air.resistivity) for blk in over)


def test_2_5d_positions_and_interposer() -> None:
    (stack,) = generate("2.5d", core_pos="1mm,2mm", mem_pos="12mm,0", interposer_size="22mmx10mm")
    blocks = _blocks(stack)
    assert blocks["C_0"].x == pytest.approx(1 * MM) and blocks["C_0"].y == pytest.approx(2 * MM)
    assert blocks["LC_0"].x == pytest.approx(12 * MM) and blocks["LC_0"].y == 0.0
    assert (stack.width, stack.height) == (22 * MM, 10 * MM)
    (margin,) = generate("2.5d", interposer_margin="0.5mm")
    assert margin.width == pytest.approx((2 * 3.414 + 1.3 + 6.828 + 1.0) * MM)
    assert _blocks(margin)["C_0"].x == pytest.approx(0.5 * MM)


def test_chiplets_run_in_the_closed_loop(tmp_path: Path) -> None:
    """The engine reads the chiplet stack's StackInfo unchanged: cores, banks, logic cores."""
    from comet.sim.engine import Simulation

    cfg = {
        "name": "chip",
        "seed": 1,
        "sim": {"duration": "3ms", "epoch": "1ms", "flush_every": 5},
        "architecture": {
            "kind": "chiplets",
            "cores": "1x1",
            "core_size": "3mm",
            "banks": "2x2x1",
            "bank_size": "1.5mm",
            "grid": "8x8",
        },
        "memory": {"distribution": "local"},
        "workload": {"jobs": [{"profile": "memory", "threads": 2, "instructions": 1e10}]},
        "policies": {},
    }
    run = Simulation(cfg).run(tmp_path / "run")
    assert run.summary["status"] == "complete"
    cols = list(run.temperature.columns)
    assert cols[:2] == ["C_0", "C_1"] and {f"B_{i}" for i in range(8)} <= set(cols)
    assert {f"LC_{i}" for i in range(8)} <= set(cols)
    energy = run.summary["energy_J"]
    assert energy["cores"] > 0 and energy["banks"] > 0 and energy["logic"] > 0
    assert (run.path / "stack" / "stack.toml").is_file()


def test_the_column_above_the_cores_is_a_series_resistance() -> None:
    """cores-in-logic-layer: the heat of the cores crosses the spacer column above them (8
    DRAM levels of 50 um and 8 TIM levels of 20 um). Replacing its silicon by CoMeT's "air"
    adds q'' x 560 um x (1/k_air - 1/k_si) to the core temperature, 1-D (the mold compound
    around the column keeps the heat in it); every watt still leaves through the sink."""
    from comet.floorplan.generate import thermal_config
    from comet.thermal.solver import ThermalModel

    def peak_core(spacer: str) -> float:
        (s,) = generate(
            "2.5d", grid_rows=16, grid_cols=16, layout="cores-in-logic-layer", spacer=spacer
        )
        m = ThermalModel.from_stack(s, thermal_config(s))
        kinds = {u.name: u.kind for u in s.meta["info"].units}
        p = np.array([10.0 if kinds[n] == "core" else 0.0 for n in m.power_names])
        T = m.steady(p)
        assert m.heat_to_ambient(T) == pytest.approx(40.0, rel=1e-9)
        blocks = m.power_block_temperatures(T)
        return max(t for n, t in zip(m.power_names, blocks, strict=True) if kinds[n] == "core")

    q = 40.0 / (6.828e-3) ** 2  # W/m^2 through the 2x2 core die
    k_air, k_si = MATERIALS["comet_air"].conductivity, MATERIALS["silicon"].conductivity
    expected = q * 560e-6 * (1 / k_air - 1 / k_si)  # 57.7 K
    assert peak_core("comet_air") - peak_core("silicon") == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(
    ("example", "kind", "layout"),
    [("chiplets.toml", "chiplets", None), ("2.5d-comet.toml", "2.5d", "cores-in-logic-layer")],
)
def test_example_configs_build_their_stacks(example: str, kind: str, layout: str | None) -> None:
    from comet.config import MEMORY_DEFAULTS, load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / example)
    assert cfg.architecture.kind == kind and kind in MEMORY_DEFAULTS
    params = cfg.architecture.generate_params()
    assert params.get("layout") == layout
    (stack,) = generate(kind, **params)
    validate_generated(stack)
    assert stack.meta["config"]["detailed_3D_used"] == 1
