"""The run directory: written by :class:`RunWriter`, read by :class:`Run` (see ``RUNDIR.md``).

A run directory holds everything one simulation produced::

    config.toml       resolved run configuration
    stack/            the stack files (.flp per layer, stack.lcf, hotspot.config, ...)
    layers.json       the layers in HotSpot order (0 = farthest from the sink) with their blocks (m)
    temperature.csv   time_s, <unit>_degC ...   (deg C, one row per epoch, time = END of the epoch)
    power.csv         time_s, <unit>_W ...
    frequency.csv     time_s, <core>_GHz ...    (optional)
    bank_mode.csv     time_s, <bank>_mode ...   (optional, 0 normal, 1 low-power)
    events.csv        time_s, kind, target, value, detail
    grid.npz          optional grid snapshots: times_s (T,), temperature_degC (T, L, rows, cols),
                      layer_names (L,)
    summary.json      written LAST, atomically: status, peaks, means, time above thresholds, energy

Traces are streamed: the header is written first, rows are appended and flushed every
``flush_every`` epochs, so a run killed hard still leaves readable (partial) traces. The reader
ignores a last line cut in the middle. ``summary.json`` goes through write-temp + ``os.replace``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import socket
import time
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from comet.errors import InputError
from comet.fileio import atomic_path, ensure_dir, os_error, read_text
from comet.floorplan.model import Block, Floorplan, Stack
from comet.sim.csv_format import format_rows
from comet.toml_write import dumps_toml

#: trace name -> (file name, column suffix)
TRACES: dict[str, tuple[str, str]] = {
    "temperature": ("temperature.csv", "_degC"),
    "power": ("power.csv", "_W"),
    "frequency": ("frequency.csv", "_GHz"),
    "bank_mode": ("bank_mode.csv", "_mode"),
    # the CPI stack as time per component (s), columns <core>.<component>_s
    "cpi": ("cpi.csv", "_s"),
}
EVENT_COLUMNS = ("time_s", "kind", "target", "value", "detail")
#: thresholds (deg C) of ``time_above_s`` when the producer gives none.
DEFAULT_THRESHOLDS_DEGC: tuple[float, ...] = (80.0, 85.0)
LAYER_KINDS = ("core", "dram", "tim", "logic", "interposer", "filler", "other")
RUN_STATUSES = ("running", "complete", "failed", "interrupted", "unknown")
_RUNNING_MARK = ".running"
_LOCK = ".lock"
_GRID_PARTIAL = ".grid.partial.f32"

Status = Literal["running", "complete", "failed", "interrupted", "unknown"]


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class RunLayer:
    """One layer of the run's stack as stored in ``layers.json``.

    Attributes:
        name: layer label (``core``, ``tim0``, ``dram3``...).
        index: position in the stack, 0 = farthest from the heat sink (HotSpot order).
        kind: one of :data:`LAYER_KINDS`.
        blocks: the blocks of the layer (m); may be empty for layers without units of interest.
        width: footprint width (m).
        height: footprint height (m).
    """

    name: str
    index: int
    kind: str
    blocks: tuple[Block, ...]
    width: float
    height: float

    @property
    def floorplan(self) -> Floorplan:
        return Floorplan(self.blocks)

    @property
    def block_names(self) -> list[str]:
        return [b.name for b in self.blocks]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "kind": self.kind,
            "width_m": self.width,
            "height_m": self.height,
            "blocks": [
                {"name": b.name, "x": b.x, "y": b.y, "width": b.width, "height": b.height}
                for b in self.blocks
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str | None = None) -> RunLayer:
        try:
            blocks = tuple(
                Block(
                    name=str(b["name"]),
                    width=float(b["width"]),
                    height=float(b["height"]),
                    x=float(b["x"]),
                    y=float(b["y"]),
                )
                for b in data.get("blocks", [])
            )
            if blocks:
                fp = Floorplan(blocks)
                width = float(data.get("width_m", fp.min_x + fp.width))
                height = float(data.get("height_m", fp.min_y + fp.height))
            else:
                width = float(data.get("width_m", 0.0))
                height = float(data.get("height_m", 0.0))
            return cls(
                name=str(data["name"]),
                index=int(data["index"]),
                kind=str(data.get("kind", "other")),
                blocks=blocks,
                width=width,
                height=height,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(
                f"bad layer entry {dict(data).get('name', '?')!r}: {err}",
                path=path,
                hint="each layer needs name, index and blocks with name, x, y, width, height (m)",
            ) from err


def layer_kind(layer_name: str, block_names: Sequence[str] = ()) -> str:
    """Guess the kind of a layer from its name and its blocks' names (CoMeT's naming).

    Cores ``C_<i>``, banks ``B_<i>``, logic cores ``LC_<i>``, TIM layers ``TIM...``,
    fillers ``X<i>``, interposer ``I_0``.
    """
    n = layer_name.lower()
    for key, kind in (
        ("tim", "tim"),
        ("interposer", "interposer"),
        ("logic", "logic"),
        ("dram", "dram"),
        ("mem", "dram"),
        ("bank", "dram"),
        ("core", "core"),
        ("filler", "filler"),
    ):
        if key in n:
            return kind
    names = [b.upper() for b in block_names]
    if not names:
        return "other"
    for prefix, kind in (
        ("LC_", "logic"),
        ("C_", "core"),
        ("B_", "dram"),
        ("TIM", "tim"),
        ("I_", "interposer"),
    ):
        if any(b.startswith(prefix) for b in names):
            return kind
    if all(b.startswith("X") for b in names):
        return "filler"
    return "other"


def layers_from_stack(stack: Stack, kinds: Mapping[str, str] | None = None) -> list[RunLayer]:
    """The :class:`RunLayer` list of a :class:`~comet.floorplan.model.Stack` (same order)."""
    out: list[RunLayer] = []
    width = max(layer.floorplan.min_x + layer.floorplan.width for layer in stack.layers)
    height = max(layer.floorplan.min_y + layer.floorplan.height for layer in stack.layers)
    for i, layer in enumerate(stack.layers):
        kind = (kinds or {}).get(layer.name) or layer_kind(layer.name, layer.floorplan.names)
        out.append(RunLayer(layer.name, i, kind, tuple(layer.floorplan.blocks), width, height))
    return out


# --------------------------------------------------------------------------- summary statistics


class TraceStats:
    """Running statistics of the traces (used by the writer while streaming, by the reader for
    partial runs): peak and time-weighted mean per unit, time above thresholds, energy.

    Each row covers the epoch ``(t_prev, t]``; the first row starts at ``start_time_s``.
    """

    def __init__(
        self,
        temperature_units: Sequence[str],
        power_units: Sequence[str] = (),
        thresholds_degC: Sequence[float] = DEFAULT_THRESHOLDS_DEGC,
        start_time_s: float = 0.0,
    ) -> None:
        self.temperature_units = list(temperature_units)
        self.power_units = list(power_units)
        self.thresholds = [float(t) for t in thresholds_degC]
        self.start_time_s = float(start_time_s)
        self.last_time_s = float(start_time_s)
        self.epochs = 0
        nt, npow = len(self.temperature_units), len(self.power_units)
        self.peak = np.full(nt, -np.inf)
        self.weighted = np.zeros(nt)
        self.covered = np.zeros(nt)
        self.above = np.zeros(len(self.thresholds))
        self.energy = np.zeros(npow)
        self._last_power_time = float(start_time_s)

    def update_temperature(self, times: np.ndarray, temps: np.ndarray) -> None:
        """Add rows: ``times`` (n,) s, ``temps`` (n, units) deg C."""
        times = np.asarray(times, dtype=float).reshape(-1)
        if times.size == 0:
            return
        temps = np.asarray(temps, dtype=float).reshape(times.size, len(self.temperature_units))
        prev = np.concatenate(([self.last_time_s], times[:-1]))
        dt = np.clip(times - prev, 0.0, None)
        finite = np.isfinite(temps)
        if temps.size:
            with np.errstate(invalid="ignore"):
                self.peak = np.fmax(self.peak, np.where(finite, temps, -np.inf).max(axis=0))
            self.weighted += np.where(finite, temps, 0.0).T @ dt
            self.covered += finite.T.astype(float) @ dt
            hottest = np.where(finite, temps, -np.inf).max(axis=1)
            for k, thr in enumerate(self.thresholds):
                self.above[k] += float(dt[hottest > thr].sum())
        self.last_time_s = float(times[-1])
        self.epochs += times.size

    def update_power(self, times: np.ndarray, power: np.ndarray) -> None:
        """Add rows: ``times`` (n,) s, ``power`` (n, units) W."""
        times = np.asarray(times, dtype=float).reshape(-1)
        if times.size == 0:
            return
        power = np.asarray(power, dtype=float).reshape(times.size, len(self.power_units))
        prev = np.concatenate(([self._last_power_time], times[:-1]))
        dt = np.clip(times - prev, 0.0, None)
        self.energy += np.nan_to_num(power).T @ dt
        self._last_power_time = float(times[-1])

    def summary(self, unit_layer: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The statistics part of ``summary.json``."""
        peak: dict[str, float | None] = {}
        mean: dict[str, float | None] = {}
        for i, u in enumerate(self.temperature_units):
            peak[u] = _num(self.peak[i])
            mean[u] = _num(self.weighted[i] / self.covered[i]) if self.covered[i] > 0 else None
        layer_peak: dict[str, float] = {}
        for u, p in peak.items():
            layer = (unit_layer or {}).get(u)
            if layer is not None and p is not None:
                layer_peak[layer] = round(max(layer_peak.get(layer, -math.inf), p), 9)
        energy: dict[str, float] = {"total": float(self.energy.sum())}
        energy.update({u: float(e) for u, e in zip(self.power_units, self.energy, strict=True)})
        return {
            "duration_s": self.last_time_s - self.start_time_s,
            "epochs": self.epochs,
            "peak_degC": peak,
            "mean_degC": mean,
            "peak_layer_degC": layer_peak,
            "time_above_s": {
                f"{thr:g}": float(v) for thr, v in zip(self.thresholds, self.above, strict=True)
            },
            "energy_J": energy,
        }


def _num(x: float) -> float | None:
    """A JSON-friendly number: None for inf/NaN, rounded to 1e-9 (no float noise)."""
    x = float(x)
    return round(x, 9) if math.isfinite(x) else None


# --------------------------------------------------------------------------- atomic files


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`comet.fileio.write_atomic`)."""
    from comet.fileio import write_atomic as _write

    _write(path, data)


# --------------------------------------------------------------------------- writer


class _AppendFile:
    """A file comet appends to (a trace, events.csv, the grid snapshots), written unbuffered
    with ``os.write`` so that what is on disk is exactly what was committed.

    :meth:`write` appends; :meth:`commit` marks the current size as good; :meth:`rollback`
    truncates the file back to the last good size. A failed write (a full disk) is rolled back
    by the writer, so no trace ends in a cut line or holds rows the others lack.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as err:
            raise os_error(err, path, "cannot write") from None
        self.good = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        if self.fd is None:
            raise RuntimeError(f"{self.path} is closed")
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            self.size += n
            view = view[n:]

    def commit(self) -> None:
        self.good = self.size

    def rollback(self) -> None:
        if self.fd is not None and self.size != self.good:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.good)
                os.lseek(self.fd, self.good, os.SEEK_SET)
            self.size = self.good

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    @property
    def closed(self) -> bool:
        return self.fd is None


def _lock_holder(lock: Path) -> str:
    """Who holds a run directory's lock, from the lock file (``pid N on host``)."""
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        return f"pid {int(info['pid'])} on {info.get('host', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _acquire_lock(directory: Path) -> int:
    """Take the exclusive lock of a run directory (``flock`` on ``.lock``), held while the
    run is written; the file names the holder.

    Raises:
        InputError: a live run holds the lock (naming its process).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the .running marker only
        return -1

    lock = directory / _LOCK
    for _ in range(100):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise os_error(err, lock, "cannot create the lock file") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(
                f"a live run ({_lock_holder(lock)}) is writing this directory",
                path=directory,
                hint="wait for it to finish, stop it, or choose another directory",
            ) from None
        except OSError:  # pragma: no cover - a file system without flock
            break
        try:  # the holder before us may have removed the file as it released it: retry
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
    return fd


def _release_lock(fd: int | None, directory: Path | None = None) -> None:
    """Release the lock; with ``directory``, remove the lock file first (while still holding
    it: a process that opened it meanwhile sees the file gone and takes a new one)."""
    if fd is None or fd < 0:
        return
    import fcntl

    if directory is not None:
        with contextlib.suppress(OSError):
            (directory / _LOCK).unlink()

    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


def lock_held(directory: str | os.PathLike[str]) -> bool:
    """Whether a live process holds the lock of the run directory (see :class:`RunWriter`)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False

    lock = Path(directory) / _LOCK
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # pragma: no cover
        return False
    finally:
        os.close(fd)
    return False


class NonFiniteResult(InputError):
    """The simulation produced a non-finite or non-physical value (the run is stopped)."""


class _TraceFile:
    """One streamed CSV trace: header at open, rows buffered and appended at flush.

    Rows wait in a preallocated block (``time_s`` then the units' values; room for
    ``capacity`` rows, the writer's ``flush_every``, doubled if more come); :meth:`flush`
    formats the block in one pass (``%.9g`` for the time, ``%.6g`` for the values, an empty
    field for NaN) and appends it to the file.
    """

    #: significant digits of the time column and of the values
    TIME_DIGITS = 9
    VALUE_DIGITS = 6

    def __init__(self, path: Path, units: Sequence[str], suffix: str, capacity: int) -> None:
        self.path = path
        self.units = list(units)
        self.index = {u: i for i, u in enumerate(self.units)}
        if len(self.index) != len(self.units):
            dup = sorted({u for u in self.units if self.units.count(u) > 1})
            raise InputError(f"duplicate unit names in {path.name}: {', '.join(dup)}")
        self._block = np.empty((max(1, min(int(capacity), 1024)), 1 + len(self.units)))
        self._count = 0
        #: NaN is a value here (rows given as {unit: value} mappings leave units empty)
        self.nan_ok = False
        self._precision = np.full(1 + len(self.units), self.VALUE_DIGITS, dtype=np.int64)
        self._precision[0] = self.TIME_DIGITS
        self.fh = _AppendFile(path)
        self.fh.write((",".join(["time_s", *(u + suffix for u in self.units)]) + "\n").encode())
        self.fh.commit()

    @property
    def pending(self) -> np.ndarray:
        """The buffered rows, (rows, 1 + units): time (s) then the values (a view)."""
        return self._block[: self._count]

    def add(self, time_s: float, values: Any) -> None:
        """Buffer one row: ``time_s`` (s) and the values of :meth:`values`."""
        if self._count == self._block.shape[0]:
            grown = np.empty((2 * self._count, self._block.shape[1]))
            grown[: self._count] = self._block
            self._block = grown
        row = self._block[self._count]
        row[0] = time_s
        row[1:] = values
        self._count += 1

    def values(self, values: Any) -> np.ndarray:
        """One row of values (declared order) from an array-like or a ``{unit: value}`` map."""
        n = len(self.units)
        if not isinstance(values, np.ndarray) and isinstance(values, Mapping):
            arr = np.full(n, np.nan)
            for name, v in values.items():
                try:
                    arr[self.index[name]] = float(v)
                except KeyError:
                    raise InputError(
                        f"unit {name!r} is not a column of {self.path.name}",
                        hint="declare it in RunWriter.open()",
                    ) from None
            return arr
        arr = np.asarray(values, dtype=float).reshape(-1)
        if arr.size != n:
            raise InputError(
                f"{self.path.name}: got {arr.size} values for {n} columns",
                hint="pass one value per declared unit, in the declared order",
            )
        return arr

    def truncate(self, rows: int) -> None:
        """Keep only the first ``rows`` buffered rows."""
        self._count = min(self._count, rows)

    def write_pending(self) -> None:
        """Append the buffered rows to the file (not yet committed: see :meth:`commit`)."""
        if self._count and not self.fh.closed:
            self.fh.write(format_rows(self.pending, self._precision).encode())

    def commit(self) -> None:
        self.fh.commit()
        self._count = 0

    def flush(self) -> None:
        self.write_pending()
        self.commit()

    def close(self) -> None:
        self.fh.close()


def run_summary(
    status: str,
    name: str,
    stats: TraceStats,
    unit_layer: Mapping[str, str] | None,
    wall_time_s: float,
    error: str | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The summary of a run (``summary.json``): status, statistics of the traces, wall time,
    and the producer's ``extra`` keys (dict values merged key by key)."""
    summary: dict[str, Any] = {
        "status": status,
        "name": name,
        **stats.summary(unit_layer),
        "wall_time_s": wall_time_s,
        "instructions": None,
        "makespan_s": None,
        "error": error,
    }
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(summary.get(key), dict):
            summary[key].update(value)
        else:
            summary[key] = value
    return summary


class RunWriter:
    """Writes a run directory while a simulation runs.

    Typical use (the closed loop, ``comet replay``, ``run_from_hotspot``)::

        with RunWriter("runs/demo", overwrite=True) as w:
            w.write_config({"name": "demo", "epoch_s": 1e-3})
            w.write_layers(stack)                      # layers.json (and w.stack_dir for files)
            w.open(temperature=units, power=units, frequency=cores, bank_mode=banks)
            for t, T, P, f in loop:
                w.append(t, temperature=T, power=P, frequency=f)   # deg C, W, GHz
                w.event(t, "migration", "C_3", 5, "thread 5 from C_3 to C_7")
            w.close(instructions=..., makespan_s=...)   # or let the with-block close it

    Values are given in the declared column order (array-like) or as ``{unit: value}``
    mappings (missing units are written empty). Leaving the ``with`` block by an exception
    writes ``status = failed`` (``interrupted`` for ``KeyboardInterrupt``) and re-raises.

    Args:
        path: the run directory (created).
        name: run name (default: the directory name).
        overwrite: replace an existing run directory; without it an existing, non-empty
            directory is an error.
        flush_every: rows buffered before they are appended to the CSV files.
        thresholds_degC: thresholds of ``time_above_s`` (deg C).
        start_time_s: simulated time at which the first epoch starts (s).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        overwrite: bool = False,
        flush_every: int = 10,
        thresholds_degC: Sequence[float] = DEFAULT_THRESHOLDS_DEGC,
        start_time_s: float = 0.0,
        allow_nan: bool = False,
    ) -> None:
        self.path = Path(path)
        self.allow_nan = allow_nan
        self._lock: int | None = None
        if self.path.exists() and not self.path.is_dir():
            raise InputError("exists and is not a directory", path=self.path)
        if self.path.is_dir() and any(p.name != _LOCK for p in self.path.iterdir()):
            if not overwrite:
                raise InputError(
                    "run directory already exists",
                    path=self.path,
                    hint="choose another name or pass overwrite=True (--overwrite)",
                )
            if not (self.path / "layers.json").exists() and not any(
                (self.path / f).exists() for f in (*(f for f, _ in TRACES.values()), _LOCK)
            ):
                raise InputError(
                    "refusing to overwrite a directory that is not a comet run",
                    path=self.path,
                    hint="choose an empty or new directory",
                )
            self._lock = _acquire_lock(self.path)  # refuses a live run's directory
            try:
                for child in self.path.iterdir():
                    if child.name == _LOCK:
                        continue
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            except OSError as err:
                _release_lock(self._lock)
                raise os_error(err, self.path, "cannot clear the run directory") from None
        ensure_dir(self.path, "run directory")
        if self._lock is None:
            self._lock = _acquire_lock(self.path)
        self.name = name or self.path.resolve().name
        self.flush_every = max(1, int(flush_every))
        self.thresholds = [float(t) for t in thresholds_degC]
        self.start_time_s = float(start_time_s)
        self._t0 = time.perf_counter()
        self._traces: dict[str, _TraceFile] = {}
        self._events_fh: _AppendFile | None = None
        self._events_buf = io.StringIO()
        self._broken: InputError | None = None
        self._rows = 0
        self._events: Any = None
        self._stats: TraceStats | None = None
        self._pending = 0
        self._last_time = -math.inf
        self._unit_layer: dict[str, str] = {}
        self._grid_fh: _AppendFile | None = None
        self._grid_times: list[float] = []
        self._grid_shape: tuple[int, int, int] | None = None
        self._grid_layers: list[str] = []
        self.closed = False
        #: refuse non-finite and non-physical rows (array rows; mapping rows may omit units)
        self.check_values = True
        self.summary: dict[str, Any] | None = None
        mark = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            write_atomic(self.path / _RUNNING_MARK, json.dumps(mark))
        except BaseException:
            _release_lock(self._lock)
            raise

    # -- static parts -------------------------------------------------------------------------

    @property
    def stack_dir(self) -> Path:
        """``stack/``: where the producer puts the .flp, .lcf and hotspot.config files."""
        d = self.path / "stack"
        d.mkdir(exist_ok=True)
        return d

    def write_config(self, config: Mapping[str, Any] | str) -> None:
        """Write ``config.toml`` (a TOML string, or a dict written as TOML)."""
        text = config if isinstance(config, str) else dumps_toml(config)
        write_atomic(self.path / "config.toml", text)

    def write_layers(
        self,
        layers: Stack | Sequence[RunLayer | Mapping[str, Any]],
        kinds: Mapping[str, str] | None = None,
    ) -> list[RunLayer]:
        """Write ``layers.json`` from a :class:`Stack` or a list of layers (HotSpot order)."""
        if isinstance(layers, Stack):
            parsed = layers_from_stack(layers, kinds)
        else:
            parsed = [
                layer if isinstance(layer, RunLayer) else RunLayer.from_json(layer)
                for layer in layers
            ]
        write_atomic(
            self.path / "layers.json", json.dumps([la.to_json() for la in parsed], indent=1)
        )
        self._unit_layer = {}
        for la in parsed:
            for b in la.blocks:
                self._unit_layer.setdefault(b.name, la.name)
        return parsed

    def write_stack_files(self, files: Mapping[str, str | os.PathLike[str]]) -> None:
        """Copy files into ``stack/`` (name in the run -> source path)."""
        for name, src in files.items():
            shutil.copyfile(src, self.stack_dir / name)

    # -- traces --------------------------------------------------------------------------------

    def open(
        self,
        temperature: Sequence[str],
        power: Sequence[str] | None = None,
        frequency: Sequence[str] | None = None,
        bank_mode: Sequence[str] | None = None,
        cpi: Sequence[str] | None = None,
    ) -> None:
        """Declare the columns (unit names) of each trace and write the CSV headers."""
        if self._traces:
            raise RuntimeError("RunWriter.open() called twice")
        for key, units in (
            ("temperature", temperature),
            ("power", power),
            ("frequency", frequency),
            ("bank_mode", bank_mode),
            ("cpi", cpi),
        ):
            if units is None:
                continue
            fname, suffix = TRACES[key]
            self._traces[key] = _TraceFile(self.path / fname, units, suffix, self.flush_every)
        self._stats = TraceStats(
            temperature, power or (), self.thresholds, start_time_s=self.start_time_s
        )
        self._open_events()
        format_rows(np.zeros((1, 1)), np.ones(1))  # the CSV kernel loaded now, not at a flush

    def _open_events(self) -> None:
        if self._events_fh is None:
            fh = _AppendFile(self.path / "events.csv")
            self._events_fh = fh
            self._events = csv.writer(self._events_buf, lineterminator="\n")
            self._events.writerow(EVENT_COLUMNS)
            fh.write(self._events_buf.getvalue().encode())
            fh.commit()
            self._events_buf.seek(0)
            self._events_buf.truncate()

    def append(
        self,
        time_s: float,
        temperature: Any = None,
        power: Any = None,
        frequency: Any = None,
        bank_mode: Any = None,
        cpi: Any = None,
    ) -> None:
        """Add one epoch ending at ``time_s`` (s): temperatures (deg C), power (W),
        frequencies (GHz), bank modes (0/1), CPI-stack times (s). Times must increase."""
        if self.closed:
            raise RuntimeError("RunWriter is closed")
        if not self._traces:
            raise RuntimeError("call RunWriter.open() before append()")
        time_s = float(time_s)
        if time_s <= self._last_time:
            raise InputError(
                f"time {time_s:g} s does not increase (last {self._last_time:g} s)",
                hint="time_s is the end of each epoch and must grow",
            )
        rows: list[tuple[_TraceFile, np.ndarray]] = []
        temp_trace = self._traces.get("temperature")
        for key, values in (
            ("temperature", temperature),
            ("power", power),
            ("frequency", frequency),
            ("bank_mode", bank_mode),
            ("cpi", cpi),
        ):
            trace = self._traces.get(key)
            if trace is None:
                if values is not None:
                    raise InputError(f"{key} given but not declared in RunWriter.open()")
                continue
            if values is None or isinstance(values, Mapping):
                trace.nan_ok = True  # units left out of a mapping row are written empty
            rows.append((trace, trace.values({} if values is None else values)))
        suspect = False
        for trace, arr in rows:
            trace.add(time_s, arr)
            if (
                trace is temp_trace
                and arr.size
                and self.check_values
                and not (trace.nan_ok or self.allow_nan)
            ):
                # cheap per-epoch test (NaN and inf propagate into the sum); flush() finds the
                # unit and refuses the row, so a diverged solve stops at its epoch
                suspect = not math.isfinite(float(arr.sum())) or float(arr.min()) <= -273.15
        self._last_time = time_s
        self._rows += 1
        self._pending += 1
        if suspect or self._pending >= self.flush_every:
            self.flush()

    def _first_bad_row(self) -> tuple[int, str, _TraceFile, int] | None:
        """The first buffered row holding a non-finite or non-physical value: (row, trace,
        file, column), or None. Checked once per flush over the whole block (no cost per
        epoch): temperatures finite and above 0 K, power and frequency finite; NaN allowed where
        rows were given as mappings (left-out units) or with ``allow_nan``."""
        if not self.check_values:
            return None
        first: tuple[int, str, _TraceFile, int] | None = None
        for key, trace in self._traces.items():
            block = trace.pending[:, 1:]
            if not block.size:
                continue
            with np.errstate(invalid="ignore"):
                bad = ~np.isfinite(block)
                if trace.nan_ok or self.allow_nan:
                    bad &= ~np.isnan(block)
                if key == "temperature":
                    bad |= block <= -273.15
            if bad.any():
                row = int(np.flatnonzero(bad.any(axis=1))[0])
                if first is None or row < first[0]:
                    first = (row, key, trace, int(np.flatnonzero(bad[row])[0]))
        return first

    def _non_finite(self, row: int, key: str, trace: _TraceFile, col: int) -> NonFiniteResult:
        epoch = self._rows - trace.pending.shape[0] + row + 1
        time_s = float(trace.pending[row, 0])
        value = float(trace.pending[row, 1 + col])
        what = {"temperature": "temperature (deg C)", "power": "power (W)"}.get(key, key)
        return NonFiniteResult(
            f"epoch {epoch} (t = {time_s:.6g} s): {what} of {trace.units[col]} is {value!r}: "
            "the simulation left the physical range; the run is stopped and marked failed",
            path=self.path,
            hint="check the [thermal] package values and the power inputs",
        )

    def event(
        self,
        time_s: float,
        kind: str,
        target: str = "",
        value: Any = "",
        detail: str = "",
    ) -> None:
        """Record an event (migration, DVFS change, DTM, plugin error...) at ``time_s`` (s)."""
        self._open_events()
        assert self._events is not None
        self._events.writerow([f"{float(time_s):.9g}", kind, target, value, detail])

    def grid(
        self,
        time_s: float,
        temperature_degC: np.ndarray,
        layer_names: Sequence[str] | None = None,
    ) -> None:
        """Store a grid snapshot ``(layers, rows, cols)`` in deg C (row 0 = north, max y).

        Snapshots are streamed to a temporary file and packed into ``grid.npz`` at close.
        """
        arr = np.asarray(temperature_degC, dtype=np.float32)
        if arr.ndim != 3:
            raise InputError("grid snapshot must be (layers, rows, cols)")
        if self._grid_shape is None:
            self._grid_shape = cast(tuple[int, int, int], arr.shape)
            self._grid_layers = (
                list(layer_names)
                if layer_names is not None
                else [f"layer{i}" for i in range(arr.shape[0])]
            )
            if len(self._grid_layers) != arr.shape[0]:
                raise InputError("grid snapshot: one layer name per layer is needed")
            self._grid_fh = _AppendFile(self.path / _GRID_PARTIAL)
        elif arr.shape != self._grid_shape:
            raise InputError(f"grid snapshot shape {arr.shape} != {self._grid_shape}")
        assert self._grid_fh is not None
        if self._broken is not None:
            raise self._broken
        try:
            self._grid_fh.write(np.ascontiguousarray(arr).tobytes())
        except OSError as err:
            self._grid_fh.rollback()
            self._broken = os_error(err, self.path / "grid.npz", "cannot write")
            raise self._broken from None
        self._grid_fh.commit()
        self._grid_times.append(float(time_s))

    def flush(self) -> None:
        """Append buffered rows to the CSV files and update the running statistics.

        All traces and the events grow together: when one write fails (a full disk), every
        file is truncated back to its last complete flush, so the traces keep the same rows
        and no line is cut; the writer is then broken and the error names the file.

        Raises:
            InputError: a file could not be written (ENOSPC, EIO...).
        """
        if self._broken is not None:
            raise self._broken
        bad = self._first_bad_row()
        failure: NonFiniteResult | None = None
        if bad is not None:  # keep the good rows before it, drop it and the rest
            failure = self._non_finite(*bad)
            for trace in self._traces.values():
                trace.truncate(bad[0])
        files = [t.fh for t in self._traces.values()]
        events = self._events_buf.getvalue()
        current: _AppendFile | None = None
        try:
            for trace in self._traces.values():
                current = trace.fh
                trace.write_pending()
            if self._events_fh is not None and events:
                current = self._events_fh
                self._events_fh.write(events.encode())
        except OSError as err:
            for fh in [*files, self._events_fh]:
                if fh is not None:
                    fh.rollback()
            where = current.path if current is not None else self.path
            self._broken = os_error(err, where, "cannot write")
            raise self._broken from None
        temp = self._traces.get("temperature")
        pw = self._traces.get("power")
        if self._stats is not None:
            if temp is not None and temp.pending.size:
                block = temp.pending
                self._stats.update_temperature(block[:, 0], block[:, 1:])
            if pw is not None and pw.pending.size:
                block = pw.pending
                self._stats.update_power(block[:, 0], block[:, 1:])
        for trace in self._traces.values():
            trace.commit()
        if self._events_fh is not None:
            self._events_fh.commit()
            self._events_buf.seek(0)
            self._events_buf.truncate()
        self._pending = 0
        if failure is not None:
            self._broken = failure
            raise failure

    # -- finish --------------------------------------------------------------------------------

    def _write_grid(self) -> None:
        """Pack the streamed snapshots into ``grid.npz`` (read through a memory map, written
        straight to a temporary file: the snapshots are never held in memory twice)."""
        if self._grid_fh is None or self._grid_shape is None:
            return
        self._grid_fh.close()
        raw = self.path / _GRID_PARTIAL
        n = len(self._grid_times)
        try:
            if n:
                data = np.memmap(raw, dtype=np.float32, mode="r", shape=(n, *self._grid_shape))
                with atomic_path(self.path / "grid.npz", suffix=".npz") as tmp:
                    np.savez(
                        tmp,
                        times_s=np.asarray(self._grid_times, dtype=float),
                        temperature_degC=data,
                        layer_names=np.asarray(self._grid_layers, dtype=str),
                    )
                del data
        finally:
            with contextlib.suppress(OSError):
                raw.unlink()

    def close(
        self,
        status: Status = "complete",
        error: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Flush everything, pack the grid snapshots and write ``summary.json`` atomically.

        ``extra`` keys (``instructions``, ``makespan_s``, ``energy_J`` parts...) are merged into
        the summary; dict values are merged key by key. Returns the summary. Ctrl-C and
        SIGTERM wait until the summary is written (a second Ctrl-C cannot leave a run without
        one). A file that cannot be written marks the run ``failed`` (the summary says which)
        and is raised as an :class:`InputError` naming it, after the summary.
        """
        if self.closed:
            assert self.summary is not None
            return self.summary
        with _signals_deferred():
            return self._close(status, error, **extra)

    def _close(self, status: Status, error: str | None, **extra: Any) -> dict[str, Any]:
        failure: InputError | None = None
        try:
            self.flush()
        except InputError as err:
            failure = err
        for trace in self._traces.values():
            trace.close()
        if self._events_fh is not None:
            self._events_fh.close()
        try:
            if failure is None:
                self._write_grid()
        except InputError as err:
            failure = err
        if failure is not None or self._broken is not None:
            with contextlib.suppress(OSError):
                (self.path / _GRID_PARTIAL).unlink()
        if failure is not None:
            status, error = "failed", error or str(failure)
        stats = self._stats or TraceStats([], [], self.thresholds, self.start_time_s)
        summary = run_summary(
            status, self.name, stats, self._unit_layer, time.perf_counter() - self._t0, error, extra
        )
        if failure is not None and status == "failed":
            summary["status"], summary["error"] = "failed", str(failure)
        self.closed = True
        self.summary = summary
        try:
            write_atomic(self.path / "summary.json", json.dumps(_jsonable(summary), indent=1))
        finally:
            with contextlib.suppress(OSError):
                (self.path / _RUNNING_MARK).unlink()
            _release_lock(self._lock, self.path)
            self._lock = None
        if failure is not None:
            raise failure
        return summary

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if self.closed:
            return
        if exc_type is None:
            self.close("complete")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted", error="interrupted")
        else:
            self.close("failed", error=f"{exc_type.__name__}: {exc}")


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM are only recorded (main thread only); the
    first one is handed to the previous handler when the block ends."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def defer(signum: int, frame: Any) -> None:
        pending.append(signum)

    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {sig: signal.signal(sig, defer) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if pending:
            first = signal.Signals(pending[0])
            handler = old[first]
            if callable(handler):
                handler(first, None)
            elif handler == signal.SIG_DFL:
                if first == signal.SIGINT:
                    raise KeyboardInterrupt
                os.kill(os.getpid(), first)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# --------------------------------------------------------------------------- reader


@dataclass(frozen=True)
class GridSnapshots:
    """Grid temperature maps: ``temperature_degC[t, layer, row, col]`` (row 0 = north)."""

    times_s: np.ndarray
    temperature_degC: np.ndarray
    layer_names: list[str]

    def layer_index(self, name: str) -> int:
        return self.layer_names.index(name)

    def index_at(self, time_s: float) -> int:
        """Index of the last snapshot taken at or before ``time_s`` (the first if none)."""
        i = int(np.searchsorted(self.times_s, time_s + 1e-12, side="right")) - 1
        return max(0, min(i, len(self.times_s) - 1))


def _read_complete_lines(path: Path) -> bytes:
    """The file's bytes up to its last newline (a row cut by a hard kill is dropped)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise os_error(err, path, "cannot read") from None
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else data


def read_trace(path: str | os.PathLike[str], suffix: str) -> pd.DataFrame:
    """Read one CSV trace: index ``time_s``, columns = unit names without ``suffix``."""
    path = Path(path)
    data = _read_complete_lines(path)
    if not data.strip():
        raise InputError("empty trace file", path=path, hint="the run wrote no header")
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=float)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"cannot read trace: {first}", path=path) from None
    if "time_s" not in df.columns:
        raise InputError("no time_s column", path=path, line=1, hint="the first column is time_s")
    df = df.set_index("time_s")
    df.columns = [c[: -len(suffix)] if c.endswith(suffix) else c for c in df.columns]
    return df


class Run:
    """A run directory, read lazily.

    Attributes (all lazy): ``temperature`` (deg C), ``power`` (W), ``frequency`` (GHz),
    ``bank_mode`` (0/1): DataFrames indexed by ``time_s`` (end of each epoch, s) with one column
    per unit (empty DataFrames when the file is absent); ``events``; ``layers``
    (list of :class:`RunLayer`); ``grid`` (:class:`GridSnapshots` or ``None``); ``summary``
    (dict; for a run without ``summary.json`` the statistics computed from the traces);
    ``config`` (dict); ``status``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(
                "no such run directory", path=self.path, hint="give the directory of a comet run"
            )
        if not (self.path / "temperature.csv").exists():
            raise InputError(
                "not a comet run directory (no temperature.csv)",
                path=self.path,
                hint="produce one with comet run, comet replay or comet hotspot --run-dir",
            )

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r})"

    @property
    def name(self) -> str:
        return str(self.stored_summary.get("name") or self.path.resolve().name)

    # -- traces
    def _trace(self, key: str) -> pd.DataFrame:
        fname, suffix = TRACES[key]
        p = self.path / fname
        if not p.exists():
            return pd.DataFrame(index=pd.Index([], name="time_s", dtype=float))
        return read_trace(p, suffix)

    @cached_property
    def temperature(self) -> pd.DataFrame:
        return self._trace("temperature")

    @cached_property
    def power(self) -> pd.DataFrame:
        return self._trace("power")

    @cached_property
    def frequency(self) -> pd.DataFrame:
        return self._trace("frequency")

    @cached_property
    def bank_mode(self) -> pd.DataFrame:
        return self._trace("bank_mode")

    @cached_property
    def cpi(self) -> pd.DataFrame:
        """The CPI stack as time (s) per ``<core>.<component>`` and epoch (``cpi.csv``, written
        when the performance model is not the built-in one or ``sim.record_cpi`` is on)."""
        return self._trace("cpi")

    @cached_property
    def events(self) -> pd.DataFrame:
        p = self.path / "events.csv"
        empty = pd.DataFrame(
            {c: pd.Series(dtype=object) for c in EVENT_COLUMNS[1:]},
            index=pd.Index([], name="time_s", dtype=float),
        )
        if not p.exists():
            return empty
        data = _read_complete_lines(p)
        if not data.strip():
            return empty
        try:
            df = pd.read_csv(
                io.BytesIO(data),
                dtype={"kind": str, "target": str, "detail": str},
                keep_default_na=False,
            )
            if "time_s" not in df.columns:
                return empty
            df["time_s"] = pd.to_numeric(df["time_s"], errors="raise")
        except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InputError(
                f"damaged events file ({first})",
                path=p,
                hint="columns are time_s, kind, target, value, detail; delete it to go on",
            ) from None
        return df.set_index("time_s")

    @cached_property
    def times(self) -> np.ndarray:
        """End times of the epochs (s)."""
        return self.temperature.index.to_numpy(dtype=float)

    # -- static parts
    @cached_property
    def layers(self) -> list[RunLayer]:
        """Layers in stack order (0 = farthest from the sink); a single pseudo-layer ``units``
        without blocks when the run has no ``layers.json``."""
        p = self.path / "layers.json"
        if not p.exists():
            return []
        try:
            raw = json.loads(read_text(p, "layers file"))
        except json.JSONDecodeError as err:
            raise InputError(f"bad JSON: {err.msg}", path=p, line=err.lineno) from err
        if not isinstance(raw, list):
            raise InputError("layers.json must hold a list of layers", path=p)
        layers = [RunLayer.from_json(item, str(p)) for item in raw]
        return sorted(layers, key=lambda la: la.index)

    def layer(self, name: str) -> RunLayer:
        for la in self.layers:
            if la.name == name:
                return la
        raise InputError(
            f"no layer {name!r} in this run",
            path=self.path,
            hint="layers: " + ", ".join(la.name for la in self.layers),
        )

    @cached_property
    def unit_layer(self) -> dict[str, str]:
        """Unit name -> name of the layer holding it."""
        out: dict[str, str] = {}
        for la in self.layers:
            for b in la.blocks:
                out.setdefault(b.name, la.name)
        return out

    def layer_units(self, layer: str) -> list[str]:
        """Units of ``layer`` that have a temperature column (floorplan order)."""
        cols = set(self.temperature.columns)
        return [b.name for b in self.layer(layer).blocks if b.name in cols]

    @cached_property
    def thermal_layers(self) -> list[RunLayer]:
        """Layers worth showing: those with at least one traced unit, or with grid maps."""
        cols = set(self.temperature.columns)
        grid_names = set(self.grid.layer_names) if self.grid is not None else set()
        return [
            la
            for la in self.layers
            if any(b.name in cols for b in la.blocks) or la.name in grid_names
        ]

    @cached_property
    def grid(self) -> GridSnapshots | None:
        p = self.path / "grid.npz"
        if not p.exists():
            return None
        try:
            with open(p, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                grid = GridSnapshots(
                    times_s=np.asarray(z["times_s"], dtype=float),
                    temperature_degC=np.asarray(z["temperature_degC"]),
                    layer_names=[str(s) for s in z["layer_names"]],
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise InputError(
                f"damaged grid snapshots ({type(err).__name__}: {err})",
                path=p,
                hint="the file is truncated or not comet's; delete it to use the block traces",
            ) from None
        t, T = grid.times_s, grid.temperature_degC
        if (
            T.ndim != 4
            or t.ndim != 1
            or t.shape[0] != T.shape[0]
            or len(grid.layer_names) != T.shape[1]
        ):
            raise InputError(
                f"damaged grid snapshots: times {t.shape}, maps {T.shape}, "
                f"{len(grid.layer_names)} layer names",
                path=p,
                hint="maps are (snapshots, layers, rows, cols); delete the file to use the traces",
            )
        return grid

    @cached_property
    def config(self) -> dict[str, Any]:
        p = self.path / "config.toml"
        if not p.exists():
            return {}
        try:
            return tomllib.loads(read_text(p, "run config"))
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"bad TOML: {err}", path=p) from err

    @cached_property
    def stored_summary(self) -> dict[str, Any]:
        """``summary.json`` as stored ({} when absent)."""
        p = self.path / "summary.json"
        if not p.exists():
            return {}
        try:
            data = json.loads(read_text(p, "summary"))
        except json.JSONDecodeError as err:
            raise InputError(f"bad JSON: {err.msg}", path=p, line=err.lineno) from None
        if not isinstance(data, dict):
            raise InputError("summary.json must hold a JSON object", path=p)
        return dict(data)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """``summary.json``, or for a partial run the statistics computed from the traces."""
        if self.stored_summary:
            return self.stored_summary
        stats = TraceStats(
            list(self.temperature.columns), list(self.power.columns), self.thresholds_degC
        )
        stats.update_temperature(self.times, self.temperature.to_numpy(dtype=float))
        if not self.power.empty:
            stats.update_power(
                self.power.index.to_numpy(dtype=float), self.power.to_numpy(dtype=float)
            )
        return {
            "status": self.status,
            "name": self.path.resolve().name,
            **stats.summary(self.unit_layer),
            "wall_time_s": None,
            "instructions": None,
            "makespan_s": None,
            "error": None,
        }

    @property
    def status(self) -> Status:
        """``complete|failed|interrupted`` from the summary; ``running`` while the writer's
        process is alive; ``unknown`` for a run left without a summary."""
        s = self.stored_summary.get("status")
        if s in ("complete", "failed", "interrupted"):
            return cast(Status, s)
        if lock_held(self.path):
            return "running"
        mark = self.path / _RUNNING_MARK
        if mark.exists():
            try:
                info = json.loads(mark.read_text(encoding="utf-8"))
                if info.get("host") == socket.gethostname() and _pid_alive(int(info["pid"])):
                    return "running"
            except (ValueError, KeyError, OSError):
                pass
        return "unknown"

    @cached_property
    def thresholds_degC(self) -> list[float]:
        """Temperature thresholds to draw (deg C): ``thresholds_degC`` of the config or of the
        summary's ``time_above_s`` keys, else :data:`DEFAULT_THRESHOLDS_DEGC`."""
        cfg = self.config.get("thresholds_degC") or self.config.get("viz", {}).get(
            "thresholds_degC"
        )
        if isinstance(cfg, list) and cfg:
            return sorted(float(x) for x in cfg)
        keys = self.stored_summary.get("time_above_s")
        if isinstance(keys, dict) and keys:
            try:
                return sorted(float(k) for k in keys)
            except ValueError:
                pass
        return list(DEFAULT_THRESHOLDS_DEGC)

    def index_at(self, time_s: float) -> int:
        """Row of the epoch holding ``time_s`` (the first epoch whose end is >= time_s)."""
        t = self.times
        if t.size == 0:
            raise InputError("the run has no epochs yet", path=self.path)
        i = int(np.searchsorted(t, time_s - 1e-12, side="left"))
        return min(max(i, 0), t.size - 1)

    def reload(self) -> Run:
        """A fresh reader of the same directory (for runs still being written)."""
        return Run(self.path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_run(path: str | os.PathLike[str]) -> Run:
    """Open a run directory for reading (see :class:`Run`)."""
    return Run(path)


def list_units(values: Iterable[str]) -> list[str]:
    """Unit names sorted naturally (``C_2`` before ``C_10``)."""

    def key(name: str) -> list[Any]:
        parts: list[Any] = []
        num = ""
        text = ""
        for ch in name:
            if ch.isdigit():
                if text:
                    parts.append(text)
                    text = ""
                num += ch
            else:
                if num:
                    parts.append(int(num))
                    num = ""
                text += ch
        if num:
            parts.append(int(num))
        if text:
            parts.append(text)
        return [(0, p) if isinstance(p, int) else (1, p) for p in parts]

    return sorted(values, key=key)


__all__ = [
    "DEFAULT_THRESHOLDS_DEGC",
    "GridSnapshots",
    "Run",
    "RunLayer",
    "RunWriter",
    "TraceStats",
    "dumps_toml",
    "layer_kind",
    "layers_from_stack",
    "list_units",
    "open_run",
    "read_trace",
    "write_atomic",
]
