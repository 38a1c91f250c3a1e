"""Plots and heatmaps of a run: content (lines, colours at known hot spots), files, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import viz_fixtures as vf
from click.testing import CliRunner
from PIL import Image

from comet.cli import main
from comet.errors import InputError
from comet.sim.results import Run, RunWriter
from comet.viz.heatmap import HeatmapPanels, floorplan_figure, heatmap_figure
from comet.viz.layout import (
    frame_indices,
    layer_views,
    panel_grid,
    peak_index,
    temperature_range,
    text_colour,
)
from comet.viz.plots import (
    bank_mode_figure,
    core_temperature_figure,
    frequency_figure,
    layer_temperature_figure,
    overview_figure,
    plot_run,
    power_figure,
)

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def block_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(vf.make_run(tmp_path_factory.mktemp("viz") / "block", epochs=40))


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(vf.make_run(tmp_path_factory.mktemp("viz") / "grid", epochs=40, grid_every=10))


def _close(rgb: np.ndarray, expected: tuple[int, int, int], tol: int = 6) -> bool:
    return bool(np.all(np.abs(rgb.astype(int) - np.array(expected)) <= tol))


# ----------------------------------------------------------------------------- layout helpers


def test_layout_helpers(block_run: Run) -> None:
    assert panel_grid(1) == (1, 1)
    assert panel_grid(3) == (2, 2)
    assert panel_grid(12) == (3, 4)
    assert frame_indices(10, max_frames=None) == list(range(10))
    assert frame_indices(10, every=4) == [3, 7, 9]
    idx = frame_indices(1000, max_frames=100)
    assert len(idx) == 100 and idx[-1] == 999
    assert text_colour((1, 1, 0.6)) == "black" and text_colour((0.1, 0, 0.2)) == "white"
    # the peak instant is the epoch in which the hottest unit is hottest (the last, rising)
    assert peak_index(block_run) == 39
    views = layer_views(block_run)
    assert [v.name for v in views] == ["core", "dram0", "dram1"]  # tim0 has no trace
    assert views[0].block_at(3e-3, 3e-3) == 3 and views[0].block_at(5e-3, 1e-3) is None
    lo, hi = temperature_range(block_run, views)
    assert lo == pytest.approx(block_run.temperature.min().min())
    assert hi == pytest.approx(block_run.temperature["C_3"].max())


# ----------------------------------------------------------------------------- heatmaps


def test_block_heatmap_hot_unit_in_hot_colour(block_run: Run) -> None:
    panels = HeatmapPanels(block_run, mode="block")
    t_end = float(block_run.times[-1])
    panels.show(t_end)
    img = panels.rgb()
    assert panels.fig.get_size_inches()[0] * panels.fig.dpi == pytest.approx(img.shape[1])
    hot = block_run.temperature["C_3"].iloc[-1]
    cold = block_run.temperature["C_0"].iloc[-1]
    # sample away from the centred unit names
    x, y = panels.pixel_of("core", 2.3e-3, 2.3e-3)
    assert _close(img[y, x], panels.colour_of(hot))
    assert hot == pytest.approx(panels.tmax)  # the hottest unit is at the top of the scale
    x0, y0 = panels.pixel_of("core", 0.3e-3, 0.3e-3)
    assert _close(img[y0, x0], panels.colour_of(cold))
    assert img[y, x].astype(int).sum() > img[y0, x0].astype(int).sum() + 200
    # the warm bank on dram0 too
    xb, yb = panels.pixel_of("dram0", 3.2e-3, 2.3e-3)
    assert _close(img[yb, xb], panels.colour_of(block_run.temperature["B_7"].iloc[-1]))
    # the colour scale is fixed over the run: an early instant keeps the same mapping
    t0 = float(block_run.times[0])
    panels.show(t0)
    img0 = panels.rgb()
    assert _close(img0[y, x], panels.colour_of(block_run.temperature["C_3"].iloc[0]))
    assert img0[y, x].astype(int).sum() < img[y, x].astype(int).sum() - 150


def test_grid_heatmap_uses_grid_snapshots(grid_run: Run) -> None:
    panels = HeatmapPanels(grid_run, labels=False)  # auto: grid maps where stored
    assert all(panels.use_grid)
    assert [v.name for v in panels.views] == ["core", "tim0", "dram0", "dram1"]
    np.testing.assert_allclose(panels.times, grid_run.grid.times_s)  # type: ignore[union-attr]
    shown = panels.show(0.025)
    assert shown == pytest.approx(0.02)  # the last snapshot at or before 25 ms
    img = panels.rgb()
    g = grid_run.grid.temperature_degC[1, 0]  # type: ignore[union-attr]
    # the 3 degC hot spot in the middle of C_3: grid row/col of (3 mm, 3 mm), 16x16 cells
    x, y = panels.pixel_of("core", 2.875e-3, 3.125e-3)
    assert _close(img[y, x], panels.colour_of(float(g[3, 11])))
    assert float(g[3, 11]) == pytest.approx(float(g[0, 15]) + 3.0, abs=1e-3)
    xt, yt = panels.pixel_of("tim0", 1e-3, 1e-3)
    tim = grid_run.grid.temperature_degC[1, 1, 12, 4]  # type: ignore[union-attr]
    assert _close(img[yt, xt], panels.colour_of(float(tim)))
    # block mode on the same run ignores the snapshots
    bp = HeatmapPanels(grid_run, mode="block")
    assert not any(bp.use_grid) and "tim0" not in [v.name for v in bp.views]


def test_heatmap_figure_defaults_to_peak_and_accepts_scale(block_run: Run) -> None:
    fig = heatmap_figure(block_run, mode="block", tmin=40, tmax=120, layers=["core"])
    texts = [t.get_text() for t in fig.texts]
    assert any("t = 40.000 ms" in t for t in texts)
    assert any(t.startswith("core") and "max" in t for t in texts)
    with pytest.raises(InputError, match="empty colour scale"):
        heatmap_figure(block_run, tmin=90, tmax=80)
    with pytest.raises(InputError, match="no grid snapshots"):
        heatmap_figure(block_run, mode="grid")
    with pytest.raises(InputError, match="no layer 'x'"):
        heatmap_figure(block_run, layers=["x"])


def test_floorplan_figure_names_every_unit(block_run: Run) -> None:
    fig = floorplan_figure(block_run)
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert set(vf.UNITS) | {"TIM0"} <= texts
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["0: core (core)", "1: tim0 (tim)", "2: dram0 (dram)", "3: dram1 (dram)"]


# ----------------------------------------------------------------------------- time series


def test_core_temperature_lines_match_traces(block_run: Run) -> None:
    fig = core_temperature_figure(block_run)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(vf.CORES) <= set(lines)
    np.testing.assert_allclose(lines["C_3"].get_ydata(), block_run.temperature["C_3"].to_numpy())
    np.testing.assert_allclose(lines["C_3"].get_xdata(), block_run.times * 1e3)  # ms
    hlines = sorted(
        float(ln.get_ydata()[0]) for ln in ax.get_lines() if ln.get_label().startswith("_")
    )
    assert hlines == [80.0, 90.0]  # the run's thresholds
    assert ax.get_xlabel() == "time (ms)"
    with pytest.raises(InputError, match="no temperature trace for Z"):
        core_temperature_figure(block_run, ["Z"])


def test_layer_power_frequency_bank_figures(block_run: Run) -> None:
    ax = layer_temperature_figure(block_run).axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(
        lines["dram0 max"].get_ydata(), block_run.temperature[vf.BANKS[:8]].max(axis=1)
    )
    np.testing.assert_allclose(
        lines["dram1 mean"].get_ydata(), block_run.temperature[vf.BANKS[8:]].mean(axis=1)
    )
    pax = power_figure(block_run).axes
    core_total = {ln.get_label(): ln for ln in pax[0].get_lines()}["core"].get_ydata()
    np.testing.assert_allclose(core_total, sum(vf.power_W(c) for c in vf.CORES))
    fax = frequency_figure(block_run).axes[0]
    c3 = {ln.get_label(): ln for ln in fax.get_lines()}["C_3"].get_ydata()
    assert c3.max() == pytest.approx(3.0, abs=0.01) and c3.min() == pytest.approx(2.0, abs=0.01)
    bfig = bank_mode_figure(block_run)
    data = bfig.axes[0].images[0].get_array()
    assert data.shape == (8, 40)
    assert data[7, -1] == 1 and data[7, 0] == 0 and data[:7].sum() == 0
    ofig = overview_figure(block_run)
    assert len(ofig.axes) == 4
    # the DVFS event is marked on every panel
    t_ev = float(block_run.events.index[0]) * 1e3
    for ax in ofig.axes:
        assert any(
            np.allclose(ln.get_xdata(), t_ev) for ln in ax.get_lines() if len(ln.get_xdata()) == 2
        )


def test_figures_without_optional_traces(tmp_path: Path) -> None:
    with RunWriter(tmp_path / "min") as w:
        w.write_layers(vf.layers())
        w.open(temperature=vf.CORES)
        for k in range(1, 4):
            w.append(k * 0.5, temperature=[50.0 + k, 51.0, 52.0, 60.0 + k])
    run = Run(tmp_path / "min")
    with pytest.raises(InputError, match="no power trace"):
        power_figure(run)
    with pytest.raises(InputError, match="no frequency trace"):
        frequency_figure(run)
    with pytest.raises(InputError, match="no bank mode trace"):
        bank_mode_figure(run)
    assert core_temperature_figure(run).axes[0].get_xlabel() == "time (s)"
    names = [p.name for p in plot_run(run, tmp_path / "out")]
    assert names == [
        "overview.png",
        "temperature_cores.png",
        "temperature_layers.png",
        "heatmap_peak.png",
        "floorplan.png",
    ]


# ----------------------------------------------------------------------------- plot_run + CLI


def test_plot_run_writes_every_plot(block_run: Run, tmp_path: Path) -> None:
    paths = plot_run(block_run, tmp_path / "p", times=[0.005, 0.02])
    names = [p.name for p in paths]
    assert names == [
        "overview.png",
        "temperature_cores.png",
        "temperature_layers.png",
        "power.png",
        "frequency.png",
        "bank_mode.png",
        "heatmap_peak.png",
        "heatmap_5.000ms.png",
        "heatmap_20.000ms.png",
        "floorplan.png",
    ]
    # the saved heatmap has the hot core in the hot colour at the pixel the panels predict
    panels = HeatmapPanels(block_run)
    panels.show(float(block_run.times[-1]))
    img = np.asarray(Image.open(tmp_path / "p" / "heatmap_peak.png").convert("RGB"))
    assert img.shape[:2] == panels.rgb().shape[:2]
    x, y = panels.pixel_of("core", 2.3e-3, 2.3e-3)
    assert _close(img[y, x], panels.colour_of(block_run.temperature["C_3"].max()))
    img5 = np.asarray(Image.open(tmp_path / "p" / "heatmap_5.000ms.png").convert("RGB"))
    assert img5[y, x].astype(int).sum() < img[y, x].astype(int).sum() - 100
    with pytest.raises(InputError, match="outside the run"):
        plot_run(block_run, tmp_path / "q", times=[1.0])
    with pytest.raises(InputError, match="unknown format"):
        plot_run(block_run, tmp_path / "q", fmt="bmp")


def test_cli_plot(block_run: Run, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["plot", str(block_run.path), "-o", str(tmp_path / "svg"), "--format", "svg"]
    )
    assert res.exit_code == 0, res.output
    svg = (tmp_path / "svg" / "heatmap_peak.svg").read_text()
    assert "<svg" in svg
    assert len(list((tmp_path / "svg").glob("*.svg"))) == 8
    res = CliRunner().invoke(main, ["plot", str(tmp_path / "missing")])
    assert res.exit_code == 2
    assert "no such run directory" in res.output
    res = CliRunner().invoke(main, ["plot", str(block_run.path), "--mode", "grid"])
    assert res.exit_code == 2 and "no grid snapshots" in res.output
    assert CliRunner().invoke(main, ["plot", "--help"]).exit_code == 0
