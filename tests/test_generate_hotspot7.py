"""Packages on an interposer (2.5d in both layouts, chiplets) against HotSpot 7 and CoMeT.

- HotSpot 7 (``-detailed_3D on``) steady states of the generated stacks, stored in
  tests/data/hotspot7/interposer/ (see its README for the commands): comet with
  ``hotspot7_quirks`` agrees within 0.01 K at 16x16 (and at 32x32, slow);
- the files ``comet floorplan`` writes run through ``comet hotspot`` (and through HotSpot itself
  where a binary is available) to the same temperatures;
- CoMeT's own 2.5D files (tests/data/comet_2_5d/, marg-tools/CoMeT 5a9d040) and the generator's
  ``cores-in-logic-layer`` layout with CoMeT's materials are the same thermal network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from comet.cli import main
from comet.floorplan.generate import generate, thermal_config
from comet.floorplan.lcf import read_lcf
from comet.thermal.backends import ENV_VAR
from comet.thermal.solver import ThermalModel
from comet.thermal.traces import read_node_dump, read_ptrace

DATA = Path(__file__).parent / "data"
CASES = DATA / "hotspot7" / "interposer"

#: case directory -> (configuration, generator parameters); the grid is added per test.
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    "spacer": ("2.5d", {}),
    "cores-in-logic-layer": ("2.5d", {"layout": "cores-in-logic-layer"}),
    "chiplets": ("chiplets", {}),
    # chiplets of three sizes (one with two core layers), underfill, a margin, full TIM layers
    "chiplets-mixed": (
        "chiplets",
        {
            "chiplet_cores": "2x2;1x1;1x2x2",
            "core_size": "2mm",
            "filler": "underfill",
            "interposer_margin": "0.5mm",
            "tim_layers": "full",
        },
    ),
    # CoMeT's own 2.5D stack (the same network as tests/data/comet_2_5d)
    "comet-2.5d": (
        "2.5d",
        {
            "layout": "cores-in-logic-layer",
            "core_size": "3.415mm",
            "filler": "comet_air",
            "spacer": "comet_air",
            "tim_layers": "full",
        },
    ),
}


def _compare(case: str, grid: int) -> tuple[float, float]:
    """max |comet - HotSpot| (K) of the block dump, with and without hotspot7_quirks."""
    kind, params = PACKAGES[case]
    (stack,) = generate(kind, grid_rows=grid, grid_cols=grid, **params)
    names, rows = read_ptrace(CASES / case / "p.ptrace")
    ref_names, ref = read_node_dump(CASES / case / f"hs{grid}.steady")
    out = []
    for quirks in (True, False):
        model = ThermalModel.from_stack(stack, thermal_config(stack), hotspot7_quirks=quirks)
        assert list(model.power_names) == names  # the stored trace fits the generated stack
        got = dict(zip(*model.dump(model.steady(rows.mean(axis=0))), strict=True))
        assert set(got) == set(ref_names)
        out.append(max(abs(got[n] - v) for n, v in zip(ref_names, ref, strict=True)))
    return out[0], out[1]


@pytest.mark.parametrize("case", list(PACKAGES))
def test_steady_state_matches_hotspot7_16x16(case: str) -> None:
    quirks, physical = _compare(case, 16)
    assert quirks <= 0.01  # HotSpot prints 2 decimals; its Gauss-Seidel stops ~1e-3 K early
    assert physical > 1.0  # the detailed-3D sink link (see tests/data/hotspot7/README.md)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(PACKAGES))
def test_steady_state_matches_hotspot7_32x32(case: str) -> None:
    quirks, _ = _compare(case, 32)
    assert quirks <= 0.01


def _floorplan_cli(case: str, out: Path, grid: int) -> Path:
    kind, params = PACKAGES[case]
    args = ["floorplan", kind, "-o", str(out), "--grid", f"{grid}x{grid}", "--no-picture"]
    for key, value in params.items():
        args += [f"--{key.replace('_', '-')}", value]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    d = out / "package"
    shutil.copy(CASES / case / "p.ptrace", d / "p.ptrace")
    return d


def test_written_files_run_in_comet_hotspot(tmp_path: Path) -> None:
    d = _floorplan_cli("chiplets", tmp_path, 16)
    config = (d / "hotspot.config").read_text()
    assert "-detailed_3D on" in config  # the run line tells the user
    cwd = os.getcwd()
    os.chdir(d)
    try:
        result = CliRunner().invoke(
            main,
            [
                "hotspot",
                *("-c", "hotspot.config", "-f", "interposer.flp", "-p", "p.ptrace"),
                *("-detailed_3D", "on", "-steady_file", "c.steady", "-q", "--hotspot7-quirks"),
            ],
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    ref_names, ref = read_node_dump(CASES / "chiplets" / "hs16.steady")
    names, vals = read_node_dump(d / "c.steady")
    assert names == ref_names  # HotSpot's node names and order
    assert np.abs(vals - ref).max() <= 0.0101  # both sides rounded to 2 decimals


def _hotspot_binary() -> str | None:
    path = os.environ.get(ENV_VAR) or shutil.which("hotspot")
    if path is None:
        ready = Path("/work/native/READY-hotspot")
        if ready.is_file():
            for line in ready.read_text().splitlines():
                if line.startswith(f"{ENV_VAR}="):
                    path = line.split("=", 1)[1].strip()
    return path if path and Path(path).is_file() else None


@pytest.mark.slow
@pytest.mark.skipif(_hotspot_binary() is None, reason="no HotSpot binary ($COMET_HOTSPOT)")
@pytest.mark.parametrize("case", ["chiplets", "cores-in-logic-layer", "chiplets-mixed"])
def test_hotspot7_reads_the_written_files(case: str, tmp_path: Path) -> None:
    """HotSpot 7 itself accepts the generated files and reproduces the stored output."""
    d = _floorplan_cli(case, tmp_path, 16)
    binary = _hotspot_binary()
    assert binary is not None
    run = subprocess.run(
        [
            binary,
            *("-c", "hotspot.config", "-f", "interposer.flp", "-p", "p.ptrace"),
            *("-detailed_3D", "on", "-steady_file", "hs.steady"),
        ],
        cwd=d,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    ref_names, ref = read_node_dump(CASES / case / "hs16.steady")
    names, vals = read_node_dump(d / "hs.steady")
    assert names == ref_names
    assert np.abs(vals - ref).max() <= 1e-9


# ------------------------------------------------------------------ CoMeT's own 2.5D files

#: CoMeT's config/hotspot/2_5D (commandline.txt): 2x2 cores of 3.415 mm, 4x4x8 banks of
#: 1.707 mm, 1.3 mm apart; CoMeT's "air" (0.13 m K/W) around and above the cores, full TIM layers.
COMET_2_5D = {
    "layout": "cores-in-logic-layer",
    "core_size": "3.415mm",
    "gap": "1.3mm",
    "filler": "comet_air",
    "spacer": "comet_air",
    "tim_layers": "full",
}


def test_cores_in_logic_layer_reproduces_comets_2_5d() -> None:
    (ours,) = generate("2.5d", grid_rows=16, grid_cols=16, **COMET_2_5D)
    config = thermal_config(ours)
    theirs = read_lcf(DATA / "comet_2_5d" / "stack.lcf")
    assert [ly.thickness for ly in theirs.layers] == [ly.thickness for ly in ours.layers]
    assert [ly.has_power for ly in theirs.layers] == [ly.has_power for ly in ours.layers]
    m_ours = ThermalModel.from_stack(ours, config)
    m_theirs = ThermalModel.from_stack(theirs, config)
    # the same power by name: cores 8-14 W, banks 0.05-0.12 W, logic cores 0.272 W (CoMeT)
    rng = np.random.default_rng(12)
    named = {f"C_{i}": 8.0 + 2.0 * i for i in range(4)}
    named |= {f"B_{i}": float(rng.uniform(0.05, 0.12)) for i in range(128)}
    named |= {f"LC_{i}": 0.272 for i in range(16)}

    def temperatures(model: ThermalModel) -> dict[str, float]:
        p = np.array([named.get(n, 0.0) for n in model.power_names])
        T = model.power_block_temperatures(model.steady(p))
        return {n: float(t) for n, t in zip(model.power_names, T, strict=True) if n in named}

    t_ours, t_theirs = temperatures(m_ours), temperatures(m_theirs)
    assert set(t_ours) == set(t_theirs) == set(named)
    assert max(abs(t_ours[n] - t_theirs[n]) for n in named) < 1e-6
    assert max(t_ours.values()) - 273.15 > 60.0  # a hot package, not a trivial agreement
