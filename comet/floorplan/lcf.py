"""HotSpot layer configuration files (``.lcf``): read and write stacks.

Format (HotSpot 7, ``temperature_grid.c:parse_layer_file``): records of one token per line
(blank lines and ``#`` lines skipped; only the first token of a line is read)::

    <layer number 0..L-1>     records are placed by this number; 0 = farthest from the sink
    <lateral heat flow Y/N>
    <power dissipation Y/N>
    <volumetric heat capacity J/(m^3 K)>   or a material name of the materials file,
    <resistivity m K/W>                    in which case this line is omitted (6-line record)
    <thickness m>
    <floorplan file>

Floorplan paths are resolved relative to the current directory first (HotSpot's behaviour),
then relative to the directory of the ``.lcf``. Every layer must have the footprint of the
first record's floorplan (within 1e-6 m). Layer names are the floorplan file stems (a stem used
by several layers becomes ``<stem>_<layer number>`` on each of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from comet.errors import InputError
from comet.floorplan.flp import atomic_write_text, format_flp, read_flp
from comet.floorplan.model import GEOMETRY_TOLERANCE, Floorplan, Layer, Stack
from comet.thermal.materials import Material, lookup_material

__all__ = ["exact_reciprocal", "format_lcf", "read_lcf", "write_lcf"]


@dataclass
class _Record:
    number: int
    line: int
    lateral: bool = True
    power: bool = False
    heat_capacity: float = 0.0
    conductivity: float = 0.0
    material: str | None = None
    thickness: float = 0.0
    flp_token: str = ""
    flp_line: int = 0


def _flag(token: str, what: str, path: str, line: int) -> bool:
    # HotSpot reads one character: Y/y or N/n.
    if token[:1] in ("Y", "y"):
        return True
    if token[:1] in ("N", "n"):
        return False
    raise InputError(f"invalid {what} flag {token!r}", path=path, line=line, hint="use Y or N")


def _positive(token: str, what: str, path: str, line: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"{what} {token!r} is not a number", path=path, line=line) from None
    if not math.isfinite(value) or value <= 0.0:
        raise InputError(
            f"{what} is {token}", path=path, line=line, hint="it must be a finite number > 0"
        )
    return value


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _resolve(token: str, lcf_path: Path) -> Path | None:
    candidate = Path(token)
    if candidate.is_file():
        return candidate
    if not candidate.is_absolute():
        beside = lcf_path.parent / candidate
        if beside.is_file():
            return beside
    return None


def read_lcf(path: str | PathLike[str], materials: Mapping[str, Material] | None = None) -> Stack:
    """Read a layer configuration file and its floorplans into a :class:`Stack`.

    Args:
        path: the ``.lcf`` file.
        materials: materials by name (from :func:`comet.thermal.materials.read_materials`), for
            records that give a material name instead of heat capacity and resistivity.

    Raises:
        InputError: with the LCF line for bad records, duplicate or missing layer numbers,
            unknown materials, missing floorplan files and footprints that differ.
    """
    lcf = Path(path)
    where = str(path)
    from comet.fileio import read_text

    text = read_text(lcf, "layer configuration file")
    tokens: list[tuple[str, int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if parts and not parts[0].startswith("#"):
            tokens.append((parts[0], lineno))

    records: list[_Record] = []
    pos = 0

    def take(what: str, rec_line: int) -> tuple[str, int]:
        nonlocal pos
        if pos >= len(tokens):
            raise InputError(
                f"the file ends inside the record that starts here (missing {what})",
                path=where,
                line=rec_line,
                hint="a record has 7 lines: number, Y/N, Y/N, heat capacity, resistivity, "
                "thickness, floorplan (6 with a material name)",
            )
        tok = tokens[pos]
        pos += 1
        return tok

    while pos < len(tokens):
        tok, line = tokens[pos]
        pos += 1
        try:
            number = int(tok)
        except ValueError:
            raise InputError(
                f"invalid layer number {tok!r}",
                path=where,
                line=line,
                hint="every record starts with its layer number 0, 1, ...",
            ) from None
        rec = _Record(number, line)
        tok, ln = take("lateral heat flow Y/N", line)
        rec.lateral = _flag(tok, "lateral heat flow", where, ln)
        tok, ln = take("power dissipation Y/N", line)
        rec.power = _flag(tok, "power dissipation", where, ln)
        tok, ln = take("heat capacity or material", line)
        if _is_number(tok):
            rec.heat_capacity = _positive(tok, "volumetric heat capacity", where, ln)
            tok, ln = take("resistivity", line)
            rec.conductivity = 1.0 / _positive(tok, "resistivity", where, ln)
        else:
            if materials is None:
                raise InputError(
                    f"layer {number}: {tok!r} is neither a heat capacity nor a known material",
                    path=where,
                    line=ln,
                    hint="give a number, or pass -materials_file to use material names",
                )
            mat = lookup_material(materials, tok, what=f"layer {number}", path=where, line=ln)
            rec.material = tok
            rec.heat_capacity = mat.heat_capacity
            rec.conductivity = mat.conductivity
        tok, ln = take("thickness", line)
        rec.thickness = _positive(tok, "thickness", where, ln)
        rec.flp_token, rec.flp_line = take("floorplan file", line)
        if rec.flp_token.endswith(".csv"):
            raise InputError(
                f"layer {number}: {rec.flp_token} is a microchannel layer",
                path=where,
                line=rec.flp_line,
                hint="microchannels are not supported by comet",
            )
        records.append(rec)

    if not records:
        raise InputError("no layers in the layer configuration file", path=where)
    count = len(records)
    by_number: dict[int, _Record] = {}
    for rec in records:
        if not 0 <= rec.number < count:
            raise InputError(
                f"layer number {rec.number} is out of range",
                path=where,
                line=rec.line,
                hint=f"the file has {count} layers, numbered 0..{count - 1}",
            )
        if rec.number in by_number:
            raise InputError(
                f"layer number {rec.number} is used twice "
                f"(first on line {by_number[rec.number].line})",
                path=where,
                line=rec.line,
                hint="layer numbers must be unique",
            )
        by_number[rec.number] = rec

    floorplans: dict[int, tuple[Floorplan, Path]] = {}
    first: tuple[Floorplan, Path] | None = None
    for rec in records:  # file order: the first record sets the footprint (HotSpot)
        resolved = _resolve(rec.flp_token, lcf)
        if resolved is None:
            raise InputError(
                f"layer {rec.number}: floorplan file {rec.flp_token!r} not found",
                path=where,
                line=rec.flp_line,
                hint=f"looked in the current directory and in {lcf.parent or Path('.')}",
            )
        fp = read_flp(resolved)
        if first is None:
            first = (fp, resolved)
        elif (
            abs(fp.width - first[0].width) > GEOMETRY_TOLERANCE
            or abs(fp.height - first[0].height) > GEOMETRY_TOLERANCE
        ):
            raise InputError(
                f"layer {rec.number}: floorplan {resolved} is {fp.width:.6g} x "
                f"{fp.height:.6g} m but {first[1]} is {first[0].width:.6g} x "
                f"{first[0].height:.6g} m",
                path=where,
                line=rec.flp_line,
                hint="all layers of a stack must have the same width and height (1e-6 m)",
            )
        floorplans[rec.number] = (fp, resolved)

    stems = [Path(floorplans[n][1]).stem for n in range(count)]
    layers = []
    for n in range(count):
        rec = by_number[n]
        stem = stems[n]
        name = stem if stems.count(stem) == 1 else f"{stem}_{n}"
        layers.append(
            Layer(
                name=name,
                floorplan=floorplans[n][0],
                thickness=rec.thickness,
                conductivity=rec.conductivity,
                heat_capacity=rec.heat_capacity,
                lateral=rec.lateral,
                has_power=rec.power,
                material=rec.material,
            )
        )
    meta: dict[str, object] = {
        "lcf": where,
        "floorplan_files": [str(floorplans[n][1]) for n in range(count)],
    }
    return Stack(tuple(layers), name=lcf.stem, meta=meta)


def exact_reciprocal(value: float) -> float:
    """A float ``r`` close to ``1/value`` with ``1.0 / r == value`` whenever one exists nearby.

    Used to write a conductivity as a resistivity that reads back to the same conductivity.
    """
    r = 1.0 / value
    if 1.0 / r == value:
        return r
    for steps in range(1, 5):
        for direction in (np.inf, -np.inf):
            cand = r
            for _ in range(steps):
                cand = float(np.nextafter(cand, direction))
            if 1.0 / cand == value:
                return cand
    return r


def _file_names(stack: Stack) -> list[str]:
    names: list[str] = []
    used: set[str] = set()
    for i, layer in enumerate(stack.layers):
        base = "".join(c if c.isalnum() or c in "-_." else "_" for c in layer.name) or "layer"
        name = base if base.lower() not in used else f"{base}_{i}"
        used.add(name.lower())
        names.append(f"{name}.flp")
    return names


def format_lcf(stack: Stack, flp_names: list[str]) -> str:
    """The text of an ``.lcf`` for ``stack`` whose layer floorplans are files ``flp_names``."""
    out = [
        f"# stack {stack.name}: layer 0 = farthest from the heat sink",
        "# <layer no> <lateral Y/N> <power Y/N> <vol. heat cap J/(m^3 K)> <resistivity m K/W> "
        "<thickness m> <flp>",
    ]
    for n, (layer, flp) in enumerate(zip(stack.layers, flp_names, strict=True)):
        comment = f"# layer {n}: {layer.name}"
        if layer.material:
            comment += f" (material {layer.material})"
        out += [
            "",
            comment,
            str(n),
            "Y" if layer.lateral else "N",
            "Y" if layer.has_power else "N",
            repr(float(layer.heat_capacity)),
            repr(exact_reciprocal(float(layer.conductivity))),
            repr(float(layer.thickness)),
            flp,
        ]
    return "\n".join(out) + "\n"


def write_lcf(stack: Stack, directory: str | PathLike[str], lcf_name: str = "stack.lcf") -> Path:
    """Write ``stack`` as one ``.flp`` per layer plus the ``.lcf`` into ``directory``.

    The LCF names the floorplans by bare file name, so run HotSpot with ``directory`` as the
    working directory (comet also finds them beside the LCF). Numbers are written exactly;
    :func:`read_lcf` gives back the same layers (material names become comments).

    Returns:
        the path of the ``.lcf``.
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = _file_names(stack)
    for layer, flp in zip(stack.layers, names, strict=True):
        atomic_write_text(out_dir / flp, format_flp(layer.floorplan, header=f"layer {layer.name}"))
    target = out_dir / lcf_name
    atomic_write_text(target, format_lcf(stack, names))
    return target
