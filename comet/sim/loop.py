"""The one epoch loop of comet: a power source against a thermal stepper, recorded.

:class:`EpochLoop` runs a *power source* (:class:`PowerSource`) against a *thermal stepper*
(:class:`~comet.thermal.stepper.ThermalStepper`) and hands every epoch to *recorders*
(:class:`Recorders`)::

    for each epoch k (t0 = k dt, t1 = t0 + dt):
        source.begin(k, t0)                     # closed loop: arrivals, mapping, perf, power
        P = source.power(T)                     # leakage at T (previous epoch, or iterate)
        stepper.advance(P, dt)                  # leakage_iterations: repeat to a fixed point
        source.after_thermal(T_new, t1)
        recorders.append(t1, **source.record())
        source.account(k, t0)                   # energy, finished threads
        snapshot every snapshot_every epochs    # grid.npz
        stop = source.end(k)                    # policies due; stop when all jobs are done

Sources: :class:`~comet.sim.closed_loop.ClosedLoop` (``comet run``,
:class:`comet.sim.engine.Simulation`) and :class:`~comet.sim.trace_source.TraceSource`
(``comet replay`` and ``comet hotspot``: a power-trace row per epoch). Recorders: the run
directory (:class:`~comet.sim.results.RunWriter`), memory
(:class:`~comet.sim.recorders.MemoryRecorder`), HotSpot's ``.ttrace``. This module imports
numpy only, so the HotSpot path stays light.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from comet.thermal.stepper import LayerGrids, ThermalStepper

__all__ = ["EpochLoop", "PowerSource", "Recorder", "Recorders", "grid_snapshot"]

#: grid snapshots of a stepper that can defer them (``snapshot_state`` + ``grids_of``) are
#: kept as state copies and turned into layer maps this many at a time: a reduced-order state
#: is lifted to the grid by one matrix product for the whole batch instead of one streaming
#: pass over the basis per snapshot
SNAPSHOT_BATCH = 16

KELVIN = 273.15
ProgressCallback = Callable[[int, int, float], None]


class Recorder(Protocol):
    """What the loop calls on a recorder (:class:`~comet.sim.results.RunWriter`'s methods)."""

    def open(
        self,
        temperature: Sequence[str],
        power: Sequence[str] | None = None,
        frequency: Sequence[str] | None = None,
        bank_mode: Sequence[str] | None = None,
        cpi: Sequence[str] | None = None,
    ) -> None: ...

    def append(
        self,
        time_s: float,
        temperature: Any = None,
        power: Any = None,
        frequency: Any = None,
        bank_mode: Any = None,
        cpi: Any = None,
    ) -> None: ...

    def event(
        self, time_s: float, kind: str, target: str = "", value: Any = "", detail: str = ""
    ) -> None: ...

    def grid(
        self, time_s: float, temperature_degC: np.ndarray, layer_names: Sequence[str] | None = None
    ) -> None: ...

    def close(self, status: Any = "complete", error: str | None = None, **extra: Any) -> Any: ...


class Recorders:
    """Several recorders as one; :meth:`event` is stamped with :attr:`now` (s)."""

    def __init__(self, recorders: Sequence[Recorder]) -> None:
        self.items = list(recorders)
        self.now = 0.0
        self.closed = False

    def open(self, **channels: Sequence[str] | None) -> None:
        for r in self.items:
            r.open(**channels)  # type: ignore[arg-type]

    def append(self, time_s: float, **values: Any) -> None:
        for r in self.items:
            r.append(time_s, **values)

    def event(self, kind: str, target: str = "", value: Any = "", detail: str = "") -> None:
        if not self.closed:
            for r in self.items:
                r.event(self.now, kind, target, value, detail)

    def grid(self, time_s: float, grids: Sequence[LayerGrids]) -> None:
        snap = grid_snapshot(grids)
        if snap is not None:
            for r in self.items:
                r.grid(time_s, *snap)

    def close(self, status: str, **extra: Any) -> None:
        self.closed = True
        for r in self.items:
            r.close(status, **extra)  # type: ignore[arg-type]


def grid_snapshot(grids: Sequence[LayerGrids]) -> tuple[np.ndarray, list[str]] | None:
    """The layer maps of every stack of the first stack's cell shape, in deg C, with their
    names (``stack.layer`` when there are several stacks); None when there are none."""
    maps, names = [], []
    shape = None
    multi = len(grids) > 1
    for g in grids:
        if shape is None:
            shape = g.values.shape[1:]
        if g.values.shape[1:] != shape:
            continue
        maps.append(g.values - KELVIN)
        prefix = f"{g.stack}." if multi else ""
        names += [prefix + n for n in g.layer_names]
    if not maps:
        return None
    return np.concatenate(maps), names


class PowerSource(Protocol):
    """What drives the epoch loop: the closed loop, or a power trace."""

    def begin(self, k: int, t0: float) -> None: ...

    def power(self, T: np.ndarray) -> np.ndarray:
        """The epoch's power vector (W) with leakage at block temperatures ``T`` (K)."""
        ...

    def after_thermal(self, T: np.ndarray, t1: float) -> None: ...

    def record(self) -> dict[str, Any]: ...

    def account(self, k: int, t0: float) -> None: ...

    def end(self, k: int) -> bool:
        """True to stop after this epoch."""
        ...


class EpochLoop:
    """The one epoch loop (see the module docstring).

    Args:
        source: the power source.
        stepper: the thermal stepper (state already initialized).
        recorders: where rows, events and snapshots go (their ``now`` is kept at the clock).
        dt: epoch length (s); n_epochs: epochs at most.
        leakage_iterations: 0 = power from the previous epoch's temperatures (explicit, as
            CoMeT); n > 0 = iterate the epoch up to n times towards a fixed point.
        leakage_tolerance: fixed-point tolerance (K).
        snapshot_every: grid snapshots every this many epochs (0 = none).
        stop: an object whose ``stop_requested`` ends the run at the next epoch boundary
            (``KeyboardInterrupt``).
        k_start: index of the first epoch (a warm-up before, or a resumed run): the source
            sees epochs ``k_start ..`` at times ``k * dt``.
        record_start: the recorders' clock at the start (s): epoch ``i`` of this loop is
            recorded at ``record_start + (i + 1) dt`` (0 after a warm-up; the previous run's
            end when continuing one).
        checkpoint_every, checkpoint: call ``checkpoint()`` at the boundary after every
            ``checkpoint_every`` epochs (saved state; not after the last epoch).

    :attr:`at_boundary` is false while an epoch is under way: a state saved when it is true
    is the state between two epochs.
    """

    def __init__(
        self,
        source: PowerSource,
        stepper: ThermalStepper,
        recorders: Recorders,
        *,
        dt: float,
        n_epochs: int,
        leakage_iterations: int = 0,
        leakage_tolerance: float = 0.01,
        snapshot_every: int = 0,
        stop: Any = None,
        k_start: int = 0,
        record_start: float = 0.0,
        checkpoint_every: int = 0,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        self.k_start = int(k_start)
        self.record_start = float(record_start)
        self.checkpoint_every = int(checkpoint_every)
        self.checkpoint = checkpoint
        self.at_boundary = True
        self.stepper = stepper
        self.recorders = recorders
        self.dt = dt
        self.n_epochs = n_epochs
        self.iterations = leakage_iterations
        self.tolerance = leakage_tolerance
        self.snapshot_every = snapshot_every
        self.stop = stop
        self.epochs_done = 0
        self.loop_time_s: float | None = None
        n_power = len(stepper.power_names)
        self._T = np.zeros(n_power)  # K, block temperatures of the last epoch
        self._T_iter = np.zeros(n_power)
        self._deferred = callable(getattr(stepper, "snapshot_state", None)) and callable(
            getattr(stepper, "grids_of", None)
        )
        self._snaps: list[tuple[float, Any]] = []  # (time, state) of deferred snapshots

    def _snapshot(self, time_s: float) -> None:
        if not self._deferred:
            grids = self.stepper.grids()
            if grids:
                self.recorders.grid(time_s, grids)
            return
        self._snaps.append((time_s, self.stepper.snapshot_state()))  # type: ignore[attr-defined]
        if len(self._snaps) >= SNAPSHOT_BATCH:
            self.flush_snapshots()

    def flush_snapshots(self) -> None:
        """Record the deferred grid snapshots (before a checkpoint, at the end)."""
        if not self._snaps:
            return
        times = [t for t, _ in self._snaps]
        states = [st for _, st in self._snaps]
        self._snaps = []
        for t, grids in zip(times, self.stepper.grids_of(states), strict=True):  # type: ignore[attr-defined]
            if grids:
                self.recorders.grid(t, grids)

    def thermal_step(self) -> np.ndarray:
        """Advance the stepper one epoch with the source's power; returns the epoch's block
        temperatures (K; the loop's own array)."""
        source, stepper = self.source, self.stepper
        P = source.power(self._T)
        if not self.iterations:
            stepper.advance(P, self.dt)
            np.copyto(self._T, stepper.block_temperatures())
            return self._T
        saved = stepper.save()
        stepper.advance(P, self.dt)
        T_iter = self._T_iter
        np.copyto(T_iter, self._T)
        for _ in range(self.iterations):
            new_T = stepper.block_temperatures()
            if np.max(np.abs(new_T - T_iter)) < self.tolerance:
                break
            np.copyto(T_iter, new_T)
            P = source.power(T_iter)
            stepper.restore(saved)
            stepper.advance(P, self.dt)
        np.copyto(self._T, stepper.block_temperatures())
        return self._T

    def run(self, progress: ProgressCallback | None = None, every: int = 20) -> int:
        """Run the epochs; returns how many ran."""
        source, rec = self.source, self.recorders
        dt, n = self.dt, self.n_epochs
        snap = self.snapshot_every
        np.copyto(self._T, self.stepper.block_temperatures())
        start = time.perf_counter()
        try:
            k0, r0 = self.k_start, self.record_start
            ck = self.checkpoint_every if self.checkpoint is not None else 0
            for i in range(n):
                if self.stop is not None and self.stop.stop_requested:
                    raise KeyboardInterrupt  # a signal asked to stop: leave at an epoch boundary
                k = k0 + i
                t0 = k * dt
                t1 = (k + 1) * dt
                rec.now = r0 + i * dt  # the recorders' clock
                r1 = r0 + (i + 1) * dt
                self.at_boundary = False
                source.begin(k, t0)
                T = self.thermal_step()
                source.after_thermal(T, t1)
                rec.now = r1
                rec.append(r1, **source.record())
                self.epochs_done = i + 1
                source.account(k, t0)
                if snap and round(r1 / dt) % snap == 0:  # on the recorders' clock
                    self._snapshot(r1)
                done = source.end(k)
                self.at_boundary = True
                if ck and (i + 1) % ck == 0 and i + 1 < n and not done:
                    self.flush_snapshots()
                    self.checkpoint()  # type: ignore[misc]
                if progress is not None and ((i + 1) % every == 0 or i + 1 == n):
                    progress(i + 1, n, r1)
                if done:
                    if progress is not None and (i + 1) % every:
                        progress(i + 1, n, r1)
                    break
        finally:
            self.flush_snapshots()
            self.loop_time_s = time.perf_counter() - start
        return self.epochs_done

    @property
    def epochs_per_s(self) -> float | None:
        """Epochs per second of the loop alone (no set-up)."""
        if not self.loop_time_s:
            return None
        return self.epochs_done / self.loop_time_s
