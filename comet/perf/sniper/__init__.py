"""Sniper as comet's performance back end (``[perf] model = "sniper"``).

- :mod:`~comet.perf.sniper.bridge`: :class:`SniperPerformance` (the orchestrator side);
- :mod:`~comet.perf.sniper.sniper_side`: the script Sniper runs (shipped as package data);
- :mod:`~comet.perf.sniper.wire`: the record format and counter mapping;
- :mod:`~comet.perf.sniper.standin`: a stand-in simulator speaking the protocol (for CI);
- :mod:`~comet.perf.sniper.find`: finding ``run-sniper``.
"""

from comet.perf.sniper.bridge import SniperError, SniperPerformance, sniper_side_script
from comet.perf.sniper.find import find_run_sniper

__all__ = ["SniperError", "SniperPerformance", "find_run_sniper", "sniper_side_script"]
