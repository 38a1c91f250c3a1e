"""HotSpot .flp files: reading, writing (exact round trip), validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comet.errors import InputError
from comet.floorplan.flp import (
    format_flp,
    parse_flp,
    read_flp,
    uncovered_area,
    validate_floorplan,
    write_flp,
)
from comet.floorplan.model import Block, Floorplan

DATA = Path(__file__).parent / "data"
REF = DATA / "reference"
BAD = DATA / "bad"


def test_reads_ev6() -> None:
    fp = read_flp(REF / "ev6" / "ev6.flp")
    assert len(fp) == 30
    assert fp.names[:3] == ["L2_left", "L2", "L2_right"]
    assert fp.min_x == 0.0 and fp.min_y == 0.0
    assert fp.width == pytest.approx(0.016) and fp.height == pytest.approx(0.016)
    assert fp.source == str(REF / "ev6" / "ev6.flp")
    # ev6 does not tile exactly (HotSpot notes 6.4: 255.9986 of 256 mm^2)
    assert uncovered_area(fp) == pytest.approx(256e-6 - fp.area, abs=1e-12)
    assert 1e-10 < uncovered_area(fp) < 1e-8


@pytest.mark.parametrize(
    "path", [REF / "ev6" / "ev6.flp", *sorted((REF / "stack3d").glob("*.flp"))], ids=str
)
def test_round_trip_reference(path: Path, tmp_path: Path) -> None:
    fp = read_flp(path)
    write_flp(fp, tmp_path / "x.flp")
    back = read_flp(tmp_path / "x.flp")
    assert back.blocks == fp.blocks


def test_seven_fields_and_connectivity_and_comments() -> None:
    text = """
# comment
   # indented comment
A 0.001 0.002 0.0 0.0 1.5e6 0.01

B 0.001 0.002 0.001 0.0
A B 1.0
"""
    fp = parse_flp(text, "x.flp")
    assert fp.names == ["A", "B"]
    assert fp[0].heat_capacity == 1.5e6 and fp[0].resistivity == 0.01
    assert fp[1].heat_capacity is None
    back = parse_flp(format_flp(fp))
    assert back.blocks == fp.blocks


def test_translated_to_origin() -> None:
    fp = parse_flp("A 1 1 -2 5\nB 1 1 -1 5\n")
    assert [(b.x, b.y) for b in fp] == [(0.0, 0.0), (1.0, 0.0)]


def test_touching_and_tolerance_overlap_allowed() -> None:
    # 0.5 um overlap is inside HotSpot's 1e-6 m tolerance
    fp = parse_flp("A 0.001 0.001 0 0\nB 0.001 0.001 0.0009995 0\n")
    assert len(fp) == 2


def test_uncovered_area() -> None:
    tiled = parse_flp("A 1 1 0 0\nB 1 1 1 0\nC 2 1 0 1\n")
    assert uncovered_area(tiled) == 0.0
    gap = parse_flp("A 1 1 0 0\nB 1 1 1 1\n")
    assert uncovered_area(gap) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("overlap.flp", 3, "'B' and 'A' (line 2) overlap by 5e-07 m^2"),
        ("zero_size.flp", 3, "width 0"),
        ("nan.flp", 1, "height is nan"),
        ("non_numeric.flp", 1, "'1mm' is not a number"),
        ("six_fields.flp", 1, "6 fields"),
        ("duplicate.flp", 2, "duplicate block name 'a' (first on line 1)"),
    ],
)
def test_bad_files(name: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        read_flp(BAD / name)
    msg = str(err.value)
    assert msg.startswith(f"{BAD / name}:{line}: ")
    assert words in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("A 1 1 0 0 1\n", "6 fields"),
        ("A 1 1 0\n", "4 fields"),
        ("A 1 1 0 0 1 1 1\n", "8 fields"),
        ("A 1 -1 0 0\n", "height -1"),
        ("A 1 inf 0 0\n", "height is inf"),
        ("A 1 1 0 0 0 1\n", "heat capacity or resistivity <= 0"),
        ("A B x\n", "wire density 'x' is not a number"),
        ("# nothing\n\n", "no blocks"),
    ],
)
def test_bad_lines(text: str, words: str) -> None:
    with pytest.raises(InputError, match="^f.flp") as err:
        parse_flp(text, "f.flp")
    assert words in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="floorplan file not found"):
        read_flp(tmp_path / "nope.flp")


def test_validate_floorplan_object() -> None:
    fp = Floorplan((Block("A", 1.0, 1.0, 0.0, 0.0), Block("B", 1.0, 1.0, 0.5, 0.5)))
    with pytest.raises(InputError, match="overlap by 0.25 m\\^2"):
        validate_floorplan(fp, "mem")
    with pytest.raises(InputError, match="size 0.0"):
        validate_floorplan(Floorplan((Block("A", 0.0, 1.0, 0.0, 0.0),)))
    with pytest.raises(InputError, match="non-finite"):
        validate_floorplan(Floorplan((Block("A", float("nan"), 1.0, 0.0, 0.0),)))


def test_write_rejects_unwritable_blocks(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be written"):
        write_flp(Floorplan((Block("a b", 1.0, 1.0, 0.0, 0.0),)), tmp_path / "x.flp")
    with pytest.raises(InputError, match="only one of"):
        write_flp(Floorplan((Block("a", 1.0, 1.0, 0.0, 0.0, 1.0),)), tmp_path / "x.flp")
    assert not (tmp_path / "x.flp").exists()


_size = st.floats(min_value=1e-5, max_value=1e-2, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(widths=st.lists(_size, min_size=1, max_size=6), height=_size)
def test_round_trip_exact_floats(widths: list[float], height: float) -> None:
    # a row of blocks with arbitrary float sizes, placed side by side
    blocks, x = [], 0.0
    for i, w in enumerate(widths):
        blocks.append(Block(f"b{i}", w, height, x, 0.0))
        x += w
    fp = Floorplan(tuple(blocks))
    assert parse_flp(format_flp(fp)).blocks == fp.blocks
