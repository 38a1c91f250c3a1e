"""Sweeps: many runs of one study, in parallel (local processes or Dask), resumable.

* :func:`load_sweep` (``comet.sweep.plan``): a sweep file -> the validated runs, with ids;
* :func:`run_sweep` (``comet.sweep.runner``): run them into a sweep directory;
* :func:`load` (``comet.sweep.report``): the sweep directory -> a pandas DataFrame, one row
  per run (varied parameters, status, metrics); :func:`compare` groups it.

>>> plan = load_sweep("examples/policy-study.toml")     # doctest: +SKIP
>>> run_sweep(plan, "sweeps/policy-study", jobs=2)      # doctest: +SKIP
>>> load("sweeps/policy-study").groupby("policies.dvfs")["peak_core_degC"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["compare", "load", "load_sweep", "run_sweep"]

if TYPE_CHECKING:  # pragma: no cover
    from comet.sweep.plan import load_sweep
    from comet.sweep.report import compare, load
    from comet.sweep.runner import run_sweep


def __getattr__(name: str) -> Any:
    if name == "load_sweep":
        from comet.sweep.plan import load_sweep

        return load_sweep
    if name == "run_sweep":
        from comet.sweep.runner import run_sweep

        return run_sweep
    if name in ("load", "compare"):
        from comet.sweep import report

        return getattr(report, name)
    raise AttributeError(f"module 'comet.sweep' has no attribute {name!r}")
