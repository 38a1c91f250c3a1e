"""An example comet policy plugin: linear frequency derating with temperature.

Use it from a run config (paths are relative to the config file)::

    [policies]
    plugins = [{ name = "plugins/my_policy.py:LinearDerating", start = 70, stop = 85 }]

or on the command line::

    comet run cfg.toml --policy examples/plugins/my_policy.py:LinearDerating

To ship it in a package instead, declare an entry point::

    [project.entry-points."comet.policies"]
    linear-derating = "my_package.my_policy:LinearDerating"

A policy is any class with ``step(view, control)``; ``setup(info)`` is optional. Constructor
keywords come from the config table. ``view`` is read-only (the epoch that just ended),
``control`` changes the system; see ``comet.policies.base``.
"""

from __future__ import annotations

import numpy as np

from comet.policies.base import Control, EpochView, Policy, SystemInfo


class LinearDerating(Policy):
    """Cap each core's frequency linearly from f_max at ``start`` (deg C) down to f_min at
    ``stop`` (deg C); caps compose with the governor (e.g. ondemand) by taking the minimum."""

    name = "linear-derating"
    knob = "frequency"

    def __init__(self, start: float = 70.0, stop: float = 85.0) -> None:
        if stop <= start:
            raise ValueError("stop must be above start")
        self.start, self.stop = float(start), float(stop)

    def setup(self, info: SystemInfo) -> None:
        self.f_min, self.f_max = info.f_min, info.f_max

    def step(self, view: EpochView, control: Control) -> None:
        x = np.clip((view.core_temperature - self.start) / (self.stop - self.start), 0.0, 1.0)
        caps = self.f_max - x * (self.f_max - self.f_min)
        control.limit_frequencies(np.where(x > 0, caps, np.inf))
        hot = int(np.argmax(view.core_temperature))
        if x[hot] >= 1.0:
            control.event("derating", view.info.core_names[hot], "f_min", "at the stop temperature")
