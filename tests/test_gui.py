"""The PyQt6 viewer, run for real offscreen: loading, time slider, hover, clicks, keys, pixels."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import viz_fixtures as vf
from click.testing import CliRunner

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("pytestqt")

from comet_gui.app import screenshot  # noqa: E402
from comet_gui.main_window import MainWindow  # noqa: E402
from PyQt6.QtCore import QCoreApplication, QEvent, QPoint, QSettings, Qt, QTimer  # noqa: E402
from PyQt6.QtGui import QColor, QImage  # noqa: E402

from comet.cli import main  # noqa: E402
from comet.sim.results import Run, RunWriter  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def run_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vf.make_run(tmp_path_factory.mktemp("gui") / "r", epochs=40)


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vf.make_run(tmp_path_factory.mktemp("gui") / "g", epochs=40, grid_every=10)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "viewer.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def keep(qtbot) -> Iterator[Callable[[MainWindow], MainWindow]]:  # type: ignore[no-untyped-def]
    """Register a window with qtbot *and* hold it strongly until the test's teardown.

    pytest-qt keeps only weak references. A window whose signal lambdas refer back to it lives
    in a reference cycle, so once the test function returns, Python's cyclic garbage collector
    may free it at any allocation -- including in the middle of its own ``paintEvent`` during
    pytest-qt's final event processing, which deletes the widget under the painter and crashes
    the interpreter (seen in CI as a segfault in ``_draw_colourbar``). Holding the window until
    it is closed and deleted by Qt (``deleteLater``) rules that out.
    """
    held: list[MainWindow] = []

    def _keep(win: MainWindow) -> MainWindow:
        qtbot.addWidget(win)
        held.append(win)
        return win

    yield _keep
    for win in held:
        win.close()
        win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    held.clear()


@pytest.fixture
def window(qtbot, keep, settings: QSettings, run_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    win = keep(MainWindow(settings))
    win.resize(1200, 800)
    win.load(run_path)
    win.show()
    qtbot.waitExposed(win)
    return win


def _inside(rect, fx: float = 0.2, fy: float = 0.2) -> QPoint:  # type: ignore[no-untyped-def]
    """A point inside ``rect`` away from the centred unit name and the outline."""
    return QPoint(int(rect.left() + rect.width() * fx), int(rect.top() + rect.height() * fy))


def _near(c: QColor, expected: QColor, tol: int = 3) -> bool:
    return (
        abs(c.red() - expected.red()) <= tol
        and abs(c.green() - expected.green()) <= tol
        and abs(c.blue() - expected.blue()) <= tol
    )


def test_background_load_with_progress(qtbot, keep, settings: QSettings, run_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = keep(MainWindow(settings))
    win.show()
    seen: list[int] = []
    win.loadProgress.connect(seen.append)  # connected before the load starts: nothing missed
    with qtbot.waitSignal(win.runLoaded, timeout=20000):
        win.open_run(run_path)
        assert win.progress.isVisible()
    assert win.runs
    assert seen and seen[-1] == 100
    assert not win.progress.isVisible()
    assert win.runs[0].name == "synthetic"
    assert win.index == 39  # a new run opens at its end
    assert "synthetic" in win.windowTitle()


def test_bad_run_reports_error(qtbot, keep, settings: QSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = keep(MainWindow(settings))
    with qtbot.waitSignal(win.loadFailed, timeout=10000) as blocker:
        win.open_run(tmp_path / "nothing")  # fails at once: the signal is awaited from before
    assert "no such run directory" in blocker.args[0]
    qtbot.waitUntil(lambda: "no such run directory" in win.last_error, timeout=2000)
    assert not win.runs


def test_slider_moves_time_everywhere(window: MainWindow, run_path: Path) -> None:
    run = Run(run_path)
    window.slider.setValue(9)
    assert window.index == 9
    assert window.time_s == pytest.approx(run.times[9])
    assert window.heatmaps[0].row == 9
    assert window.stack_panel.row == 9
    assert window.plot.time_s == pytest.approx(0.010)
    assert "t = 10.000 ms" in window.time_label.text() and "(10/40)" in window.time_label.text()


def test_hover_shows_values_of_the_traces(qtbot, window: MainWindow, run_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = Run(run_path)
    window.slider.setValue(14)
    hm = window.heatmaps[0]
    rect = hm.unit_rect("C_3")
    assert rect is not None
    qtbot.mouseMove(hm, _inside(rect))
    qtbot.waitUntil(lambda: hm.hover_unit == "C_3", timeout=2000)
    t = run.temperature["C_3"].iloc[14]
    text = window.hover_label.text()
    assert text.startswith("C_3 (core)")
    assert f"{t:.2f} °C" in text
    assert f"{run.power['C_3'].iloc[14]:.3f} W" in text
    assert "t = 15.000 ms" in text
    # the values follow the slider while the cursor stays on the unit
    window.step(5)
    assert f"{run.temperature['C_3'].iloc[19]:.2f} °C" in window.hover_label.text()
    rect0 = hm.unit_rect("C_0")
    assert rect0 is not None
    qtbot.mouseMove(hm, _inside(rect0))
    qtbot.waitUntil(lambda: hm.hover_unit == "C_0", timeout=2000)
    assert f"{run.temperature['C_0'].iloc[19]:.2f} °C" in window.hover_label.text()


def test_hot_unit_drawn_in_hot_colour(window: MainWindow, run_path: Path) -> None:
    run = Run(run_path)
    window.set_index(39)
    hm = window.heatmaps[0]
    img = hm.grab().toImage()
    scale = hm.scale
    assert scale is not None
    rect_hot, rect_cold = hm.unit_rect("C_3"), hm.unit_rect("C_0")
    assert rect_hot is not None and rect_cold is not None
    hot = img.pixelColor(_inside(rect_hot))
    cold = img.pixelColor(_inside(rect_cold))
    assert _near(hot, scale.colour(run.temperature["C_3"].iloc[39]))
    assert _near(cold, scale.colour(run.temperature["C_0"].iloc[39]))
    # inferno: the hottest unit is pale yellow, a cool one dark purple
    assert hot.red() > 240 and hot.green() > 200 and cold.green() < 60
    # earlier in time the same unit is darker (the scale is fixed over the run)
    window.set_index(0)
    early = hm.grab().toImage().pixelColor(_inside(rect_hot))
    assert _near(early, scale.colour(run.temperature["C_3"].iloc[0]))
    assert early.lightness() < hot.lightness() - 60


def test_grid_maps_and_mode_switch(qtbot, keep, settings: QSettings, grid_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = keep(MainWindow(settings))
    win.resize(1200, 800)
    data = win.load(grid_path)
    win.show()
    hm = win.heatmaps[0]
    assert hm.uses_grid()
    assert data.grid is not None
    win.set_time(0.02)
    rect = hm.map_rect()
    # the hot spot cell (row 3, col 11 of 16) of the core layer at 20 ms
    cx = rect.left() + (11 + 0.5) / 16 * rect.width()
    cy = rect.top() + (3 + 0.5) / 16 * rect.height()
    expected = hm.scale.colour(float(data.grid.temperature_degC[1, 0, 3, 11]))  # type: ignore[union-attr]
    img = hm.grab().toImage()
    # sample the right half of the cell (the unit name sits in the middle of C_3)
    px = img.pixelColor(
        QPoint(int(cx + rect.width() / 16 * 0.3), int(cy - rect.height() / 16 * 0.3))
    )
    assert _near(px, expected, tol=4)
    assert "grid cell" in hm.hover_text() or hm.hover_unit is None
    win.mode_box.setCurrentIndex(1)  # block maps
    assert not hm.uses_grid()
    img = hm.grab().toImage()
    px = img.pixelColor(
        QPoint(int(cx + rect.width() / 16 * 0.3), int(cy - rect.height() / 16 * 0.3))
    )
    assert _near(px, hm.scale.colour(float(data.temperature_of("C_3", data.index_at(0.02)))))  # type: ignore[arg-type, union-attr]


def test_click_units_into_the_time_series(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    hm = window.heatmaps[0]
    for unit in ("C_3", "C_1"):
        rect = hm.unit_rect(unit)
        assert rect is not None
        qtbot.mouseClick(hm, Qt.MouseButton.LeftButton, pos=_inside(rect))
    assert window.selected_units == ["C_3", "C_1"]
    assert [s.unit for s in window.plot.series] == ["C_3", "C_1"]
    assert window.plot.thresholds == [80.0, 90.0]
    # the curve of C_3 is drawn in its series colour at the current time (value dot)
    window.set_index(39)
    img = window.plot.grab().toImage()
    t = window.runs[0].temperature_of("C_3", 39)
    assert t is not None
    x, y = window.plot.x_of(window.time_s), window.plot.y_of(t)
    colour = img.pixelColor(QPoint(int(round(x)) - 1, int(round(y))))
    assert colour.blue() > 150 and colour.red() < 80  # tab10 blue
    # the y axis covers the thresholds near the data
    lo, hi = window.plot._y_range
    assert lo < 50 and 95 < hi < 100
    # clicking again removes the unit; the clear button empties the plot
    rect = hm.unit_rect("C_3")
    assert rect is not None
    qtbot.mouseClick(hm, Qt.MouseButton.LeftButton, pos=_inside(rect))
    assert window.selected_units == ["C_1"]
    window.clear_units()
    assert window.plot.series == []
    window.quantity_box.setCurrentIndex(1)
    assert window.plot.quantity == "power"


def test_keyboard_and_playback(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert window.index == 0
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.index == 1
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert window.index == 11
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.index == 10
    qtbot.keyClick(window, Qt.Key.Key_End)
    assert window.index == 39
    qtbot.keyClick(window, Qt.Key.Key_Down)  # towards layer 0... already the lowest
    assert window.layer == "core"
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert window.layer == "dram0"
    qtbot.keyClick(window, Qt.Key.Key_Home)
    window.speed_box.setCurrentIndex(window.speed_box.count() - 1)  # fastest
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.playing
    qtbot.waitUntil(lambda: not window.playing, timeout=10000)  # stops at the end
    assert window.index == 39
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.playing and window.index < 39  # restarts from the beginning
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.playing


def test_stack_panel_selects_layers(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    sp = window.stack_panel
    assert sp._order() == ["dram1", "dram0", "tim0", "core"]  # heat sink on top
    qtbot.mouseClick(sp, Qt.MouseButton.LeftButton, pos=sp.layer_centre("dram1").toPoint())
    assert window.layer == "dram1" and window.heatmaps[0].layer == "dram1"
    qtbot.mouseClick(sp, Qt.MouseButton.LeftButton, pos=sp.layer_centre("tim0").toPoint())
    assert window.layer == "dram1"  # tim0 has no data in this run: not selectable
    # the exploded view colours the hot core with the hot colour
    img = sp.grab().toImage()
    tr = sp.layer_transform("core")
    p = tr.map(vf.MM * 2.6, vf.MM * 2.6)
    colour = img.pixelColor(QPoint(int(p[0]), int(p[1])))
    expected = sp.scale.colour(window.runs[0].temperature_of("C_3", window.stack_panel.row))  # type: ignore[union-attr]
    assert _near(colour, expected, tol=4)


def test_compare_two_runs(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = vf.make_run(tmp_path / "short", epochs=25)
    window.toggle_unit("C_3")
    window.load(other, compare=True)
    assert len(window.runs) == 2
    assert window.heatmaps[1].isVisible()
    assert window.heatmaps[0].scale is window.heatmaps[1].scale  # one colour scale
    assert len(window.times) == 40  # union of the time axes
    assert [(s.unit, s.dashed) for s in window.plot.series] == [("C_3", False), ("C_3", True)]
    window.set_time(0.030)  # beyond the end of the short run: it shows its last epoch
    assert window.heatmaps[0].row == 29 and window.heatmaps[1].row == 24
    window.close_comparison()
    assert len(window.runs) == 1 and not window.heatmaps[1].isVisible()


def test_settings_remember_layout(qtbot, keep, settings: QSettings, run_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = keep(MainWindow(settings))
    win.show()
    win.resize(790, 540)  # within the offscreen screen (restoreGeometry keeps windows on it)
    win.speed_box.setCurrentIndex(0)
    win.main_split.setSizes([300, 460])
    win.close()
    again = keep(MainWindow(settings))
    again.show()
    assert again.speed == 10
    assert (again.size().width(), again.size().height()) == (790, 540)
    assert abs(again.main_split.sizes()[0] - 300) <= 2


def test_screenshot_function_and_cli(qtbot, keep, run_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = screenshot(run_path, tmp_path / "shot.png", time_s=0.04, layer="core", size=(1000, 700))
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 700)
    # the same window, built the same way, tells where C_3 is
    win = keep(MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    win.resize(1000, 700)
    data = win.load(run_path)
    win.set_time(0.04)
    win.toggle_unit("C_3")
    win.show()
    qtbot.waitExposed(win)
    hm = win.heatmaps[0]
    rect = hm.unit_rect("C_3")
    assert rect is not None
    pos = hm.mapTo(win, _inside(rect, 0.25, 0.75))
    expected = hm.scale.colour(data.temperature_of("C_3", 39))  # type: ignore[union-attr]
    assert _near(img.pixelColor(pos), expected)
    # CLI
    res = CliRunner().invoke(
        main,
        ["view", str(run_path), "--screenshot", str(tmp_path / "c.png"), "--time", "0.01",
         "--layer", "dram0", "--size", "800x600"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert QImage(str(tmp_path / "c.png")).width() == 800
    res = CliRunner().invoke(
        main, ["view", str(run_path), "--screenshot", str(tmp_path / "d.png"), "--layer", "x"]
    )
    assert res.exit_code == 2 and "no layer 'x'" in res.output
    res = CliRunner().invoke(
        main, ["view", str(run_path), "--screenshot", str(tmp_path / "d.png"), "--time", "5"]
    )
    assert res.exit_code == 2 and "outside the run" in res.output
    res = CliRunner().invoke(
        main, ["view", str(run_path), "--screenshot", str(tmp_path / "d.png"), "--size", "big"]
    )
    assert res.exit_code == 2 and "bad --size" in res.output
    res = CliRunner().invoke(main, ["view", str(tmp_path / "none"), "--screenshot", "x.png"])
    assert res.exit_code == 2 and "no such run directory" in res.output


def test_view_without_pyqt6(monkeypatch: pytest.MonkeyPatch, run_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "PyQt6.QtWidgets", None)
    res = CliRunner().invoke(main, ["view", str(run_path)])
    assert res.exit_code == 2
    assert "the viewer needs PyQt6" in res.output and 'pip install "comet[gui]"' in res.output


@pytest.mark.slow
def test_large_run_loads_in_background_and_scrubs(
    qtbot, keep, settings: QSettings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """10 s at 1 ms epochs, 16 cores + 128 banks: the event loop keeps running while loading."""
    cores = [f"C_{i}" for i in range(16)]
    banks = [f"B_{i}" for i in range(128)]
    from comet.floorplan.model import Block
    from comet.sim.results import RunLayer

    mm = 1e-3
    core_blocks = tuple(
        Block(c, 2 * mm, 2 * mm, (i % 4) * 2 * mm, (i // 4) * 2 * mm) for i, c in enumerate(cores)
    )
    layers = [RunLayer("core", 0, "core", core_blocks, 8 * mm, 8 * mm)]
    for k in range(8):
        blocks = tuple(
            Block(banks[16 * k + i], 2 * mm, 2 * mm, (i % 4) * 2 * mm, (i // 4) * 2 * mm)
            for i in range(16)
        )
        layers.append(RunLayer(f"dram{k}", k + 1, "dram", blocks, 8 * mm, 8 * mm))
    units = cores + banks
    rng = np.random.default_rng(1)
    base = 50 + 30 * rng.random(len(units))
    with RunWriter(tmp_path / "big", flush_every=500) as w:
        w.write_layers(layers)
        w.open(temperature=units, power=units)
        for k in range(1, 10001):
            w.append(k * 1e-3, temperature=base + np.sin(k / 300.0), power=base / 20)
    win = keep(MainWindow(settings))
    win.resize(1200, 800)
    win.show()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    th = win.open_run(tmp_path / "big")
    qtbot.waitUntil(lambda: bool(win.runs), timeout=120000)
    timer.stop()
    assert ticks, "the event loop was blocked while loading"
    assert len(win.times) == 10000
    hm = win.heatmaps[0]
    for i in range(0, 10000, 97):
        win.set_index(i)
        hm.repaint()
    win.set_layer("dram7")
    for u in ("B_120", "B_127", "C_0"):
        win.toggle_unit(u)
    win.plot.repaint()
    assert win.runs[0].temperature_of("B_127", 5000) == pytest.approx(
        base[-1] + np.sin(5001 / 300.0), abs=1e-3
    )
    th.wait()


def test_cpi_stack_in_the_time_series(qtbot, keep, settings: QSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A run with cpi.csv offers the CPI stack's groups in the time series: the share of each
    epoch a core spent computing, stalled on DRAM and otherwise, adding up to the epoch."""
    from comet.sim.engine import Simulation
    from tests.loop_helpers import tiny

    cfg = tiny(sim={"duration": "6ms", "record_cpi": True})
    path = Simulation(cfg).run(tmp_path / "cpi").path
    win = keep(MainWindow(settings))
    win.resize(1200, 800)
    win.load(path)
    win.show()
    qtbot.waitExposed(win)
    items = [win.quantity_box.itemText(i) for i in range(win.quantity_box.count())]
    assert items == ["temperature", "power", "CPI: compute", "CPI: memory", "CPI: other"]
    data = win.runs[0]
    total = sum(data.cpi_share(g, "C_0") for g in ("compute", "memory", "other"))
    np.testing.assert_allclose(total, 1.0, atol=1e-4)  # a busy core: the whole epoch
    win.quantity_box.setCurrentIndex(3)
    assert win.plot.quantity == "cpi:memory"
    # a run without cpi.csv offers temperature and power only
    plain = Simulation(tiny(sim={"duration": "2ms"})).run(tmp_path / "plain").path
    win.load(plain)
    assert win.quantity_box.count() == 2 and win.plot.quantity == "temperature"
