"""Resource limits: what a request would cost, checked before anything is allocated.

A run config or a command line can ask for more than a machine has (``grid = "2147483648x8"``,
``epoch = "1e-30s"``, ``f_step = "1Hz"``). Every such request is estimated from the input alone
and refused above a limit, in one line that gives the figure, the limit and how to raise it.
Each limit is read from an environment variable (so it applies to every verb and to sweeps
alike); the defaults are generous for a workstation:

==============================  ===============  ==================================================
environment variable            default          what it bounds
==============================  ===============  ==================================================
``COMET_MAX_GRID_CELLS``        1048576          thermal grid cells per layer (rows x cols),
                                                 1024 x 1024; 16x HotSpot's largest example grid
``COMET_MAX_EPOCHS``            10000000         epochs of one run (duration / epoch): 10^7
                                                 epochs of 1 ms are 2.8 h of simulated time
``COMET_MAX_OPERATING_POINTS``  10000            DVFS levels (f_max - f_min) / f_step + 1;
                                                 CoMeT's table has 31
``COMET_MAX_SNAPSHOT_BYTES``    4294967296       grid snapshot volume of a run (grid.npz,
                                                 float32): 4 GiB
``COMET_MAX_BLOCKS``            100000           cores or banks of one count (``cores``,
                                                 ``banks = "AxBxC"``): CoMeT's largest is 2048
``COMET_MAX_THREADS``           100000           threads of a workload (jobs x count x threads)
``COMET_MAX_PHASES``            1000000          phases of a profile (phases x repeat)
==============================  ===============  ==================================================
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from comet.errors import InputError

__all__ = [
    "BLOCKS",
    "EPOCHS",
    "GRID_CELLS",
    "LIMITS",
    "OPERATING_POINTS",
    "PHASES",
    "SNAPSHOT_BYTES",
    "THREADS",
    "Limit",
    "check_snapshot_volume",
    "snapshot_bytes",
]


@dataclass(frozen=True)
class Limit:
    """One resource limit: its environment variable, default and unit (for messages)."""

    env: str
    default: int
    unit: str

    @property
    def value(self) -> int:
        """The limit in force: ``$env`` if set (a positive integer), else the default.

        Raises:
            InputError: the environment variable is not a positive integer.
        """
        raw = os.environ.get(self.env)
        if raw is None or not raw.strip():
            return self.default
        try:
            value = int(float(raw))
        except ValueError:
            value = 0
        if value < 1:
            raise InputError(
                f"environment variable {self.env}={raw!r} is not a positive integer",
                hint=f"unset it for the default {self.default}",
            )
        return value

    def check(
        self,
        requested: float,
        what: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
    ) -> None:
        """Refuse ``requested`` (in :attr:`unit`) above the limit.

        Raises:
            InputError: ``what: <requested> <unit> requested, the limit is <limit>
                (raise it with COMET_...=N)``.
        """
        limit = self.value
        try:
            requested = float(requested)
        except OverflowError:  # an integer beyond any float
            requested = math.inf
        if not math.isfinite(requested) or requested > limit:
            figure = (
                f"{requested:.4g}"
                if requested < 1e6 or not math.isfinite(requested)
                else (f"{requested:.3e}")
            )
            raise InputError(
                f"{what}: {figure} {self.unit} requested, above the limit of {limit} {self.unit}",
                path=path,
                line=line,
                hint=f"reduce the request, or raise the limit with the environment variable "
                f"{self.env}=N",
            )


GRID_CELLS = Limit("COMET_MAX_GRID_CELLS", 1024 * 1024, "grid cells per layer")
EPOCHS = Limit("COMET_MAX_EPOCHS", 10_000_000, "epochs")
OPERATING_POINTS = Limit("COMET_MAX_OPERATING_POINTS", 10_000, "operating points")
SNAPSHOT_BYTES = Limit("COMET_MAX_SNAPSHOT_BYTES", 4 * 1024**3, "bytes of grid snapshots")
BLOCKS = Limit("COMET_MAX_BLOCKS", 100_000, "blocks")
THREADS = Limit("COMET_MAX_THREADS", 100_000, "threads")
PHASES = Limit("COMET_MAX_PHASES", 1_000_000, "phases")

LIMITS = (GRID_CELLS, EPOCHS, OPERATING_POINTS, SNAPSHOT_BYTES, BLOCKS, THREADS, PHASES)


def snapshot_bytes(n_snapshots: float, layers: int, rows: int, cols: int) -> float:
    """Bytes of ``grid.npz`` (float32 maps) for that many snapshots of that grid."""
    return float(n_snapshots) * layers * rows * cols * 4.0


def check_snapshot_volume(n_snapshots: float, layers: int, rows: int, cols: int) -> None:
    """Refuse grid snapshots above :data:`SNAPSHOT_BYTES` (the exact figure once the stack,
    hence the layer count, is known; the config checks a one-layer lower bound at load).

    Raises:
        InputError: the volume and the limit, and how to raise it.
    """
    SNAPSHOT_BYTES.check(
        snapshot_bytes(n_snapshots, layers, rows, cols),
        f"sim.snapshot_every: {n_snapshots:.0f} snapshots of {layers} layers of {rows}x{cols}",
    )
