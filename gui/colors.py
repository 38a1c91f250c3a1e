"""Colour map lookup tables for QPainter (built once from matplotlib's perceptual maps)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PyQt6.QtGui import QColor

from comet.viz.layout import DEFAULT_CMAP

NO_DATA = QColor(150, 150, 150)


@lru_cache(maxsize=8)
def lut(name: str = DEFAULT_CMAP) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(rgb uint8 (256, 3), qRgb ints)`` of a matplotlib colour map."""
    import matplotlib

    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))
    rgb = np.round(rgba[:, :3] * 255).astype(np.uint8)
    argb = tuple(
        int(0xFF000000 | (int(r) << 16) | (int(g) << 8) | int(b)) for r, g, b in rgb.tolist()
    )
    return rgb, argb


class ColourScale:
    """Maps temperatures (deg C) to colours on a fixed scale ``[tmin, tmax]``."""

    def __init__(self, tmin: float, tmax: float, cmap: str = DEFAULT_CMAP) -> None:
        self.tmin = float(tmin)
        self.tmax = float(tmax) if tmax > tmin else float(tmin) + 1.0
        self.cmap = cmap
        self.rgb, self.argb = lut(cmap)
        self._colours = [QColor(int(r), int(g), int(b)) for r, g, b in self.rgb.tolist()]

    def index(self, values: np.ndarray | float) -> np.ndarray:
        """LUT index (0-255) of each value; NaN maps to 0 (callers check NaN themselves)."""
        v = np.asarray(values, dtype=float)
        x = (v - self.tmin) / (self.tmax - self.tmin)
        return np.clip(np.nan_to_num(x * 255.0 + 0.5, nan=0.0), 0, 255).astype(np.uint8)

    def colour(self, value: float | None) -> QColor:
        if value is None or not np.isfinite(value):
            return NO_DATA
        return self._colours[int(self.index(value))]

    def colours(self, values: np.ndarray) -> list[QColor]:
        idx = self.index(values)
        return [
            self._colours[int(i)] if np.isfinite(v) else NO_DATA
            for i, v in zip(idx.tolist(), np.asarray(values).tolist(), strict=True)
        ]


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (about ``target`` of them)."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(float(round(t, 10)))
        t += step
    return ticks


#: line colours of the time-series plot (matplotlib's tab10)
SERIES_COLOURS = [
    QColor(31, 119, 180),
    QColor(255, 127, 14),
    QColor(44, 160, 44),
    QColor(214, 39, 40),
    QColor(148, 103, 189),
    QColor(140, 86, 75),
    QColor(227, 119, 194),
    QColor(127, 127, 127),
    QColor(188, 189, 34),
    QColor(23, 190, 207),
]
