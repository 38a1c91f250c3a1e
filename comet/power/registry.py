"""The registry of core power models (``[power] core = "..."`` in a run config).

Built-ins: ``analytic`` (:class:`comet.power.core.AnalyticCorePower`, ``C_eff V^2 f a``) and
``fitted`` (:class:`comet.power.fitted.FittedCorePower`, per-event coefficients fitted from
McPAT; imported when chosen). Plugins: entry points of group ``comet.power_models`` or
``path/to/file.py:ClassName``; see :mod:`comet.registry`.
"""

from __future__ import annotations

from comet.registry import Registry

__all__ = ["CORE_POWER_MODELS"]

CORE_POWER_MODELS = Registry(
    "core power model",
    "power.core",
    "comet.power_models",
    {
        "analytic": "comet.power.core:AnalyticCorePower",
        "fitted": "comet.power.fitted:FittedCorePower",
    },
    ("start", "dynamic"),
)
