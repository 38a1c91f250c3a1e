"""comet.sim: the closed loop (:mod:`comet.sim.engine`) and the run directory
(:mod:`comet.sim.results`). Names are imported lazily."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Run", "RunWriter", "Simulation", "open_run", "replay"]

_WHERE = {
    "Simulation": "comet.sim.engine",
    "replay": "comet.sim.engine",
    "Run": "comet.sim.results",
    "RunWriter": "comet.sim.results",
    "open_run": "comet.sim.results",
}

if TYPE_CHECKING:  # pragma: no cover
    from comet.sim.engine import Simulation, replay
    from comet.sim.results import Run, RunWriter, open_run


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'comet.sim' has no attribute {name!r}")
