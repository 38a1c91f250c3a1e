"""HotSpot .lcf layer configuration files: reading stacks, writing them back, errors."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comet.errors import InputError
from comet.floorplan.lcf import exact_reciprocal, read_lcf, write_lcf
from comet.floorplan.model import Layer
from comet.thermal.materials import Material

DATA = Path(__file__).parent / "data"
REF = DATA / "reference"
BAD = DATA / "bad"
STACK = REF / "stack3d" / "stack.lcf"

RECORD = "{n}\nY\n{p}\n1.75e6\n0.01\n0.00015\n{flp}\n"


def _same(a: Layer, b: Layer) -> bool:
    return replace(a, floorplan=None) == replace(b, floorplan=None) and (  # type: ignore[arg-type]
        a.floorplan.blocks == b.floorplan.blocks
    )


def test_reads_stack3d() -> None:
    stack = read_lcf(STACK)
    assert len(stack) == 10
    assert [ly.name for ly in stack.layers[:4]] == ["core", "tim0", "dram0", "tim1"]
    assert stack.power_layers == [0, 2, 4, 6, 8]
    core, tim = stack.layers[0], stack.layers[1]
    assert core.conductivity == 1.0 / 0.01 and core.heat_capacity == 1.75e6
    assert core.thickness == 0.00015 and core.lateral and core.has_power
    assert tim.conductivity == 1.0 / 0.25 and not tim.has_power
    assert stack.width == pytest.approx(0.008) and stack.height == pytest.approx(0.008)
    assert len(stack.power_block_names()) == 16 * 5
    assert stack.meta["lcf"] == str(STACK)


def test_round_trip(tmp_path: Path) -> None:
    stack = read_lcf(STACK)
    lcf = write_lcf(stack, tmp_path / "out", "copy.lcf")
    back = read_lcf(lcf)
    assert len(back) == len(stack)
    assert all(_same(a, b) for a, b in zip(stack.layers, back.layers, strict=True))


def test_records_placed_by_number_and_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(BAD / "small.flp", tmp_path / "a.flp")
    shutil.copy(BAD / "small.flp", tmp_path / "b.flp")
    text = RECORD.format(n=1, p="N", flp="b.flp") + RECORD.format(n=0, p="y", flp="a.flp")
    (tmp_path / "s.lcf").write_text(text)
    # relative to the LCF's directory when the current directory does not have them
    monkeypatch.chdir(REF)
    stack = read_lcf(tmp_path / "s.lcf")
    assert [ly.name for ly in stack.layers] == ["a", "b"]
    assert stack.layers[0].has_power and not stack.layers[1].has_power
    # the current directory comes first (HotSpot's behaviour)
    other = tmp_path / "cwd"
    other.mkdir()
    (other / "a.flp").write_text("A 0.001 0.001 0 0\nB 0.001 0.001 0.001 0\n")
    (other / "b.flp").write_text("A 0.002 0.001 0 0\n")
    monkeypatch.chdir(other)
    stack = read_lcf(tmp_path / "s.lcf")
    assert stack.layers[0].floorplan.names == ["A", "B"]


def test_shared_floorplan_gets_unique_names(tmp_path: Path) -> None:
    shutil.copy(BAD / "small.flp", tmp_path / "x.flp")
    shutil.copy(BAD / "small.flp", tmp_path / "top.flp")
    text = "".join(
        RECORD.format(n=n, p="Y", flp=f) for n, f in enumerate(["top.flp", "x.flp", "x.flp"])
    )
    (tmp_path / "s.lcf").write_text(text)
    stack = read_lcf(tmp_path / "s.lcf")
    assert [ly.name for ly in stack.layers] == ["top", "x_1", "x_2"]
    back = read_lcf(write_lcf(stack, tmp_path / "w"))
    assert [ly.name for ly in back.layers] == ["top", "x_1", "x_2"]


def test_material_records(tmp_path: Path) -> None:
    shutil.copy(BAD / "small.flp", tmp_path / "a.flp")
    (tmp_path / "s.lcf").write_text("0\nY\nY\nsilicon\n0.00015\na.flp\n")
    mats = {"silicon": Material("silicon", 130.0, 1630300.0)}
    stack = read_lcf(tmp_path / "s.lcf", mats)
    layer = stack.layers[0]
    assert (layer.conductivity, layer.heat_capacity) == (130.0, 1630300.0)
    assert layer.material == "silicon"
    back = read_lcf(write_lcf(stack, tmp_path / "w")).layers[0]
    assert back.conductivity == 130.0 and back.heat_capacity == 1630300.0
    assert back.material is None  # written as numbers (the name is a comment)
    with pytest.raises(InputError, match=r"s.lcf:4: layer 0: 'silicon' is neither"):
        read_lcf(tmp_path / "s.lcf")
    with pytest.raises(InputError, match=r"s.lcf:4: layer 0: unknown material 'silicon'"):
        read_lcf(tmp_path / "s.lcf", {"copper": Material("copper", 400.0, 3.55e6)})


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("footprint.lcf", 15, "small.flp is 0.001 x 0.001 m but"),
        ("missing_flp.lcf", 14, "layer 1: floorplan file 'not_there.flp' not found"),
        ("duplicate_layer.lcf", 8, "layer number 0 is used twice (first on line 1)"),
    ],
)
def test_bad_files(name: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        read_lcf(BAD / name)
    msg = str(err.value)
    assert msg.startswith(f"{BAD / name}:{line}: ")
    assert words in msg
    if name == "footprint.lcf":
        assert "big.flp" in msg and "small.flp" in msg


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("x\n", 1, "invalid layer number 'x'"),
        ("0\nQ\nY\n1\n1\n1\nsmall.flp\n", 2, "invalid lateral heat flow flag 'Q'"),
        ("0\nY\nmaybe\n1\n1\n1\nsmall.flp\n", 3, "invalid power dissipation flag"),
        ("0\nY\nY\n1.75e6\nabc\n1\nsmall.flp\n", 5, "resistivity 'abc' is not a number"),
        ("0\nY\nY\n1.75e6\n0.01\n0\nsmall.flp\n", 6, "thickness is 0"),
        ("0\nY\nY\n1.75e6\n-0.01\n1\nsmall.flp\n", 5, "resistivity is -0.01"),
        ("0\nY\nY\n1.75e6\n0.01\n", 1, "missing thickness"),
        ("1\nY\nY\n1.75e6\n0.01\n1e-4\nsmall.flp\n", 1, "layer number 1 is out of range"),
        ("0\nY\nY\n1.75e6\n0.01\n1e-4\nchan.csv\n", 7, "microchannel"),
    ],
)
def test_bad_records(tmp_path: Path, text: str, line: int, words: str) -> None:
    shutil.copy(BAD / "small.flp", tmp_path / "small.flp")
    (tmp_path / "s.lcf").write_text(text)
    with pytest.raises(InputError) as err:
        read_lcf(tmp_path / "s.lcf")
    assert str(err.value).startswith(f"{tmp_path / 's.lcf'}:{line}: ")
    assert words in str(err.value)


def test_empty_and_missing(tmp_path: Path) -> None:
    (tmp_path / "e.lcf").write_text("# nothing\n")
    with pytest.raises(InputError, match="no layers"):
        read_lcf(tmp_path / "e.lcf")
    with pytest.raises(InputError, match="not found"):
        read_lcf(tmp_path / "none.lcf")


def test_bad_floorplan_inside_lcf_names_the_floorplan(tmp_path: Path) -> None:
    shutil.copy(BAD / "overlap.flp", tmp_path / "o.flp")
    (tmp_path / "s.lcf").write_text(RECORD.format(n=0, p="Y", flp="o.flp"))
    with pytest.raises(InputError, match=r"o.flp:3: blocks 'B' and 'A'"):
        read_lcf(tmp_path / "s.lcf")


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1e4, allow_nan=False))
def test_exact_reciprocal(k: float) -> None:
    r = exact_reciprocal(k)
    assert abs(r - 1.0 / k) <= 4 * abs(1.0 / k) * 2.3e-16
    # whatever the value, reading it back (k = 1/r) must be stable after one round trip
    k2 = 1.0 / r
    assert 1.0 / exact_reciprocal(k2) == k2
