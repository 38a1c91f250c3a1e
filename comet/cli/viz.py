"""``comet plot`` and ``comet video``: still plots and heatmap animations of a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from comet.cli.common import handle_errors

_MODES = click.Choice(["auto", "grid", "block"])


def _use_agg() -> None:
    """Draw without a display: the plots only go to files."""
    import matplotlib

    matplotlib.use("Agg")


@click.command("plot")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory (default RUN/plots).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "svg", "pdf"]),
    default="png",
    show_default=True,
    help="Image format.",
)
@click.option(
    "-t",
    "--time",
    "times",
    type=float,
    multiple=True,
    help="Also draw the heatmaps at this simulated time (s); repeat for several.",
)
@click.option(
    "--mode",
    type=_MODES,
    default="auto",
    show_default=True,
    help="Heatmaps from grid snapshots (grid), per block (block) or grid where stored (auto).",
)
@handle_errors
def plot(
    run_dir: Path, out_dir: Path | None, fmt: str, times: tuple[float, ...], mode: str
) -> None:
    """Plot a run: temperatures per core and per layer, power, frequency, bank modes (with the
    thresholds), heatmaps of every layer at the peak instant (and at --time), floorplans."""
    _use_agg()
    from comet.viz.plots import plot_run

    written = plot_run(run_dir, out_dir, fmt=fmt, times=times, mode=mode)
    for path in written:
        click.echo(str(path))


@click.command("video")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file, .gif or .mp4 (default RUN/heatmap.gif).",
)
@click.option(
    "-l",
    "--layer",
    "layers",
    multiple=True,
    help="Show only this layer (repeat for several; default: every layer with temperatures).",
)
@click.option("--tmin", type=float, default=None, help="Bottom of the colour scale (°C).")
@click.option("--tmax", type=float, default=None, help="Top of the colour scale (°C).")
@click.option("--fps", type=float, default=10.0, show_default=True, help="Frames per second.")
@click.option(
    "--frames",
    "max_frames",
    type=int,
    default=200,
    show_default=True,
    help="At most about this many frames (epochs are subsampled evenly); 0 for all.",
)
@click.option(
    "--every",
    type=int,
    default=None,
    help="One frame every N epochs, or N grid snapshots (overrides --frames).",
)
@click.option("--mode", type=_MODES, default="auto", show_default=True, help="Grid or block maps.")
@click.option("--dpi", type=float, default=100.0, show_default=True, help="Resolution of frames.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def video(
    run_dir: Path,
    out: Path | None,
    layers: tuple[str, ...],
    tmin: float | None,
    tmax: float | None,
    fps: float,
    max_frames: int,
    every: int | None,
    mode: str,
    dpi: float,
    quiet: bool,
) -> None:
    """Heatmap animation of a run (GIF or MP4) with the simulated time on every frame and one
    colour scale for the whole run."""
    _use_agg()
    from comet.errors import InputError
    from comet.viz.video import render_video

    if every is not None and every < 1:
        raise InputError(f"--every must be at least 1, got {every}")
    if max_frames < 0:
        raise InputError(f"--frames must be >= 0, got {max_frames}")
    import math

    if not (math.isfinite(fps) and 0 < fps <= 1000):
        raise InputError(f"--fps {fps:g}: give a rate between 0 and 1000 frames per second")
    if not (math.isfinite(dpi) and 1 <= dpi <= 1200):
        raise InputError(f"--dpi {dpi:g}: give a resolution between 1 and 1200")
    for name, value in (("--tmin", tmin), ("--tmax", tmax)):
        if value is not None and not -273.15 < value <= 1414.0:
            raise InputError(f"{name} {value:g}: give a temperature in deg C above -273.15")
    if tmin is not None and tmax is not None and not tmin < tmax:
        raise InputError(f"--tmin {tmin:g} must be below --tmax {tmax:g}")
    info = render_video(
        run_dir,
        out,
        layers=list(layers) or None,
        tmin=tmin,
        tmax=tmax,
        fps=fps,
        max_frames=max_frames or None,
        every=every,
        mode=mode,
        dpi=dpi,
        progress=not quiet,
    )
    click.echo(
        f"{info.path}: {info.frames} frames {info.width}x{info.height}, "
        f"{info.times_s[0] * 1e3:.3f}-{info.times_s[-1] * 1e3:.3f} ms, "
        f"{info.tmin:.1f}-{info.tmax:.1f} °C"
    )
