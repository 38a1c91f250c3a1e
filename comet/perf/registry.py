"""The registry of performance models (``[perf] model = "..."`` in a run config).

Built-ins: ``interval`` (:class:`comet.perf.interval.IntervalPerformance`) and ``sniper``
(:class:`comet.perf.sniper.SniperPerformance`, imported when chosen). Plugins: entry points of
group ``comet.perf_models`` or ``path/to/file.py:ClassName``; see :mod:`comet.registry`.
"""

from __future__ import annotations

from comet.registry import Registry

__all__ = ["PERF_MODELS"]

PERF_MODELS = Registry(
    "performance model",
    "perf.model",
    "comet.perf_models",
    {
        "interval": "comet.perf.interval:IntervalPerformance",
        "sniper": "comet.perf.sniper:SniperPerformance",
    },
    ("start", "admit", "step", "close"),
)
