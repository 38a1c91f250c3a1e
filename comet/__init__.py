"""comet: integrated core-and-memory thermal simulation of 2D, 2.5D and 3D processors.

The heavy parts are imported lazily so that ``import comet`` stays fast and never pulls in
matplotlib or Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["InputError", "Simulation", "ThermalModel", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from comet.errors import InputError
    from comet.sim.engine import Simulation
    from comet.thermal.solver import ThermalModel


def __getattr__(name: str) -> Any:
    if name == "InputError":
        from comet.errors import InputError

        return InputError
    if name == "ThermalModel":
        from comet.thermal.solver import ThermalModel

        return ThermalModel
    if name == "Simulation":
        from comet.sim.engine import Simulation

        return Simulation
    raise AttributeError(f"module 'comet' has no attribute {name!r}")
