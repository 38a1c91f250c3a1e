"""Regenerate the README images of the viewer, plots and videos.

    python docs/images/make_images.py [RUN_DIR]

Without RUN_DIR, the example is the 3D stack of the reference cases (4x4 cores under four DRAM
layers of 4x4 banks, HotSpot 7's 1000 x 1 ms transient from tests/data/reference/stack3d),
turned into a run directory with ``run_from_hotspot`` and grid maps (every 10 ms) computed by
comet's own 64x64 grid model. Writes, next to this script:

    viewer.png        ``comet view RUN --screenshot``
    video_frame.png   one frame of ``comet video RUN`` (the instant of the peak)
    heatmap.gif       a short, small animation of the core layer
    overview.png      ``comet plot``'s overview page
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STACK3D = ROOT / "tests" / "data" / "reference" / "stack3d"


def stack3d_run(out: Path, grid_n: int = 64, every: int = 10) -> Path:
    """The reference 3D stack as a run directory with grid snapshots every ``every`` rows."""
    from comet.floorplan.lcf import read_lcf
    from comet.sim.hotspot_import import run_from_hotspot
    from comet.thermal.hotspot_config import read_config
    from comet.thermal.solver import ThermalModel
    from comet.thermal.traces import read_ptrace

    stack = read_lcf(STACK3D / "stack.lcf")
    cfg = read_config(STACK3D / "hotspot.config").with_values(
        model_type="grid", grid_rows=grid_n, grid_cols=grid_n
    )
    model = ThermalModel.from_stack(stack, cfg)
    names, power = read_ptrace(STACK3D / "stack.ptrace")
    order = [names.index(u) for u in model.power_names]
    model.set_temperature(cfg.init_temp)
    times, grids = [], []
    for k in range(power.shape[0]):
        model.step(power[k, order], cfg.sampling_intvl)
        if (k + 1) % every == 0:
            times.append((k + 1) * cfg.sampling_intvl)
            grids.append(model.grid_temperatures()[: len(stack.layers)])
    return run_from_hotspot(
        STACK3D / "expected" / "grid64.ttrace",
        STACK3D / "stack.lcf",
        out,
        ptrace=STACK3D / "stack.ptrace",
        config=STACK3D / "hotspot.config",
        grid_temperatures=(np.asarray(times), np.asarray(grids)),
        name="stack3d",
        overwrite=True,
    )


def main(argv: list[str]) -> None:
    from comet_gui.app import screenshot
    from PIL import Image

    from comet.sim.results import Run
    from comet.viz.heatmap import HeatmapPanels
    from comet.viz.layout import peak_index
    from comet.viz.plots import overview_figure
    from comet.viz.video import render_video

    if argv:
        run = Run(argv[0])
    else:
        run = Run(stack3d_run(Path(tempfile.mkdtemp(prefix="comet-images-")) / "stack3d"))
    print("run:", run.path)
    t_peak = float(run.times[peak_index(run)])
    cores = [la.name for la in run.thermal_layers if la.kind == "core"]
    drams = [la.name for la in run.thermal_layers if la.kind == "dram"]
    layers = (cores + drams[::-1])[:6]  # the core layer(s) first, then the nearest DRAM layers
    screenshot(run.path, HERE / "viewer.png", size=(1280, 800), time_s=0.75, layer=layers[0])
    panels = HeatmapPanels(run, layers, panel_inches=2.6, dpi=80)
    panels.show(t_peak)
    Image.fromarray(panels.rgb()).save(HERE / "video_frame.png", optimize=True)
    render_video(
        run,
        HERE / "heatmap.gif",
        layers=[layers[0]],
        max_frames=25,
        fps=5,
        dpi=45,
        panel_inches=3.0,
        progress=False,
    )
    overview_figure(run).savefig(HERE / "overview.png", dpi=70)
    for name in ("viewer.png", "video_frame.png", "heatmap.gif", "overview.png"):
        print(f"{name}: {(HERE / name).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
