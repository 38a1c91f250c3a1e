"""Geometry, parameters, templates and files of the four generated configurations."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest

from comet.errors import InputError
from comet.floorplan.flp import read_flp
from comet.floorplan.generate import (
    DEFAULT_FLOORPLANS,
    floorplans_dir,
    generate,
    load_core_units,
    render,
    template_dir,
    thermal_config,
    validate_generated,
    write_default_floorplans,
)
from comet.floorplan.lcf import read_lcf
from comet.floorplan.materials_lib import MATERIALS, get_material
from comet.floorplan.model import Block, Floorplan, Layer, Stack, footprints_match
from comet.floorplan.params import canonical_kind, parse_grid, parse_length
from comet.floorplan.stack_toml import StackInfo, read_stack_toml, write_stack_toml
from comet.thermal.hotspot_config import read_config

KINDS = ("ddr", "3dmem", "2.5d", "3d")
ALL_KINDS = (*KINDS, "chiplets")
MM = 1e-3


def _blocks(stack: Stack) -> dict[str, Block]:
    return {b.name: b for layer in stack.layers for b in layer.floorplan}


def _layer_of(stack: Stack, name: str) -> int:
    for i, layer in enumerate(stack.layers):
        if name in layer.floorplan.names:
            return i
    raise KeyError(name)


# ------------------------------------------------------------------ parameters


@pytest.mark.parametrize(
    ("text", "metres"),
    [
        ("3.4mm", 3.4e-3),
        ("50um", 50e-6),
        ("0.5 mm", 0.5e-3),
        ("50µm", 50e-6),
        ("1e-3", 1e-3),
        (0.002, 0.002),
        ("2 cm", 0.02),
        (".5mm", 0.5e-3),
    ],
)
def test_parse_length(text: object, metres: float) -> None:
    assert parse_length(text) == pytest.approx(metres, rel=1e-12)


@pytest.mark.parametrize("text", ["3.4 parsecs", "mm", "", "1..2mm", "abc"])
def test_parse_length_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_length(text)


def test_parse_grid() -> None:
    assert parse_grid("4x4") == (4, 4, 1)
    assert parse_grid("8X8x8") == (8, 8, 8)
    assert parse_grid((2, 3)).total == 6
    for bad in ("4", "4x", "0x4", "4x4x4x4", "axb", "-1x2"):
        with pytest.raises(ValueError):
            parse_grid(bad)


@pytest.mark.parametrize(
    ("alias", "kind"),
    [("DDR", "ddr"), ("3Dmem", "3dmem"), ("2_5D", "2.5d"), ("2.5D", "2.5d"), ("3D", "3d")],
)
def test_comet_aliases(alias: str, kind: str) -> None:
    assert canonical_kind(alias) == kind
    stacks = generate(alias)
    assert all(s.meta["configuration"] == kind for s in stacks)


# ------------------------------------------------------------------ the configurations


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_stack_tiles_with_equal_footprints(kind: str) -> None:
    for stack in generate(kind):
        validate_generated(stack)
        assert footprints_match([ly.floorplan for ly in stack.layers], tol=1e-6)
        for layer in stack.layers:
            fp = layer.floorplan
            assert fp.area == pytest.approx(stack.width * stack.height, rel=1e-9)
        info = stack.meta["info"]
        assert isinstance(info, StackInfo)
        assert {u.name for u in info.units} == set(_blocks(stack))
        assert [ly.name for ly in info.layers] == [ly.name for ly in stack.layers]


def test_ddr_defaults() -> None:
    processor, memory = generate("ddr")
    assert (processor.name, memory.name) == ("processor", "memory")
    assert [ly.name for ly in processor.layers] == ["core0", "tim0"]
    assert [ly.name for ly in memory.layers] == ["dram0", "tim0"]
    assert processor.power_block_names() == [f"C_{i}" for i in range(4)]
    assert memory.power_block_names() == [f"B_{i}" for i in range(16)]
    assert processor.width == pytest.approx(2 * 3.414 * MM)
    assert memory.width == pytest.approx(4 * 1.707 * MM)
    assert processor.layers[0].thickness == pytest.approx(50e-6)
    assert processor.layers[1].thickness == pytest.approx(20e-6)
    assert processor.layers[1].conductivity == 4.0
    assert processor.layers[1].heat_capacity == 4e6
    assert processor.layers[0].conductivity == 100.0
    assert processor.layers[0].heat_capacity == 1.75e6
    # the DRAM package has no heat sink: CoMeT's 10 um sink
    assert memory.meta["config"]["t_sink"] == pytest.approx(10e-6)
    assert processor.meta["config"]["t_sink"] == pytest.approx(6.9e-3)
    assert all(u.channel == 0 for u in memory.meta["info"].banks)


def test_ddr_channels_and_dimm_spreader() -> None:
    _, memory = generate("ddr", channels=4, dimm_spreader=True)
    channels = [u.channel for u in memory.meta["info"].banks]
    assert channels == [b // 4 for b in range(16)]
    config = thermal_config(memory)
    assert config.t_sink == pytest.approx(1e-3)
    assert config.k_sink == get_material("aluminium").conductivity


def test_3dmem_defaults() -> None:
    processor, memory = generate("3dmem")
    assert [ly.name for ly in processor.layers] == ["core0", "tim0"]
    names = [ly.name for ly in memory.layers]
    assert names[0] == "logic"
    assert names[1:] == [x for d in range(8) for x in (f"tim{d}", f"dram{d}")] + ["tim8"]
    info = memory.meta["info"]
    assert len(info.banks) == 128
    assert len(info.logic_cores) == 16
    b17 = info.unit("B_17")
    assert (b17.vault, b17.bank_layer, b17.layer) == (1, 1, "dram1")
    blocks = _blocks(memory)
    for bank in info.banks:  # each vault sits on its logic core
        lc = blocks[f"LC_{bank.vault}"]
        assert (blocks[bank.name].x, blocks[bank.name].y) == pytest.approx((lc.x, lc.y))
    assert "detailed_3D_used" not in memory.meta["config"]


def test_3d_order_and_switch() -> None:
    (stack,) = generate("3d")
    names = [ly.name for ly in stack.layers]
    # CoMeT's order: DRAM first (farthest from the sink), the cores next to the spreader
    assert names[-2:] == ["core0", "tim8"]
    assert names[0] == "dram0"
    (bottom,) = generate("3d", cores_at_bottom=True)
    names = [ly.name for ly in bottom.layers]
    assert names[:2] == ["core0", "tim0"]
    assert names[-2:] == ["dram7", "tim8"]
    assert len(stack.meta["info"].banks) == 128
    assert stack.meta["info"].unit("B_127").bank_layer == 7


def test_3d_needs_equal_areas() -> None:
    with pytest.raises(InputError, match=r"^bank_width: in 3d the banks must cover"):
        generate("3d", banks="4x4x8", bank_size="1mm")
    (stack,) = generate("3d", cores="4x4", core_size="1.707mm")
    assert stack.width == pytest.approx(6.828 * MM)


def test_2_5d_layout() -> None:
    (stack,) = generate("2.5d")
    blocks = _blocks(stack)
    assert stack.width == pytest.approx((2 * 3.414 + 1.3 + 4 * 1.707) * MM)
    assert stack.height == pytest.approx(6.828 * MM)
    names = [ly.name for ly in stack.layers]
    assert names[:3] == ["interposer", "tim0", "logic"]
    assert names[-2:] == ["core0_dram7", "tim9"]  # the core die next to the sink
    assert blocks["I_0"].area == pytest.approx(stack.width * stack.height)
    # the gap: 1.3 mm of filler between the core die and the memory stack, in every die layer
    core_right = max(blocks[f"C_{i}"].right for i in range(4))
    mem_left = min(blocks[f"B_{i}"].x for i in range(112, 128))
    assert mem_left - core_right == pytest.approx(1.3 * MM)
    info = stack.meta["info"]
    mold = MATERIALS["mold_compound"]
    fillers = [u for u in info.units if u.kind == "filler"]
    gap_fillers = [u for u in fillers if u.material == "mold_compound"]
    assert len(gap_fillers) == sum(ly.name != "interposer" for ly in stack.layers) - 2
    for u in gap_fillers:
        b = blocks[u.name]
        assert b.width == pytest.approx(1.3 * MM)
        assert b.heat_capacity == mold.heat_capacity
        assert b.resistivity == pytest.approx(1 / 0.9)
    # the spacer under the core die is silicon
    spacers = [u for u in fillers if u.material == "silicon"]
    assert spacers and all(blocks[u.name].width == pytest.approx(6.828 * MM) for u in spacers)
    assert stack.meta["config"]["detailed_3D_used"] == 1
    assert len(info.logic_cores) == 16 and len(info.banks) == 128


def test_2_5d_unequal_heights_get_margins() -> None:
    (stack,) = generate("2.5d", cores="2x4", banks="4x2x2", filler="underfill", gap="2mm")
    validate_generated(stack)
    assert stack.height == pytest.approx(4 * 3.414 * MM)
    under = [u for u in stack.meta["info"].units if u.material == "underfill"]
    # gap + 2 margins around the memory, in every layer but interposer, bond and top TIM
    n_layers = len(stack.layers) - 3
    assert len(under) == 3 * n_layers


def test_2_5d_requires_equal_die_thickness() -> None:
    with pytest.raises(InputError, match=r"^core_thickness:"):
        generate("2.5d", core_thickness="100um")


@pytest.mark.parametrize("kind", KINDS)
def test_several_core_layers(kind: str) -> None:
    stacks = generate(kind, cores="2x2x2", banks="4x4x1" if kind == "ddr" else "4x4x2")
    cores = [u for s in stacks for u in s.meta["info"].cores]
    assert sorted(u.core for u in cores) == list(range(8))
    for s in stacks:
        validate_generated(s)
    layers = {u.layer for u in cores}
    assert len(layers) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_core_units(kind: str) -> None:
    stacks = generate(kind, core_units="builtin")
    blocks = {k: v for s in stacks for k, v in _blocks(s).items()}
    units = [u for s in stacks for u in s.meta["info"].cores]
    assert {u.kind for u in units} == {"core_unit"}
    for core in range(4):
        mine = [u for u in units if u.core == core]
        assert {u.unit for u in mine} == {"L2", "L1I", "L1D", "FE", "ALU", "FPU"}
        area = sum(blocks[u.name].area for u in mine)
        assert area == pytest.approx(3.414e-3**2, rel=1e-9)
        assert all(u.name == f"C_{core}_{u.unit}" for u in mine)


def test_core_units_from_flp(tmp_path: Path) -> None:
    flp = tmp_path / "core.flp"
    flp.write_text("ALU 0.001 0.002 0 0\nL2 0.001 0.002 0.001 0\n")
    units = load_core_units(str(flp), 2e-3, 2e-3)
    assert [u.name for u in units] == ["ALU", "L2"]
    with pytest.raises(InputError, match="core_units: the template is"):
        load_core_units(str(flp), 3e-3, 2e-3)
    gappy = tmp_path / "gappy.toml"
    gappy.write_text('[[units]]\nname = "A"\nx = 0.0\ny = 0.0\nwidth = 0.5\nheight = 1.0\n')
    with pytest.raises(InputError, match="core_units: the units cover 0.5"):
        load_core_units(str(gappy), 2e-3, 2e-3)
    with pytest.raises(InputError, match="core_units: file not found"):
        generate("3d", core_units=str(tmp_path / "missing.toml"))


@pytest.mark.parametrize("kind", KINDS)
def test_scale_64_cores_512_banks(kind: str) -> None:
    params: dict[str, object] = {"cores": "8x8", "core_size": "1.707mm"}
    params["banks"] = "16x32" if kind == "ddr" else "8x8x8"
    params["bank_size"] = "0.8535mm" if kind == "ddr" else "1.707mm"
    stacks = generate(kind, **params)
    info = [s.meta["info"] for s in stacks]
    assert sum(len(i.cores) for i in info) == 64
    assert sum(len(i.banks) for i in info) == 512
    names = [n for s in stacks for n in s.power_block_names()]
    assert {f"C_{i}" for i in range(64)} <= set(names)
    assert {f"B_{i}" for i in range(512)} <= set(names)


# ------------------------------------------------------------------ bad parameters


@pytest.mark.parametrize(
    ("kind", "params", "starts"),
    [
        ("3d", {"core_size": "0"}, "core_size:"),
        ("3d", {"core_width": "-3mm"}, "core_width:"),
        ("ddr", {"bank_height": 0}, "bank_height:"),
        ("3dmem", {"tim_thickness": "-1um"}, "tim_thickness:"),
        ("2.5d", {"gap": "0mm"}, "gap:"),
        ("3dmem", {"banks": "0x4x8"}, "banks:"),
        ("ddr", {"banks": "4x4x2"}, "banks:"),
        ("ddr", {"channels": 3}, "channels:"),
        ("3d", {"filler": "unobtainium"}, "filler:"),
        ("3d", {"cores": "two"}, "cores:"),
        ("3d", {"frobnicate": 1}, "frobnicate:"),
        ("3d", {"sink_margin": "1mm"}, "sink_margin:"),
        ("3d", {"r_convec": -1}, "r_convec:"),
        ("quantum", {}, "kind:"),
    ],
)
def test_bad_parameters_give_one_line_naming_the_parameter(
    kind: str, params: dict[str, object], starts: str
) -> None:
    with pytest.raises(InputError) as err:
        generate(kind, **params)
    message = str(err.value)
    assert message.startswith(starts)
    assert "\n" not in message


# ------------------------------------------------------------------ files


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_render_round_trip(kind: str, tmp_path: Path) -> None:
    stacks = generate(kind, core_units="builtin" if kind == "2.5d" else None)
    dirs = render(stacks, tmp_path)
    assert [d.name for d in dirs] == [s.name for s in stacks]
    for stack, d in zip(stacks, dirs, strict=True):
        back = read_lcf(d / "stack.lcf")
        validate_generated(back)
        assert [ly.name for ly in back.layers] == [ly.name for ly in stack.layers]
        for mine, theirs in zip(stack.layers, back.layers, strict=True):
            assert theirs.thickness == pytest.approx(mine.thickness, rel=1e-12)
            assert theirs.conductivity == pytest.approx(mine.conductivity, rel=1e-9)
            assert theirs.heat_capacity == pytest.approx(mine.heat_capacity, rel=1e-12)
            assert theirs.has_power == mine.has_power
            assert theirs.floorplan.names == mine.floorplan.names
            a = np.array(mine.floorplan.arrays())
            b = np.array(theirs.floorplan.arrays())
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
            for x, y in zip(mine.floorplan, theirs.floorplan, strict=True):
                if x.heat_capacity is None:
                    assert y.heat_capacity is None
                else:
                    assert y.resistivity == pytest.approx(x.resistivity, rel=1e-9)
        info = read_stack_toml(d / "stack.toml")
        assert info == stack.meta["info"]
        config = read_config(d / "hotspot.config")
        expected = thermal_config(stack)
        for key in ("s_spreader", "s_sink", "t_sink", "r_convec", "grid_rows", "model_type"):
            assert getattr(config, key) == getattr(expected, key)
        assert config.grid_layer_file == "stack.lcf"
        assert config.s_spreader >= max(stack.width, stack.height)  # HotSpot's requirement
        assert config.s_sink >= config.s_spreader
        assert ("-detailed_3D on" in (d / "hotspot.config").read_text()) == (
            kind in ("2.5d", "chiplets")
        )


def test_stack_toml_round_trip_and_errors(tmp_path: Path) -> None:
    _, memory = generate("3dmem")
    info = memory.meta["info"]
    path = write_stack_toml(info, tmp_path / "stack.toml")
    back = read_stack_toml(tmp_path)
    assert back == info
    assert back.unit("LC_3").vault == 3
    text = path.read_text()
    (tmp_path / "bad.toml").write_text(text.replace("format = 1", "format = 7"))
    with pytest.raises(InputError, match="format: expected 1"):
        read_stack_toml(tmp_path / "bad.toml")
    (tmp_path / "bad2.toml").write_text(text.replace('kind = "bank"', 'kind = "banana"', 1))
    with pytest.raises(InputError, match="unknown kind 'banana'"):
        read_stack_toml(tmp_path / "bad2.toml")
    (tmp_path / "bad3.toml").write_text(text + "\n[[units]]\nname = 1 2\n")
    with pytest.raises(InputError, match="not valid TOML"):
        read_stack_toml(tmp_path / "bad3.toml")


def test_user_template_dir(tmp_path: Path) -> None:
    user = tmp_path / "tpl"
    user.mkdir()
    original = (template_dir() / "layer.flp.j2").read_text()
    (user / "layer.flp.j2").write_text(
        original.replace(
            "# comet floorplan:", "# my own header {{ layer.name }}\n# comet floorplan:"
        )
    )
    (d,) = render(generate("3d", banks="4x4x1"), tmp_path / "out", template_dir=user)
    text = (d / "core0.flp").read_text()
    assert text.startswith("# my own header core0\n")
    assert read_flp(d / "core0.flp").names == ["C_0", "C_1", "C_2", "C_3"]


def test_template_with_undefined_variable(tmp_path: Path) -> None:
    user = tmp_path / "tpl"
    user.mkdir()
    (user / "stack.lcf.j2").write_text("{{ layers_of_the_stack }}\n")
    with pytest.raises(InputError) as err:
        render(generate("3d"), tmp_path / "out", template_dir=user)
    message = str(err.value)
    assert "stack.lcf.j2" in message and "layers_of_the_stack" in message
    assert "\n" not in message


def test_template_that_drops_a_block_is_caught(tmp_path: Path) -> None:
    user = tmp_path / "tpl"
    user.mkdir()
    original = (template_dir() / "layer.flp.j2").read_text()
    (user / "layer.flp.j2").write_text(
        original.replace("{% for b in blocks -%}", "{% for b in blocks[1:] -%}")
    )
    with pytest.raises(InputError):
        render(generate("ddr"), tmp_path / "out", template_dir=user)


def test_template_sandbox(tmp_path: Path) -> None:
    user = tmp_path / "tpl"
    user.mkdir()
    (user / "hotspot.config.j2").write_text("{{ config.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(InputError):
        render(generate("3d"), tmp_path / "out", template_dir=user)


def test_validate_generated_catches_bad_stacks() -> None:
    si = get_material("silicon")

    def layer(name: str, *blocks: Block) -> Layer:
        return Layer(name, Floorplan(blocks), 50e-6, si.conductivity, si.heat_capacity)

    full = layer("a", Block("A", 1e-3, 1e-3, 0, 0))
    gap = layer("b", Block("B", 0.5e-3, 1e-3, 0, 0), Block("B2", 0.4e-3, 1e-3, 0.6e-3, 0))
    with pytest.raises(InputError, match="uncovered"):
        validate_generated(Stack((full, gap)))
    small = layer("c", Block("C", 0.5e-3, 1e-3, 0, 0))
    with pytest.raises(InputError, match="footprint"):
        validate_generated(Stack((full, small)))
    again = layer("d", Block("a", 1e-3, 1e-3, 0, 0))
    with pytest.raises(InputError, match="also in layer"):
        validate_generated(Stack((full, again)))


def test_checked_in_floorplans_match_the_generator(tmp_path: Path) -> None:
    write_default_floorplans(tmp_path)
    shipped = floorplans_dir()
    for name in DEFAULT_FLOORPLANS:
        fresh_files = sorted(p.relative_to(tmp_path) for p in (tmp_path / name).rglob("*"))
        old_files = sorted(
            p.relative_to(shipped) for p in (shipped / name).rglob("*") if p.suffix != ".png"
        )
        assert fresh_files == old_files, name
        for rel in fresh_files:
            if (tmp_path / rel).is_file():
                assert filecmp.cmp(tmp_path / rel, shipped / rel, shallow=False), rel


def test_package_level_call() -> None:
    import comet.floorplan

    stacks = comet.floorplan.generate("3D", banks="4x4x2")
    assert [s.name for s in stacks] == ["package"]
    assert comet.floorplan.generate.render is render
