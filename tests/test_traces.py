"""Power/temperature traces, node dumps, grid dumps and power-column matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from comet.errors import InputError
from comet.thermal.traces import (
    append_grid_transient,
    match_power_columns,
    read_grid_steady,
    read_grid_transient,
    read_node_dump,
    read_ptrace,
    read_ttrace,
    write_grid_steady,
    write_node_dump,
    write_ptrace,
    write_ttrace,
)

DATA = Path(__file__).parent / "data"
EV6 = DATA / "reference" / "ev6"
BAD = DATA / "bad"


def test_reads_gcc_ptrace() -> None:
    names, power = read_ptrace(EV6 / "gcc.ptrace")
    assert len(names) == 30 and names[0] == "L2_left"
    assert power.shape == (100, 30)
    assert power[0, 0] == 1.44 and power[0, 5] == 1.51666666666667


def test_ptrace_round_trip_is_exact(tmp_path: Path) -> None:
    names, power = read_ptrace(EV6 / "gcc.ptrace")
    power = power * (1 + 1e-13 * np.arange(30))  # not representable in 15 digits
    write_ptrace(tmp_path / "p.ptrace", names, power)
    names2, power2 = read_ptrace(tmp_path / "p.ptrace")
    assert names2 == names and np.array_equal(power2, power)


def test_ttrace_round_trip(tmp_path: Path) -> None:
    names, temps = read_ttrace(EV6 / "expected" / "block.ttrace")
    assert temps.shape == (100, 30) and temps[0, 0] == 318.83
    write_ttrace(tmp_path / "t.ttrace", names, temps)
    text = (tmp_path / "t.ttrace").read_text()
    assert text == (EV6 / "expected" / "block.ttrace").read_text()


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("columns.ptrace", 3, "1 values but 2 names"),
        ("nan.ptrace", 2, "column 'B' is nan"),
        ("non_numeric.ptrace", 2, "column 'B': 'x' is not a number"),
    ],
)
def test_bad_ptrace(name: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        read_ptrace(BAD / name)
    assert str(err.value).startswith(f"{BAD / name}:{line}: ")
    assert words in str(err.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty power trace"),
        ("\n\nA B\n", "no rows"),
        ("A a\n1 2\n", "column 'a' appears twice"),
        ("A B\n1 inf\n", "column 'B' is inf"),
    ],
)
def test_bad_ptrace_text(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "p.ptrace").write_text(text)
    with pytest.raises(InputError, match=words):
        read_ptrace(tmp_path / "p.ptrace")


def test_node_dump(tmp_path: Path) -> None:
    names, values = read_node_dump(EV6 / "expected" / "block.steady")
    assert len(names) == 4 * 30 + 12
    assert names[30] == "iface_L2_left" and names[-1] == "inode_11"
    write_node_dump(tmp_path / "s.steady", names, values)
    assert (tmp_path / "s.steady").read_text() == (EV6 / "expected" / "block.steady").read_text()
    (tmp_path / "bad").write_text("a 1\nb\n")
    with pytest.raises(InputError, match=r"bad:2: expected '<node name> <temperature K>'"):
        read_node_dump(tmp_path / "bad")
    (tmp_path / "bad").write_text("a x\n")
    with pytest.raises(InputError, match=r"bad:1: node 'a': 'x' is not a number"):
        read_node_dump(tmp_path / "bad")


def test_grid_steady(tmp_path: Path) -> None:
    ref = EV6 / "expected" / "grid64.grid.steady"
    grid = read_grid_steady(ref)
    assert grid.shape == (4, 64, 64)
    write_grid_steady(tmp_path / "g", grid)
    assert (tmp_path / "g").read_text() == ref.read_text()
    # non-square grids: row 0 first, index i*cols+j
    g = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5) + 300.0
    write_grid_steady(tmp_path / "r", g)
    lines = (tmp_path / "r").read_text().splitlines()
    assert lines[:3] == ["Layer 0:", "0\t300.00", "1\t301.00"]
    assert lines[16] == "Layer 1:"
    assert np.array_equal(read_grid_steady(tmp_path / "r", rows=3, cols=5), g)
    with pytest.raises(InputError, match="not a square grid"):
        read_grid_steady(tmp_path / "r")


def test_grid_transient(tmp_path: Path) -> None:
    g0 = np.full((2, 2, 3), 300.0)
    g1 = g0 + 1.25
    with open(tmp_path / "t", "w") as fh:
        append_grid_transient(fh, 0.0, g0)
        append_grid_transient(fh, 0.01, g1)
    assert (tmp_path / "t").read_text().splitlines()[0] == "t = 0.000000"
    times, grids = read_grid_transient(tmp_path / "t", rows=2, cols=3)
    assert np.array_equal(times, [0.0, 0.01])
    assert np.array_equal(grids, np.stack([g0, g1]))


def test_match_block_model_any_order_case_insensitive() -> None:
    perm = match_power_columns(["b", "A", "C"], ["a", "B", "c"], "block", "p")
    row = np.array([2.0, 1.0, 3.0])
    assert np.array_equal(row[perm], [1.0, 2.0, 3.0])
    out = np.empty(3)
    out[perm] = np.array([10.0, 20.0, 30.0])  # model order back to trace order
    assert np.array_equal(out, [20.0, 10.0, 30.0])


def test_match_errors() -> None:
    with pytest.raises(InputError, match=r"^p:1: the power trace has 2 columns .* 'C'"):
        match_power_columns(["A", "B"], ["A", "B", "C"], "block", "p")
    with pytest.raises(InputError, match=r"column 2 'X' is not a block"):
        match_power_columns(["A", "X"], ["A", "B"], "block", "p")
    with pytest.raises(InputError, match=r"column 2 'a' repeats column 'A'"):
        match_power_columns(["A", "a"], ["A", "B"], "block", "p")


def test_match_grid_groups() -> None:
    model = ["c0", "c1", "d0", "d1", "d2"]
    perm = match_power_columns(["c1", "c0", "d2", "d0", "d1"], model, "grid", "p", [2, 3])
    assert list(perm) == [1, 0, 3, 4, 2]
    with pytest.raises(InputError, match=r"column 2 'd0' belongs to power layer group 2"):
        match_power_columns(["c0", "d0", "c1", "d1", "d2"], model, "grid", "p", [2, 3])
    # the same block name in two power layers is fine in the grid model
    perm = match_power_columns(["x", "y", "y", "x"], ["x", "y", "x", "y"], "grid", "p", [2, 2])
    assert list(perm) == [0, 1, 3, 2]
