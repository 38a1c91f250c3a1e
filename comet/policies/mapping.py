"""Mapping policies: where the threads of an arriving job start.

Jobs wait in arrival order (FIFO, like CoMeT's open scheduler ``queuePolicy = FIFO``): a job
starts when enough cores are free for all its threads, and no later job overtakes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from comet.policies.base import Control, EpochView, Policy

__all__ = ["CoolestFirst", "FirstUnused", "MappingPolicy", "Spread"]


class MappingPolicy(Policy):
    """Maps waiting jobs in FIFO order; subclasses choose the cores (:meth:`choose`)."""

    knob: ClassVar[str] = "mapping"

    def choose(self, view: EpochView, free: np.ndarray, busy: np.ndarray, n: int) -> list[int]:
        raise NotImplementedError  # pragma: no cover

    def step(self, view: EpochView, control: Control) -> None:
        for job in view.waiting_jobs:
            placement = control.thread_of_core
            free = np.flatnonzero(placement < 0)
            if free.size < job.threads:
                return  # FIFO: later jobs wait too
            busy = np.flatnonzero(placement >= 0)
            control.map(job.id, self.choose(view, free, busy, job.threads))


class FirstUnused(MappingPolicy):
    """CoMeT's ``first_unused`` (``mapFirstUnused.cc``): the first free cores in
    ``preferred_cores`` order, then by index."""

    name: ClassVar[str] = "first-unused"

    def __init__(self, preferred_cores: Sequence[int] = ()) -> None:
        self.preferred = [int(c) for c in preferred_cores]

    def choose(self, view: EpochView, free: np.ndarray, busy: np.ndarray, n: int) -> list[int]:
        order = self.preferred + [c for c in range(view.info.n_cores) if c not in self.preferred]
        free_set = set(free.tolist())
        return [c for c in order if c in free_set][:n]


class CoolestFirst(MappingPolicy):
    """The free cores with the lowest temperature in the last epoch."""

    name: ClassVar[str] = "coolest-first"

    def choose(self, view: EpochView, free: np.ndarray, busy: np.ndarray, n: int) -> list[int]:
        order = free[np.argsort(view.core_temperature[free], kind="stable")]
        return order[:n].tolist()


class Spread(MappingPolicy):
    """Free cores as far as possible from busy ones: greedily the free core whose nearest
    busy (or already chosen) core is farthest, ties to the lower index; the first thread on an
    empty chip takes a corner core."""

    name: ClassVar[str] = "spread"

    def choose(self, view: EpochView, free: np.ndarray, busy: np.ndarray, n: int) -> list[int]:
        dist = view.info.core_distance()
        taken = list(busy.tolist())
        left = list(free.tolist())
        chosen: list[int] = []
        for _ in range(n):
            if taken:
                score = [min(dist[c, t] for t in taken) for c in left]
                pick = left[int(np.argmax(score))]
            else:
                pick = left[0]
            chosen.append(pick)
            taken.append(pick)
            left.remove(pick)
        return chosen
