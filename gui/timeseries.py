"""Time series of the units the user clicked, with thresholds and the current time marked.

Drawn with QPainter. Curves are decimated to a min/max envelope per pixel column and cached in
a pixmap, so moving the time marker (every frame during playback) costs one blit and one line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen, QPixmap, QPolygonF, QResizeEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from .colors import SERIES_COLOURS, nice_ticks
from .loader import RunData

LEFT, RIGHT, TOP, BOTTOM = 56, 14, 12, 30


@dataclass(frozen=True)
class Series:
    """One curve: a unit of a run; ``dashed`` for the second run of a comparison."""

    data: RunData
    unit: str
    dashed: bool = False


class TimeSeriesPlot(QWidget):
    """Temperature (or power) of selected units over time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series: list[Series] = []
        self.units: list[str] = []  # order of selection -> colours
        self.quantity = "temperature"  # or "power"
        self.thresholds: list[float] = []
        self.time_s = 0.0
        self.t_max = 1.0
        self._cache: QPixmap | None = None
        self._y_range = (0.0, 1.0)
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(700, 230)

    # -- state ---------------------------------------------------------------------------------

    def set_series(self, series: list[Series], units: list[str], thresholds: list[float]) -> None:
        self.series = series
        self.units = units
        self.thresholds = thresholds
        self.t_max = max((float(s.data.times[-1]) for s in series), default=1.0) or 1.0
        self._cache = None
        self.update()

    def set_quantity(self, quantity: str) -> None:
        self.quantity = quantity
        self._cache = None
        self.update()

    def set_time(self, time_s: float) -> None:
        self.time_s = time_s
        self.update()

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 - Qt API
        self._cache = None
        super().resizeEvent(event)

    # -- geometry ------------------------------------------------------------------------------

    def plot_rect(self) -> QRectF:
        return QRectF(
            LEFT, TOP, max(self.width() - LEFT - RIGHT, 10), max(self.height() - TOP - BOTTOM, 10)
        )

    def x_of(self, t: float) -> float:
        r = self.plot_rect()
        return r.left() + t / self.t_max * r.width()

    def y_of(self, v: float) -> float:
        r = self.plot_rect()
        lo, hi = self._y_range
        return r.bottom() - (v - lo) / (hi - lo) * r.height()

    def _values(self, s: Series) -> tuple[np.ndarray, np.ndarray] | None:
        d = s.data
        if self.quantity.startswith("cpi:"):
            share = d.cpi_share(self.quantity[4:], s.unit)
            if share is None:
                return None
            return d.times[: share.shape[0]], share
        if self.quantity == "power":
            col = d.power_index.get(s.unit)
            if col is None or d.power.size == 0:
                return None
            return d.times[: d.power.shape[0]], d.power[:, col]
        col = d.unit_index.get(s.unit)
        if col is None:
            return None
        return d.times, d.temperature[:, col]

    def _compute_range(self) -> None:
        lo, hi = np.inf, -np.inf
        for s in self.series:
            tv = self._values(s)
            if tv is not None and np.isfinite(tv[1]).any():
                lo = min(lo, float(np.nanmin(tv[1])))
                hi = max(hi, float(np.nanmax(tv[1])))
        if not np.isfinite(lo):
            lo, hi = (40.0, 90.0) if self.quantity == "temperature" else (0.0, 1.0)
        if self.quantity == "temperature":
            for thr in self.thresholds:
                if hi - 15.0 <= thr <= hi + 15.0:
                    lo, hi = min(lo, thr), max(hi, thr)
        pad = max((hi - lo) * 0.06, 0.5 if self.quantity == "temperature" else 0.05)
        self._y_range = (lo - pad, hi + pad)

    # -- painting ------------------------------------------------------------------------------

    def _envelope(self, t: np.ndarray, v: np.ndarray, r: QRectF) -> QPolygonF:
        xs = r.left() + t / self.t_max * r.width()
        n_px = max(int(r.width()), 1)
        if len(t) <= 2 * n_px:
            return QPolygonF(
                [
                    QPointF(float(x), self.y_of(float(y)))
                    for x, y in zip(xs, v, strict=True)
                    if np.isfinite(y)
                ]
            )
        # min/max per pixel column keeps spikes visible at any zoom
        cols = np.clip(((xs - r.left()) / r.width() * n_px).astype(int), 0, n_px - 1)
        pts: list[QPointF] = []
        bounds = np.flatnonzero(np.diff(cols)) + 1
        for seg_t, seg_v in zip(np.split(xs, bounds), np.split(v, bounds), strict=True):
            fin = seg_v[np.isfinite(seg_v)]
            if fin.size == 0:
                continue
            x = float(seg_t[0])
            a, b = float(fin.min()), float(fin.max())
            first_is_min = int(np.nanargmin(seg_v)) <= int(np.nanargmax(seg_v))
            for y in (a, b) if first_is_min else (b, a):
                pts.append(QPointF(x, self.y_of(y)))
        return QPolygonF(pts)

    def _render_cache(self) -> QPixmap:
        pm = QPixmap(self.size())
        pm.fill(self.palette().base().color())
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._compute_range()
        r = self.plot_rect()
        text = self.palette().text().color()
        grid_pen = QPen(QColor(0, 0, 0, 30))
        p.setFont(QFont(self.font()))
        # axes and ticks
        lo, hi = self._y_range
        for v in nice_ticks(lo, hi, 5):
            y = self.y_of(v)
            p.setPen(grid_pen)
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            p.setPen(text)
            p.drawText(
                QRectF(0, y - 8, LEFT - 6, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{v:g}",
            )
        scale, unit = (1e3, "ms") if self.t_max < 1.0 else (1.0, "s")
        for t in nice_ticks(0.0, self.t_max * scale, 8):
            x = self.x_of(t / scale)
            p.setPen(grid_pen)
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.setPen(text)
            p.drawText(
                QRectF(x - 40, r.bottom() + 2, 80, 14), Qt.AlignmentFlag.AlignHCenter, f"{t:g}"
            )
        p.drawText(
            QRectF(r.left(), r.bottom() + 14, r.width(), 14),
            Qt.AlignmentFlag.AlignHCenter,
            f"time ({unit})",
        )
        p.save()
        p.translate(12, r.center().y())
        p.rotate(-90)
        label = {"temperature": "temperature (°C)", "power": "power (W)"}.get(
            self.quantity, f"CPI stack: {self.quantity[4:]} share"
        )
        p.drawText(QRectF(-80, -10, 160, 16), Qt.AlignmentFlag.AlignCenter, label)
        p.restore()
        p.setPen(QPen(text))
        p.drawRect(r)
        p.setClipRect(r)
        for s in self.series:
            tv = self._values(s)
            if tv is None:
                continue
            colour = (
                SERIES_COLOURS[self.units.index(s.unit) % len(SERIES_COLOURS)]
                if s.unit in self.units
                else QColor(0, 0, 0)
            )
            pen = QPen(colour, 1.6, Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine)
            p.setPen(pen)
            p.drawPolyline(self._envelope(tv[0], tv[1], r))
        if self.quantity == "temperature":
            for thr in self.thresholds:
                if lo <= thr <= hi:
                    pen = QPen(QColor(192, 57, 43), 1.2, Qt.PenStyle.DashLine)
                    p.setPen(pen)
                    y = self.y_of(thr)
                    p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
                    p.drawText(QPointF(r.right() - 46, y - 3), f"{thr:g} °C")
        p.setClipping(False)
        # legend
        y = r.top() + 4
        for k, u in enumerate(self.units):
            colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
            p.setPen(QPen(colour, 2.0))
            p.drawLine(QPointF(r.left() + 8, y + 7), QPointF(r.left() + 26, y + 7))
            p.setPen(text)
            p.drawText(QPointF(r.left() + 30, y + 11), u)
            y += 15
        if not self.series:
            p.setPen(QColor(120, 120, 120))
            p.drawText(
                r, Qt.AlignmentFlag.AlignCenter, "click units on the heatmap to plot them here"
            )
        p.end()
        return pm

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt API
        if self._cache is None or self._cache.size() != self.size():
            self._cache = self._render_cache()
        p = QPainter(self)
        p.drawPixmap(0, 0, self._cache)
        r = self.plot_rect()
        x = self.x_of(min(max(self.time_s, 0.0), self.t_max))
        p.setPen(QPen(QColor(20, 20, 20, 200), 1.2))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        # value dots of the current time
        for s in self.series:
            tv = self._values(s)
            if tv is None or s.unit not in self.units:
                continue
            i = min(int(np.searchsorted(tv[0], self.time_s - 1e-12)), len(tv[0]) - 1)
            v = float(tv[1][i])
            if np.isfinite(v):
                colour = SERIES_COLOURS[self.units.index(s.unit) % len(SERIES_COLOURS)]
                p.setBrush(colour)
                p.setPen(Qt.PenStyle.NoPen)
                p.drawEllipse(QPointF(x, self.y_of(v)), 3.5, 3.5)
        p.end()
