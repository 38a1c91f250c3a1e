"""Start the viewer, or render it offscreen to a PNG (``comet view RUN --screenshot FILE``)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import QCoreApplication, QEvent, QPointF, QSettings, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication

from comet.errors import InputError

from .main_window import MainWindow


def application() -> QApplication:
    """The process's QApplication (created on first use)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("comet")
        app.setApplicationName("comet viewer")
    assert isinstance(app, QApplication)
    return app


def run_viewer(run: str | os.PathLike[str] | None = None, compare: str | None = None) -> int:
    """Open the viewer window (loading ``run`` in the background) and run the event loop."""
    app = application()
    win = MainWindow()
    win.show()
    if run is not None:
        th = win.open_run(run)
        if compare is not None:
            th.finished.connect(lambda: win.open_run(compare, compare=True))
    return app.exec()


def _hover(win: MainWindow, unit: str) -> None:
    hm = win.heatmaps[0]
    r = hm.unit_rect(unit)
    if r is None:
        return
    pos = QPointF(r.left() + r.width() * 0.3, r.top() + r.height() * 0.3)
    ev = QMouseEvent(
        QMouseEvent.Type.MouseMove,
        pos,
        hm.mapToGlobal(pos),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    hm.mouseMoveEvent(ev)


def screenshot(
    run: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    time_s: float | None = None,
    layer: str | None = None,
    size: tuple[int, int] = (1280, 820),
    compare: str | os.PathLike[str] | None = None,
    units: Sequence[str] | None = None,
    hover: str | None = None,
) -> Path:
    """Render the viewer offscreen to a PNG and return its path.

    The window shows ``layer`` (default: the first layer with data) at ``time_s`` (default: the
    end of the run); ``units`` (default: the hottest unit of the layer and two others) are
    plotted, and the hottest unit is hovered so the status bar shows its values.
    """
    app = application()
    settings_dir = tempfile.mkdtemp(prefix="comet-view-")
    settings = QSettings(
        os.path.join(settings_dir, "viewer.ini"), QSettings.Format.IniFormat
    )  # a screenshot neither reads nor changes the user's window layout
    win = MainWindow(settings)
    win.resize(*size)
    data = win.load(run)
    if compare is not None:
        win.load(compare, compare=True)
    if layer is not None:
        if layer not in data.views:
            raise InputError(
                f"no layer {layer!r} in this run",
                path=data.path,
                hint="layers: " + ", ".join(data.display_layers),
            )
        win.set_layer(layer)
    if time_s is not None:
        if not 0.0 <= time_s <= data.duration + 1e-12:
            raise InputError(
                f"time {time_s:g} s is outside the run",
                hint=f"choose a time between 0 and {data.duration:g} s",
            )
        win.set_time(time_s)
    assert win.layer is not None
    view = data.views[win.layer]
    row = data.index_at(win.time_s)
    on_layer = [b.name for b in view.layer.blocks if b.name in data.unit_index]
    by_heat = sorted(on_layer, key=lambda u: -(data.temperature_of(u, row) or -1e9))
    if units is None:
        chosen = by_heat[:1] + [u for u in on_layer if u not in by_heat[:1]][:2]
    else:
        chosen = list(units)
    for u in chosen:
        if u not in data.unit_index:
            raise InputError(f"no temperature trace for unit {u!r}", path=data.path)
        win.toggle_unit(u)
    win.show()
    app.processEvents()
    target = hover if hover is not None else (by_heat[0] if by_heat else None)
    if target is not None:
        _hover(win, target)
    app.processEvents()
    from comet.fileio import atomic_path, ensure_dir

    out = Path(out)
    try:
        if out.is_dir():
            raise InputError("the screenshot path is a directory", path=out, hint="give a .png")
        ensure_dir(out.parent, "screenshot directory")
        with atomic_path(out, suffix=".png") as tmp:  # no truncated PNG on a full disk
            if not win.grab().save(str(tmp), "PNG"):
                raise InputError("cannot write the screenshot", path=out)
    finally:
        # Delete the window now, while this frame still holds it: left to the cyclic garbage
        # collector, it could be freed in the middle of some later paint event.
        win.hide()
        win.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    return out
