"""comet against HotSpot 7 outputs the shared reference cases do not cover.

- ``-detailed_3D on``: per-block materials (tests/data/hotspot7/detailed3d);
- non-square grid cells, where HotSpot 7 swaps the lateral resistances: comet is physical by
  default and reproduces HotSpot with ``--hotspot7-quirks``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from comet.cli import main
from comet.floorplan.flp import read_flp
from comet.thermal.hotspot_config import read_config
from comet.thermal.materials import read_materials
from comet.thermal.solver import ThermalModel
from comet.thermal.traces import read_node_dump, read_ptrace, read_ttrace

DATA = Path(__file__).parent / "data"


@pytest.fixture()
def detailed(tmp_path: Path) -> Path:
    case = tmp_path / "detailed3d"
    shutil.copytree(DATA / "hotspot7" / "detailed3d", case)
    return case


def _run(case: Path, *args: str) -> None:
    cwd = os.getcwd()
    os.chdir(case)
    try:
        result = CliRunner().invoke(main, ["hotspot", *args])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output


def test_detailed_3d_matches_hotspot(detailed: Path) -> None:
    _run(
        detailed,
        *("-c", "hs.config", "-grid_layer_file", "stack.lcf", "-p", "p.ptrace"),
        *("-detailed_3D", "on", "-grid_rows", "16", "-grid_cols", "16"),
        *("-steady_file", "c.steady", "-o", "c.ttrace", "-q", "--hotspot7-quirks"),
    )
    ref_names, ref = read_node_dump(detailed / "expected" / "d3.steady")
    names, vals = read_node_dump(detailed / "c.steady")
    got = dict(zip(names, vals, strict=True))
    assert max(abs(got[n] - v) for n, v in zip(ref_names, ref, strict=True)) <= 0.01
    _, ref_rows = read_ttrace(detailed / "expected" / "d3.ttrace")
    _, rows = read_ttrace(detailed / "c.ttrace")
    assert np.abs(rows - ref_rows).max() <= 0.02


def test_detailed_3d_sink_link_is_physical_by_default(detailed: Path) -> None:
    """HotSpot 7 puts half the sink's convection share in the spreader-sink link in detailed
    mode; comet's default leaves it out, so the die is cooler than HotSpot says."""
    _run(
        detailed,
        *("-c", "hs.config", "-grid_layer_file", "stack.lcf", "-p", "p.ptrace"),
        *("-detailed_3D", "on", "-grid_rows", "16", "-grid_cols", "16"),
        *("-steady_file", "phys.steady", "-q"),
    )
    ref = dict(zip(*read_node_dump(detailed / "expected" / "d3.steady"), strict=True))
    phys = dict(zip(*read_node_dump(detailed / "phys.steady"), strict=True))
    die = [n for n in ref if n.startswith("layer_0_")]
    assert all(phys[n] < ref[n] - 0.5 for n in die)


def test_detailed_3d_materials_matter(detailed: Path) -> None:
    """Without -detailed_3D the blocks' own materials are ignored (tens of kelvin here)."""
    _run(
        detailed,
        *("-c", "hs.config", "-grid_layer_file", "stack.lcf", "-p", "p.ptrace"),
        *("-grid_rows", "16", "-grid_cols", "16", "-steady_file", "plain.steady", "-q"),
    )
    ref = dict(zip(*read_node_dump(detailed / "expected" / "d3.steady"), strict=True))
    plain = dict(zip(*read_node_dump(detailed / "plain.steady"), strict=True))
    assert max(abs(ref[n] - plain[n]) for n in ref) > 10.0


def test_detailed_3d_needs_a_stack(tmp_path: Path) -> None:
    ev6 = DATA / "reference" / "ev6"
    result = CliRunner().invoke(
        main,
        [
            "hotspot",
            *("-c", str(ev6 / "hotspot.config"), "-f", str(ev6 / "ev6.flp")),
            *("-p", str(ev6 / "gcc.ptrace"), "-materials_file", str(ev6 / "example.materials")),
            *("-model_type", "grid", "-detailed_3D", "on"),
        ],
    )
    assert result.exit_code == 2
    assert "layer configuration file" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("compat", [False, True])
def test_non_square_cells(compat: bool) -> None:
    ev6 = DATA / "reference" / "ev6"
    cfg = read_config(
        ev6 / "hotspot.config",
        [("model_type", "grid"), ("grid_rows", "64"), ("grid_cols", "16")],
        read_materials(ev6 / "example.materials"),
    )
    model = ThermalModel.from_floorplan(read_flp(ev6 / "ev6.flp"), cfg, hotspot7_quirks=compat)
    power = read_ptrace(ev6 / "gcc.ptrace")[1].mean(axis=0)
    names, vals = model.dump(model.steady(power))
    got = dict(zip(names, vals, strict=True))
    ref_names, ref = read_node_dump(DATA / "hotspot7" / "ev6_nonsquare" / "grid64x16.steady")
    diff = max(abs(got[n] - v) for n, v in zip(ref_names, ref, strict=True))
    if compat:
        assert diff <= 0.01
    else:
        assert diff > 1.0  # HotSpot 7's swapped lateral links are not physical


def test_physical_lateral_links_are_orientation_consistent() -> None:
    """Transposing the die and the grid transposes the temperature map (physical links)."""
    from comet.floorplan.model import Block, Floorplan
    from comet.thermal.hotspot_config import ThermalConfig

    wide = Floorplan((Block("a", 0.012, 0.004, 0, 0), Block("b", 0.004, 0.004, 0.012, 0)))
    tall = Floorplan((Block("a", 0.004, 0.012, 0, 0.004), Block("b", 0.004, 0.004, 0, 0)))
    cfg = ThermalConfig(model_type="grid", grid_rows=4, grid_cols=16, grid_map_mode="avg")
    m1 = ThermalModel.from_floorplan(wide, cfg)
    m2 = ThermalModel.from_floorplan(tall, cfg.with_values(grid_rows=16, grid_cols=4))
    p = np.array([20.0, 5.0])
    g1 = m1.grid_temperatures(m1.steady(p))[0]
    g2 = m2.grid_temperatures(m2.steady(p))[0]
    # the tall die is the wide one turned a quarter turn clockwise (a on the left -> a on top)
    assert np.allclose(g1, np.rot90(g2, k=1), atol=1e-6, rtol=0)


def test_detailed_3d_without_own_materials_is_the_standard_model() -> None:
    """comet's detailed_3D only changes what per-block materials change."""
    from comet.floorplan.model import Block, Floorplan, Layer, Stack
    from comet.thermal.hotspot_config import ThermalConfig

    # blocks that do not align with the grid and leave a gap (uncovered cell parts)
    top = Floorplan(
        (Block("a", 0.0031, 0.004, 0.0, 0.0), Block("b", 0.0045, 0.004, 0.0035, 0.0)),
        source="top",
    )
    tim = Floorplan((Block("t", 0.008, 0.004, 0.0, 0.0),), source="tim")
    stack = Stack(
        (
            Layer("top", top, 1.5e-4, 100.0, 1.75e6, has_power=True),
            Layer("tim", tim, 2e-5, 4.0, 4e6),
        )
    )
    cfg = ThermalConfig(model_type="grid", grid_rows=7, grid_cols=13, grid_map_mode="avg")
    plain = ThermalModel.from_stack(stack, cfg)
    detailed = ThermalModel.from_stack(stack, cfg.with_values(detailed_3D_used=1))
    assert not detailed.network.grid.uniform  # type: ignore[union-attr]
    assert abs(plain.network.G - detailed.network.G).max() < 1e-9 * abs(plain.network.G).max()
    assert np.allclose(plain.network.C, detailed.network.C, rtol=1e-12)
    p = np.array([6.0, 9.0])
    assert np.abs(plain.steady(p) - detailed.steady(p)).max() < 1e-7


def test_secondary_path_matches_hotspot(tmp_path: Path) -> None:
    ev6 = DATA / "reference" / "ev6"
    sec = DATA / "hotspot7" / "ev6_secondary"
    result = CliRunner().invoke(
        main,
        [
            "hotspot",
            *("-c", str(ev6 / "hotspot.config"), "-f", str(ev6 / "ev6.flp")),
            *("-p", str(sec / "gcc20.ptrace"), "-materials_file", str(ev6 / "example.materials")),
            *("-model_type", "grid", "-grid_rows", "16", "-grid_cols", "16"),
            *("-model_secondary", "1", "-q"),
            *("-steady_file", str(tmp_path / "s.steady"), "-o", str(tmp_path / "s.ttrace")),
        ],
    )
    assert result.exit_code == 0, result.output
    ref_names, ref = read_node_dump(sec / "sec.steady")
    names, vals = read_node_dump(tmp_path / "s.steady")
    assert names == ref_names  # pcb_, solder_, sub_, c4_, metal_ prefixes and 28 inodes
    assert np.abs(vals - ref).max() <= 0.0101  # two-decimal rounding of both sides
    assert (
        np.abs(read_ttrace(tmp_path / "s.ttrace")[1] - read_ttrace(sec / "sec.ttrace")[1]).max()
        <= 0.02
    )


def test_run_dir_of_a_hotspot_transient(tmp_path: Path) -> None:
    from comet.sim.results import Run

    ev6 = DATA / "reference" / "ev6"
    result = CliRunner().invoke(
        main,
        [
            "hotspot",
            *("-c", str(ev6 / "hotspot.config"), "-f", str(ev6 / "ev6.flp")),
            *("-p", str(DATA / "hotspot7" / "ev6_secondary" / "gcc20.ptrace")),
            *("-materials_file", str(ev6 / "example.materials"), "-q"),
            *("-o", str(tmp_path / "t.ttrace"), "--run-dir", str(tmp_path / "run")),
        ],
    )
    assert result.exit_code == 0, result.output
    run = Run(tmp_path / "run")
    assert run.status == "complete"
    _, ttrace = read_ttrace(tmp_path / "t.ttrace")
    assert run.temperature.shape == ttrace.shape
    assert np.allclose(run.temperature.to_numpy(), ttrace - 273.15, atol=0.006)
    assert run.temperature.index[-1] == pytest.approx(20 * 0.01)
