"""Time-series plots of a run, and :func:`plot_run` which writes every plot of ``comet plot``.

Every function returns a matplotlib :class:`~matplotlib.figure.Figure` (not attached to pyplot,
so notebooks display it and scripts save it); matplotlib is imported inside the functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from comet.errors import InputError
from comet.fileio import atomic_path, ensure_dir
from comet.sim.results import Run, RunLayer, list_units
from comet.viz.layout import format_time, peak_index

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
THRESHOLD_STYLE: dict[str, Any] = {"color": "#c0392b", "ls": "--", "lw": 0.9, "alpha": 0.8}


def _figure(figsize: tuple[float, float], dpi: float = 100.0) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi, layout="constrained")


def _time_axis(run: Run) -> tuple[np.ndarray, str, float]:
    """Times in the unit that reads best (ms below one second), its label and its scale."""
    t = run.times
    scale = 1e3 if t.size and t[-1] < 1.0 else 1.0
    return t * scale, "time (ms)" if scale == 1e3 else "time (s)", scale


def _colours(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _thresholds(ax: Axes, run: Run, ymax: float | None = None) -> None:
    for thr in run.thresholds_degC:
        if ymax is None or thr <= ymax + 15:
            ax.axhline(thr, **THRESHOLD_STYLE)
            ax.annotate(
                f"{thr:g} °C",
                (1.0, thr),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 2),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=7,
                color=THRESHOLD_STYLE["color"],
            )


def _legend(ax: Axes, n: int) -> None:
    if n == 0:
        return
    if n <= 8:
        ax.legend(fontsize=7, loc="best", frameon=False)
    else:
        ax.legend(
            fontsize=6,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            ncol=1 + n // 20,
        )


def core_units(run: Run) -> list[str]:
    """Units on core or logic layers with a temperature trace; the units of the first traced
    layer when no layer is a core layer (e.g. a HotSpot ev6 run)."""
    cols = set(run.temperature.columns)
    units = [
        b.name
        for la in run.layers
        if la.kind in ("core", "logic")
        for b in la.blocks
        if b.name in cols
    ]
    if not units:
        traced = [la for la in run.layers if any(b.name in cols for b in la.blocks)]
        units = [b.name for b in traced[0].blocks if b.name in cols] if traced else []
    if not units:
        units = list(run.temperature.columns)
    return units


def _layers_with(run: Run, frame: pd.DataFrame) -> list[tuple[RunLayer, list[str]]]:
    cols = set(frame.columns)
    out = []
    for la in run.layers:
        units = [b.name for b in la.blocks if b.name in cols]
        if units:
            out.append((la, units))
    return out


def core_temperature_figure(run: Run, units: Sequence[str] | None = None) -> Figure:
    """Temperature (deg C) over time of each core (or of ``units``), thresholds dashed."""
    units = list(units) if units is not None else core_units(run)
    missing = [u for u in units if u not in run.temperature.columns]
    if missing:
        raise InputError(f"no temperature trace for {', '.join(missing)}", path=run.path)
    t, xlabel, _ = _time_axis(run)
    fig = _figure((8.0, 4.0))
    ax = fig.add_subplot()
    for u, c in zip(units, _colours(len(units)), strict=True):
        ax.plot(t, run.temperature[u].to_numpy(), lw=1.1, color=c, label=u)
    ymax = float(np.nanmax(run.temperature[units].to_numpy())) if units else None
    _thresholds(ax, run, ymax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("temperature (°C)")
    ax.set_title(f"{run.name}: core temperatures", fontsize=10)
    ax.grid(alpha=0.3)
    _legend(ax, len(units))
    return fig


def layer_temperature_figure(run: Run) -> Figure:
    """Max (solid) and mean (dashed) temperature of the units of each layer over time."""
    t, xlabel, _ = _time_axis(run)
    fig = _figure((8.0, 4.0))
    ax = fig.add_subplot()
    layers = _layers_with(run, run.temperature)
    colours = _colours(len(layers))
    hottest = -np.inf
    for (la, units), c in zip(layers, colours, strict=True):
        block = run.temperature[units].to_numpy(dtype=float)
        mx = np.nanmax(block, axis=1)
        hottest = max(hottest, float(np.nanmax(mx)))
        ax.plot(t, mx, color=c, lw=1.3, label=f"{la.name} max")
        ax.plot(t, np.nanmean(block, axis=1), color=c, lw=1.0, ls=":", label=f"{la.name} mean")
    _thresholds(ax, run, hottest if np.isfinite(hottest) else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("temperature (°C)")
    ax.set_title(f"{run.name}: temperature per layer (max, mean)", fontsize=10)
    ax.grid(alpha=0.3)
    _legend(ax, 2 * len(layers))
    return fig


def power_figure(run: Run) -> Figure:
    """Total power per layer (top) and power of each core (bottom) over time (W)."""
    if run.power.empty:
        raise InputError("the run has no power trace (power.csv)", path=run.path)
    t, xlabel, _ = _time_axis(run)
    tp = run.power.index.to_numpy(dtype=float) * (1e3 if "ms" in xlabel else 1.0)
    fig = _figure((8.0, 5.5))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    layers = _layers_with(run, run.power)
    for (la, units), c in zip(layers, _colours(len(layers)), strict=True):
        ax1.plot(tp, run.power[units].sum(axis=1).to_numpy(), color=c, label=la.name)
    if not layers:
        ax1.plot(tp, run.power.sum(axis=1).to_numpy(), color="k", label="all units")
    ax1.set_ylabel("power per layer (W)")
    ax1.set_title(f"{run.name}: power", fontsize=10)
    ax1.grid(alpha=0.3)
    _legend(ax1, max(len(layers), 1))
    cores = [u for u in core_units(run) if u in run.power.columns]
    for u, c in zip(cores, _colours(len(cores)), strict=True):
        ax2.plot(tp, run.power[u].to_numpy(), color=c, lw=1.0, label=u)
    ax2.set_ylabel("core power (W)")
    ax2.set_xlabel(xlabel)
    ax2.grid(alpha=0.3)
    _legend(ax2, len(cores))
    return fig


def frequency_figure(run: Run) -> Figure:
    """Frequency of each core over time (GHz), as steps."""
    if run.frequency.empty:
        raise InputError("the run has no frequency trace (frequency.csv)", path=run.path)
    scale = 1e3 if run.times.size and run.times[-1] < 1.0 else 1.0
    tf = run.frequency.index.to_numpy(dtype=float) * scale
    fig = _figure((8.0, 3.5))
    ax = fig.add_subplot()
    cols = list(run.frequency.columns)
    for k, (u, c) in enumerate(zip(cols, _colours(len(cols)), strict=True)):
        # a small offset per core keeps equal steps apart
        f = run.frequency[u].to_numpy() + (k - len(cols) / 2) * 0.004
        ax.step(tf, f, where="pre", color=c, lw=1.1, label=u)
    ax.set_xlabel("time (ms)" if scale == 1e3 else "time (s)")
    ax.set_ylabel("frequency (GHz)")
    ax.set_title(f"{run.name}: core frequencies", fontsize=10)
    ax.grid(alpha=0.3)
    _legend(ax, len(cols))
    return fig


def bank_mode_figure(run: Run) -> Figure:
    """Bank power modes over time: one row per bank, dark = low-power mode."""
    if run.bank_mode.empty:
        raise InputError("the run has no bank mode trace (bank_mode.csv)", path=run.path)
    from matplotlib.colors import ListedColormap

    banks = list_units(run.bank_mode.columns)
    tb = run.bank_mode.index.to_numpy(dtype=float)
    scale = 1e3 if tb.size and tb[-1] < 1.0 else 1.0
    data = run.bank_mode[banks].to_numpy(dtype=float).T
    fig = _figure((8.0, 1.2 + 0.12 * len(banks)))
    ax = fig.add_subplot()
    t0 = (tb[0] - (tb[1] - tb[0] if tb.size > 1 else tb[0])) * scale if tb.size else 0.0
    ax.imshow(
        data,
        aspect="auto",
        interpolation="nearest",
        cmap=ListedColormap(["#deebf7", "#08519c"]),
        vmin=0,
        vmax=1,
        extent=(t0, tb[-1] * scale if tb.size else 1.0, len(banks) - 0.5, -0.5),
    )
    step = max(1, len(banks) // 32)
    ax.set_yticks(range(0, len(banks), step), banks[::step], fontsize=6)
    ax.set_xlabel("time (ms)" if scale == 1e3 else "time (s)")
    ax.set_title(f"{run.name}: bank modes (dark = low-power)", fontsize=10)
    return fig


def overview_figure(run: Run) -> Figure:
    """One page: core temperatures, layer maxima, power and frequency on a shared time axis,
    events marked."""
    t, xlabel, scale = _time_axis(run)
    panels = ["cores", "layers"]
    if not run.power.empty:
        panels.append("power")
    if not run.frequency.empty:
        panels.append("frequency")
    fig = _figure((9.0, 2.2 * len(panels) + 0.6))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    cores = core_units(run)
    for ax, what in zip(axes, panels, strict=True):
        if what == "cores":
            for u, c in zip(cores, _colours(len(cores)), strict=True):
                ax.plot(t, run.temperature[u].to_numpy(), color=c, lw=1.0, label=u)
            _thresholds(ax, run, float(np.nanmax(run.temperature[cores].to_numpy())))
            ax.set_ylabel("core T (°C)")
            _legend(ax, len(cores))
        elif what == "layers":
            layers = _layers_with(run, run.temperature)
            for (la, units), c in zip(layers, _colours(len(layers)), strict=True):
                mx = run.temperature[units].max(axis=1).to_numpy()
                ax.plot(t, mx, color=c, lw=1.2, label=f"{la.name} max")
            _thresholds(ax, run, float(np.nanmax(run.temperature.to_numpy())))
            ax.set_ylabel("layer max (°C)")
            _legend(ax, len(layers))
        elif what == "power":
            tp = run.power.index.to_numpy(dtype=float) * scale
            layers = _layers_with(run, run.power)
            for (la, units), c in zip(layers, _colours(len(layers)), strict=True):
                ax.plot(tp, run.power[units].sum(axis=1).to_numpy(), color=c, label=la.name)
            ax.set_ylabel("power (W)")
            _legend(ax, len(layers))
        else:
            tf = run.frequency.index.to_numpy(dtype=float) * scale
            cols = list(run.frequency.columns)
            for u, c in zip(cols, _colours(len(cols)), strict=True):
                ax.step(tf, run.frequency[u].to_numpy(), where="pre", color=c, lw=1.0, label=u)
            ax.set_ylabel("f (GHz)")
        ax.grid(alpha=0.3)
    ev = run.events
    if not ev.empty:
        for te in ev.index.to_numpy(dtype=float) * scale:
            for ax in axes:
                ax.axvline(te, color="#7f8c8d", lw=0.6, alpha=0.5)
    axes[-1].set_xlabel(xlabel)
    status = run.status
    fig.suptitle(
        f"{run.name} ({status}): {len(run.times)} epochs, {format_time(run.times[-1])}"
        if run.times.size
        else run.name,
        fontsize=10,
    )
    return fig


def _save(fig: Figure, path: Path, dpi: float | str = 120.0) -> Path:
    """Save atomically: a full disk or a failed draw leaves no 0-byte or partial file."""
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."))
    return path


def plot_run(
    run: Run | str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    fmt: str = "png",
    times: Sequence[float] = (),
    mode: str = "auto",
) -> list[Path]:
    """Write every plot of a run to ``out_dir`` (default ``RUN/plots``) and return the paths.

    Plots: overview, core temperatures, layer temperatures, power, frequency, bank modes (when
    traced), heatmaps of every layer at the peak instant and at each of ``times`` (s), and the
    floorplans. ``fmt`` is ``png``, ``svg`` or ``pdf``.
    """
    from comet.viz.heatmap import HeatmapPanels, floorplan_figure

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint="use png, svg or pdf")
    if not isinstance(run, Run):
        run = Run(run)
    if run.times.size == 0:
        raise InputError("the run has no epochs to plot", path=run.path)
    _ = run.events, run.grid if mode != "block" else None  # a damaged file fails before any plot
    out = ensure_dir(Path(out_dir) if out_dir is not None else run.path / "plots", "plot directory")
    written = [
        _save(overview_figure(run), out / f"overview.{fmt}"),
        _save(core_temperature_figure(run), out / f"temperature_cores.{fmt}"),
        _save(layer_temperature_figure(run), out / f"temperature_layers.{fmt}"),
    ]
    if not run.power.empty:
        written.append(_save(power_figure(run), out / f"power.{fmt}"))
    if not run.frequency.empty:
        written.append(_save(frequency_figure(run), out / f"frequency.{fmt}"))
    if not run.bank_mode.empty:
        written.append(_save(bank_mode_figure(run), out / f"bank_mode.{fmt}"))
    panels = HeatmapPanels(run, mode=mode)  # type: ignore[arg-type]
    end = float(run.times[-1])
    for t in times:
        if not 0.0 <= t <= end + 1e-12:
            raise InputError(
                f"time {t:g} s is outside the run",
                hint=f"choose a time between 0 and {end:g} s",
            )
    shown = panels.show(float(run.times[peak_index(run)]))
    written.append(_save(panels.fig, out / f"heatmap_peak.{fmt}", "figure"))
    for t in times:
        shown = panels.show(t)
        written.append(_save(panels.fig, out / f"heatmap_{shown * 1e3:.3f}ms.{fmt}", "figure"))
    written.append(_save(floorplan_figure(run), out / f"floorplan.{fmt}"))
    return written
