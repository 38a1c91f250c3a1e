"""``comet hotspot``: HotSpot's command line end to end against HotSpot 7's reference outputs,
and one-line errors (exit status 2, no traceback) for bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from comet.cli import main
from comet.thermal.hotspot_config import ThermalConfig
from comet.thermal.hotspot_run import HotSpotOptions, clip_init, order_init_dump
from comet.thermal.traces import (
    read_grid_steady,
    read_grid_transient,
    read_node_dump,
    read_ptrace,
    read_ttrace,
    write_ptrace,
)

DATA = Path(__file__).parent / "data"
REF = DATA / "reference"
BAD = DATA / "bad"

#: HotSpot prints %.2f: steady files agree to rounding; the ttrace also carries HotSpot's RK4 error.
STEADY_TOL = 0.01 + 1e-9
TRACE_TOL = 0.05

EV6 = ["-c", "hotspot.config", "-f", "ev6.flp", "-p", "gcc.ptrace"]
EV6 += ["-materials_file", "example.materials"]
STACK = ["-c", "hotspot.config", "-grid_layer_file", "stack.lcf", "-p", "stack.ptrace"]


def _copy_case(name: str, dest: Path) -> Path:
    for f in (REF / name).iterdir():
        if f.is_file():
            shutil.copy(f, dest / f.name)
            (dest / f.name).chmod(0o644)
    return dest


@pytest.fixture
def ev6(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(_copy_case("ev6", tmp_path))
    return tmp_path


@pytest.fixture
def stack3d(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(_copy_case("stack3d", tmp_path))
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["hotspot", *args])


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def error(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("comet: error: "), result.stderr
    return lines[0]


def _compare_dump(ours: str, ref: Path) -> float:
    n1, v1 = read_node_dump(ours)
    n2, v2 = read_node_dump(ref)
    assert n1 == n2
    return float(np.abs(v1 - v2).max())


def _compare_trace(ours: str, ref: Path, rows: int | None = None) -> float:
    n1, v1 = read_ttrace(ours)
    n2, v2 = read_ttrace(ref)
    assert n1 == n2
    v2 = v2 if rows is None else v2[:rows]
    assert v1.shape == v2.shape
    return float(np.abs(v1 - v2).max())


# ------------------------------------------------------------------ reference cases


def test_ev6_block(ev6: Path) -> None:
    result = ok(*EV6, "-model_type", "block", "-o", "b.ttrace", "-steady_file", "b.steady")
    assert "peak transient temperature: 74.69 °C (347.84 K) (IntReg_1, row 1)" in result.output
    assert "wrote b.ttrace" in result.output
    assert _compare_dump("b.steady", REF / "ev6" / "expected" / "block.steady") <= STEADY_TOL
    assert _compare_trace("b.ttrace", REF / "ev6" / "expected" / "block.ttrace") <= TRACE_TOL


def test_ev6_grid64_steady(ev6: Path) -> None:
    args = ["-model_type", "grid", "-grid_rows", "64", "-grid_cols", "64"]
    ok(*EV6, *args, "-steady_file", "g.steady", "-grid_steady_file", "g.grid", "-q")
    assert _compare_dump("g.steady", REF / "ev6" / "expected" / "grid64.steady") <= STEADY_TOL
    ours = read_grid_steady("g.grid")
    assert ours.shape == (4, 64, 64)
    ref = read_grid_steady(REF / "ev6" / "expected" / "grid64.grid.steady")
    assert np.abs(ours - ref).max() <= STEADY_TOL


@pytest.mark.slow
def test_ev6_grid64_transient(ev6: Path) -> None:
    ok(*EV6, "-model_type", "grid", "-grid_rows", "64", "-grid_cols", "64", "-o", "g.ttrace")
    assert _compare_trace("g.ttrace", REF / "ev6" / "expected" / "grid64.ttrace") <= TRACE_TOL


def test_stack3d_steady_and_first_rows(stack3d: Path) -> None:
    ok(*STACK, "-grid_rows", "32", "-grid_cols", "32", "-steady_file", "s32.steady", "-q")
    assert _compare_dump("s32.steady", REF / "stack3d" / "expected" / "grid32.steady") <= STEADY_TOL
    ok(*STACK, "-steady_file", "s64.steady", "-q")
    assert _compare_dump("s64.steady", REF / "stack3d" / "expected" / "grid64.steady") <= STEADY_TOL
    # the transient is causal: the first 40 rows of the trace give the first 40 output rows
    names, power = read_ptrace("stack.ptrace")
    write_ptrace("short.ptrace", names, power[:40])
    args = ["-c", "hotspot.config", "-grid_layer_file", "stack.lcf", "-p", "short.ptrace"]
    ok(*args, "-o", "s.ttrace", "-q")
    assert (
        _compare_trace("s.ttrace", REF / "stack3d" / "expected" / "grid64.ttrace", 40) <= TRACE_TOL
    )


@pytest.mark.slow
def test_stack3d_full_transient(stack3d: Path) -> None:
    ok(*STACK, "-o", "s.ttrace", "-q")
    assert _compare_trace("s.ttrace", REF / "stack3d" / "expected" / "grid64.ttrace") <= TRACE_TOL


# ------------------------------------------------------------------ HotSpot behaviours


def test_steady_only_without_o_and_dump_config(ev6: Path) -> None:
    result = ok(*EV6, "-steady_file", "a.steady", "-d", "dump.config")
    assert "peak steady state temperature" in result.output
    assert not list(ev6.glob("*.ttrace"))
    text = Path("dump.config").read_text()
    assert "-f\tev6.flp" in text and "-k_chip\t130.0" in text
    # the dump reproduces the run without the config file or the materials file
    ok("-c", "dump.config", "-f", "ev6.flp", "-p", "gcc.ptrace", "-steady_file", "b.steady")
    assert Path("a.steady").read_text() == Path("b.steady").read_text()


def test_init_file_from_steady_state_stays_put(ev6: Path) -> None:
    names, power = read_ptrace("gcc.ptrace")
    write_ptrace("avg.ptrace", names, np.tile(power.mean(axis=0), (3, 1)))
    base = ["-c", "hotspot.config", "-f", "ev6.flp", "-p", "avg.ptrace"]
    base += ["-materials_file", "example.materials"]
    ok(*base, "-steady_file", "init.steady")
    ok(*base, "-init_file", "init.steady", "-o", "x.ttrace")
    steady_names, steady = read_node_dump("init.steady")
    _, trace = read_ttrace("x.ttrace")
    lookup = dict(zip(steady_names, steady, strict=True))
    expected = np.array([lookup[n] for n in names])
    assert np.abs(trace - expected).max() <= 0.011  # init file has 0.01 K rounding


def test_grid_transient_file_and_non_power_of_two_grid(ev6: Path) -> None:
    names, power = read_ptrace("gcc.ptrace")
    write_ptrace("three.ptrace", names, power[:3])
    args = ["-c", "hotspot.config", "-f", "ev6.flp", "-p", "three.ptrace"]
    args += ["-materials_file", "example.materials", "-model_type", "grid"]
    args += ["-grid_rows", "12", "-grid_cols", "10", "-grid_map_mode", "center"]
    Path("gt.txt").write_text("stale content from a previous run\n")
    ok(*args, "-o", "x.ttrace", "-grid_transient_file", "gt.txt", "-grid_steady_file", "gs.txt")
    times, grids = read_grid_transient("gt.txt", rows=12, cols=10)  # truncated, not appended
    assert np.allclose(times, [0.0, 0.01, 0.02])
    assert grids.shape == (3, 4, 12, 10)
    _, trace = read_ttrace("x.ttrace")
    assert trace.shape == (3, 30)
    assert read_grid_steady("gs.txt", rows=12, cols=10).shape == (4, 12, 10)


def test_block_model_ignores_grid_files_with_a_warning(ev6: Path) -> None:
    result = ok(*EV6, "-grid_steady_file", "g.txt")
    assert "ignoring -grid_steady_file because the grid model is not used" in result.stderr
    assert not Path("g.txt").exists()


def test_unknown_key_warns(ev6: Path) -> None:
    result = ok(*EV6, "-no_such_key", "3", "-q")
    assert "comet: warning: command line: unknown config key -no_such_key" in result.stderr
    assert result.stdout == ""


def test_help() -> None:
    result = run("-h")
    assert result.exit_code == 0 and "-grid_layer_file" in result.output
    result = run("--help")
    assert result.exit_code == 0 and "--backend" in result.output


def test_single_dash_keys_starting_like_short_options(ev6: Path) -> None:
    # "-htc" must not be read as "-h" (help): it is a microchannel key, accepted silently
    result = ok(*EV6, "-htc", "27132", "-q")
    assert result.stderr == ""


# ------------------------------------------------------------------ errors: exit 2, one line


def test_no_arguments() -> None:
    result = run()
    assert result.exit_code == 2 and "Usage" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-c", "hotspot.config", "-f", "ev6.flp"], "the power trace is missing"),
        (["-f", "ev6.flp", "-p"], "-p has no value"),
        (["f", "ev6.flp", "-p", "gcc.ptrace"], "expected an option '-name', found 'f'"),
        (["-p", "gcc.ptrace"], "no floorplan"),
        ([*EV6, "-grid_map_mode", "median"], "-grid_map_mode is 'median'"),
        ([*EV6, "-model_type", "grid", "-grid_map_mode", "x"], "-grid_map_mode is 'x'"),
        ([*EV6, "-detailed_3D", "on"], "-detailed_3D on needs the grid model"),
        ([*EV6, "-use_microchannels", "1"], "microchannels (-use_microchannels 1) are not"),
        ([*EV6, "-sampling_intvl", "0"], "command line: -sampling_intvl is 0.0"),
        (["-f", "ev6.flp", "-p", "gcc.ptrace", "-c", "nope.config"], "nope.config: config file"),
        (["-f", "nope.flp", "-p", "gcc.ptrace"], "nope.flp: floorplan file not found"),
        (["-c", "hotspot.config", "-f", "ev6.flp", "-p", "gcc.ptrace"], "needs a materials file"),
        ([*EV6, "--backend", "gpu"], "--backend 'gpu' is unknown"),
        ([*EV6, "-grid_layer_file", "x.lcf"], "needs the grid model"),
    ],
)
def test_errors(ev6: Path, args: list[str], words: str) -> None:
    assert words in error(*args)


def test_bad_ptrace_columns(ev6: Path) -> None:
    shutil.copy(BAD / "columns.ptrace", "c.ptrace")
    assert "c.ptrace:3: 1 values but 2 names" in error(*EV6[:4], "-p", "c.ptrace", *EV6[6:])
    names, power = read_ptrace("gcc.ptrace")
    write_ptrace("few.ptrace", names[:-1], power[:, :-1])
    msg = error(*EV6[:4], "-p", "few.ptrace", *EV6[6:])
    assert "few.ptrace:1: the power trace has 29 columns but the model has 30" in msg
    assert "no column for block 'ITB_1'" in msg
    write_ptrace("renamed.ptrace", [*names[:-1], "ITB_9"], power)
    msg = error(*EV6[:4], "-p", "renamed.ptrace", *EV6[6:])
    assert "renamed.ptrace:1: column 30 'ITB_9' is not a block of the floorplan" in msg
    shutil.copy(BAD / "nan.ptrace", "n.ptrace")
    assert "n.ptrace:2: column 'B' is nan" in error(*EV6[:4], "-p", "n.ptrace", *EV6[6:])


def test_bad_floorplan(ev6: Path) -> None:
    shutil.copy(BAD / "overlap.flp", "o.flp")
    assert "o.flp:3: blocks 'B' and 'A' (line 2) overlap" in error("-f", "o.flp", "-p", "x")
    shutil.copy(BAD / "zero_size.flp", "z.flp")
    assert "z.flp:3: block 'B' has width 0" in error("-f", "z.flp", "-p", "x")


def test_lcf_errors(stack3d: Path) -> None:
    Path("stack.lcf").write_text(Path("stack.lcf").read_text().replace("tim2.flp", "gone.flp"))
    assert "stack.lcf:56: layer 5: floorplan file 'gone.flp' not found" in error(*STACK)
    for name in ("footprint.lcf", "big.flp", "small.flp"):
        shutil.copy(BAD / name, name)
    msg = error(*STACK[:2], "-grid_layer_file", "footprint.lcf", "-p", "stack.ptrace")
    assert "footprint.lcf:15:" in msg and "big.flp" in msg and "small.flp" in msg


def test_grid_ptrace_in_wrong_layer_order(stack3d: Path) -> None:
    names, power = read_ptrace("stack.ptrace")
    order = list(range(16, 32)) + list(range(16)) + list(range(32, 80))
    write_ptrace("swapped.ptrace", [names[i] for i in order], power[:2, order])
    msg = error(*STACK[:4], "-p", "swapped.ptrace")
    assert "swapped.ptrace:1: column 1 " in msg and "belongs to power layer group 2" in msg


def test_bad_init_file(ev6: Path) -> None:
    ok(*EV6, "-steady_file", "s.steady", "-q")
    lines = Path("s.steady").read_text().splitlines()
    Path("short.init").write_text("\n".join(lines[:-1]) + "\n")
    msg = error(*EV6, "-init_file", "short.init", "-o", "x.ttrace")
    assert "short.init: not enough lines: 131 nodes, the model has 132" in msg
    swapped = [lines[30], *lines[1:30], lines[0], *lines[31:]]
    Path("swapped.init").write_text("\n".join(swapped) + "\n")
    msg = error(*EV6, "-init_file", "swapped.init", "-o", "x.ttrace")
    assert "node 'iface_L2_left' (entry 1) is not a block of the layer 'chip'" in msg


# ------------------------------------------------------------------ helpers


def test_options_from_pairs_first_wins() -> None:
    opts = HotSpotOptions.from_pairs(
        [("-f", "a.flp"), ("-F", "b.flp"), ("-P", "x"), ("-Model_Type", "grid")]
    )
    assert opts.flp_file == "a.flp" and opts.ptrace_file == "x"
    assert opts.overrides == [("Model_Type", "grid")]
    assert ("f", "a.flp") in opts.global_pairs()


def test_clip_init() -> None:
    config = ThermalConfig(dtm_used=1, thermal_threshold=350.0, ambient=300.0)
    values = np.array([400.0, 350.0, 320.0])
    clipped = clip_init(values, 2, config)
    assert np.allclose(clipped, [350.0, 325.0, 310.0])  # (T-amb)*(50/100)+amb
    assert np.array_equal(clip_init(values, 2, config.with_values(dtm_used=0)), values)
    assert np.array_equal(clip_init(values, 2, config.with_values(thermal_threshold=450.0)), values)


def test_order_init_dump_permutes_inside_layers() -> None:
    groups = [("", ["a", "b"]), ("hsp_", ["a", "b"])]
    names = ["B", "a", "hsp_b", "hsp_A", "inode_0"]
    out = order_init_dump(names, np.array([2.0, 1.0, 4.0, 3.0, 5.0]), groups, 1)
    assert list(out) == [1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(Exception, match="appears twice"):
        order_init_dump(["a", "a", "hsp_a", "hsp_b", "inode_0"], np.zeros(5), groups, 1)
    with pytest.raises(Exception, match="expected package node 'inode_0'"):
        order_init_dump(["a", "b", "hsp_a", "hsp_b", "inode_1"], np.zeros(5), groups, 1)
