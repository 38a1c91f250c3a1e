"""The viewer's main window: stack panel, heatmap(s), time series and the timeline controls."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QByteArray, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from comet.viz.layout import format_time

from .colors import ColourScale
from .heatmap_widget import HeatmapWidget
from .loader import LoaderThread, RunData, load_run_data
from .stack_panel import StackPanel
from .timeseries import Series, TimeSeriesPlot

#: playback speeds offered (epochs per second of wall time)
SPEEDS = (10, 30, 100, 300, 1000, 3000)
TICK_MS = 33


class MainWindow(QMainWindow):
    """comet's run viewer. ``runs[0]`` is the run shown; ``runs[1]`` the one it is compared with.

    Background loads (:meth:`open_run`) report through the window's own signals, emitted in the
    GUI thread: ``loadProgress(percent)``, then ``runLoaded(RunData)`` or ``loadFailed(message)``.
    Connect to them before calling :meth:`open_run`; the loader thread's own signals may fire
    before a caller that connects after :meth:`open_run` returns is listening.

    Args:
        settings: where the window layout is remembered (default: the user's QSettings of
            ``comet/viewer``).
    """

    loadProgress = pyqtSignal(int)
    runLoaded = pyqtSignal(object)
    loadFailed = pyqtSignal(str)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings("comet", "viewer")
        self.runs: list[RunData] = []
        self.times = np.zeros(0)
        self.index = 0
        self.layer: str | None = None
        self.selected_units: list[str] = []
        self.playing = False
        self.speed = 100
        self._play_clock = 0.0
        self._play_carry = 0.0
        self._loaders: list[LoaderThread] = []
        self.setWindowTitle("comet viewer")
        self._build()
        self._restore()

    # ---------------------------------------------------------------------------------- layout

    def _build(self) -> None:
        self.stack_panel = StackPanel()
        self.stack_panel.layerSelected.connect(self.set_layer)
        self.heatmaps = [HeatmapWidget(), HeatmapWidget()]
        for hm in self.heatmaps:
            hm.unitClicked.connect(self.toggle_unit)
            hm.hovered.connect(self._on_hover)
        self.heatmaps[1].hide()
        heat_area = QWidget()
        hl = QHBoxLayout(heat_area)
        hl.setContentsMargins(0, 0, 0, 0)
        for hm in self.heatmaps:
            hl.addWidget(hm)
        self.plot = TimeSeriesPlot()
        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.setObjectName("right_split")
        self.right_split.addWidget(heat_area)
        self.right_split.addWidget(self.plot)
        self.right_split.setStretchFactor(0, 3)
        self.right_split.setStretchFactor(1, 1)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.setObjectName("main_split")
        self.main_split.addWidget(self.stack_panel)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(0, 0)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setSizes([260, 1000])
        self.right_split.setSizes([520, 260])

        controls = QWidget()
        cl = QHBoxLayout(controls)
        cl.setContentsMargins(6, 2, 6, 2)

        style = self.style()
        assert style is not None

        def button(icon: QStyle.StandardPixmap, tip: str, slot: object) -> QToolButton:
            b = QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)  # type: ignore[arg-type]
            cl.addWidget(b)
            return b

        sp = QStyle.StandardPixmap
        button(sp.SP_MediaSkipBackward, "first epoch (Home)", lambda: self.set_index(0))
        button(sp.SP_MediaSeekBackward, "previous epoch (Left; Shift: x10)", lambda: self.step(-1))
        self.play_button = button(sp.SP_MediaPlay, "play / pause (Space)", self.toggle_play)
        button(sp.SP_MediaSeekForward, "next epoch (Right; Shift: x10)", lambda: self.step(1))
        button(
            sp.SP_MediaSkipForward, "last epoch (End)", lambda: self.set_index(len(self.times) - 1)
        )
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setMinimum(0)
        self.slider.setMaximum(0)
        self.slider.valueChanged.connect(self.set_index)
        cl.addWidget(self.slider, 1)
        self.time_label = QLabel("t = –")
        self.time_label.setMinimumWidth(170)
        cl.addWidget(self.time_label)
        self.speed_box = QComboBox()
        self.speed_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            self.speed_box.addItem(f"{s} epochs/s", s)
        self.speed_box.setToolTip("playback speed")
        self.speed_box.currentIndexChanged.connect(
            lambda i: setattr(self, "speed", int(self.speed_box.itemData(i)))
        )
        cl.addWidget(self.speed_box)
        self.quantity_box = QComboBox()
        self.quantity_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.quantity_box.addItem("temperature", "temperature")
        self.quantity_box.addItem("power", "power")
        self.quantity_box.setToolTip("what the time-series plot shows")
        self.quantity_box.currentIndexChanged.connect(
            lambda i: self.plot.set_quantity(str(self.quantity_box.itemData(i)))
        )
        cl.addWidget(self.quantity_box)
        self.mode_box = QComboBox()
        self.mode_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for m in ("auto", "block", "grid"):
            self.mode_box.addItem(f"{m} map", m)
        self.mode_box.setToolTip("grid maps (grid.npz) or block maps")
        self.mode_box.currentIndexChanged.connect(self._on_mode)
        cl.addWidget(self.mode_box)
        clear = QPushButton("clear plot")
        clear.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        clear.clicked.connect(self.clear_units)
        cl.addWidget(clear)

        central = QWidget()
        vl = QVBoxLayout(central)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.addWidget(self.main_split, 1)
        vl.addWidget(controls)
        self.setCentralWidget(central)

        self.hover_label = QLabel("")
        self.statusBar().addWidget(self.hover_label, 1)  # type: ignore[union-attr]
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)  # type: ignore[union-attr]

        menu = self.menuBar()
        assert menu is not None
        file_menu = menu.addMenu("&File")
        assert file_menu is not None
        for text, key, slot in (
            ("&Open run…", QKeySequence.StandardKey.Open, self._open_dialog),
            ("&Compare with…", "Ctrl+K", self._compare_dialog),
            ("Close comparison", None, self.close_comparison),
            ("Save &screenshot…", "Ctrl+S", self._screenshot_dialog),
            ("&Quit", QKeySequence.StandardKey.Quit, self.close),
        ):
            act = QAction(text, self)
            if key is not None:
                act.setShortcut(QKeySequence(key))
            act.triggered.connect(slot)
            file_menu.addAction(act)

        for key, slot in (
            ("Space", self.toggle_play),
            ("Right", lambda: self.step(1)),
            ("Left", lambda: self.step(-1)),
            ("Shift+Right", lambda: self.step(10)),
            ("Shift+Left", lambda: self.step(-10)),
            ("PgDown", lambda: self.step(100)),
            ("PgUp", lambda: self.step(-100)),
            ("Home", lambda: self.set_index(0)),
            ("End", lambda: self.set_index(len(self.times) - 1)),
            ("Up", lambda: self.next_layer(1)),
            ("Down", lambda: self.next_layer(-1)),
        ):
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(slot)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -------------------------------------------------------------------------------- settings

    def _restore(self) -> None:
        s = self.settings
        geo = s.value("geometry")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 860)
        state = s.value("state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for split in (self.main_split, self.right_split):
            v = s.value(split.objectName())
            if isinstance(v, QByteArray):
                split.restoreState(v)
        try:
            speed = int(s.value("speed", 100))
        except (TypeError, ValueError):
            speed = 100
        self.speed = speed if speed in SPEEDS else 100
        self.speed_box.setCurrentIndex(SPEEDS.index(self.speed))
        mode = s.value("mode")
        if mode in ("auto", "block", "grid"):
            self.mode_box.setCurrentIndex(("auto", "block", "grid").index(str(mode)))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("state", self.saveState())
        for split in (self.main_split, self.right_split):
            s.setValue(split.objectName(), split.saveState())
        s.setValue("speed", self.speed)
        s.setValue("mode", self.mode_box.currentData())
        s.sync()

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 - Qt API
        self.timer.stop()
        self.save_settings()
        for th in self._loaders:
            th.wait(5000)
        super().closeEvent(event)

    # --------------------------------------------------------------------------------- loading

    def open_run(self, path: str | os.PathLike[str], compare: bool = False) -> LoaderThread:
        """Load a run in the background (progress in the status bar); returns the thread."""
        th = LoaderThread(path, self)
        self._loaders.append(th)
        self.progress.setValue(0)
        self.progress.show()
        self.progress.setFormat(f"loading {Path(path).name}: %p%")
        th.progress.connect(lambda pct, what: self._load_progress(pct))
        th.loaded.connect(lambda data: self._loaded(data, compare))
        th.failed.connect(self._load_failed)
        th.finished.connect(lambda: self._loaders.remove(th) if th in self._loaders else None)
        th.start()
        return th

    def _load_progress(self, percent: int) -> None:
        self.progress.setValue(percent)
        self.loadProgress.emit(percent)

    def _loaded(self, data: RunData, compare: bool) -> None:
        self.progress.hide()
        self.set_run_data(data, compare=compare)
        self.runLoaded.emit(data)

    def _load_failed(self, message: str) -> None:
        self.progress.hide()
        self.statusBar().showMessage(message, 15000)  # type: ignore[union-attr]
        if self.isVisible() and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
            QMessageBox.warning(self, "comet viewer", message)
        self.last_error = message
        self.loadFailed.emit(message)

    def load(self, path: str | os.PathLike[str], compare: bool = False) -> RunData:
        """Load a run synchronously (screenshots, tests) and show it."""
        data = load_run_data(path)
        self.set_run_data(data, compare=compare)
        return data

    def _set_quantities(self, data: RunData) -> None:
        """Temperature and power, and the CPI stack's groups when the run recorded them."""
        want = ["temperature", "power"] + [f"cpi:{g}" for g in data.cpi]
        have = [str(self.quantity_box.itemData(i)) for i in range(self.quantity_box.count())]
        if want == have:
            return
        current = self.plot.quantity if self.plot.quantity in want else "temperature"
        self.quantity_box.blockSignals(True)
        self.quantity_box.clear()
        for q in want:
            self.quantity_box.addItem(q if not q.startswith("cpi:") else f"CPI: {q[4:]}", q)
        self.quantity_box.setCurrentIndex(want.index(current))
        self.quantity_box.blockSignals(False)
        self.plot.set_quantity(current)

    def set_run_data(self, data: RunData, compare: bool = False) -> None:
        """Show ``data`` (or compare the shown run with it)."""
        if compare and self.runs:
            self.runs = [self.runs[0], data]
        else:
            self.runs = [data]
            self.selected_units = [u for u in self.selected_units if u in data.unit_index]
        self.times = self.runs[0].times
        if len(self.runs) == 2:
            self.times = np.union1d(self.runs[0].times, self.runs[1].times)
        lo = min(r.tmin for r in self.runs)
        hi = max(r.tmax for r in self.runs)
        scale = ColourScale(lo, hi)
        self.heatmaps[0].set_data(self.runs[0], scale)
        self.heatmaps[0].caption = f"{self.runs[0].name}: " if len(self.runs) == 2 else ""
        if len(self.runs) == 2:
            self.heatmaps[1].set_data(self.runs[1], scale)
            self.heatmaps[1].caption = f"{self.runs[1].name}: "
            self.heatmaps[1].show()
        else:
            self.heatmaps[1].set_data(None)
            self.heatmaps[1].hide()
        self.stack_panel.set_data(self.runs[0], scale)
        self._set_quantities(self.runs[0])
        layers = self.runs[0].display_layers
        if self.layer not in layers:
            self.layer = layers[0] if layers else None
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(len(self.times) - 1, 0))
        self.slider.blockSignals(False)
        names = " vs ".join(r.name for r in self.runs)
        self.setWindowTitle(f"comet viewer: {names}")
        if self.layer is not None:
            self.set_layer(self.layer)
        self._refresh_plot()
        self.set_index(min(self.index, len(self.times) - 1) if compare else len(self.times) - 1)
        for r in self.runs:
            self.settings.setValue("last_dir", str(r.path.parent))

    def close_comparison(self) -> None:
        if len(self.runs) == 2:
            self.set_run_data(self.runs[0])

    def _dialog_dir(self) -> str:
        return str(self.settings.value("last_dir", os.getcwd()))

    def _open_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a comet run directory", self._dialog_dir())
        if d:
            self.open_run(d)

    def _compare_dialog(self) -> None:
        if not self.runs:
            self._open_dialog()
            return
        d = QFileDialog.getExistingDirectory(self, "Compare with run directory", self._dialog_dir())
        if d:
            self.open_run(d, compare=True)

    def _screenshot_dialog(self) -> None:
        f, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "comet-view.png", "PNG (*.png)")
        if f:
            self.grab().save(f)

    # ------------------------------------------------------------------------------- the time

    @property
    def time_s(self) -> float:
        return float(self.times[self.index]) if self.times.size else 0.0

    def set_index(self, index: int) -> None:
        """Show the epoch ``index`` of the time axis (clamped)."""
        if not self.times.size:
            return
        index = int(min(max(index, 0), len(self.times) - 1))
        self.index = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        t = self.time_s
        for hm in self.heatmaps[: len(self.runs)]:
            hm.set_time(t)
        if self.runs:
            self.stack_panel.set_row(self.runs[0].index_at(t))
        self.plot.set_time(t)
        self.time_label.setText(f"t = {format_time(t)}  ({index + 1}/{len(self.times)})")
        self._on_hover(self.heatmaps[0].hover_unit or "")

    def set_time(self, time_s: float) -> None:
        """Show the epoch holding ``time_s`` (s)."""
        if self.times.size:
            i = int(np.searchsorted(self.times, time_s - 1e-12, side="left"))
            self.set_index(min(i, len(self.times) - 1))

    def step(self, n: int) -> None:
        self.set_index(self.index + n)

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if not self.times.size:
            return
        if self.index >= len(self.times) - 1:
            self.set_index(0)
        self.playing = True
        self.play_button.setIcon(self._icon(QStyle.StandardPixmap.SP_MediaPause))
        self._play_clock = time.perf_counter()
        self._play_carry = 0.0
        self.timer.start()

    def pause(self) -> None:
        self.playing = False
        self.play_button.setIcon(self._icon(QStyle.StandardPixmap.SP_MediaPlay))
        self.timer.stop()

    def _icon(self, which: QStyle.StandardPixmap) -> QIcon:
        style = self.style()
        assert style is not None
        return style.standardIcon(which)

    def _tick(self) -> None:
        now = time.perf_counter()
        self._play_carry += (now - self._play_clock) * self.speed
        self._play_clock = now
        n = int(self._play_carry)
        if n >= 1:
            self._play_carry -= n
            if self.index + n >= len(self.times) - 1:
                self.set_index(len(self.times) - 1)
                self.pause()
            else:
                self.set_index(self.index + n)

    # ----------------------------------------------------------------------------- the layers

    def set_layer(self, name: str) -> None:
        if not self.runs or name not in self.runs[0].views:
            return
        self.layer = name
        for hm, data in zip(self.heatmaps, self.runs, strict=False):
            if name in data.views:
                hm.set_layer(name)
        self.stack_panel.set_selected(name)

    def next_layer(self, direction: int) -> None:
        """Select the layer above (+1, towards the sink) or below (-1)."""
        if not self.runs or self.layer is None:
            return
        layers = self.runs[0].display_layers
        k = layers.index(self.layer) + direction
        if 0 <= k < len(layers):
            self.set_layer(layers[k])

    def _on_mode(self, i: int) -> None:
        mode = str(self.mode_box.itemData(i))
        for hm in self.heatmaps:
            hm.set_mode(mode)

    # ------------------------------------------------------------------------------ the units

    def toggle_unit(self, unit: str) -> None:
        """Add ``unit`` to the time-series plot (or remove it if it is there)."""
        if unit in self.selected_units:
            self.selected_units.remove(unit)
        else:
            self.selected_units.append(unit)
        self._refresh_plot()

    def clear_units(self) -> None:
        self.selected_units = []
        self._refresh_plot()

    def _refresh_plot(self) -> None:
        series: list[Series] = []
        for k, data in enumerate(self.runs):
            for u in self.selected_units:
                if u in data.unit_index:
                    series.append(Series(data, u, dashed=k == 1))
        thresholds = self.runs[0].thresholds if self.runs else []
        self.plot.set_series(series, list(self.selected_units), thresholds)
        for hm in self.heatmaps:
            hm.selected = set(self.selected_units)
            hm.update()

    def _on_hover(self, unit: str) -> None:
        texts = [hm.hover_text() for hm in self.heatmaps[: len(self.runs)] if hm.hover_unit]
        self.hover_label.setText("   |   ".join(texts))
