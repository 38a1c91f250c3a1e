"""``comet validate``: a HotSpot case folder on comet's solver and on a HotSpot binary, compared.

A case folder holds what a HotSpot run reads: a config (``hotspot.config`` or one ``*.config``),
a floorplan (one ``*.flp``) or a layer file (one ``*.lcf``, then the grid model), a power trace
(one ``*.ptrace``) and optionally a materials file (``*.materials``). Both back ends run it with
the folder as the working directory (HotSpot's convention for relative paths), the outputs
going to a temporary directory; the power blocks' steady temperatures (average power) and
transient temperatures (end of every row) are compared unit by unit.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from comet.errors import InputError

__all__ = ["CaseFiles", "Comparison", "UnitDiff", "compare_case", "find_case"]


@dataclass(frozen=True)
class CaseFiles:
    """The files of a HotSpot case folder (names relative to it)."""

    folder: Path
    config: str | None
    ptrace: str
    flp: str | None
    lcf: str | None
    materials: str | None


def _one(folder: Path, pattern: str, what: str, required: bool) -> str | None:
    found = sorted(p.name for p in folder.glob(pattern) if p.is_file())
    if len(found) > 1:
        raise InputError(
            f"{len(found)} {what} files ({', '.join(found)})",
            path=folder,
            hint=f"keep one {pattern} in the case folder",
        )
    if not found and required:
        raise InputError(f"no {what} file ({pattern})", path=folder)
    return found[0] if found else None


def find_case(folder: str | Path) -> CaseFiles:
    """The files of a case folder.

    Raises:
        InputError: not a directory, no power trace, no floorplan or layer file, two
            candidates for one role.
    """
    d = Path(folder)
    if not d.is_dir():
        raise InputError("not a directory", path=d, hint="give a HotSpot case folder")
    config = "hotspot.config" if (d / "hotspot.config").is_file() else None
    if config is None:
        config = _one(d, "*.config", "config", required=False)
    ptrace = _one(d, "*.ptrace", "power trace", required=True)
    assert ptrace is not None
    lcf = _one(d, "*.lcf", "layer configuration", required=False)
    flp = None if lcf is not None else _one(d, "*.flp", "floorplan", required=True)
    materials = _one(d, "*.materials", "materials", required=False)
    return CaseFiles(d, config, ptrace, flp, lcf, materials)


@dataclass(frozen=True)
class UnitDiff:
    """Differences of one power block, comet minus HotSpot (K)."""

    name: str
    steady: float
    transient_max: float
    transient_mean: float


@dataclass(frozen=True)
class Comparison:
    """The comparison of a case (temperatures in K)."""

    case: CaseFiles
    model_type: str
    rows: int
    units: list[UnitDiff]
    tolerance: float

    @property
    def steady_max(self) -> float:
        return max(abs(u.steady) for u in self.units)

    @property
    def transient_max(self) -> float:
        return max(u.transient_max for u in self.units) if self.rows else 0.0

    @property
    def ok(self) -> bool:
        return self.steady_max <= self.tolerance and self.transient_max <= self.tolerance


def compare_case(
    folder: str | Path,
    binary: str | None = None,
    *,
    rows: int | None = None,
    options: Sequence[tuple[str, str]] = (),
    hotspot7_quirks: bool = True,
    tolerance: float = 0.05,
    timeout: float | None = None,
) -> Comparison:
    """Run a case folder on both back ends and compare.

    Args:
        folder: the case folder.
        binary: the HotSpot executable (``--hotspot``; default ``$COMET_HOTSPOT``, PATH).
        rows: use the first ``rows`` rows of the power trace (HotSpot's RK4 takes seconds
            per row at 64x64); None = all; 0 = steady state only.
        options: more ``-name value`` pairs for both (``("model_type", "grid")``, ...).
        hotspot7_quirks: comet reproduces HotSpot 7's quirks (the comparison is with HotSpot 7).
        tolerance: the largest difference (K) that passes.
        timeout: seconds the binary may take.

    Raises:
        InputError: a bad case folder or option; the binary failing.
    """
    from comet.thermal.backends import run_hotspot_binary
    from comet.thermal.hotspot_run import HotSpotOptions, run_hotspot
    from comet.thermal.traces import read_ptrace, write_ptrace

    if not tolerance > 0:
        raise InputError(f"tolerance {tolerance!r} must be positive", path="command line")
    if rows is not None and rows < 0:
        raise InputError(f"rows {rows!r} must be >= 0", path="command line")
    case = find_case(folder)
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="comet-validate-") as tmp,
        contextlib.chdir(case.folder),
    ):
        names, power = read_ptrace(case.ptrace)
        ptrace = case.ptrace
        if rows:
            if rows > power.shape[0]:
                raise InputError(
                    f"the trace has {power.shape[0]} rows, not {rows}", path=case.folder / ptrace
                )
            ptrace = str(Path(tmp) / "case.ptrace")
            write_ptrace(ptrace, names, power[:rows])
        for side in ("comet", "hotspot"):
            pairs: list[tuple[str, str]] = [("p", ptrace)]
            if case.config is not None:
                pairs.append(("c", case.config))
            if case.lcf is not None:
                pairs += [("grid_layer_file", case.lcf), ("model_type", "grid")]
            if case.flp is not None:
                pairs.append(("f", case.flp))
            if case.materials is not None:
                pairs.append(("materials_file", case.materials))
            if rows != 0:
                pairs.append(("o", str(Path(tmp) / f"{side}.ttrace")))
            pairs += [(n.lstrip("-"), v) for n, v in options]
            opts = HotSpotOptions.from_pairs(pairs)
            if side == "comet":
                opts.hotspot7_quirks = hotspot7_quirks
                results.append(run_hotspot(opts))
            else:
                results.append(run_hotspot_binary(opts, binary))
    ours, theirs = results
    units = []
    n_rows = 0 if ours.transient is None or theirs.transient is None else ours.transient.shape[0]
    for j, name in enumerate(ours.trace_names):
        if n_rows:
            assert ours.transient is not None and theirs.transient is not None
            d = np.abs(ours.transient[:, j] - theirs.transient[:, j])
            t_max, t_mean = float(d.max()), float(d.mean())
        else:
            t_max = t_mean = 0.0
        units.append(
            UnitDiff(name, float(ours.steady_blocks[j] - theirs.steady_blocks[j]), t_max, t_mean)
        )
    return Comparison(case, ours.config.model_type, n_rows, units, tolerance)
