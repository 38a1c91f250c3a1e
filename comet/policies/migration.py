"""Thread migration policies: ``rotate`` and ``hot-to-cold``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from comet.config import parse_quantity
from comet.policies.base import Control, EpochView, Policy

__all__ = ["HotToCold", "Rotate"]


class Rotate(Policy):
    """Round-robin rotation (thermal-aware scheduling by rotation, e.g. HotSniper's
    ``rotation`` policy): at every call each thread moves ``shift`` cores on (core c -> c +
    shift, cyclic over all cores), idle slots included, so heat is spread over the chip. Call it
    every N ms with ``every = "10ms"``. ``active_only = true`` rotates the threads among the
    cores that hold one only."""

    name: ClassVar[str] = "rotate"
    knob: ClassVar[str] = "placement"

    def __init__(self, shift: int = 1, active_only: bool = False) -> None:
        self.shift = int(shift)
        self.active_only = bool(active_only)

    def step(self, view: EpochView, control: Control) -> None:
        placement = control.thread_of_core.copy()
        if not (placement >= 0).any():
            return
        if self.active_only:
            busy = np.flatnonzero(placement >= 0)
            new = placement.copy()
            new[busy] = np.roll(placement[busy], self.shift)
        else:
            new = np.roll(placement, self.shift)
        if not np.array_equal(new, placement):
            control.set_placement(new)


class HotToCold(Policy):
    """Move the thread of the hottest active core to the coolest free core when the former
    is above ``threshold`` (deg C) and at least ``delta`` K hotter; without a free core, swap
    with the coolest active core under the same conditions. ``max_moves`` migrations per
    call."""

    name: ClassVar[str] = "hot-to-cold"
    knob: ClassVar[str] = "placement"

    def __init__(self, threshold: Any = 70.0, delta: float = 5.0, max_moves: int = 1) -> None:
        self.threshold = parse_quantity(threshold, "temperature")
        self.delta = float(delta)
        self.max_moves = max(1, int(max_moves))

    def step(self, view: EpochView, control: Control) -> None:
        temps = view.core_temperature.copy()
        moved: set[int] = set()
        for _ in range(self.max_moves):
            placement = control.thread_of_core
            busy = [c for c in np.flatnonzero(placement >= 0).tolist() if c not in moved]
            if not busy:
                return
            hot = max(busy, key=lambda c: temps[c])
            if temps[hot] <= self.threshold:
                return
            free = [c for c in np.flatnonzero(placement < 0).tolist() if c not in moved]
            candidates = free or [c for c in busy if c != hot]
            if not candidates:
                return
            cold = min(candidates, key=lambda c: temps[c])
            if temps[hot] - temps[cold] < self.delta:
                return
            if free:
                control.migrate(int(placement[hot]), cold)
            else:
                control.swap(hot, cold)
            moved.update((hot, cold))
