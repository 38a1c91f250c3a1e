"""A power trace as the power source of the epoch loop (``comet replay``, ``comet hotspot``).

Each epoch takes one row of the trace: its columns go to the power blocks ``columns`` names
(indices into the stepper's power vector); the other blocks keep ``fixed`` power (0 W, or the
logic cores' constant power of a CoMeT trace). Temperatures are recorded for the trace's
columns, in deg C (run directories) or K (HotSpot's ``.ttrace``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TraceSource"]

KELVIN = 273.15


class TraceSource:
    """Rows of a power trace, one per epoch.

    Args:
        rows: ``(epochs, columns)`` powers (W).
        columns: power-vector index of each trace column.
        fixed: the power vector's values outside the trace's columns (W).
        celsius: record temperatures in deg C (else K).
    """

    def __init__(
        self, rows: np.ndarray, columns: np.ndarray, fixed: np.ndarray, *, celsius: bool = True
    ) -> None:
        self.rows = np.asarray(rows, dtype=float)
        self.columns = np.asarray(columns, dtype=np.int64)
        self.fixed = np.asarray(fixed, dtype=float)
        self.celsius = celsius
        self.P = self.fixed.copy()
        self.T = np.zeros(self.fixed.size)
        self._row = self.rows[0] if len(self.rows) else np.zeros(0)

    def begin(self, k: int, t0: float) -> None:
        np.copyto(self.P, self.fixed)
        self._row = self.rows[k]
        self.P[self.columns] = self._row

    def power(self, T: np.ndarray) -> np.ndarray:
        return self.P

    def after_thermal(self, T: np.ndarray, t1: float) -> None:
        np.copyto(self.T, T)

    def record(self) -> dict[str, Any]:
        T = self.T[self.columns]
        return {"temperature": T - KELVIN if self.celsius else T, "power": self._row}

    def account(self, k: int, t0: float) -> None:
        pass

    def end(self, k: int) -> bool:
        return False
