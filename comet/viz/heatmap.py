"""Heatmaps and floorplans of a run's layers (matplotlib, imported inside the functions).

:class:`HeatmapPanels` builds one figure with a panel per layer and a shared colour bar and then
only swaps the colours for each instant, so the same object serves still images
(:func:`heatmap_figure`) and videos (:mod:`comet.viz.video`). A layer is drawn as a *grid map*
(``grid.npz``) when the run stored grid snapshots of it, as a *block map* otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from comet.errors import InputError
from comet.sim.results import Run
from comet.viz.layout import (
    DEFAULT_CMAP,
    LayerView,
    block_values,
    format_time,
    layer_views,
    panel_grid,
    peak_index,
    temperature_range,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MapMode = Literal["auto", "block", "grid"]
MM = 1e3  # metres -> millimetres

#: face colours of the floorplan drawing, per layer kind
KIND_COLOURS = {
    "core": "#f4a582",
    "dram": "#92c5de",
    "logic": "#c2a5cf",
    "tim": "#e0e0e0",
    "interposer": "#d9f0d3",
    "filler": "#f7f7f7",
    "other": "#fddbc7",
}


def _figure(figsize: tuple[float, float], dpi: float) -> Figure:
    """A figure not attached to pyplot (no global state, no GUI backend needed)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi)


def _label_sizes(view: LayerView, panel_inches: float, largest: float = 9.0) -> np.ndarray:
    """Font size (pt) of each block's name so that it fits inside the block (0 if too small)."""
    rects = view.rects()
    if rects.size == 0:
        return np.zeros(0)
    span = max(view.layer.width, view.layer.height) or 1.0
    w_pt = rects[:, 2] / span * panel_inches * 72.0
    h_pt = rects[:, 3] / span * panel_inches * 72.0
    chars = np.array([max(len(b.name), 2) for b in view.layer.blocks], dtype=float)
    size = np.minimum(np.minimum(w_pt * 0.9 / (0.62 * chars), h_pt * 0.6), largest)
    return np.where(size >= 4.0, size, 0.0)


class HeatmapPanels:
    """A figure with one heatmap panel per layer, a shared colour bar and a time title.

    Args:
        run: the run.
        layers: names of the layers to show (default: every layer with temperatures).
        mode: ``grid`` (grid snapshots), ``block`` (block maps) or ``auto`` (grid where stored).
        tmin, tmax: colour scale (deg C); default: min and max over the whole run.
        cmap: matplotlib colour map name.
        labels: draw unit names on the blocks.
        panel_inches: width of one panel (in).
        dpi: figure resolution.
        max_cols: panels per row.
    """

    def __init__(
        self,
        run: Run,
        layers: Sequence[str] | None = None,
        *,
        mode: MapMode = "auto",
        tmin: float | None = None,
        tmax: float | None = None,
        cmap: str = DEFAULT_CMAP,
        labels: bool = True,
        panel_inches: float = 3.0,
        dpi: float = 100.0,
        max_cols: int = 4,
        even_pixels: bool = False,
    ) -> None:
        from matplotlib import patheffects
        from matplotlib.collections import PatchCollection
        from matplotlib.colors import Normalize
        from matplotlib.patches import Rectangle

        self.run = run
        self.views = layer_views(run, layers)
        if mode == "block" and layers is None:
            self.views = [v for v in self.views if v.has_trace]
        if mode == "grid" and run.grid is None:
            raise InputError(
                "the run has no grid snapshots (grid.npz)",
                path=run.path,
                hint="use block maps (--mode block) or store grid snapshots in the run",
            )
        self.use_grid = [
            mode != "block" and run.grid is not None and v.grid_index is not None
            for v in self.views
        ]
        if mode == "grid" and not any(self.use_grid):
            raise InputError("none of the chosen layers has grid snapshots", path=run.path)
        lo, hi = temperature_range(run, self.views, use_grid=any(self.use_grid))
        self.tmin = lo if tmin is None else float(tmin)
        self.tmax = hi if tmax is None else float(tmax)
        if self.tmax <= self.tmin:
            raise InputError(f"empty colour scale: tmin {self.tmin:g} >= tmax {self.tmax:g} degC")
        self.norm = Normalize(self.tmin, self.tmax)
        self.cmap_name = cmap
        self._temp = run.temperature.to_numpy(dtype=float)

        n = len(self.views)
        rows, cols = panel_grid(n, max_cols)
        w0 = max(v.layer.width for v in self.views) or 1.0
        h0 = max(v.layer.height for v in self.views) or 1.0
        aspect = h0 / w0
        cbar_in = 1.1
        top_in, bottom_in, gap_in = 0.55, 0.35, 0.35
        fig_w = cols * panel_inches + (cols - 1) * gap_in + 0.75 + cbar_in
        fig_h = top_in + bottom_in + rows * panel_inches * aspect + (rows - 1) * (gap_in + 0.2)
        if even_pixels:  # video encoders want sizes that are multiples of 16 pixels
            fig_w = math.ceil(fig_w * dpi / 16) * 16 / dpi
            fig_h = math.ceil(fig_h * dpi / 16) * 16 / dpi
        self.fig = fig = _figure((fig_w, fig_h), dpi)
        self.axes: list[Axes] = []
        self._collections: list[Any] = []
        self._images: list[Any] = []
        self._panel_titles: list[Any] = []
        self._labels: list[list[Any]] = []
        self._background: Any = None
        stroke = [patheffects.withStroke(linewidth=2.0, foreground="black")]
        for k, view in enumerate(self.views):
            r, c = divmod(k, cols)
            left = (0.55 + c * (panel_inches + gap_in)) / fig_w
            bottom = 1 - (top_in + (r + 1) * panel_inches * aspect + r * (gap_in + 0.2)) / fig_h
            ax = fig.add_axes((left, bottom, panel_inches / fig_w, panel_inches * aspect / fig_h))
            ax.set_xlim(0, view.layer.width * MM)
            ax.set_ylim(0, view.layer.height * MM)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7, length=2)
            if r == rows - 1:
                ax.set_xlabel("x (mm)", fontsize=7, labelpad=1)
            if c == 0:
                ax.set_ylabel("y (mm)", fontsize=7, labelpad=1)
            rects = view.rects() * MM
            patches = [Rectangle((x, y), w, h) for x, y, w, h in rects]
            image = None
            if self.use_grid[k]:
                image = ax.imshow(
                    np.zeros((2, 2)),
                    cmap=cmap,
                    norm=self.norm,
                    origin="upper",
                    extent=(0, view.layer.width * MM, 0, view.layer.height * MM),
                    interpolation="nearest",
                )
                coll = PatchCollection(patches, facecolor="none", edgecolor="#ffffff80", lw=0.6)
            else:
                coll = PatchCollection(
                    patches, cmap=cmap, norm=self.norm, edgecolor="white", lw=0.6
                )
                coll.set_array(np.zeros(len(patches)))
            ax.add_collection(coll)
            ax.set_facecolor("#b0b0b0")  # blocks without data show through as grey
            sizes = _label_sizes(view, panel_inches) if labels else np.zeros(len(patches))
            texts: list[Any] = []
            self._labels.append(texts)
            for x, y, w, h, b, fsize in zip(
                rects[:, 0],
                rects[:, 1],
                rects[:, 2],
                rects[:, 3],
                view.layer.blocks,
                sizes,
                strict=True,
            ):
                if fsize > 0:
                    texts.append(
                        ax.text(
                            x + w / 2,
                            y + h / 2,
                            b.name,
                            ha="center",
                            va="center",
                            fontsize=fsize,
                            color="white",
                            path_effects=stroke,
                            clip_on=True,
                        )
                    )
            self._panel_titles.append(
                fig.text(
                    left + 0.5 * panel_inches / fig_w,
                    bottom + (panel_inches * aspect + 0.06) / fig_h,
                    view.name,
                    ha="center",
                    va="bottom",
                    fontsize=9,
                )
            )
            self.axes.append(ax)
            self._collections.append(coll)
            self._images.append(image)
        from matplotlib.cm import ScalarMappable

        cax = fig.add_axes(
            (
                1 - (cbar_in - 0.25) / fig_w,
                bottom_in / fig_h,
                0.18 / fig_w,
                1 - (top_in + bottom_in) / fig_h,
            )
        )
        cb = fig.colorbar(ScalarMappable(norm=self.norm, cmap=cmap), cax=cax)
        cb.set_label("temperature (°C)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        self.colorbar = cb
        self.title = fig.text(0.01, 1 - 0.12 / fig_h, "", ha="left", va="top", fontsize=10)
        self.time_s: float | None = None

    @property
    def times(self) -> np.ndarray:
        """The instants this figure can show: grid snapshot times in pure grid mode, else the
        epoch ends of the traces (s)."""
        if all(self.use_grid) and self.run.grid is not None:
            return self.run.grid.times_s
        return self.run.times

    def show(self, time_s: float) -> float:
        """Colour every panel for the instant ``time_s`` (s); returns the time shown."""
        run = self.run
        shown = time_s
        row = None
        if not all(self.use_grid):
            i = run.index_at(time_s)
            row = self._temp[i]
            shown = float(run.times[i])
        peaks = []
        for k, view in enumerate(self.views):
            if self.use_grid[k]:
                assert run.grid is not None and view.grid_index is not None
                s = run.grid.index_at(time_s)
                data = run.grid.temperature_degC[s, view.grid_index]
                self._images[k].set_data(data)
                if all(self.use_grid):
                    shown = float(run.grid.times_s[s])
                peak = float(np.nanmax(data))
            else:
                assert row is not None
                vals = block_values(view, row)
                self._collections[k].set_array(np.ma.masked_invalid(vals))
                peak = float(np.nanmax(vals)) if np.isfinite(vals).any() else math.nan
            peaks.append(peak)
            label = view.name if math.isnan(peak) else f"{view.name}   max {peak:.1f} °C"
            self._panel_titles[k].set_text(label)
        self.title.set_text(f"{run.name}    t = {format_time(shown)}")
        self.time_s = shown
        return shown

    def pixel_of(self, layer: str, x: float, y: float) -> tuple[int, int]:
        """Pixel (column, row from the top) of the point ``(x, y)`` (m) of ``layer``."""
        k = [v.name for v in self.views].index(layer)
        px, py = self.axes[k].transData.transform((x * MM, y * MM))
        height = self.fig.get_size_inches()[1] * self.fig.dpi
        return int(round(px)), int(round(height - py))

    def _dynamic_artists(self) -> list[Any]:
        arts: list[Any] = []
        for k in range(len(self.views)):
            if self._images[k] is not None:
                arts.append(self._images[k])
            arts.append(self._collections[k])
            arts.extend(self._labels[k])
            arts.append(self._panel_titles[k])
        arts.append(self.title)
        return arts

    def rgb(self) -> np.ndarray:
        """Render and return the figure as an ``(height, width, 3)`` uint8 array.

        The static parts (axes, ticks, colour bar) are drawn once and cached; each call only
        redraws the colours, the unit names and the titles on top of them (blitting).
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = self.fig.canvas
        if not isinstance(canvas, FigureCanvasAgg):
            canvas = FigureCanvasAgg(self.fig)
        dynamic = self._dynamic_artists()
        if self._background is None:
            for a in dynamic:
                a.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            for a in dynamic:
                a.set_visible(True)
        canvas.restore_region(self._background)
        for a in dynamic:
            self.fig.draw_artist(a)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def colour_of(self, temperature_degC: float) -> tuple[int, int, int]:
        """The RGB (0-255) the colour map gives ``temperature_degC``."""
        import matplotlib

        rgba = matplotlib.colormaps[self.cmap_name](self.norm(temperature_degC))
        return int(round(rgba[0] * 255)), int(round(rgba[1] * 255)), int(round(rgba[2] * 255))


def heatmap_figure(
    run: Run,
    time_s: float | None = None,
    layers: Sequence[str] | None = None,
    **kwargs: Any,
) -> Figure:
    """Heatmaps of the layers at ``time_s`` (s; default: the instant of the peak temperature).

    Keyword arguments go to :class:`HeatmapPanels` (``mode``, ``tmin``, ``tmax``, ``cmap``...).
    """
    panels = HeatmapPanels(run, layers, **kwargs)
    if time_s is None:
        time_s = float(run.times[peak_index(run)])
    panels.show(time_s)
    return panels.fig


def floorplan_figure(
    run: Run, layers: Sequence[str] | None = None, panel_inches: float = 3.2, dpi: float = 100.0
) -> Figure:
    """The floorplan of every layer (or of ``layers``) with unit names, coloured by kind."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    all_layers = [la for la in run.layers if la.blocks]
    if layers is not None:
        all_layers = [run.layer(n) for n in layers]
    if not all_layers:
        raise InputError("the run has no floorplan (layers.json)", path=run.path)
    views = layer_views(run, [la.name for la in all_layers])
    rows, cols = panel_grid(len(views))
    w0 = max(v.layer.width for v in views) or 1.0
    h0 = max(v.layer.height for v in views) or 1.0
    fig = _figure((cols * panel_inches + 0.4, rows * panel_inches * h0 / w0 + 0.6), dpi)
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(views):
            ax.set_visible(False)
            continue
        view = views[k]
        rects = view.rects() * MM
        colour = KIND_COLOURS.get(view.layer.kind, KIND_COLOURS["other"])
        coll = PatchCollection(
            [Rectangle((x, y), w, h) for x, y, w, h in rects],
            facecolor=colour,
            edgecolor="#333333",
            lw=0.7,
        )
        ax.add_collection(coll)
        sizes = _label_sizes(view, panel_inches)
        for (x, y, w, h), b, fsize in zip(rects, view.layer.blocks, sizes, strict=True):
            if fsize > 0:
                ax.text(x + w / 2, y + h / 2, b.name, ha="center", va="center", fontsize=fsize)
        ax.set_xlim(0, view.layer.width * MM)
        ax.set_ylim(0, view.layer.height * MM)
        ax.set_aspect("equal")
        ax.set_title(f"{view.layer.index}: {view.name} ({view.layer.kind})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("x (mm)", fontsize=7)
        ax.set_ylabel("y (mm)", fontsize=7)
    fig.suptitle(f"{run.name}: floorplans (layer 0 farthest from the heat sink)", fontsize=10)
    fig.tight_layout()
    return fig
