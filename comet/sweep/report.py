"""A sweep directory -> a pandas table of its runs, grouped comparisons, plots.

:func:`load` reads ``index.json`` (the varied parameters of each run) and each run's directory
(``summary.json``; for a run still running or killed, the statistics computed from its partial
traces by :class:`comet.sim.results.Run`), so it works on a sweep that is running, was
interrupted, or on any directory of run directories. One row per run:

``id, status, <varied keys...>, repeat, seed`` then the metrics (:data:`METRICS`), ``error``.

:func:`compare` groups the complete runs by keys and gives per metric ``n``, ``mean``,
``std`` (sample, ddof 1) and a Student-t confidence interval of the mean over the group's runs
(repeats with different seeds): ``mean +- t_{(1+c)/2, n-1} std / sqrt(n)``.

matplotlib is imported inside the plotting functions only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from comet.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "ReportResult",
    "compare",
    "format_comparison",
    "load",
    "metric_figure",
    "run_metrics",
    "write_report",
]

#: metric column -> what it is (units in the name)
METRICS: dict[str, str] = {
    "peak_core_degC": "peak temperature over the cores (C_*)",
    "mean_core_degC": "time-mean temperature averaged over the cores",
    "peak_dram_degC": "peak temperature over the DRAM banks (B_*)",
    "mean_dram_degC": "time-mean temperature averaged over the banks",
    "energy_J": "total energy (cores + banks + logic)",
    "energy_cores_J": "energy of the cores",
    "energy_banks_J": "energy of the DRAM banks",
    "instructions": "instructions executed",
    "makespan_s": "first arrival to last completion (all jobs done)",
    "mean_response_s": "mean response time of the completed jobs",
    "jobs_completed": "jobs completed",
    "core_time_above_<thr>C_s": "time the hottest core spends above each threshold",
    "time_above_<thr>C_s": "time the hottest unit (banks too) spends above each threshold",
    "dtm_count": "DTM engagements (dtm events that switch it on)",
    "migrations": "thread migrations",
    "duration_s": "simulated time",
    "wall_time_s": "wall-clock time of the run",
}
#: metrics of the printed comparison (time_above_* columns are added per threshold)
DEFAULT_METRICS = (
    "peak_core_degC",
    "mean_core_degC",
    "peak_dram_degC",
    "energy_J",
    "instructions",
    "makespan_s",
    "mean_response_s",
    "dtm_count",
    "migrations",
)


# =============================================================================================
# one run


def _is_core(unit: str) -> bool:
    return unit.upper().startswith("C_")


def _is_bank(unit: str) -> bool:
    return unit.upper().startswith("B_")


def _agg(values: Mapping[str, Any], keep: Any, how: str) -> float:
    vals = [float(v) for k, v in values.items() if keep(k) and v is not None]
    if not vals:
        return math.nan
    return max(vals) if how == "max" else float(np.mean(vals))


def _num(x: Any) -> float:
    try:
        return math.nan if x is None else float(x)
    except (TypeError, ValueError):
        return math.nan


def run_metrics(summary: Mapping[str, Any], events: pd.DataFrame | None = None) -> dict[str, Any]:
    """The metric columns of one run from its summary (and events, for the counts)."""
    peak = summary.get("peak_degC") or {}
    mean = summary.get("mean_degC") or {}
    energy = summary.get("energy_J") or {}
    raw_jobs = summary.get("jobs")
    jobs: Mapping[str, Any] = raw_jobs if isinstance(raw_jobs, Mapping) else {}
    out: dict[str, Any] = {
        "peak_core_degC": _agg(peak, _is_core, "max"),
        "mean_core_degC": _agg(mean, _is_core, "mean"),
        "peak_dram_degC": _agg(peak, _is_bank, "max"),
        "mean_dram_degC": _agg(mean, _is_bank, "mean"),
    }
    for thr, t in (summary.get("time_above_s") or {}).items():
        out[f"time_above_{thr}C_s"] = _num(t)
    total = energy.get("total")
    if total is None and energy:
        total = sum(float(v) for v in energy.values() if v is not None)
    out.update(
        energy_J=_num(total),
        energy_cores_J=_num(energy.get("cores")),
        energy_banks_J=_num(energy.get("banks")),
        instructions=_num(summary.get("instructions")),
        makespan_s=_num(summary.get("makespan_s")),
        mean_response_s=_num(jobs.get("mean_response_s")),
        jobs_completed=_num(jobs.get("completed")),
    )
    if events is not None:
        kinds = events["kind"].astype(str) if "kind" in events.columns else pd.Series([], dtype=str)
        values = events["value"].astype(str) if "value" in events.columns else kinds
        dtm_on = (kinds == "dtm") & ~values.isin(["0", "0.0", ""])
        out["dtm_count"] = int(dtm_on.sum())
        out["migrations"] = int((kinds == "migration").sum())
    else:
        out["dtm_count"] = math.nan
        out["migrations"] = math.nan
    out["duration_s"] = _num(summary.get("duration_s"))
    out["wall_time_s"] = _num(summary.get("wall_time_s"))
    return out


def core_time_above(temperature: pd.DataFrame, thresholds: Sequence[float]) -> dict[str, float]:
    """``core_time_above_<thr>C_s``: time (s) the hottest core (C_*) spends above each
    threshold (deg C); each trace row covers the epoch that ends at its time (the first from
    t = 0). The summary's ``time_above_s`` counts the hottest unit of any kind (banks too)."""
    cores = [c for c in temperature.columns if _is_core(str(c))]
    out: dict[str, float] = {}
    if not cores or temperature.empty:
        return out
    t = temperature.index.to_numpy(dtype=float)
    dt = np.diff(np.concatenate(([0.0], t)))
    hottest = temperature[cores].to_numpy(dtype=float).max(axis=1)
    for thr in thresholds:
        out[f"core_time_above_{thr:g}C_s"] = float(dt[hottest > thr].sum())
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _run_row(path: Path, events: bool) -> dict[str, Any]:
    """status, metrics and error of one run directory (absent -> pending)."""
    from comet.sim.results import Run

    if (path / "temperature.csv").exists():
        try:
            run = Run(path)
            summary = dict(run.summary)
            status: str = run.status
            if status == "unknown":
                status = "incomplete"  # killed, or never closed
            ev = run.events.reset_index() if events else None
            extra = core_time_above(run.temperature, run.thresholds_degC)
        except (InputError, ValueError, KeyError) as err:
            return {"status": "unreadable", "error": str(err)}
    elif (path / "summary.json").exists():
        summary = _read_json(path / "summary.json")
        status = str(summary.get("status", "unknown"))
        ev, extra = None, {}
    else:
        return {"status": "pending"}
    row = {"status": status, **run_metrics(summary, ev), **extra}
    error = summary.get("error")
    row["error"] = str(error).splitlines()[0] if error else None
    return row


# =============================================================================================
# the sweep


def _cell(value: Any) -> Any:
    """A parameter value as a table cell (tables and lists as compact JSON)."""
    if isinstance(value, dict | list):
        if isinstance(value, dict) and list(value) == ["name"]:
            return value["name"]
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def _cells(values: Sequence[Any]) -> Any:
    """The cell maker of one varied column: policy tables (``{name = "ondemand", ...}``) are
    shown by their name when the names tell the values apart, else as compact JSON."""
    distinct = {json.dumps(v, sort_keys=True, default=str): v for v in values}
    names = {
        key: (v["name"] if isinstance(v, dict) and "name" in v else v)
        for key, v in distinct.items()
    }
    readable = all(isinstance(n, str | int | float | None) for n in names.values())
    if readable and len(set(map(str, names.values()))) == len(names):
        return lambda v: names[json.dumps(v, sort_keys=True, default=str)]
    return _cell


def load(path: str | os.PathLike[str], *, events: bool = True) -> pd.DataFrame:
    """One row per run of the sweep directory ``path`` (see the module docstring).

    Without an ``index.json``, every sub-directory (and ``runs/*``) holding a run is a row,
    with the parameters stored in its summary's ``sweep`` entry when there is one.

    Args:
        path: sweep directory.
        events: read events.csv of each run for the DTM and migration counts.

    Raises:
        InputError: not a directory, or no runs in it.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError("no such sweep directory", path=root, hint="give the -o of comet sweep")
    index = _read_json(root / "index.json")
    entries: list[dict[str, Any]] = []
    varied: list[str] = list(index.get("varied") or [])
    if index.get("runs"):
        entries = [e for e in index["runs"] if isinstance(e, dict) and "dir" in e]
    else:
        dirs = sorted(
            {
                p.parent
                for pattern in ("*/summary.json", "*/temperature.csv", "runs/*/summary.json")
                for p in root.glob(pattern)
            }
        )
        for d in dirs:
            s = _read_json(d / "summary.json").get("sweep") or {}
            params = dict(s.get("params") or {})
            for k in params:
                if k not in varied:
                    varied.append(k)
            entries.append(
                {
                    "id": d.name,
                    "dir": str(d.relative_to(root)),
                    "params": params,
                    "repeat": s.get("repeat"),
                    "seed": s.get("seed"),
                }
            )
    if not entries:
        raise InputError(
            "no runs in this directory", path=root, hint="give the directory comet sweep wrote"
        )
    cells = {k: _cells([(e.get("params") or {}).get(k) for e in entries]) for k in varied}
    rows = []
    for e in entries:
        row: dict[str, Any] = {"id": e.get("id")}
        params = e.get("params") or {}
        for k in varied:
            row[k] = cells[k](params.get(k))
        row["repeat"] = e.get("repeat")
        row["seed"] = e.get("seed")
        info = _run_row(root / e["dir"], events)
        row["status"] = info.pop("status")
        row.update(info)
        row["path"] = str(root / e["dir"])
        rows.append(row)
    df = pd.DataFrame(rows)
    metrics = [c for c in df.columns if c in METRICS or _is_time_above(c)]
    front = list(dict.fromkeys(["id", "status", *varied, "repeat", "seed"]))
    thresholds = sorted(
        (c for c in metrics if _is_time_above(c)),
        key=lambda c: (c.startswith("core_"), float(c.split("above_")[1][: -len("C_s")])),
    )
    ordered = [c for c in METRICS if c in df.columns]
    ordered[4:4] = thresholds
    rest = [c for c in ("error", "path") if c in df.columns]
    df = df[[c for c in front if c in df.columns] + ordered + rest]
    if df["repeat"].isna().all():
        df = df.drop(columns=["repeat"])
    df.attrs["varied"] = varied
    df.attrs["path"] = str(root)
    return df


def _is_time_above(column: str) -> bool:
    return column.startswith(("time_above_", "core_time_above_")) and column.endswith("C_s")


def default_metrics(df: pd.DataFrame) -> list[str]:
    """The metrics of the printed comparison that the table has values for."""
    above = [c for c in df.columns if _is_time_above(c)]
    if any(c.startswith("core_") for c in above):  # the hottest core's, not any unit's
        above = [c for c in above if c.startswith("core_")]
    names = list(DEFAULT_METRICS[:3]) + above
    names += list(DEFAULT_METRICS[3:])
    return [m for m in names if m in df.columns and df[m].notna().any()]


def compare(
    df: pd.DataFrame,
    by: Sequence[str],
    metrics: Sequence[str] | None = None,
    *,
    confidence: float = 0.95,
    statuses: Sequence[str] = ("complete",),
) -> pd.DataFrame:
    """Per group of ``by``: ``runs`` and per metric ``mean``, ``std``, ``ci_low``, ``ci_high``
    (Student-t interval of the mean at ``confidence``; NaN for a group of one run), ``n``.

    Columns are a MultiIndex ``(metric, stat)``; the groups keep the sweep's order.

    Raises:
        InputError: a ``by`` key or metric that is not a column.
    """
    from scipy import stats as st

    by = list(by)
    for k in by:
        if k not in df.columns:
            raise InputError(
                f"--by {k}: not a column of the table",
                hint="columns: " + ", ".join(df.attrs.get("varied") or df.columns[:8]),
            )
    metrics = list(metrics) if metrics else default_metrics(df)
    for m in metrics:
        if m not in df.columns:
            known = [c for c in df.columns if c in METRICS or _is_time_above(c)]
            raise InputError(f"--metric {m}: not a metric", hint="metrics: " + ", ".join(known))
    sub = df[df["status"].isin(list(statuses))]
    rows: dict[Any, dict[tuple[str, str], float]] = {}
    for key, group in sub.groupby(by, sort=False, dropna=False):
        out: dict[tuple[str, str], float] = {("runs", ""): float(len(group))}
        for m in metrics:
            x = pd.to_numeric(group[m], errors="coerce").dropna().to_numpy(dtype=float)
            n = x.size
            mean = float(x.mean()) if n else math.nan
            std = float(x.std(ddof=1)) if n > 1 else math.nan
            if n > 1:
                half = float(st.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
            else:
                half = math.nan
            out.update(
                {
                    (m, "mean"): mean,
                    (m, "std"): std,
                    (m, "ci_low"): mean - half,
                    (m, "ci_high"): mean + half,
                    (m, "n"): float(n),
                }
            )
        rows[key] = out
    table = pd.DataFrame.from_dict(rows, orient="index")
    if len(by) > 1:
        table.index = pd.MultiIndex.from_tuples(list(table.index), names=by)
    else:
        table.index = pd.Index(
            [k[0] if isinstance(k, tuple) else k for k in table.index], name=by[0]
        )
    table.columns = pd.MultiIndex.from_tuples(
        [tuple(c) for c in table.columns], names=["metric", "stat"]
    )
    table.attrs["confidence"] = confidence
    return table


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.4g}" if abs(x) < 100 else f"{x:.1f}"


def format_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`compare` table as strings ``mean ± half-width`` (one column per metric)."""
    out = pd.DataFrame(index=table.index)
    out["runs"] = table[("runs", "")].astype(int)
    metrics = [m for m in table.columns.get_level_values(0).unique() if m != "runs"]
    for m in metrics:
        mean = table[(m, "mean")]
        half = (table[(m, "ci_high")] - table[(m, "ci_low")]) / 2
        n = table[(m, "n")]
        out[m] = [
            (_fmt(a) if not math.isfinite(h) else f"{_fmt(a)} ± {_fmt(h)}")
            + (f" (n={k:.0f})" if k < r else "")
            for a, h, k, r in zip(mean, half, n, out["runs"], strict=True)
        ]
    return out


# =============================================================================================
# plots


def metric_figure(
    df: pd.DataFrame,
    x: str,
    metric: str,
    *,
    hue: Sequence[str] = (),
    confidence: float = 0.95,
) -> Figure:
    """``metric`` vs parameter ``x``: every complete run as a dot, each group's mean with its
    confidence interval as an error bar; one series per value of the ``hue`` keys."""
    from matplotlib.figure import Figure

    sub = df[df["status"] == "complete"]
    fig = Figure(figsize=(6.0, 4.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    xs = list(dict.fromkeys(sub[x].tolist()))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in xs)
    pos = {v: (float(v) if numeric else float(i)) for i, v in enumerate(xs)}
    series = [((), sub)] if not hue else list(sub.groupby(list(hue), sort=False))
    width = 0.6 if not numeric else 0.0
    for j, (key, group) in enumerate(series):
        shift = (j - (len(series) - 1) / 2) * (width / max(len(series), 1)) if series else 0.0
        label = ", ".join(
            f"{h}={k}" for h, k in zip(hue, key if isinstance(key, tuple) else (key,), strict=False)
        )
        table = compare(group, [x], [metric], confidence=confidence)
        gx = np.array([pos[v] + shift for v in table.index])
        mean = table[(metric, "mean")].to_numpy()
        lo = table[(metric, "ci_low")].to_numpy()
        hi = table[(metric, "ci_high")].to_numpy()
        err = np.vstack([np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)])
        bar = ax.errorbar(
            gx, mean, yerr=err, fmt="o-" if numeric else "o", capsize=4, ms=7, label=label or None
        )
        colour = bar[0].get_color()
        rng = np.random.default_rng(0)  # fixed jitter: the same picture every time
        px = np.array([pos[v] + shift for v in group[x]], dtype=float)
        if not numeric:
            px = px + rng.uniform(-0.08, 0.08, px.size) * (width / max(len(series), 1) + 0.3)
        ax.scatter(
            px, pd.to_numeric(group[metric], errors="coerce"), s=12, alpha=0.45, color=colour
        )
    if not numeric:
        ax.set_xticks([pos[v] for v in xs], [str(v) for v in xs])
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} (mean and {confidence:.0%} CI over runs)", fontsize=10)
    ax.grid(alpha=0.3)
    if hue:
        ax.legend(fontsize=8)
    return fig


@dataclass
class ReportResult:
    """What :func:`write_report` wrote."""

    table: pd.DataFrame
    comparison: pd.DataFrame | None
    files: list[Path] = field(default_factory=list)


def write_report(
    path: str | os.PathLike[str],
    *,
    by: Sequence[str] = (),
    metrics: Sequence[str] = (),
    out_dir: str | os.PathLike[str] | None = None,
    confidence: float = 0.95,
    plots: bool = True,
) -> ReportResult:
    """Write ``runs.csv``, ``comparison.csv`` and one plot per metric (``<metric>.png``) of
    the sweep directory ``path`` into ``out_dir`` (default ``<path>/report``).

    ``by`` defaults to the varied keys of the sweep (the first one on the plots' x axis, the
    others as series).
    """
    from comet.sim.results import write_atomic

    df = load(path)
    varied = list(df.attrs.get("varied") or [])
    by = list(by) or [k for k in varied if k != "seed" and df[k].nunique(dropna=False) > 1]
    out = Path(out_dir) if out_dir is not None else Path(path) / "report"
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "runs.csv"]
    write_atomic(files[0], df.to_csv(index=False))
    comparison = None
    if by:
        comparison = compare(df, by, metrics or None, confidence=confidence)
        flat = comparison.copy()
        flat.columns = [f"{c[0]}_{c[1]}" if c[1] else str(c[0]) for c in flat.columns]
        files.append(out / "comparison.csv")
        write_atomic(files[-1], flat.to_csv())
        if plots and (df["status"] == "complete").any():
            for m in [c for c in comparison.columns.get_level_values(0).unique() if c != "runs"]:
                fig = metric_figure(df, by[0], m, hue=by[1:], confidence=confidence)
                p = out / f"{m}.png"
                fig.savefig(p, dpi=110)
                files.append(p)
    return ReportResult(df, comparison, files)
