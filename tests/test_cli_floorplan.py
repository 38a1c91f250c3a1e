"""``comet floorplan`` through click's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from comet.cli import main
from comet.floorplan.lcf import read_lcf
from comet.floorplan.stack_toml import read_stack_toml
from comet.thermal.hotspot_config import read_config


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["floorplan", *args])
    return result.exit_code, result.stdout, result.stderr


def test_help() -> None:
    code, out, _ = _run("--help")
    assert code == 0
    assert "ddr" in out and "--template-dir" in out and "--cores" in out


def test_3dmem_writes_two_stacks(tmp_path: Path) -> None:
    code, out, err = _run("3Dmem", "-o", str(tmp_path), "--no-picture")
    assert code == 0, err
    for name in ("processor", "memory"):
        d = tmp_path / name
        assert (d / "stack.lcf").is_file() and (d / "hotspot.config").is_file()
        assert not (d / "stack.png").exists()
        stack = read_lcf(d / "stack.lcf")
        info = read_stack_toml(d / "stack.toml")
        assert [ly.flp for ly in info.layers] == [f"{ly.name}.flp" for ly in stack.layers]
        assert read_config(d / "hotspot.config").grid_layer_file == "stack.lcf"
    assert "memory: 18 layers" in out


def test_options_reach_the_generator(tmp_path: Path) -> None:
    code, _, err = _run(
        "3d",
        "--cores",
        "4x4",
        "--core-size",
        "1.707mm",
        "--banks",
        "8x8x4",
        "--bank-size",
        "853.5um",
        "--tim-thickness",
        "10um",
        "--cores-at-bottom",
        "--grid",
        "32x16",
        "--set",
        "r_convec=0.2",
        "-o",
        str(tmp_path),
        "--no-picture",
    )
    assert code == 0, err
    info = read_stack_toml(tmp_path / "package")
    assert len(info.cores) == 16 and len(info.banks) == 256
    assert info.layers[0].name == "core0"
    assert info.layers[1].thickness == pytest.approx(10e-6)
    config = read_config(tmp_path / "package" / "hotspot.config")
    assert (config.grid_rows, config.grid_cols, config.r_convec) == (32, 16, 0.2)


def test_picture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, out, err = _run("2.5d", "--banks", "2x2x2", "--bank-size", "3.414mm", "-o", str(tmp_path))
    assert code == 0, err
    png = tmp_path / "package" / "stack.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "stack.png" in out


@pytest.mark.parametrize(
    ("args", "starts"),
    [
        (["quantum"], "comet: error: kind: unknown configuration"),
        (["3d", "--bank-size", "1mm"], "comet: error: bank_width: in 3d the banks must cover"),
        (["3d", "--core-size", "0"], "comet: error: core_size:"),
        (["3d", "--tim-thickness", "-5um"], "comet: error: tim_thickness:"),
        (["ddr", "--set", "frobnicate=1"], "comet: error: frobnicate: unknown parameter"),
        (["ddr", "--set", "nonsense"], "comet: error: --set 'nonsense'"),
        (["ddr", "--grid", "axb"], "comet: error: grid:"),
        (["2.5d", "--filler", "cheese"], "comet: error: filler: unknown material"),
        (["3d", "--layout", "spacer"], "comet: error: layout: only 2.5d and chiplets"),
        (["2.5d", "--layout", "upside"], "comet: error: layout: unknown layout"),
        (["chiplets", "--chiplet-pos", "0,0;1mm,1mm"], "comet: error: chiplets: dies chip0"),
        (["chiplets", "--stack-pos", "0,0"], "comet: error: stack_positions: 1 positions"),
        (["2.5d", "--core-pos", "1mm"], "comet: error: core_pos:"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], starts: str) -> None:
    code, _, err = _run(*args, "-o", str(tmp_path), "--no-picture")
    assert code == 2
    assert err.startswith(starts), err
    assert err.count("\n") == 1


def test_template_dir_with_undefined_variable(tmp_path: Path) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "layer.flp.j2").write_text("{% for b in blocks %}{{ b.nam }}\n{% endfor %}")
    code, _, err = _run("ddr", "--template-dir", str(tpl), "-o", str(tmp_path / "o"))
    assert code == 2
    assert "layer.flp.j2" in err and "undefined" in err
    assert err.count("\n") == 1


def test_chiplets_and_placement_options(tmp_path: Path) -> None:
    code, out, err = _run(
        "chiplets",
        *("--chiplets", "1x2", "--cores", "2x1", "--core-size", "2mm"),
        *("--dram-stacks", "1x1", "--banks", "2x2x2", "--bank-size", "1.5mm"),
        *("--chiplet-pos", "0,0;0,3mm", "--stack-pos", "5mm,1mm"),
        *("--interposer-size", "9mmx6mm", "--filler", "underfill", "--tim-layers", "full"),
        *("--layout", "spacer", "-o", str(tmp_path), "--no-picture"),
    )
    assert code == 0, err
    assert "9 x 6 mm" in out
    d = tmp_path / "package"
    info = read_stack_toml(d)
    assert info.configuration == "chiplets"
    assert [u.die for u in info.cores] == [0, 0, 1, 1]
    assert len(info.banks) == 8 and len(info.logic_cores) == 4
    stack = read_lcf(d / "stack.lcf")
    assert (stack.width, stack.height) == pytest.approx((9e-3, 6e-3))
    top_die = stack.layers[-2]  # spacer layout: the cores next to the sink, with the DRAM
    assert {"C_0", "C_3", "B_4"} <= set(top_die.floorplan.names)
    assert "-detailed_3D on" in (d / "hotspot.config").read_text()


def test_2_5d_layout_option(tmp_path: Path) -> None:
    code, _, err = _run(
        "2.5d", "--layout", "cores-in-logic-layer", "--mem-pos", "8.5mm,0",
        "-o", str(tmp_path), "--no-picture",
    )  # fmt: skip
    assert code == 0, err
    stack = read_lcf(tmp_path / "package" / "stack.lcf")
    assert {"C_0", "LC_0"} <= set(stack.layers[2].floorplan.names)
    lc0 = next(b for b in stack.layers[2].floorplan if b.name == "LC_0")
    assert lc0.x == pytest.approx(8.5e-3)
