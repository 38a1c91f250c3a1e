"""``comet validate``: a case folder on comet's solver and on a HotSpot binary (here
``comet hotspot`` itself as the external binary; a real HotSpot 7 where one is installed)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from comet.cli import main

REF = Path(__file__).resolve().parents[2] / "shared" / "reference"
EV6 = REF / "ev6"
pytestmark = pytest.mark.skipif(not EV6.is_dir(), reason="shared/reference not present")


@pytest.fixture(scope="module")
def comet_hotspot(tmp_path_factory: pytest.TempPathFactory) -> str:
    comet = shutil.which("comet") or str(Path(sys.executable).parent / "comet")
    if not Path(comet).is_file():
        pytest.skip("the comet command is not installed")
    exe = tmp_path_factory.mktemp("bin") / "hotspot"
    exe.write_text(f'#!/bin/sh\nexec "{comet}" hotspot "$@"\n')
    exe.chmod(0o755)
    return str(exe)


def test_validate_against_comet_hotspot(comet_hotspot: str) -> None:
    res = CliRunner().invoke(
        main, ["validate", str(EV6), "--hotspot", comet_hotspot, "--rows", "3"]
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "block model, 30 power blocks, 3 transient rows" in lines[0]
    assert any(ln.startswith("IntReg_0") for ln in lines)
    # the binary's .ttrace and steady file print two decimals: 0.005 K at most
    assert "within 0.05 K" in lines[-1]
    steady = float(lines[-1].split("steady ")[1].split(" K")[0])
    assert steady <= 0.0051


def test_validate_fails_outside_tolerance(comet_hotspot: str) -> None:
    res = CliRunner().invoke(
        main,
        ["validate", str(EV6), "--hotspot", comet_hotspot, "--rows", "2", "--tolerance", "1e-6"],
    )
    assert res.exit_code == 1
    assert "OUTSIDE 1e-06 K" in res.output.splitlines()[-1]


def test_validate_bad_case_folder(tmp_path: Path) -> None:
    (tmp_path / "a.ptrace").write_text("A\n1\n")
    res = CliRunner().invoke(main, ["validate", str(tmp_path), "--hotspot", "/bin/true"])
    assert res.exit_code == 2
    assert "no floorplan file (*.flp)" in res.output
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a directory" in res.output


@pytest.mark.skipif(
    not os.environ.get("COMET_HOTSPOT") and not shutil.which("hotspot"),
    reason="no HotSpot binary ($COMET_HOTSPOT or hotspot on PATH)",
)
def test_validate_against_real_hotspot() -> None:
    res = CliRunner().invoke(main, ["validate", str(EV6), "--rows", "3"])
    assert res.exit_code == 0, res.output
