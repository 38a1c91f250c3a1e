"""The thermal-stepper protocol: block power in, block temperatures out, one epoch at a time.

The epoch loop sees the thermal side only through this protocol::

    stepper.start(system)                  # build networks / prepare files, once
    stepper.power_names                    # power blocks of every stack, concatenated
    stepper.set_uniform(kelvin)            # initial state (or set_steady(power), restore(...))
    stepper.advance(power_w, dt)           # one epoch of constant block power
    stepper.block_temperatures()           # K per power block, after the last advance
    state = stepper.save(); stepper.restore(state)   # leakage iterations, warm starts
    stepper.steady(power_w)                # steady block temperatures (K), state unchanged
    stepper.grids()                        # layer maps for snapshots (K), or None
    stepper.close()

Back ends: ``builtin`` (:class:`BuiltinStepper`: comet's solver, :mod:`comet.thermal.solver`)
and ``hotspot`` (:class:`comet.thermal.hotspot_stepper.HotSpotStepper`: a HotSpot binary run
once per epoch, as CoMeT does); plugins through :data:`THERMAL_BACKENDS`.

Powers in W, temperatures in K, times in s. A stack of several packages (``ddr``: the
processor and the DRAM package) is one stepper over several networks; the power vector is the
concatenation of the stacks' power blocks in stack order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from comet.errors import InputError
from comet.registry import Registry

if TYPE_CHECKING:
    from comet.floorplan.model import Stack
    from comet.thermal.hotspot_config import ThermalConfig
    from comet.thermal.solver import ThermalModel

__all__ = [
    "THERMAL_BACKENDS",
    "BuiltinStepper",
    "LayerGrids",
    "ThermalStepper",
    "ThermalSystem",
]


@dataclass(frozen=True)
class ThermalSystem:
    """The stacks to simulate and how.

    Attributes:
        stacks: the packages (one network each).
        configs: the HotSpot configuration of each stack.
        solver: built-in solver choice (``auto``, ``dense``, ``sparse``, ``structured``).
        precision: structured transient precision (``mixed`` or ``double``).
        hotspot7_quirks: reproduce HotSpot 7's network quirks.
        work_dir: a directory the back end may write into (the run directory's ``thermal/``
            for a back end that keeps files), or None.
        models: already built networks of the stacks, to reuse (built-in back end).
    """

    stacks: tuple[Stack, ...]
    configs: tuple[ThermalConfig, ...]
    solver: str = "auto"
    precision: str = "double"
    hotspot7_quirks: bool = False
    work_dir: Path | None = None
    models: tuple[ThermalModel, ...] | None = None


@dataclass(frozen=True)
class LayerGrids:
    """Layer maps of one stack (K): ``values`` of shape (layers, rows, cols)."""

    stack: str
    layer_names: tuple[str, ...]
    values: np.ndarray


@runtime_checkable
class ThermalStepper(Protocol):
    """A thermal back end (see the module docstring)."""

    name: str
    #: power-block names of every stack, concatenated (after :meth:`start`)
    power_names: list[str]
    #: ``offsets[s]:offsets[s+1]`` is stack ``s``'s slice of the power vector
    offsets: np.ndarray

    def start(self, system: ThermalSystem) -> None: ...

    def set_uniform(self, kelvin: float | Sequence[float]) -> None:
        """Every node at ``kelvin`` (one value, or one per stack), as HotSpot's init_temp."""
        ...

    def set_steady(self, power: np.ndarray) -> None:
        """The state becomes the steady state of constant ``power`` (W; no leakage)."""
        ...

    def steady(self, power: np.ndarray) -> np.ndarray:
        """Steady block temperatures (K) of constant ``power`` (no leakage); state unchanged."""
        ...

    def advance(self, power: np.ndarray, dt: float) -> None:
        """Advance the state ``dt`` seconds with constant block ``power`` (W)."""
        ...

    def block_temperatures(self) -> np.ndarray:
        """Temperatures (K) of the power blocks now (the stepper's own array: copy to keep)."""
        ...

    def save(self) -> Any:
        """An opaque copy of the state (and time) for :meth:`restore`."""
        ...

    def restore(self, state: Any) -> None: ...

    def grids(self) -> list[LayerGrids] | None:
        """Layer maps of every stack (K), or None when the back end has none."""
        ...

    def close(self) -> None: ...


def per_stack(value: float | Sequence[float], n: int) -> list[float]:
    """One temperature per stack from ``value`` (one for all, or one each)."""
    if isinstance(value, int | float | np.floating):
        return [float(value)] * n
    vals = [float(v) for v in value]
    if len(vals) != n:
        raise ValueError(f"need {n} temperatures, one per stack")
    return vals


class BuiltinStepper:
    """comet's own solver (:class:`~comet.thermal.solver.ThermalModel`) behind the protocol.

    Exact in time for piecewise-constant power (see :mod:`comet.thermal.solver`); the models
    are built once at :meth:`start` (or taken from ``system.models``).
    """

    name = "builtin"

    def __init__(self) -> None:
        self.models: list[ThermalModel] = []
        self.power_names: list[str] = []
        self.offsets = np.zeros(1, dtype=np.int64)
        self._T = np.zeros(0)

    def start(self, system: ThermalSystem) -> None:
        from comet.thermal.solver import ThermalModel

        if system.models is not None:
            self.models = list(system.models)
        else:
            self.models = []
            for stack, tc in zip(system.stacks, system.configs, strict=True):
                try:
                    model = ThermalModel.from_stack(
                        stack,
                        tc,
                        solver=system.solver,
                        precision=system.precision,
                        hotspot7_quirks=system.hotspot7_quirks,
                    )
                except InputError as err:
                    raise InputError(f"thermal: {err.message}", hint=err.hint) from None
                self.models.append(model)
        self.power_names = [n for m in self.models for n in m.power_names]
        self.offsets = np.cumsum([0] + [len(m.power_names) for m in self.models])
        self._T = np.zeros(int(self.offsets[-1]))
        names = [s.name for s in system.stacks]
        self._stack_names = names if len(names) == len(self.models) else [""] * len(self.models)
        self._slices = [
            slice(int(self.offsets[s]), int(self.offsets[s + 1])) for s in range(len(self.models))
        ]

    def set_powered(self, indices: np.ndarray) -> None:
        """Only the power blocks ``indices`` (of :attr:`power_names`) will ever carry power
        (a hint: the reduced-order model then needs their responses alone)."""
        idx = np.asarray(indices, dtype=np.int64)
        for s, m in enumerate(self.models):
            lo, hi = int(self.offsets[s]), int(self.offsets[s + 1])
            mask = np.zeros(hi - lo, dtype=bool)
            mask[idx[(idx >= lo) & (idx < hi)] - lo] = True
            m.set_powered(mask)

    def prepare(self, dt: float, n_epochs: int | None = None) -> None:
        """Build the step of ``dt`` before the loop (:meth:`ThermalModel.prepare`): set-up,
        not the first epoch's cost; ``n_epochs`` lets a short run skip one-off costs."""
        for m in self.models:
            m.prepare(dt, n_epochs)

    def _refresh(self) -> None:
        for sl, m in zip(self._slices, self.models, strict=True):
            self._T[sl] = m.power_block_temperatures()

    def set_uniform(self, kelvin: float | Sequence[float]) -> None:
        for m, t in zip(self.models, per_stack(kelvin, len(self.models)), strict=True):
            m.set_temperature(t)
        self._refresh()

    def set_steady(self, power: np.ndarray) -> None:
        for sl, m in zip(self._slices, self.models, strict=True):
            m.set_temperature(m.steady(power[sl], leakage=False))
        self._refresh()

    def steady(self, power: np.ndarray) -> np.ndarray:
        out = np.empty(int(self.offsets[-1]))
        for sl, m in zip(self._slices, self.models, strict=True):
            out[sl] = m.power_block_temperatures(m.steady(power[sl], leakage=False))
        return out

    def advance(self, power: np.ndarray, dt: float) -> None:
        for sl, m in zip(self._slices, self.models, strict=True):
            m.advance(power[sl], dt)
            self._T[sl] = m.power_block_temperatures()

    def block_temperatures(self) -> np.ndarray:
        return self._T

    def save(self) -> Any:
        return [m.save_state() for m in self.models], self._T.copy()

    def restore(self, state: Any) -> None:
        per_model, T = state
        for m, saved in zip(self.models, per_model, strict=True):
            m.restore_state(saved)
        self._T[:] = T

    def grids(self) -> list[LayerGrids] | None:
        return self.grids_of([None])[0]

    def snapshot_state(self) -> Any:
        """A cheap copy of the state for a grid snapshot made later (:meth:`grids_of`)."""
        return [m.save_state() for m in self.models]

    def grids_of(self, states: Sequence[Any]) -> list[list[LayerGrids] | None]:
        """The layer maps of each saved state (None: the current one), all at once: a
        reduced-order model lifts the whole batch with one product."""
        if any(m.network.grid is None for m in self.models):
            return [None] * len(states)
        per_model = [
            m.grid_temperatures_of([None if st is None else st[k] for st in states])
            for k, m in enumerate(self.models)
        ]
        out: list[list[LayerGrids] | None] = []
        for j in range(len(states)):
            snap = []
            for name, m, maps in zip(self._stack_names, self.models, per_model, strict=True):
                g = maps[j]
                names = list(m.layer_names)[: g.shape[0]]
                names += [f"layer{i}" for i in range(len(names), g.shape[0])]
                snap.append(LayerGrids(name, tuple(names), g))
            out.append(snap)
        return out

    def close(self) -> None:
        pass


#: the registry of thermal back ends (``[thermal] backend = "..."``)
THERMAL_BACKENDS = Registry(
    "thermal back end",
    "thermal.backend",
    "comet.thermal_backends",
    {
        "builtin": BuiltinStepper,
        "hotspot": "comet.thermal.hotspot_stepper:HotSpotStepper",
    },
    (
        "start",
        "set_uniform",
        "set_steady",
        "steady",
        "advance",
        "block_temperatures",
        "save",
        "restore",
        "close",
    ),
)
