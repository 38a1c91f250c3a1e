"""The HotSpot binary backend: plumbing tested with a fake executable; a real HotSpot if found."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from comet.cli import main
from comet.errors import InputError
from comet.floorplan.flp import read_flp
from comet.floorplan.lcf import read_lcf
from comet.thermal.backends import ENV_VAR, BackendError, HotSpotBinary, find_hotspot
from comet.thermal.hotspot_config import read_config
from comet.thermal.hotspot_run import HotSpotOptions, run_hotspot
from comet.thermal.materials import read_materials
from comet.thermal.traces import read_node_dump, read_ptrace, read_ttrace

DATA = Path(__file__).parent / "data"
EV6 = DATA / "reference" / "ev6"
STACK = DATA / "reference" / "stack3d"

# A stand-in for HotSpot: checks its command line like HotSpot, writes outputs with known values
# (row k of the .ttrace = 300 + k K, steady file = the power-trace names at 310 K, a one-layer
# grid steady file at 320 K) and records its arguments; FAKE_FAIL makes it fail like fatal().
FAKE = r"""
import os, sys
args = sys.argv[1:]
if os.environ.get("FAKE_FAIL"):
    print("Parsing input files...")
    sys.stderr.write("error: no. of units in floorplan and trace file differ\n")
    sys.exit(1)
assert len(args) % 2 == 0 and len(args) >= 4, args
opts = dict(zip(args[0::2], args[1::2]))
cfg = {}
for line in open(opts["-c"]):
    tok = line.split()
    if tok and not tok[0].startswith("#"):
        cfg[tok[0][1:]] = tok[1]
lines = [ln.split() for ln in open(opts["-p"]) if ln.strip()]
names, rows = lines[0], len(lines) - 1
open("args.txt", "w").write(" ".join(args))
if "-o" in opts:
    with open(opts["-o"], "w") as fh:
        fh.write("\t".join(names) + "\n")
        for k in range(rows):
            fh.write("\t".join("%.2f" % (300 + k) for _ in names) + "\n")
with open(cfg["steady_file"], "w") as fh:
    for n in names:
        fh.write("%s\t310.00\n" % n)
if cfg["grid_steady_file"] != "(null)":
    r, c = int(cfg["grid_rows"]), int(cfg["grid_cols"])
    with open(cfg["grid_steady_file"], "w") as fh:
        fh.write("Layer 0:\n" + "".join("%d\t320.00\n" % i for i in range(r * c)))
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    exe = tmp_path / "bin" / "hotspot"
    exe.parent.mkdir()
    exe.write_text(f"#!{sys.executable}\n{FAKE}")
    exe.chmod(0o755)
    return exe


def test_find_hotspot(fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InputError, match="no HotSpot binary found.*--hotspot-binary"):
        find_hotspot()
    assert find_hotspot(fake) == str(fake.resolve())
    monkeypatch.setenv(ENV_VAR, str(fake))
    assert find_hotspot() == str(fake.resolve())
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert find_hotspot() == str(fake.resolve())
    with pytest.raises(InputError, match="not found"):
        find_hotspot(tmp_path / "missing" / "hotspot")
    plain = tmp_path / "plain"
    plain.write_text("")
    plain.chmod(0o644)
    with pytest.raises(InputError, match="is not executable"):
        find_hotspot(plain)


def test_run_block_model_plumbing(fake: Path, tmp_path: Path) -> None:
    config = read_config(EV6 / "hotspot.config", [], read_materials(EV6 / "example.materials"))
    flp = read_flp(EV6 / "ev6.flp")
    names, power = read_ptrace(EV6 / "gcc.ptrace")
    work = tmp_path / "work"
    out = HotSpotBinary(fake).run(config, names, power[:5], floorplan=flp, workdir=work)
    # the inputs HotSpot saw
    args = (work / "args.txt").read_text().split()
    assert args == ["-c", "hotspot.config", "-p", "power.ptrace", "-f", "chip.flp"] + [
        "-o",
        "out.ttrace",
    ]
    seen = read_config(work / "hotspot.config")
    assert seen.k_chip == 130.0 and seen.k_sink == 237.0  # materials resolved into k and p
    assert seen.steady_file == "out.steady" and seen.grid_steady_file is None
    assert read_flp(work / "chip.flp").blocks == flp.blocks
    pnames, ppower = read_ptrace(work / "power.ptrace")
    assert pnames == names and np.array_equal(ppower, power[:5])
    # its outputs, parsed
    assert out.trace_names == names
    assert out.transient is not None and out.transient.shape == (5, 30)
    assert np.array_equal(out.transient[:, 0], [300.0, 301.0, 302.0, 303.0, 304.0])
    assert out.steady_names == names and np.all(out.steady == 310.0)
    assert out.grid_steady is None


def test_run_stack_steady_only(fake: Path, tmp_path: Path) -> None:
    config = read_config(STACK / "hotspot.config", [("grid_rows", "6"), ("grid_cols", "5")])
    stack = read_lcf(STACK / "stack.lcf")
    names, power = read_ptrace(STACK / "stack.ptrace")
    work = tmp_path / "w"
    out = HotSpotBinary(fake).run(
        config, names, power[:2], stack=stack, transient=False, workdir=work
    )
    assert "-f" not in (work / "args.txt").read_text().split()
    assert read_config(work / "hotspot.config").grid_layer_file == "stack.lcf"
    assert len(read_lcf(work / "stack.lcf")) == 10
    assert out.transient is None
    assert out.grid_steady is not None and out.grid_steady.shape == (1, 6, 5)


def test_failure_reports_hotspot_error(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "1")
    config = read_config(EV6 / "hotspot.config", [], read_materials(EV6 / "example.materials"))
    names, power = read_ptrace(EV6 / "gcc.ptrace")
    with pytest.raises(BackendError, match="status 1: error: no. of units in floorplan"):
        HotSpotBinary(fake).run(config, names, power[:1], floorplan=read_flp(EV6 / "ev6.flp"))


def test_cli_backend_hotspot(fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in EV6.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    monkeypatch.chdir(tmp_path)
    args = ["hotspot", "-c", "hotspot.config", "-f", "ev6.flp", "-p", "gcc.ptrace"]
    args += ["-materials_file", "example.materials", "-o", "x.ttrace", "-steady_file", "x.steady"]
    backend = ["--backend", "hotspot", "--hotspot-binary", str(fake)]
    result = CliRunner().invoke(main, [*args, *backend])
    assert result.exit_code == 0, result.output
    assert "backend hotspot" in result.stdout
    assert "peak transient temperature: 125.85 °C (399.00 K)" in result.stdout  # 300 + 99
    names, temps = read_ttrace("x.ttrace")
    assert temps.shape == (100, 30) and temps[-1, 0] == 399.0
    assert np.all(read_node_dump("x.steady")[1] == 310.0)
    # failures are one line, exit status 2
    monkeypatch.setenv("FAKE_FAIL", "1")
    result = CliRunner().invoke(main, [*args, *backend])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "HotSpot failed with status 1" in result.stderr
    # absent binary
    result = CliRunner().invoke(main, [*args, "--backend", "hotspot", "--hotspot-binary", "nope"])
    assert result.exit_code == 2 and "not found" in result.stderr


def _real_hotspot() -> str | None:
    try:
        return find_hotspot()
    except InputError:
        return None


@pytest.mark.skipif(_real_hotspot() is None, reason=f"no HotSpot binary ({ENV_VAR} or PATH)")
def test_real_hotspot_agrees_with_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in EV6.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    monkeypatch.chdir(tmp_path)
    pairs = [("-c", "hotspot.config"), ("-f", "ev6.flp"), ("-p", "gcc.ptrace")]
    pairs += [("-materials_file", "example.materials")]
    ours = run_hotspot(HotSpotOptions.from_pairs(pairs))
    config = read_config("hotspot.config", [], read_materials("example.materials"))
    names, power = read_ptrace("gcc.ptrace")
    theirs = HotSpotBinary().run(
        config, names, power, floorplan=read_flp("ev6.flp"), transient=False
    )
    assert theirs.steady_names == ours.steady_names
    assert np.abs(theirs.steady - np.round(ours.steady, 2)).max() <= 0.011
