"""HotSpot trace and temperature files: power traces, temperature traces, node dumps, grid dumps.

Formats (HotSpot 7, Kelvin and watts):

* ``.ptrace``: first non-empty line = block names; then one row of powers (W) per time step.
* ``.ttrace``: the ptrace header, then one row of ``%.2f`` temperatures (K) per step, tab separated.
* node dump (steady file, init file): ``name<TAB>%.2f`` per node.
* grid steady file: ``Layer <n>:`` then ``<i*cols+j><TAB>%.2f`` per cell, row 0 = north (max y).
* grid transient file: per step ``t = %lf`` then the grid steady blocks.

All readers raise :class:`comet.errors.InputError` with the file and line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike
from typing import TextIO

import numpy as np

from comet.errors import InputError
from comet.floorplan.flp import atomic_write_text

__all__ = [
    "append_grid_transient",
    "format_grid",
    "match_power_columns",
    "read_grid_steady",
    "read_grid_transient",
    "read_node_dump",
    "read_ptrace",
    "read_ttrace",
    "write_grid_steady",
    "write_node_dump",
    "write_ptrace",
    "write_ttrace",
]


def _read_text(path: str | PathLike[str], what: str) -> str:
    from comet.fileio import read_text

    return read_text(path, what)


#: Power a trace may give one block (W): 0 .. 1 MW, a thousand times the largest processor
#: package power (about 1 kW); a negative or larger value is a broken trace, not a chip.
POWER_RANGE_W = (0.0, 1e6)
#: Temperatures a trace may give (K): above 0 K, below silicon's melting point (1687 K).
TEMPERATURE_RANGE_K = (1e-9, 1687.0)


def _parse_table(
    text: str,
    path: str | PathLike[str],
    what: str,
    unit: str,
    bounds: tuple[float, float] | None = None,
) -> tuple[list[str], np.ndarray]:
    where = str(path)
    lines = text.splitlines()
    header: list[str] | None = None
    rows: list[list[float]] = []
    for lineno, raw in enumerate(lines, start=1):
        tokens = raw.split()
        if not tokens:
            continue
        if header is None:
            header = tokens
            seen: dict[str, str] = {}
            for name in header:
                if name.lower() in seen:
                    raise InputError(
                        f"column {name!r} appears twice in the header",
                        path=where,
                        line=lineno,
                        hint="block names in a trace are unique (case-insensitive)",
                    )
                seen[name.lower()] = name
            continue
        if len(tokens) != len(header):
            raise InputError(
                f"{len(tokens)} values but {len(header)} names in the header",
                path=where,
                line=lineno,
                hint=f"every row has one {unit} per column",
            )
        row: list[float] = []
        for col, tok in enumerate(tokens):
            try:
                value = float(tok)
            except ValueError:
                raise InputError(
                    f"column {header[col]!r}: {tok!r} is not a number",
                    path=where,
                    line=lineno,
                ) from None
            if not math.isfinite(value):
                raise InputError(
                    f"column {header[col]!r} is {tok}",
                    path=where,
                    line=lineno,
                    hint=f"every {unit} must be a finite number",
                )
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise InputError(
                    f"column {header[col]!r} is {tok} {unit.split()[-1].strip('()')}",
                    path=where,
                    line=lineno,
                    hint=f"every {unit} lies between {bounds[0]:g} and {bounds[1]:g}",
                )
            row.append(value)
        rows.append(row)
    if header is None:
        raise InputError(f"empty {what}", path=where, hint="the first line holds the block names")
    if not rows:
        raise InputError(
            f"no rows in the {what}", path=where, hint="add one line of values per time step"
        )
    return header, np.asarray(rows, dtype=float)


def read_ptrace(path: str | PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read a power trace: ``(names, power)`` with ``power`` of shape (rows, columns) in W.

    Raises:
        InputError: empty file, no rows, duplicate names, wrong column count, non-numeric or
            non-finite values (with the line).
    """
    return _parse_table(
        _read_text(path, "power trace"), path, "power trace", "power (W)", POWER_RANGE_W
    )


def read_ttrace(path: str | PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read a temperature trace: ``(names, temperatures)`` (rows, columns) in K."""
    return _parse_table(
        _read_text(path, "temperature trace"), path, "temperature trace", "temperature (K)"
    )


def check_solution(
    values_K: np.ndarray, path: str | PathLike[str], names: Sequence[str] = ()
) -> None:
    """Refuse to write temperatures that are not finite or not above 0 K (a diverged solve).

    Raises:
        InputError: naming the output file, the first bad node and its row.
    """
    data = np.asarray(values_K, dtype=float)
    bad = ~(np.isfinite(data) & (data > 0.0))
    if not bad.any():
        return
    index = np.unravel_index(int(np.flatnonzero(bad)[0]), data.shape)
    col = int(index[-1]) if data.ndim else 0
    node = names[col] if names and col < len(names) else f"node {col}"
    row = f" at row {index[0] + 1}" if data.ndim == 2 else ""
    raise InputError(
        f"the solution is not physical: {node}{row} is {float(data[index])!r} K; nothing written",
        path=path,
        hint="check the package values and the power trace",
    )


def _format_table(names: Sequence[str], values: np.ndarray, fmt: str) -> str:
    data = np.asarray(values, dtype=float)
    if data.ndim != 2 or data.shape[1] != len(names):
        raise ValueError(f"values of shape {data.shape} do not match {len(names)} names")
    out = ["\t".join(names)]
    out += ["\t".join(fmt % v for v in row) for row in data]
    return "\n".join(out) + "\n"


def write_ptrace(path: str | PathLike[str], names: Sequence[str], power: np.ndarray) -> None:
    """Write a power trace (W), numbers written exactly (``repr``), tab separated."""
    data = np.asarray(power, dtype=float)
    if data.ndim != 2 or data.shape[1] != len(names):
        raise ValueError(f"power of shape {data.shape} does not match {len(names)} names")
    out = ["\t".join(names)]
    out += ["\t".join(repr(float(v)) for v in row) for row in data]
    atomic_write_text(path, "\n".join(out) + "\n")


def write_ttrace(path: str | PathLike[str], names: Sequence[str], temps_K: np.ndarray) -> None:
    """Write a temperature trace like HotSpot: header, then ``%.2f`` K, tab separated."""
    check_solution(temps_K, path, names)
    atomic_write_text(path, _format_table(names, temps_K, "%.2f"))


def read_node_dump(path: str | PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read a steady/init file: ``(names, temperatures K)`` in file order.

    Raises:
        InputError: a line without exactly a name and a finite number, or an empty file.
    """
    where = str(path)
    names: list[str] = []
    values: list[float] = []
    for lineno, raw in enumerate(_read_text(path, "temperature file").splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) != 2:
            raise InputError(
                f"expected '<node name> <temperature K>', found {len(tokens)} fields",
                path=where,
                line=lineno,
            )
        try:
            value = float(tokens[1])
        except ValueError:
            raise InputError(
                f"node {tokens[0]!r}: {tokens[1]!r} is not a number", path=where, line=lineno
            ) from None
        if not math.isfinite(value):
            raise InputError(f"node {tokens[0]!r} is {tokens[1]}", path=where, line=lineno)
        names.append(tokens[0])
        values.append(value)
    if not names:
        raise InputError("no temperatures in the file", path=where)
    return names, np.asarray(values, dtype=float)


def write_node_dump(
    path: str | PathLike[str], names: Sequence[str], values_K: np.ndarray | Sequence[float]
) -> None:
    """Write a steady file like HotSpot: ``name<TAB>%.2f`` (K) per node."""
    vals = np.asarray(values_K, dtype=float).ravel()
    if len(vals) != len(names):
        raise ValueError(f"{len(vals)} values for {len(names)} names")
    check_solution(vals, path, names)
    atomic_write_text(path, "".join(f"{n}\t{v:.2f}\n" for n, v in zip(names, vals, strict=True)))


def format_grid(grid_K: np.ndarray) -> str:
    """The per-layer cell blocks of HotSpot's grid files (``Layer <n>:`` then ``<idx>\\t%.2f``)."""
    grid = np.asarray(grid_K, dtype=float)
    if grid.ndim != 3:
        raise ValueError(f"grid of shape {grid.shape}, expected (layers, rows, cols)")
    layers, rows, cols = grid.shape
    index = np.arange(rows * cols)
    parts: list[str] = []
    for n in range(layers):
        parts.append(f"Layer {n}:\n")
        cells = grid[n].ravel()
        parts.append("".join(f"{i}\t{v:.2f}\n" for i, v in zip(index, cells, strict=True)))
    return "".join(parts)


def write_grid_steady(path: str | PathLike[str], grid_K: np.ndarray) -> None:
    """Write HotSpot's grid steady file; ``grid_K`` is (layers, rows, cols) K, row 0 = north."""
    check_solution(np.asarray(grid_K).ravel(), path)
    atomic_write_text(path, format_grid(grid_K))


def append_grid_transient(fh: TextIO, t: float, grid_K: np.ndarray) -> None:
    """Append one step to an open grid transient file: ``t = %lf`` then the layer blocks.

    ``t`` is the start of the step (HotSpot writes ``k * sampling_intvl``) although the
    temperatures are those at its end.
    """
    check_solution(np.asarray(grid_K).ravel(), getattr(fh, "name", "grid transient file"))
    fh.write(f"t = {t:f}\n")
    fh.write(format_grid(grid_K))


def _parse_grid_blocks(
    lines: list[tuple[int, str]], where: str, rows: int | None, cols: int | None
) -> np.ndarray:
    layers: list[list[float]] = []
    for lineno, raw in lines:
        tokens = raw.split()
        if tokens[0] == "Layer":
            expected = f"{len(layers)}:"
            if len(tokens) != 2 or tokens[1] != expected:
                raise InputError(
                    f"expected 'Layer {expected}', found {raw.strip()!r}", path=where, line=lineno
                )
            layers.append([])
            continue
        if not layers:
            raise InputError("cell values before the first 'Layer 0:'", path=where, line=lineno)
        cells = layers[-1]
        try:
            index, value = int(tokens[0]), float(tokens[1])
        except (ValueError, IndexError):
            raise InputError(
                f"expected '<cell index> <temperature K>', found {raw.strip()!r}",
                path=where,
                line=lineno,
            ) from None
        if index != len(cells) or len(tokens) != 2 or not math.isfinite(value):
            raise InputError(
                f"bad cell line {raw.strip()!r} (expected cell {len(cells)})",
                path=where,
                line=lineno,
            )
        cells.append(value)
    if not layers:
        raise InputError("no 'Layer 0:' block", path=where)
    count = len(layers[0])
    if any(len(cells) != count for cells in layers):
        raise InputError("layers have different numbers of cells", path=where)
    if rows is None and cols is None:
        side = math.isqrt(count)
        if side * side != count:
            raise InputError(
                f"{count} cells per layer is not a square grid",
                path=where,
                hint="pass rows and cols",
            )
        rows = cols = side
    elif rows is None:
        assert cols is not None
        rows = count // cols
    elif cols is None:
        cols = count // rows
    if rows * cols != count:
        raise InputError(f"{count} cells per layer is not {rows} x {cols}", path=where)
    return np.asarray(layers, dtype=float).reshape(len(layers), rows, cols)


def read_grid_steady(
    path: str | PathLike[str], rows: int | None = None, cols: int | None = None
) -> np.ndarray:
    """Read a grid steady file into (layers, rows, cols) K (square grids need no rows/cols)."""
    where = str(path)
    lines = [
        (lineno, raw)
        for lineno, raw in enumerate(_read_text(path, "grid file").splitlines(), start=1)
        if raw.strip()
    ]
    return _parse_grid_blocks(lines, where, rows, cols)


def read_grid_transient(
    path: str | PathLike[str], rows: int | None = None, cols: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a grid transient file: ``(t, grids)``, grids of shape (steps, layers, rows, cols)."""
    where = str(path)
    times: list[float] = []
    chunks: list[list[tuple[int, str]]] = []
    for lineno, raw in enumerate(_read_text(path, "grid file").splitlines(), start=1):
        if not raw.strip():
            continue
        if raw.startswith("t = "):
            try:
                times.append(float(raw[4:]))
            except ValueError:
                raise InputError(f"bad time line {raw!r}", path=where, line=lineno) from None
            chunks.append([])
        elif not chunks:
            raise InputError("expected 't = <time>' first", path=where, line=lineno)
        else:
            chunks[-1].append((lineno, raw))
    if not chunks:
        raise InputError("no steps in the grid transient file", path=where)
    grids = [_parse_grid_blocks(chunk, where, rows, cols) for chunk in chunks]
    return np.asarray(times), np.stack(grids)


def match_power_columns(
    trace_names: Sequence[str],
    model_power_names: Sequence[str],
    model_type: str,
    path: str | PathLike[str] | None = None,
    group_sizes: Sequence[int] | None = None,
) -> np.ndarray:
    """Map power-trace columns onto the model's power vector, with HotSpot's rules.

    Returns ``perm`` such that ``power_model = row[perm]`` (and ``row_order = temps[argsort]``;
    since ``perm`` is a bijection, trace-order values are ``out[perm] = model_values``).

    Block model: columns are matched by name, case-insensitively, in any order. Grid model: the
    columns are grouped by power layer in stack order (``group_sizes`` blocks each; one group
    if None), in any order inside a group.

    Raises:
        InputError: wrong number of columns, an unknown name, a block with no column, or a
            column in the wrong layer group (the message names the column).
    """
    where = None if path is None else str(path)
    n = len(model_power_names)
    if len(trace_names) != n:
        have = {name.lower() for name in trace_names}
        want = {name.lower() for name in model_power_names}
        detail = ""
        missing = [name for name in model_power_names if name.lower() not in have]
        unknown = [name for name in trace_names if name.lower() not in want]
        if missing:
            detail += f"; no column for block {missing[0]!r}"
            detail += f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        if unknown:
            detail += f"; column {unknown[0]!r} is not a power block"
        raise InputError(
            f"the power trace has {len(trace_names)} columns but the model has {n} power "
            f"blocks{detail}",
            path=where,
            line=1,
            hint="one column per block of every power layer",
        )
    sizes = [n] if model_type == "block" or group_sizes is None else list(group_sizes)
    if sum(sizes) != n:
        raise ValueError(f"group sizes {sizes} do not add up to {n} power blocks")
    perm = np.empty(n, dtype=int)
    group_of: dict[str, int] = {}
    start = 0
    for g, size in enumerate(sizes):
        for k in range(start, start + size):
            group_of.setdefault(model_power_names[k].lower(), g)
        start += size
    start = 0
    for g, size in enumerate(sizes):
        lookup = {model_power_names[k].lower(): k for k in range(start, start + size)}
        used: dict[int, str] = {}
        for col in range(start, start + size):
            name = trace_names[col]
            found = lookup.get(name.lower())
            if found is None:
                if name.lower() in group_of:
                    raise InputError(
                        f"column {col + 1} {name!r} belongs to power layer group "
                        f"{group_of[name.lower()] + 1}, not group {g + 1}",
                        path=where,
                        line=1,
                        hint="grid model: columns grouped by power layer in stack order",
                    )
                raise InputError(
                    f"column {col + 1} {name!r} is not a block of the floorplan",
                    path=where,
                    line=1,
                    hint="power trace names must match the floorplan's block names",
                )
            k = found
            if k in used:
                raise InputError(
                    f"column {col + 1} {name!r} repeats column {used[k]!r}",
                    path=where,
                    line=1,
                )
            used[k] = name
            perm[k] = col
        missing = [model_power_names[k] for k in range(start, start + size) if k not in used]
        if missing:  # pragma: no cover - counts match, so a repeat or unknown fired first
            raise InputError(f"no column for block {missing[0]!r}", path=where, line=1)
        start += size
    return perm
