"""HotSpot floorplan files (``.flp``): read, write, validate.

Format (HotSpot 7, ``flp.c:flp_populate_blks``), one block per line, metres::

    <name> <width> <height> <left-x> <bottom-y> [<vol. heat capacity J/(m^3 K)> <resistivity m K/W>]

Blank lines and lines whose first token starts with ``#`` are skipped, 3-field lines
``<name1> <name2> <wire density>`` (the floorplanner's connectivity) are skipped, and the
floorplan is translated so that its bounding box starts at (0, 0), as HotSpot does.

comet is stricter than HotSpot where HotSpot silently misreads: a line with 4 or 6 fields, a
non-numeric or non-finite number, a zero or negative size, two blocks with the same name
(names are case-insensitive in HotSpot) and overlapping blocks are errors with the file and
line. Gaps between blocks are allowed (HotSpot allows them); :func:`uncovered_area` measures them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike

import numpy as np

from comet.errors import InputError
from comet.floorplan.model import GEOMETRY_TOLERANCE, Block, Floorplan

__all__ = [
    "atomic_write_text",
    "format_flp",
    "parse_flp",
    "read_flp",
    "uncovered_area",
    "validate_floorplan",
    "write_flp",
]

#: Largest block size or coordinate accepted (m): 10 m, a hundred times HotSpot's largest package
#: part (the 0.1 m PCB, ``s_pcb``); beyond it a value is a unit mistake, not a chip.
MAX_EXTENT_M = 10.0
#: Smallest block side accepted (m): 1 nm, below any drawn feature.
MIN_SIZE_M = 1e-9

_FIELDS = ("name", "width", "height", "left-x", "bottom-y", "heat capacity", "resistivity")


def atomic_write_text(path: str | PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`comet.fileio.write_atomic`; not
    fsynced: generated files are many and cheap to regenerate)."""
    from comet.fileio import write_atomic

    write_atomic(path, text, sync=False)


def _number(token: str, what: str, path: str | None, line: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise InputError(
            f"{what} {token!r} is not a number", path=path, line=line, hint="use metres, e.g. 1e-3"
        ) from None
    if not math.isfinite(value):
        raise InputError(
            f"{what} is {token}", path=path, line=line, hint="every value must be a finite number"
        )
    return value


def parse_flp(text: str, path: str | PathLike[str] | None = None) -> Floorplan:
    """Parse the text of a ``.flp`` file into a validated, translated :class:`Floorplan`.

    Args:
        text: the file contents.
        path: the file name, for error messages and ``Floorplan.source``.

    Raises:
        InputError: ``file:line: what (hint)`` for every malformed line, a zero/negative size,
            non-finite numbers, duplicate names, overlapping blocks or an empty floorplan.
    """
    where = None if path is None else str(path)
    blocks: list[Block] = []
    lines: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        n = len(tokens)
        if n == 3:
            # <name1> <name2> <wire density>: floorplanner connectivity, skipped like HotSpot.
            _number(tokens[2], "wire density", where, lineno)
            continue
        if n not in (5, 7):
            raise InputError(
                f"a block line has {n} fields, expected 5 or 7",
                path=where,
                line=lineno,
                hint="<name> <width> <height> <left-x> <bottom-y> [<heat capacity> <resistivity>]",
            )
        name = tokens[0]
        values = [_number(tok, _FIELDS[i + 1], where, lineno) for i, tok in enumerate(tokens[1:])]
        width, height, x, y = values[:4]
        for what, value in (("width", width), ("height", height)):
            if value <= 0.0:
                raise InputError(
                    f"block {name!r} has {what} {tokens[1 if what == 'width' else 2]}",
                    path=where,
                    line=lineno,
                    hint="width and height must be > 0 (metres)",
                )
        cap = res = None
        if n == 7:
            cap, res = values[4], values[5]
            if cap <= 0.0 or res <= 0.0:
                raise InputError(
                    f"block {name!r} has a heat capacity or resistivity <= 0",
                    path=where,
                    line=lineno,
                    hint="both must be > 0 (J/(m^3 K), m K/W)",
                )
        blocks.append(Block(name, width, height, x, y, cap, res))
        lines.append(lineno)
    if not blocks:
        raise InputError(
            "no blocks in the floorplan", path=where, hint="add lines <name> <w> <h> <x> <y>"
        )
    floorplan = Floorplan(tuple(blocks), source=where).translated()
    validate_floorplan(floorplan, where, lines=lines)
    return floorplan


def read_flp(path: str | PathLike[str]) -> Floorplan:
    """Read and validate a ``.flp`` file (see :func:`parse_flp`)."""
    from comet.fileio import read_text

    return parse_flp(read_text(path, "floorplan file"), path)


def validate_floorplan(
    fp: Floorplan,
    path: str | PathLike[str] | None = None,
    *,
    lines: Sequence[int] | None = None,
    tol: float = GEOMETRY_TOLERANCE,
) -> None:
    """Check a floorplan: finite positive sizes, unique names, no overlapping blocks.

    Two blocks overlap when their rectangles intersect by more than ``tol`` (m, HotSpot's
    absolute coordinate tolerance) along both x and y. Gaps are allowed.

    Args:
        fp: the floorplan.
        path: file name for messages.
        lines: 1-based line number of every block (same order), for messages.
        tol: coordinate tolerance (m).

    Raises:
        InputError: on the first problem found.
    """
    where = None if path is None else str(path)

    def line_of(i: int) -> int | None:
        return None if lines is None else lines[i]

    if len(fp) == 0:
        raise InputError("no blocks in the floorplan", path=where)
    seen: dict[str, int] = {}
    for i, b in enumerate(fp.blocks):
        numbers = [b.width, b.height, b.x, b.y]
        numbers += [v for v in (b.heat_capacity, b.resistivity) if v is not None]
        if not all(math.isfinite(v) for v in numbers):
            raise InputError(
                f"block {b.name!r} has a non-finite value", path=where, line=line_of(i)
            )
        if b.width <= 0.0 or b.height <= 0.0:
            raise InputError(
                f"block {b.name!r} has size {b.width!r} x {b.height!r}",
                path=where,
                line=line_of(i),
                hint="width and height must be > 0 (metres)",
            )
        if (
            max(abs(v) for v in (b.width, b.height, b.x, b.y)) > MAX_EXTENT_M
            or min(b.width, b.height) < MIN_SIZE_M
        ):
            raise InputError(
                f"block {b.name!r}: size {b.width:g} x {b.height:g} m at ({b.x:g}, {b.y:g}) m "
                "is outside the physical range",
                path=where,
                line=line_of(i),
                hint=f"sizes and coordinates are metres, between {MIN_SIZE_M:g} and "
                f"{MAX_EXTENT_M:g} m (write 3.4e-3 for 3.4 mm)",
            )
        if not b.name or any(c.isspace() for c in b.name) or b.name.startswith("#"):
            raise InputError(
                f"invalid block name {b.name!r}",
                path=where,
                line=line_of(i),
                hint="names are one token without spaces and do not start with '#'",
            )
        key = b.name.lower()
        if key in seen:
            first = seen[key]
            at = "" if lines is None else f" (first on line {lines[first]})"
            raise InputError(
                f"duplicate block name {b.name!r}{at}",
                path=where,
                line=line_of(i),
                hint="block names must be unique (HotSpot compares them case-insensitively)",
            )
        seen[key] = i
    x, y, w, h = fp.arrays()
    right, top = x + w, y + h
    for i in range(len(fp) - 1):
        ox = np.minimum(right[i], right[i + 1 :]) - np.maximum(x[i], x[i + 1 :])
        oy = np.minimum(top[i], top[i + 1 :]) - np.maximum(y[i], y[i + 1 :])
        hits = np.nonzero((ox > tol) & (oy > tol))[0]
        if hits.size:
            j = i + 1 + int(hits[0])
            area = float(ox[hits[0]] * oy[hits[0]])
            at = "" if lines is None else f" (line {lines[i]})"
            raise InputError(
                f"blocks {fp.blocks[j].name!r} and {fp.blocks[i].name!r}{at} overlap by "
                f"{area:.3g} m^2",
                path=where,
                line=line_of(j),
                hint="blocks must not overlap; check left-x/bottom-y (width and height "
                "come first on a line)",
            )


def uncovered_area(fp: Floorplan) -> float:
    """Area of the bounding box not covered by any block (m^2); 0 for a floorplan that tiles.

    HotSpot allows gaps (there is no node for them in the block model, and partly covered grid
    cells get less power); callers may warn when this is not negligible.
    """
    x, y, w, h = fp.arrays()
    xs = np.unique(np.concatenate([x, x + w]))
    ys = np.unique(np.concatenate([y, y + h]))
    covered = np.zeros((len(xs) - 1, len(ys) - 1), dtype=bool)
    i0 = np.searchsorted(xs, x)
    i1 = np.searchsorted(xs, x + w)
    j0 = np.searchsorted(ys, y)
    j1 = np.searchsorted(ys, y + h)
    for a, b, c, d in zip(i0, i1, j0, j1, strict=True):
        covered[a:b, c:d] = True
    cell = np.outer(np.diff(xs), np.diff(ys))
    box = (xs[-1] - xs[0]) * (ys[-1] - ys[0])
    return float(max(box - cell[covered].sum(), 0.0))


def format_flp(floorplan: Floorplan, header: str | None = None) -> str:
    """The ``.flp`` text of a floorplan; numbers are written exactly (``repr`` of the float)."""
    out: list[str] = []
    if header:
        out += [f"# {line}".rstrip() for line in header.splitlines()]
    out.append("# <name> <width> <height> <left-x> <bottom-y> [<heat capacity> <resistivity>] (m)")
    for b in floorplan.blocks:
        if not b.name or any(c.isspace() for c in b.name) or b.name.startswith("#"):
            raise InputError(
                f"block name {b.name!r} cannot be written to a .flp file",
                hint="names are one token without spaces and do not start with '#'",
            )
        fields = [b.name, *(repr(float(v)) for v in (b.width, b.height, b.x, b.y))]
        if (b.heat_capacity is None) != (b.resistivity is None):
            raise InputError(
                f"block {b.name!r} has only one of heat capacity and resistivity",
                hint="a 7-field .flp line needs both",
            )
        if b.heat_capacity is not None and b.resistivity is not None:
            fields += [repr(float(b.heat_capacity)), repr(float(b.resistivity))]
        out.append("\t".join(fields))
    return "\n".join(out) + "\n"


def write_flp(floorplan: Floorplan, path: str | PathLike[str], header: str | None = None) -> None:
    """Write a ``.flp`` file atomically; :func:`read_flp` gives back the same blocks.

    The blocks are written as they are: a floorplan whose bounding box does not start at (0, 0)
    comes back translated (HotSpot's rule).
    """
    atomic_write_text(path, format_flp(floorplan, header))
