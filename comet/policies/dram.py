"""DRAM policies: ``lowpower`` (CoMeT's memory DTM)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from comet.config import parse_quantity
from comet.policies.base import Control, EpochView, Policy

__all__ = ["LowPower"]


class LowPower(Policy):
    """Per-bank low-power mode with hysteresis (CoMeT's ``dramLowpower.cc``, thresholds from
    ``scheduler/open/dram/dtm`` in base.cfg): a bank above ``critical`` (68 C) goes to
    low-power mode, and back to normal below ``recovered`` (65 C)."""

    name: ClassVar[str] = "lowpower"
    knob: ClassVar[str] = "bank_mode"

    def __init__(self, critical: Any = 68.0, recovered: Any = 65.0) -> None:
        self.critical = parse_quantity(critical, "temperature")
        self.recovered = parse_quantity(recovered, "temperature")
        if self.recovered > self.critical:
            raise ValueError("recovered must not exceed critical")

    def step(self, view: EpochView, control: Control) -> None:
        t = view.bank_temperature
        mode = view.bank_mode
        new = np.where(mode == 1, t >= self.recovered, t > self.critical)
        control.set_bank_modes(new)
