"""The stack panel: every layer in physical order as an exploded, 3D-like view.

The heat sink is drawn on top (as in a package), layer 0 (farthest from the sink) at the bottom.
Each layer is a parallelogram coloured with its blocks' temperatures at the current time; clicking
a layer that has data selects it (:attr:`StackPanel.layerSelected`).
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF, QTransform
from PyQt6.QtWidgets import QSizePolicy, QWidget

from .colors import NO_DATA, ColourScale
from .loader import RunData

TOP = 34
BOTTOM = 10
LEFT = 10
LABEL_W = 76


class StackPanel(QWidget):
    """Exploded view of the stack; emits ``layerSelected(name)`` when a layer is clicked."""

    layerSelected = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: RunData | None = None
        self.scale: ColourScale | None = None
        self.row = 0
        self.selected: str | None = None
        self.hover: str | None = None
        self.setMouseTracking(True)
        self.setMinimumWidth(200)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(260, 500)

    def set_data(self, data: RunData | None, scale: ColourScale | None = None) -> None:
        self.data = data
        self.scale = scale or (ColourScale(data.tmin, data.tmax) if data else None)
        self.update()

    def set_row(self, row: int) -> None:
        self.row = row
        self.update()

    def set_selected(self, name: str | None) -> None:
        self.selected = name
        self.update()

    # -- geometry ------------------------------------------------------------------------------

    def _order(self) -> list[str]:
        """Layer names from the top of the drawing (next to the sink) to the bottom (layer 0)."""
        if self.data is None:
            return []
        return [la.name for la in reversed(self.data.layers)]

    def layer_transform(self, name: str) -> QTransform:
        """Maps layer coordinates (m, y up) to widget pixels for ``name``'s parallelogram."""
        assert self.data is not None
        order = self._order()
        k = order.index(name)
        n = len(order)
        la = self.data.views[name].layer
        width = max(self.width() - LEFT - LABEL_W, 40)
        slot = max((self.height() - TOP - BOTTOM) / max(n, 1), 8.0)
        depth = min(slot * 0.78, width * 0.5)
        skew = depth * 0.75
        face_w = width - skew
        base_y = TOP + slot * k + (slot + depth) / 2
        w = la.width or 1.0
        h = la.height or 1.0
        # x' = LEFT + x/w*face_w + y/h*skew ; y' = base_y - y/h*depth
        return QTransform(face_w / w, 0.0, skew / h, -depth / h, LEFT, base_y)

    def layer_polygon(self, name: str) -> QPolygonF:
        assert self.data is not None
        la = self.data.views[name].layer
        tr = self.layer_transform(name)
        pts = [(0.0, 0.0), (la.width, 0.0), (la.width, la.height), (0.0, la.height)]
        return QPolygonF([tr.map(QPointF(x, y)) for x, y in pts])

    def layer_at(self, p: QPointF) -> str | None:
        if self.data is None:
            return None
        for name in self._order():
            if self.layer_polygon(name).containsPoint(p, Qt.FillRule.OddEvenFill):
                return name
            # the label next to the layer counts as the layer too
            poly = self.layer_polygon(name).boundingRect()
            label = QRectF(poly.right(), poly.top(), LABEL_W, poly.height())
            if label.contains(p):
                return name
        return None

    def layer_centre(self, name: str) -> QPointF:
        return self.layer_polygon(name).boundingRect().center()

    # -- events --------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802 - Qt API
        if event is None or self.data is None:
            return
        name = self.layer_at(event.position())
        if name is not None and name in self.data.display_layers:
            self.selected = name
            self.layerSelected.emit(name)
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802 - Qt API
        if event is None:
            return
        name = self.layer_at(event.position())
        if name != self.hover:
            self.hover = name
            self.update()

    # -- painting ------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        p.setPen(self.palette().text().color())
        if self.data is None or self.scale is None:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "stack")
            p.end()
            return
        p.drawText(
            QRectF(LEFT, 4, self.width() - 2 * LEFT, TOP - 8),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            "▲ heat sink",
        )
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        row = self.data.temperature[self.row]
        shown = set(self.data.display_layers)
        order = self._order()
        if len(order) > 1:  # dotted lines joining the corners make the exploded stack read as 3D
            guide = QPen(QColor(120, 120, 120, 150), 1.0, Qt.PenStyle.DotLine)
            p.setPen(guide)
            top, bottom = self.layer_polygon(order[0]), self.layer_polygon(order[-1])
            for k in range(4):
                p.drawLine(top[k], bottom[k])
        for name in reversed(self._order()):  # back (bottom) to front (top)
            view = self.data.views[name]
            poly = self.layer_polygon(name)
            p.save()
            p.setTransform(self.layer_transform(name))
            p.setPen(Qt.PenStyle.NoPen)
            if view.has_trace:
                vals = np.full(len(view.columns), np.nan)
                ok = view.columns >= 0
                vals[ok] = row[view.columns[ok]]
                colours = self.scale.colours(vals)
                for b, c in zip(view.layer.blocks, colours, strict=True):
                    p.fillRect(QRectF(b.x, b.y, b.width, b.height), c)
            elif view.grid_index is not None and self.data.grid is not None:
                snap = self.data.grid.index_at(float(self.data.times[self.row]))
                mean = float(np.nanmean(self.data.grid.temperature_degC[snap, view.grid_index]))
                p.fillRect(
                    QRectF(0, 0, view.layer.width, view.layer.height), self.scale.colour(mean)
                )
            else:
                p.fillRect(QRectF(0, 0, view.layer.width, view.layer.height), NO_DATA.lighter(130))
            p.restore()
            edge = QPen(QColor(255, 255, 255, 120))
            edge.setWidthF(0.8)
            p.setPen(edge)
            if view.has_trace and len(view.layer.blocks) <= 256:
                tr = self.layer_transform(name)
                for b in view.layer.blocks:
                    corners = [(b.x, b.y), (b.x + b.width, b.y), (b.x + b.width, b.y + b.height),
                               (b.x, b.y + b.height)]  # fmt: skip
                    p.drawPolygon(QPolygonF([tr.map(QPointF(x, y)) for x, y in corners]))
            border = QPen(QColor(0, 170, 255) if name == self.selected else QColor(60, 60, 60))
            border.setWidthF(2.5 if name == self.selected else 1.0)
            if name == self.hover and name != self.selected and name in shown:
                border.setColor(QColor(0, 120, 200))
                border.setWidthF(1.8)
            p.setPen(border)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPolygon(poly)
            br = poly.boundingRect()
            p.setPen(self.palette().text().color() if name in shown else QColor(130, 130, 130))
            f = p.font()
            f.setBold(name == self.selected)
            p.setFont(f)
            idx = self.data.views[name].layer.index
            p.drawText(
                QRectF(br.right() + 4, br.top(), LABEL_W - 4, br.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{idx} {name}",
            )
        p.end()
