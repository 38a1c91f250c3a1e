"""The heatmap of one layer at the current time, drawn with QPainter, with a colour bar.

Block maps fill each block with the colour of its temperature; grid maps draw the grid snapshot
(``grid.npz``) as an indexed image. Unit outlines and names are drawn on top. Hovering reports the
unit under the cursor, clicking a unit emits :attr:`HeatmapWidget.unitClicked`.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
)
from PyQt6.QtWidgets import QSizePolicy, QWidget

from comet.viz.layout import format_time

from .colors import NO_DATA, ColourScale, nice_ticks
from .loader import RunData

MARGIN = 10
TITLE_H = 24
CBAR_W = 16
CBAR_SPACE = 70


class HeatmapWidget(QWidget):
    """Heatmap of the selected layer of a run at the current epoch."""

    unitClicked = pyqtSignal(str)
    hovered = pyqtSignal(str)  # "" when leaving every unit

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: RunData | None = None
        self.layer: str | None = None
        self.row = 0
        self.time_s = 0.0
        self.mode = "auto"  # auto | block | grid
        self.scale: ColourScale | None = None
        self.show_labels = True
        self.selected: set[str] = set()
        self.hover_unit: str | None = None
        self.hover_pos: QPointF | None = None
        self.caption = ""
        self.setMouseTracking(True)
        self.setMinimumSize(260, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._grid_cache: tuple[int, int, QImage] | None = None

    # -- state ---------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(520, 440)

    def set_data(self, data: RunData | None, scale: ColourScale | None = None) -> None:
        self.data = data
        self.scale = scale or (ColourScale(data.tmin, data.tmax) if data is not None else None)
        self._grid_cache = None
        if data is not None and (self.layer not in data.views):
            layers = data.display_layers
            self.layer = layers[0] if layers else None
        self.update()

    def set_scale(self, scale: ColourScale) -> None:
        self.scale = scale
        self._grid_cache = None
        self.update()

    def set_layer(self, name: str) -> None:
        if self.data is not None and name in self.data.views and name != self.layer:
            self.layer = name
            self._grid_cache = None
            self.hover_unit = None
            self.update()

    def set_time(self, time_s: float) -> None:
        """Show the epoch holding ``time_s`` (s)."""
        if self.data is None:
            return
        self.time_s = time_s
        row = self.data.index_at(time_s)
        if row != self.row:
            self.row = row
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self._grid_cache = None
        self.update()

    def uses_grid(self) -> bool:
        if self.data is None or self.layer is None or self.data.grid is None:
            return False
        view = self.data.views[self.layer]
        return not (view.grid_index is None or self.mode == "block")

    # -- geometry ------------------------------------------------------------------------------

    def map_rect(self) -> QRectF:
        """The widget rectangle the layer's footprint is drawn into (keeps the aspect ratio)."""
        w = self.width() - 2 * MARGIN - CBAR_SPACE
        h = self.height() - 2 * MARGIN - TITLE_H
        if self.data is None or self.layer is None:
            return QRectF(MARGIN, MARGIN + TITLE_H, max(w, 1), max(h, 1))
        la = self.data.views[self.layer].layer
        aspect = (la.height / la.width) if la.width > 0 else 1.0
        if w * aspect <= h:
            dw, dh = w, w * aspect
        else:
            dw, dh = h / aspect, h
        x0 = MARGIN + (w - dw) / 2
        y0 = MARGIN + TITLE_H + (h - dh) / 2
        return QRectF(x0, y0, max(dw, 1.0), max(dh, 1.0))

    def _to_widget(self, x: float, y: float) -> QPointF:
        assert self.data is not None and self.layer is not None
        la = self.data.views[self.layer].layer
        r = self.map_rect()
        return QPointF(r.left() + x / la.width * r.width(), r.bottom() - y / la.height * r.height())

    def _to_layer(self, p: QPointF) -> tuple[float, float] | None:
        if self.data is None or self.layer is None:
            return None
        la = self.data.views[self.layer].layer
        r = self.map_rect()
        if not r.contains(p):
            return None
        x = (p.x() - r.left()) / r.width() * la.width
        y = (r.bottom() - p.y()) / r.height() * la.height
        return x, y

    def unit_rect(self, unit: str) -> QRectF | None:
        """Widget rectangle of ``unit`` on the shown layer (``None`` if not on it)."""
        if self.data is None or self.layer is None:
            return None
        for b in self.data.views[self.layer].layer.blocks:
            if b.name == unit:
                tl = self._to_widget(b.x, b.y + b.height)
                br = self._to_widget(b.x + b.width, b.y)
                return QRectF(tl, br)
        return None

    def unit_at(self, p: QPointF) -> str | None:
        pos = self._to_layer(p)
        if pos is None or self.data is None or self.layer is None:
            return None
        view = self.data.views[self.layer]
        i = view.block_at(*pos)
        return None if i is None else view.layer.blocks[i].name

    def grid_value_at(self, p: QPointF) -> float | None:
        """Grid-snapshot temperature (deg C) under the widget point ``p`` (grid maps only)."""
        if not self.uses_grid():
            return None
        pos = self._to_layer(p)
        assert self.data is not None and self.data.grid is not None and self.layer is not None
        if pos is None:
            return None
        la = self.data.views[self.layer].layer
        gi = self.data.views[self.layer].grid_index
        snap = self.data.grid.index_at(self.time_s)
        field = self.data.grid.temperature_degC[snap, gi]
        rows, cols = field.shape
        c = min(int(pos[0] / la.width * cols), cols - 1)
        r = min(int((1 - pos[1] / la.height) * rows), rows - 1)
        return float(field[r, c])

    def hover_text(self) -> str:
        """``unit (layer): T degC, P W at t`` for the unit under the cursor ("" if none)."""
        if self.data is None or self.hover_unit is None:
            return ""
        u = self.hover_unit
        temp = self.data.temperature_of(u, self.row)
        pw = self.data.power_of(u, self.row)
        parts = [f"{u} ({self.layer})"]
        parts.append(f"{temp:.2f} °C" if temp is not None else "no temperature")
        if pw is not None:
            parts.append(f"{pw:.3f} W")
        text = ", ".join(parts) + f" at t = {format_time(float(self.data.times[self.row]))}"
        if self.hover_pos is not None:
            g = self.grid_value_at(self.hover_pos)
            if g is not None:
                text += f"; grid cell {g:.2f} °C"
        return text

    # -- events --------------------------------------------------------------------------------

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802 - Qt API
        if event is None:
            return
        self.hover_pos = event.position()
        unit = self.unit_at(event.position())
        if unit != self.hover_unit:
            self.hover_unit = unit
            self.update()
        self.hovered.emit(unit or "")
        self.setToolTip(self.hover_text())

    def leaveEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        self.hover_unit = None
        self.hover_pos = None
        self.hovered.emit("")
        self.update()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802 - Qt API
        if event is None or event.button() != Qt.MouseButton.LeftButton:
            return
        unit = self.unit_at(event.position())
        if unit is not None and self.data is not None and unit in self.data.unit_index:
            self.unitClicked.emit(unit)

    # -- painting ------------------------------------------------------------------------------

    def _grid_image(self) -> QImage:
        assert self.data is not None and self.data.grid is not None and self.layer is not None
        assert self.scale is not None
        snap = self.data.grid.index_at(self.time_s)
        gi = self.data.views[self.layer].grid_index
        assert gi is not None
        if self._grid_cache is not None and self._grid_cache[:2] == (snap, gi):
            return self._grid_cache[2]
        field = self.data.grid.temperature_degC[snap, gi]
        idx = np.ascontiguousarray(self.scale.index(field))
        rows, cols = idx.shape
        img = QImage(idx.data, cols, rows, cols, QImage.Format.Format_Indexed8)
        img.setColorTable(list(self.scale.argb))
        img = img.copy()  # own the pixels
        self._grid_cache = (snap, gi, img)
        return img

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(self.rect(), self.palette().window())
        if self.data is None or self.layer is None or self.scale is None:
            p.setPen(self.palette().text().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no run loaded")
            p.end()
            return
        data, view, scale = self.data, self.data.views[self.layer], self.scale
        rect = self.map_rect()
        row = data.temperature[self.row]
        vals = np.full(len(view.columns), np.nan)
        ok = view.columns >= 0
        vals[ok] = row[view.columns[ok]]
        use_grid = self.uses_grid()
        if use_grid:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawImage(rect, self._grid_image())
        else:
            p.fillRect(rect, NO_DATA)
            for b, colour in zip(view.layer.blocks, scale.colours(vals), strict=True):
                r = self.unit_rect(b.name)
                if r is not None:
                    p.fillRect(r, colour)
        # outlines
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        outline = QPen(QColor(255, 255, 255, 150 if use_grid else 200))
        outline.setWidthF(1.0)
        p.setPen(outline)
        p.setBrush(Qt.BrushStyle.NoBrush)
        rects = [self.unit_rect(b.name) for b in view.layer.blocks]
        for r in rects:
            if r is not None:
                p.drawRect(r)
        # names
        if self.show_labels:
            self._draw_labels(p, view.layer.blocks, rects)
        for unit in self.selected:
            r = self.unit_rect(unit)
            if r is not None:
                pen = QPen(QColor(0, 200, 255))
                pen.setWidthF(2.5)
                p.setPen(pen)
                p.drawRect(r.adjusted(1, 1, -1, -1))
        if self.hover_unit is not None:
            r = self.unit_rect(self.hover_unit)
            if r is not None:  # black and white dashes read on every colour
                for colour, offset in ((QColor(0, 0, 0), 0.0), (QColor(255, 255, 255), 4.0)):
                    pen = QPen(colour)
                    pen.setWidthF(2.0)
                    pen.setDashPattern([4.0, 4.0])
                    pen.setDashOffset(offset)
                    p.setPen(pen)
                    p.drawRect(r.adjusted(3, 3, -3, -3))
        # title
        t = float(data.times[self.row])
        if use_grid:
            assert data.grid is not None
            t = float(data.grid.times_s[data.grid.index_at(self.time_s)])
        finite = vals[np.isfinite(vals)]
        if use_grid:
            assert data.grid is not None and view.grid_index is not None
            snap = data.grid.index_at(self.time_s)
            finite = data.grid.temperature_degC[snap, view.grid_index].ravel()
        peak = f"   max {finite.max():.1f} °C" if finite.size else ""
        title = f"{self.caption}{self.layer}   t = {format_time(t)}{peak}"
        if use_grid:
            title += "   (grid)"
        p.setPen(self.palette().text().color())
        f = QFont(self.font())
        f.setBold(True)
        p.setFont(f)
        p.drawText(
            QRectF(MARGIN, MARGIN, self.width() - 2 * MARGIN, TITLE_H - 4),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            title,
        )
        p.setFont(self.font())
        self._draw_colourbar(p, rect)
        p.end()

    def _draw_labels(self, p: QPainter, blocks: object, rects: list[QRectF | None]) -> None:
        """Each unit's name in white with a dark outline, sized to fit its block (skipped
        where it cannot be read)."""
        names = [b.name for b in blocks]  # type: ignore[attr-defined]
        base = QFont(self.font())
        stroke = QPen(QColor(0, 0, 0, 220))
        stroke.setWidthF(2.5)
        for name, r in zip(names, rects, strict=True):
            if r is None:
                continue
            pt = min(11.0, r.width() * 0.9 / (0.62 * max(len(name), 2)) * 0.75, r.height() * 0.45)
            if pt < 6.0:
                continue
            font = QFont(base)
            font.setPointSizeF(pt)
            fm = QFontMetricsF(font)
            path = QPainterPath()
            w = fm.horizontalAdvance(name)
            path.addText(
                QPointF(r.center().x() - w / 2, r.center().y() + fm.ascent() / 2 - 1), font, name
            )
            p.strokePath(path, stroke)
            p.fillPath(path, QColor(255, 255, 255))

    def _draw_colourbar(self, p: QPainter, rect: QRectF) -> None:
        assert self.scale is not None
        x = self.width() - CBAR_SPACE + 8
        bar = QRectF(x, rect.top(), CBAR_W, rect.height())
        grad = QLinearGradient(bar.bottomLeft(), bar.topLeft())
        rgb = self.scale.rgb
        for k in range(0, 256, 15):
            r, g, b = (int(c) for c in rgb[k])
            grad.setColorAt(k / 255.0, QColor(r, g, b))
        r, g, b = (int(c) for c in rgb[255])
        grad.setColorAt(1.0, QColor(r, g, b))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(bar, grad)
        p.setPen(self.palette().text().color())
        p.drawRect(bar)
        lo, hi = self.scale.tmin, self.scale.tmax
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() - 1))
        p.setFont(small)
        for t in nice_ticks(lo, hi, 5):
            y = bar.bottom() - (t - lo) / (hi - lo) * bar.height()
            p.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 4, y))
            p.drawText(QPointF(bar.right() + 6, y + 4), f"{t:g}")
        p.drawText(QPointF(x - 4, rect.top() - 6), "°C")
