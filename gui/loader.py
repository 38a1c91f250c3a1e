"""Load a run directory into plain numpy arrays for the viewer, in a background thread.

:class:`RunData` is everything the widgets read while the user scrubs through time, so painting
never touches pandas or the disk. :class:`LoaderThread` builds it in a ``QThread`` and reports
progress; :func:`load_run_data` is the same work done synchronously (screenshots, tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from comet.errors import InputError
from comet.sim.results import GridSnapshots, Run, RunLayer
from comet.viz.layout import LayerView, layer_views, temperature_range

Progress = Callable[[int, str], None]


@dataclass
class RunData:
    """A run ready for display.

    Attributes:
        run: the reader.
        name: run name.
        times: epoch end times (s), shape (T,).
        units: temperature columns; ``temperature[t, u]`` in deg C.
        power_units, power: likewise in W (empty when the run has no power trace).
        unit_index: unit -> column of ``temperature``.
        power_index: unit -> column of ``power``.
        layers: every layer in stack order (0 = farthest from the sink).
        views: drawable layer of each layer name (blocks + columns).
        grid: grid snapshots or ``None``.
        tmin, tmax: colour scale fixed over the run (deg C).
        thresholds: temperature thresholds (deg C).
        events: (time_s, kind, target, detail) tuples.
        cpi: the CPI stack by group (``compute``, ``memory``, ``other``, see
            :data:`comet.perf.protocol.CPI_GROUPS`) as the share of each epoch per core,
            ``cpi[group][t, core]``; empty when the run has no ``cpi.csv``.
        cpi_index: core name -> column of ``cpi[group]``.
    """

    run: Run
    name: str
    times: np.ndarray
    units: list[str]
    temperature: np.ndarray
    power_units: list[str]
    power: np.ndarray
    layers: list[RunLayer]
    views: dict[str, LayerView]
    grid: GridSnapshots | None
    tmin: float
    tmax: float
    thresholds: list[float]
    status: str
    events: list[tuple[float, str, str, str]] = field(default_factory=list)
    unit_index: dict[str, int] = field(default_factory=dict)
    power_index: dict[str, int] = field(default_factory=dict)
    cpi: dict[str, np.ndarray] = field(default_factory=dict)
    cpi_index: dict[str, int] = field(default_factory=dict)

    def cpi_share(self, group: str, unit: str) -> np.ndarray | None:
        """Share of each epoch that core ``unit`` (or the core of a core unit ``C_i_X``)
        spent in CPI group ``group``; None without data."""
        parts = unit.split("_")
        core = "_".join(parts[:2]) if len(parts) >= 2 and parts[0] == "C" else unit
        col = self.cpi_index.get(core)
        if col is None or group not in self.cpi:
            return None
        return self.cpi[group][:, col]

    def __post_init__(self) -> None:
        self.unit_index = {u: i for i, u in enumerate(self.units)}
        self.power_index = {u: i for i, u in enumerate(self.power_units)}

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def display_layers(self) -> list[str]:
        """Names of the layers that have something to show (traces or grid maps)."""
        return [name for name, v in self.views.items() if v.has_trace or v.grid_index is not None]

    def index_at(self, time_s: float) -> int:
        """Row of the epoch holding ``time_s`` (clamped to the run)."""
        i = int(np.searchsorted(self.times, time_s - 1e-12, side="left"))
        return min(max(i, 0), len(self.times) - 1)

    def temperature_of(self, unit: str, row: int) -> float | None:
        col = self.unit_index.get(unit)
        if col is None:
            return None
        v = float(self.temperature[row, col])
        return v if np.isfinite(v) else None

    def power_of(self, unit: str, row: int) -> float | None:
        col = self.power_index.get(unit)
        if col is None or self.power.size == 0:
            return None
        row = min(row, self.power.shape[0] - 1)
        v = float(self.power[row, col])
        return v if np.isfinite(v) else None

    def layer_of(self, unit: str) -> str | None:
        for la in self.layers:
            if any(b.name == unit for b in la.blocks):
                return la.name
        return None

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if self.times.size else 0.0


def load_run_data(path: str | os.PathLike[str], progress: Progress | None = None) -> RunData:
    """Read a run directory into a :class:`RunData` (raises :class:`InputError` on bad runs)."""

    def report(pct: int, what: str) -> None:
        if progress is not None:
            progress(pct, what)

    report(0, "opening")
    run = Run(path)
    report(5, "reading temperature.csv")
    temp_df = run.temperature
    if temp_df.empty:
        raise InputError("the run has no epochs yet", path=run.path)
    temperature = temp_df.to_numpy(dtype=np.float64)
    report(45, "reading power.csv")
    power_df = run.power
    power = power_df.to_numpy(dtype=np.float64) if not power_df.empty else np.zeros((0, 0))
    cpi, cpi_index = _cpi_shares(run, run.times)
    report(70, "reading layers and grid snapshots")
    layers = run.layers
    grid = run.grid
    views = {v.name: v for v in layer_views(run, [la.name for la in layers])} if layers else {}
    if not any(v.has_trace or v.grid_index is not None for v in views.values()):
        raise InputError(
            "the run has no layer with temperature traces",
            path=run.path,
            hint="layers.json must name the blocks of temperature.csv",
        )
    report(85, "colour scale")
    tmin, tmax = temperature_range(run, list(views.values()))
    ev = run.events
    events = [
        (float(t), str(r["kind"]), str(r["target"]), str(r["detail"]))
        for t, r in zip(ev.index, ev.to_dict("records"), strict=True)
    ]
    report(100, "done")
    return RunData(
        run=run,
        name=run.name,
        times=run.times.copy(),
        units=list(temp_df.columns),
        temperature=temperature,
        power_units=list(power_df.columns),
        power=power,
        layers=layers,
        views=views,
        grid=grid,
        tmin=tmin,
        tmax=tmax,
        thresholds=run.thresholds_degC,
        status=run.status,
        events=events,
        cpi=cpi,
        cpi_index=cpi_index,
    )


def _cpi_shares(run: Run, times: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The CPI stack of ``cpi.csv`` by group, as the share of each epoch per core."""
    from comet.perf.protocol import CPI_GROUPS

    df = run.cpi
    if df.empty or len(times) == 0:
        return {}, {}
    group_of = {c: g for g, comps in CPI_GROUPS.items() for c in comps}
    cores: list[str] = []
    for col in df.columns:
        core = str(col).split(".")[0]
        if core not in cores:
            cores.append(core)
    t = df.index.to_numpy(dtype=float)
    dt = np.diff(t, prepend=t[0] - (t[1] - t[0] if len(t) > 1 else t[0]))
    dt = np.where(dt > 0, dt, np.nan)
    out = {g: np.zeros((len(t), len(cores))) for g in CPI_GROUPS}
    for col in df.columns:
        core, _, comp = str(col).partition(".")
        g = group_of.get(comp, "other")
        out[g][:, cores.index(core)] += df[col].to_numpy(dtype=float)
    return {g: v / dt[:, None] for g, v in out.items()}, {c: i for i, c in enumerate(cores)}


class LoaderThread(QThread):
    """Loads a run in the background: ``progress(percent, what)``, then ``loaded(RunData)`` or
    ``failed(message)``."""

    progress = pyqtSignal(int, str)
    loaded = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, path: str | os.PathLike[str], parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.path = Path(path)

    def run(self) -> None:  # noqa: D401 - QThread API
        try:
            data = load_run_data(self.path, self.progress.emit)
        except InputError as err:
            self.failed.emit(str(err))
        except Exception as err:  # noqa: BLE001 - any failure goes to the user, not a crash
            self.failed.emit(f"{self.path}: cannot load the run: {type(err).__name__}: {err}")
        else:
            self.loaded.emit(data)
