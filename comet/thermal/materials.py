"""HotSpot materials files (``-materials_file``): read and write.

Format (HotSpot 7, ``materials.c:materials_add_from_file``): records of one token per line,
blank lines and ``#`` lines skipped::

    <name>
    solid | fluid
    <thermal conductivity W/(m K)>
    <volumetric heat capacity J/(m^3 K)>
    <dynamic viscosity Pa s>            (fluids only)

Material names are case-sensitive (HotSpot compares them with ``strncmp``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike

from comet.errors import InputError
from comet.floorplan.flp import atomic_write_text

__all__ = ["Material", "format_materials", "parse_materials", "read_materials", "write_materials"]


@dataclass(frozen=True)
class Material:
    """A material of a materials file.

    Attributes:
        name: the name used by ``-material_*`` config keys and LCF records.
        conductivity: thermal conductivity k (W/(m K)).
        heat_capacity: volumetric heat capacity (J/(m^3 K)).
        viscosity: dynamic viscosity (Pa s) for a fluid, ``None`` for a solid.
    """

    name: str
    conductivity: float
    heat_capacity: float
    viscosity: float | None = None

    @property
    def kind(self) -> str:
        """``solid`` or ``fluid``."""
        return "solid" if self.viscosity is None else "fluid"

    @property
    def resistivity(self) -> float:
        """Thermal resistivity 1/k (m K / W)."""
        return 1.0 / self.conductivity


_WHAT = ("name", "type", "thermal conductivity", "volumetric heat capacity", "dynamic viscosity")


def parse_materials(text: str, path: str | PathLike[str] | None = None) -> dict[str, Material]:
    """Parse a materials file; returns ``{name: Material}`` in file order.

    Raises:
        InputError: unknown type, non-numeric, negative or non-finite values, a duplicate name
            or a record cut short by the end of the file.
    """
    where = None if path is None else str(path)
    tokens: list[tuple[str, int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if parts and not parts[0].startswith("#"):
            tokens.append((parts[0], lineno))
    materials: dict[str, Material] = {}
    pos = 0
    while pos < len(tokens):
        name, name_line = tokens[pos]
        if name in materials:
            raise InputError(
                f"material {name!r} is defined twice",
                path=where,
                line=name_line,
                hint="give every material a unique name",
            )
        if pos + 1 >= len(tokens):
            raise InputError(
                f"material {name!r}: the file ends before its type",
                path=where,
                line=name_line,
                hint="a record is: name, solid|fluid, conductivity, heat capacity[, viscosity]",
            )
        kind, kind_line = tokens[pos + 1]
        if kind not in ("solid", "fluid"):
            raise InputError(
                f"material {name!r}: invalid type {kind!r}",
                path=where,
                line=kind_line,
                hint="the second line of a record is 'solid' or 'fluid'",
            )
        count = 3 if kind == "fluid" else 2
        values: list[float] = []
        for k in range(count):
            idx = pos + 2 + k
            if idx >= len(tokens):
                raise InputError(
                    f"material {name!r}: the file ends before its {_WHAT[2 + k]}",
                    path=where,
                    line=tokens[-1][1],
                    hint="a solid has 4 lines, a fluid 5",
                )
            tok, line = tokens[idx]
            try:
                value = float(tok)
            except ValueError:
                raise InputError(
                    f"material {name!r}: {_WHAT[2 + k]} {tok!r} is not a number",
                    path=where,
                    line=line,
                ) from None
            if not math.isfinite(value) or value < 0.0:
                raise InputError(
                    f"material {name!r}: {_WHAT[2 + k]} is {tok}",
                    path=where,
                    line=line,
                    hint="values must be finite and >= 0",
                )
            values.append(value)
        if values[0] == 0.0:
            raise InputError(
                f"material {name!r}: thermal conductivity is 0",
                path=where,
                line=tokens[pos + 2][1],
                hint="a conductivity must be > 0",
            )
        viscosity = values[2] if kind == "fluid" else None
        materials[name] = Material(name, values[0], values[1], viscosity)
        pos += 2 + count
    return materials


def read_materials(path: str | PathLike[str]) -> dict[str, Material]:
    """Read a materials file (see :func:`parse_materials`)."""
    from comet.fileio import read_text

    return parse_materials(read_text(path, "materials file"), path)


def lookup_material(
    materials: Mapping[str, Material],
    name: str,
    *,
    what: str,
    path: str | PathLike[str] | None,
    line: int | None,
) -> Material:
    """The material called ``name`` (case-sensitive, as HotSpot), or an InputError that says
    ``<what>: unknown material`` at ``path:line`` and lists the known names."""
    try:
        return materials[name]
    except KeyError:
        known = ", ".join(sorted(materials)) or "none"
        raise InputError(
            f"{what}: unknown material {name!r}",
            path=path,
            line=line,
            hint=f"the materials file has: {known} (names are case-sensitive)",
        ) from None


def format_materials(materials: Mapping[str, Material]) -> str:
    """The text of a materials file (numbers written exactly)."""
    out = ["# name / solid|fluid / k W/(m K) / heat capacity J/(m^3 K) [/ viscosity Pa s]"]
    for name, m in materials.items():
        out += ["", name, m.kind, repr(float(m.conductivity)), repr(float(m.heat_capacity))]
        if m.viscosity is not None:
            out.append(repr(float(m.viscosity)))
    return "\n".join(out) + "\n"


def write_materials(materials: Mapping[str, Material], path: str | PathLike[str]) -> None:
    """Write a materials file atomically; :func:`read_materials` gives back equal materials."""
    atomic_write_text(path, format_materials(materials))
