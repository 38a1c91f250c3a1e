"""Recorders: what the epoch loop writes its results to.

A recorder takes the loop's rows (temperatures in deg C, power in W, frequencies in GHz, bank
modes), its events and its grid snapshots. Two are built in:

* :class:`~comet.sim.results.RunWriter`: the run directory (streamed CSVs, ``grid.npz``,
  ``summary.json`` written atomically), read back by :class:`~comet.sim.results.Run`;
* :class:`MemoryRecorder`: everything kept in memory (``Simulation(...).run(in_memory=True)``),
  returned as a :class:`MemoryRun` with the same DataFrames and summary as a :class:`Run`.

:class:`Recorders` fans the loop's calls out to several recorders and stamps events with the
loop's clock.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from comet.sim.loop import Recorder, Recorders, grid_snapshot
from comet.sim.results import (
    DEFAULT_THRESHOLDS_DEGC,
    EVENT_COLUMNS,
    RunLayer,
    TraceStats,
    layers_from_stack,
    run_summary,
)
from comet.sim.units import stack_info

if TYPE_CHECKING:
    import pandas as pd

    from comet.floorplan.model import Stack
    from comet.sim.results import RunWriter

__all__ = [
    "MemoryRecorder",
    "MemoryRun",
    "Recorder",
    "Recorders",
    "grid_snapshot",
    "write_run_static",
]

KELVIN = 273.15
_CHANNELS = ("temperature", "power", "frequency", "bank_mode", "cpi")


def write_run_static(writer: RunWriter, config: Mapping[str, Any], stacks: Sequence[Stack]) -> None:
    """``config.toml``, ``layers.json`` and ``stack/`` (HotSpot files) of a closed-loop run."""
    from comet.floorplan.generate import render

    writer.write_config(dict(config))
    layers: list[RunLayer] = []
    multi = len(stacks) > 1
    index = 0
    for stack in stacks:
        info = stack_info(stack)
        kinds = {
            li.name: {"mixed": "other"}.get(li.kind, li.kind)
            for li in info.layers
            if li.kind in ("core", "dram", "logic", "tim", "interposer", "mixed")
        }
        for la in layers_from_stack(stack, kinds):
            name = f"{stack.name}.{la.name}" if multi else la.name
            layers.append(RunLayer(name, index, la.kind, la.blocks, la.width, la.height))
            index += 1
    writer.write_layers(layers)
    tmp = Path(tempfile.mkdtemp(prefix=".stack-", dir=writer.path))
    try:
        dirs = render(stacks, tmp)
        dest = writer.stack_dir
        for d in dirs:
            target = dest if not multi else dest / d.name
            target.mkdir(parents=True, exist_ok=True)
            for f in d.iterdir():
                shutil.copyfile(f, target / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class MemoryRecorder:
    """Keeps a run in memory; :meth:`result` gives a :class:`MemoryRun`.

    Args:
        name: the run's name.
        thresholds_degC: thresholds of ``time_above_s``.
        unit_layer: unit -> layer (for ``peak_layer_degC``).
    """

    def __init__(
        self,
        name: str = "run",
        thresholds_degC: Sequence[float] = DEFAULT_THRESHOLDS_DEGC,
        unit_layer: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.thresholds = list(thresholds_degC)
        self.unit_layer = dict(unit_layer or {})
        self.columns: dict[str, list[str]] = {}
        self.rows: dict[str, list[np.ndarray]] = {}
        self.times: list[float] = []
        self.events: list[tuple[float, str, str, Any, str]] = []
        self.grid_times: list[float] = []
        self.grids: list[np.ndarray] = []
        self.grid_layers: list[str] = []
        self.summary: dict[str, Any] | None = None
        self._t0 = time.perf_counter()

    def open(
        self,
        temperature: Sequence[str],
        power: Sequence[str] | None = None,
        frequency: Sequence[str] | None = None,
        bank_mode: Sequence[str] | None = None,
        cpi: Sequence[str] | None = None,
    ) -> None:
        for key, units in zip(
            _CHANNELS, (temperature, power, frequency, bank_mode, cpi), strict=True
        ):
            if units is not None:
                self.columns[key] = list(units)
                self.rows[key] = []

    def append(
        self,
        time_s: float,
        temperature: Any = None,
        power: Any = None,
        frequency: Any = None,
        bank_mode: Any = None,
        cpi: Any = None,
    ) -> None:
        for key, values in zip(
            _CHANNELS, (temperature, power, frequency, bank_mode, cpi), strict=True
        ):
            if key in self.rows:
                self.rows[key].append(np.array(values, dtype=float))
        self.times.append(float(time_s))

    def event(
        self, time_s: float, kind: str, target: str = "", value: Any = "", detail: str = ""
    ) -> None:
        self.events.append((float(time_s), kind, target, value, detail))

    def grid(
        self, time_s: float, temperature_degC: np.ndarray, layer_names: Sequence[str] | None = None
    ) -> None:
        self.grid_times.append(float(time_s))
        self.grids.append(np.asarray(temperature_degC, dtype=np.float32).copy())
        if layer_names is not None:
            self.grid_layers = list(layer_names)

    def _array(self, key: str) -> np.ndarray:
        rows = self.rows.get(key, [])
        width = len(self.columns.get(key, []))
        return np.array(rows, dtype=float).reshape(len(rows), width)

    def close(self, status: Any = "complete", error: str | None = None, **extra: Any) -> Any:
        times = np.asarray(self.times, dtype=float)
        stats = TraceStats(
            self.columns.get("temperature", []), self.columns.get("power", []), self.thresholds
        )
        stats.update_temperature(times, self._array("temperature"))
        if "power" in self.rows:
            stats.update_power(times, self._array("power"))
        summary = run_summary(
            status, self.name, stats, self.unit_layer, time.perf_counter() - self._t0, error, extra
        )
        self.summary = summary
        return summary

    def result(self) -> MemoryRun:
        """The recorded run."""
        return MemoryRun(self)


class MemoryRun:
    """A run kept in memory: the traces as DataFrames (indexed by ``time_s``, columns as in a
    run directory's CSVs), ``events``, ``summary`` and the grid snapshots."""

    def __init__(self, rec: MemoryRecorder) -> None:
        self._rec = rec
        self.name = rec.name
        self.summary: dict[str, Any] = dict(rec.summary or {})

    def __repr__(self) -> str:
        return f"MemoryRun({self.name!r}, {len(self._rec.times)} epochs)"

    def _frame(self, key: str) -> pd.DataFrame:
        import pandas as pd

        cols = list(self._rec.columns.get(key, []))  # unit names, as Run's traces
        index = pd.Index(self._rec.times, name="time_s")
        return pd.DataFrame(self._rec._array(key), index=index, columns=cols)

    @property
    def temperature(self) -> pd.DataFrame:
        return self._frame("temperature")

    @property
    def power(self) -> pd.DataFrame:
        return self._frame("power")

    @property
    def frequency(self) -> pd.DataFrame:
        return self._frame("frequency")

    @property
    def bank_mode(self) -> pd.DataFrame:
        return self._frame("bank_mode")

    @property
    def cpi(self) -> pd.DataFrame:
        return self._frame("cpi")

    @property
    def events(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self._rec.events, columns=list(EVENT_COLUMNS))

    @property
    def grid_times(self) -> np.ndarray:
        return np.asarray(self._rec.grid_times)

    @property
    def grids(self) -> np.ndarray:
        """Snapshots ``(n, layers, rows, cols)`` in deg C."""
        if not self._rec.grids:
            return np.zeros((0, 0, 0, 0), dtype=np.float32)
        return np.stack(self._rec.grids)
