"""What to draw, independent of how: layer values at an instant, colour scales, panel grids.

Shared by the matplotlib plots/videos (:mod:`comet.viz.heatmap`) and the Qt viewer
(``comet_gui``); nothing here imports matplotlib or Qt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from comet.errors import InputError
from comet.sim.results import Run, RunLayer

#: default perceptual colour map of temperature maps
DEFAULT_CMAP = "inferno"


@dataclass(frozen=True)
class LayerView:
    """One layer ready to draw: block rectangles (m) and the trace columns of its blocks.

    Attributes:
        layer: the layer.
        columns: for each block, the index of its column in ``run.temperature`` (-1 if the
            block has no temperature trace).
        power_columns: likewise in ``run.power``.
        grid_index: index of the layer in the grid snapshots, or ``None``.
    """

    layer: RunLayer
    columns: np.ndarray
    power_columns: np.ndarray
    grid_index: int | None

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def has_trace(self) -> bool:
        return bool((self.columns >= 0).any())

    def rects(self) -> np.ndarray:
        """``(n_blocks, 4)``: x, y, width, height (m)."""
        b = self.layer.blocks
        return np.array([[k.x, k.y, k.width, k.height] for k in b], dtype=float).reshape(-1, 4)

    def block_at(self, x: float, y: float) -> int | None:
        """Index of the block containing the point ``(x, y)`` (m), or ``None``."""
        for i, b in enumerate(self.layer.blocks):
            if b.x <= x < b.x + b.width and b.y <= y < b.y + b.height:
                return i
        return None


def layer_views(run: Run, layers: Sequence[str] | None = None) -> list[LayerView]:
    """The drawable layers of ``run`` (the thermal ones by default), in stack order."""
    temp_cols = {u: i for i, u in enumerate(run.temperature.columns)}
    pow_cols = {u: i for i, u in enumerate(run.power.columns)}
    grid_names = run.grid.layer_names if run.grid is not None else []
    if layers is None:
        chosen = run.thermal_layers
        if not chosen:
            raise InputError(
                "the run has no layer with temperature traces",
                path=run.path,
                hint="layers.json must name the blocks of temperature.csv",
            )
    else:
        chosen = [run.layer(name) for name in layers]
    out = []
    for la in chosen:
        cols = np.array([temp_cols.get(b.name, -1) for b in la.blocks], dtype=int)
        pcols = np.array([pow_cols.get(b.name, -1) for b in la.blocks], dtype=int)
        gi = grid_names.index(la.name) if la.name in grid_names else None
        out.append(LayerView(la, cols, pcols, gi))
    return out


def block_values(view: LayerView, row: np.ndarray) -> np.ndarray:
    """Values of the layer's blocks from one trace row (NaN where a block has no column)."""
    vals = np.full(len(view.columns), np.nan)
    ok = view.columns >= 0
    vals[ok] = row[view.columns[ok]]
    return vals


def temperature_range(
    run: Run, views: Sequence[LayerView] | None = None, use_grid: bool = True
) -> tuple[float, float]:
    """Colour scale (deg C) fixed over the whole run for the given layers: (min, max)."""
    views = list(views) if views is not None else layer_views(run)
    lo, hi = math.inf, -math.inf
    temp = run.temperature.to_numpy(dtype=float)
    for v in views:
        cols = v.columns[v.columns >= 0]
        if cols.size and temp.size:
            sub = temp[:, cols]
            if np.isfinite(sub).any():
                lo, hi = min(lo, float(np.nanmin(sub))), max(hi, float(np.nanmax(sub)))
        if use_grid and run.grid is not None and v.grid_index is not None:
            g = run.grid.temperature_degC[:, v.grid_index]
            lo, hi = min(lo, float(np.nanmin(g))), max(hi, float(np.nanmax(g)))
    if not math.isfinite(lo):
        return 0.0, 1.0
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def peak_index(run: Run) -> int:
    """Row of the epoch in which the hottest traced unit is hottest."""
    temp = run.temperature.to_numpy(dtype=float)
    if temp.size == 0:
        raise InputError("the run has no epochs", path=run.path)
    hottest = np.nanmax(np.where(np.isfinite(temp), temp, -np.inf), axis=1)
    return int(np.argmax(hottest))


def panel_grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) of a grid holding ``n`` panels, close to square, at most ``max_cols`` wide."""
    if n <= 0:
        return 1, 1
    cols = min(max_cols, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def frame_indices(
    n_rows: int, max_frames: int | None = None, every: int | None = None
) -> list[int]:
    """Trace rows shown as video frames: every ``every``-th row, or about ``max_frames`` rows
    spread evenly; the last row is always included."""
    if n_rows <= 0:
        return []
    if every is None:
        every = 1 if not max_frames or n_rows <= max_frames else math.ceil(n_rows / max_frames)
    every = max(1, int(every))
    idx = list(range(every - 1, n_rows, every))
    if not idx or idx[-1] != n_rows - 1:
        idx.append(n_rows - 1)
    return idx


def text_colour(rgb: Sequence[float]) -> str:
    """Black or white, whichever reads better on ``rgb`` (components 0-1)."""
    r, g, b = rgb[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def format_time(t: float) -> str:
    """Simulated time for labels: ``12.345 ms`` or ``1.2345 s``."""
    if abs(t) < 1.0:
        return f"{t * 1e3:.3f} ms"
    return f"{t:.4f} s"
