"""HotSpot materials files."""

from __future__ import annotations

from pathlib import Path

import pytest

from comet.errors import InputError
from comet.thermal.materials import Material, parse_materials, read_materials, write_materials

DATA = Path(__file__).parent / "data"


def test_reads_example_materials() -> None:
    mats = read_materials(DATA / "reference" / "ev6" / "example.materials")
    assert list(mats) == ["silicon", "water", "aluminum"]
    assert mats["silicon"] == Material("silicon", 130.0, 1630300.0)
    assert mats["silicon"].kind == "solid"
    water = mats["water"]
    assert water.kind == "fluid" and water.viscosity == 8.89e-4
    assert water.conductivity == 0.6069 and water.heat_capacity == 4172638.0
    assert mats["aluminum"].resistivity == pytest.approx(1 / 237.0)


def test_round_trip(tmp_path: Path) -> None:
    mats = read_materials(DATA / "reference" / "ev6" / "example.materials")
    mats["odd"] = Material("odd", 0.1 + 0.2, 1e-300 * 1e300 / 3, None)
    write_materials(mats, tmp_path / "m.materials")
    assert read_materials(tmp_path / "m.materials") == mats


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("si\nmetal\n1\n1\n", 2, "invalid type 'metal'"),
        ("si\nsolid\nx\n1\n", 3, "thermal conductivity 'x' is not a number"),
        ("si\nsolid\n1\n-5\n", 4, "volumetric heat capacity is -5"),
        ("si\nsolid\n1\nnan\n", 4, "volumetric heat capacity is nan"),
        ("si\nsolid\n0\n1\n", 3, "thermal conductivity is 0"),
        ("w\nfluid\n1\n1\n", 4, "ends before its dynamic viscosity"),
        ("si\n", 1, "ends before its type"),
        ("si\nsolid\n1\n1\nsi\nsolid\n2\n2\n", 5, "defined twice"),
    ],
)
def test_errors(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        parse_materials(text, "m.materials")
    assert str(err.value).startswith(f"m.materials:{line}: ")
    assert words in str(err.value)


def test_bad_file() -> None:
    with pytest.raises(InputError, match=r"bad_type.materials:7: material 'water': invalid type"):
        read_materials(DATA / "bad" / "bad_type.materials")
    with pytest.raises(InputError, match="not found"):
        read_materials(DATA / "bad" / "none.materials")
