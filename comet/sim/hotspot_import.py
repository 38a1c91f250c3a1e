"""Turn HotSpot-format outputs (a ``.ttrace`` + its floorplan or LCF) into a run directory.

So that a ``comet hotspot`` (or HotSpot 7) transient run can be plotted, animated and viewed
like a closed-loop run::

    run_from_hotspot("gcc.ttrace", "ev6.flp", "runs/gcc", ptrace="gcc.ptrace",
                     config="hotspot.config")

HotSpot writes one ttrace row per ptrace row, each the temperature (K) at the END of a step of
``sampling_intvl`` seconds; the run directory gets ``time_s = (k + 1) * sampling_intvl`` and
deg C.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from comet.errors import InputError
from comet.floorplan.model import Floorplan, Layer, Stack
from comet.sim.results import RunWriter, layer_kind, layers_from_stack

KELVIN = 273.15


def _read_stack(floorplan: Path) -> Stack:
    """A Stack from an ``.lcf`` (its layers) or an ``.flp`` (one layer, ``chip``)."""
    if floorplan.suffix.lower() == ".lcf":
        from comet.floorplan.lcf import read_lcf

        return read_lcf(floorplan)
    from comet.floorplan.flp import read_flp

    fp: Floorplan = read_flp(floorplan).translated()
    # thermal properties do not matter for display; HotSpot's default chip values
    return Stack((Layer("chip", fp, 1.5e-4, 100.0, 1.75e6, True, True),), name=floorplan.stem)


def _sampling_intvl(config: Path | None) -> float:
    """``sampling_intvl`` (s) of a HotSpot config file (first occurrence wins), else the
    default. Only this key is read, so configs naming materials need no materials file."""
    from comet.thermal.hotspot_config import ThermalConfig, read_config_pairs

    if config is not None:
        for pair in read_config_pairs(config):
            if pair.name.lower() == "sampling_intvl":
                try:
                    return float(pair.value)
                except ValueError:
                    raise InputError(
                        f"sampling_intvl {pair.value!r} is not a number",
                        path=config,
                        line=pair.line,
                    ) from None
    return float(ThermalConfig().sampling_intvl)


def run_from_hotspot(
    ttrace: str | os.PathLike[str],
    floorplan: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    ptrace: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    sampling_intvl: float | None = None,
    grid_temperatures: tuple[np.ndarray, np.ndarray] | None = None,
    grid_layer_names: Sequence[str] | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a run directory from HotSpot-format files and return its path.

    Args:
        ttrace: temperature trace (K), one row per step.
        floorplan: the ``.flp`` of a 2D run or the ``.lcf`` of a stack.
        out_dir: the run directory to create.
        ptrace: the power trace (W) that produced it (optional, becomes ``power.csv``).
        config: HotSpot config file; gives ``sampling_intvl`` unless given here.
        sampling_intvl: step length (s); default from ``config``, else HotSpot's 3.333e-6 s.
        grid_temperatures: optional ``(times_s, temps_K (T, L, rows, cols))`` grid maps (e.g.
            from ``read_grid_transient`` or a comet grid model) stored as ``grid.npz``.
        grid_layer_names: names of the grid layers (default: the stack's layer names).
        name: run name (default: the directory name).
        overwrite: replace an existing run directory.
    """
    from comet.thermal.traces import read_ptrace, read_ttrace

    ttrace, floorplan = Path(ttrace), Path(floorplan)
    stack = _read_stack(floorplan)
    if sampling_intvl is None:
        sampling_intvl = _sampling_intvl(Path(config) if config is not None else None)
    if not 0 < sampling_intvl <= 1e6:
        raise InputError(
            f"sampling_intvl must be positive and at most 1e6 s, got {sampling_intvl:g} s"
        )
    names, temps_k = read_ttrace(ttrace)
    known = {b.name.lower(): b.name for la in stack.layers for b in la.floorplan}
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        raise InputError(
            f"{len(unknown)} trace columns are not blocks of {floorplan.name}: "
            + ", ".join(unknown[:5]),
            path=ttrace,
            line=1,
            hint="give the floorplan or LCF the trace was computed with",
        )
    units = [known[n.lower()] for n in names]
    power_units: list[str] | None = None
    power = None
    if ptrace is not None:
        pnames, power = read_ptrace(ptrace)
        bad = [n for n in pnames if n.lower() not in known]
        if bad:
            raise InputError(
                f"power trace columns not in {floorplan.name}: " + ", ".join(bad[:5]),
                path=ptrace,
                line=1,
            )
        if power.shape[0] < temps_k.shape[0]:
            raise InputError(
                f"the power trace has {power.shape[0]} rows, the temperature trace "
                f"{temps_k.shape[0]}",
                path=ptrace,
                hint="give the power trace the temperature trace was computed from",
            )
        power_units = [known[n.lower()] for n in pnames]

    kinds = {}
    if len(stack.layers) == 1:
        kind = layer_kind(stack.layers[0].name, stack.layers[0].floorplan.names)
        kinds[stack.layers[0].name] = "core" if kind == "other" else kind
    w = RunWriter(out_dir, name=name, overwrite=overwrite, flush_every=200)
    with w:
        w.write_config(
            {
                "name": w.name,
                "source": "hotspot",
                "ttrace": str(ttrace.resolve()),
                "floorplan": str(floorplan.resolve()),
                "ptrace": str(Path(ptrace).resolve()) if ptrace is not None else "",
                "sampling_intvl_s": sampling_intvl,
            }
        )
        w.write_layers(layers_from_stack(stack, kinds))
        files: dict[str, str | os.PathLike[str]] = {floorplan.name: floorplan}
        flp_files = stack.meta.get("floorplan_files") or []
        for f in flp_files if isinstance(flp_files, list) else []:
            files[Path(str(f)).name] = Path(str(f))
        if config is not None:
            files[Path(config).name] = config
        w.write_stack_files(files)
        w.open(temperature=units, power=power_units)
        for k in range(temps_k.shape[0]):
            w.append(
                (k + 1) * sampling_intvl,
                temperature=temps_k[k] - KELVIN,
                power=power[k] if power is not None else None,
            )
        if grid_temperatures is not None:
            times, grids = grid_temperatures
            grids = np.asarray(grids)
            if grids.ndim != 4 or len(times) != grids.shape[0]:
                raise InputError("grid temperatures must be (steps, layers, rows, cols)")
            layer_names = list(grid_layer_names or [la.name for la in stack.layers])
            if len(layer_names) < grids.shape[1]:
                layer_names += [f"layer{i}" for i in range(len(layer_names), grids.shape[1])]
            for t, g in zip(times, grids, strict=True):
                w.grid(float(t), g - KELVIN, layer_names[: grids.shape[1]])
    return w.path
