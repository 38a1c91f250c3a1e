"""Heatmap animations of a run: GIF (Pillow) or MP4 (ffmpeg from the imageio-ffmpeg wheel).

Each frame is drawn by one :class:`~comet.viz.heatmap.HeatmapPanels` figure (built once, only
the colours change), rendered to RGB in memory and handed straight to the writer: no loose image
files. Every frame shows the true simulated time; the colour scale is fixed over the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from comet.errors import InputError
from comet.fileio import atomic_path, ensure_dir
from comet.sim.results import Run
from comet.viz.layout import DEFAULT_CMAP, frame_indices

VIDEO_FORMATS = ("gif", "mp4")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`render_video` wrote: the file, its frames, their size and simulated times."""

    path: Path
    frames: int
    width: int
    height: int
    times_s: tuple[float, ...]
    tmin: float
    tmax: float


def video_format(path: str | os.PathLike[str]) -> str:
    """``gif`` or ``mp4`` from the file name."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in VIDEO_FORMATS:
        raise InputError(
            f"unknown video format {ext or '(none)'!r}",
            path=path,
            hint="name the output .gif (Pillow) or .mp4 (ffmpeg)",
        )
    return ext


def _write_gif(path: Path, frames: Iterator[np.ndarray], fps: float) -> None:
    from PIL import Image

    def images() -> Iterator[Image.Image]:
        for rgb in frames:
            yield Image.fromarray(rgb, "RGB").quantize(256, method=Image.Quantize.MEDIANCUT)

    it = images()
    first = next(it)
    with atomic_path(path, suffix=".gif") as tmp:
        first.save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=it,
            duration=max(20, round(1000.0 / fps)),
            loop=0,
            optimize=False,
        )


def _write_mp4(path: Path, frames: Iterator[np.ndarray], fps: float, size: tuple[int, int]) -> None:
    """Pipe raw RGB frames into the ffmpeg binary shipped by imageio-ffmpeg (H.264, yuv420p).

    ffmpeg is driven directly (not through imageio-ffmpeg's generator helpers) so that every
    pipe is closed here, whatever happens.
    """
    try:
        import imageio_ffmpeg
    except ImportError as err:  # pragma: no cover - imageio-ffmpeg is in the plot extra
        raise InputError(
            "MP4 needs imageio-ffmpeg", hint='pip install "comet[plot]" or write a .gif'
        ) from err

    with atomic_path(path, suffix=path.suffix) as tmp:
        _ffmpeg(tmp, path, frames, fps, size, imageio_ffmpeg.get_ffmpeg_exe())


def _ffmpeg(
    tmp: Path,
    path: Path,
    frames: Iterator[np.ndarray],
    fps: float,
    size: tuple[int, int],
    exe: str,
) -> None:
    import subprocess

    width, height = size
    cmd = [
        exe,
        *("-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"),
        *("-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-r", f"{fps:g}", str(tmp)),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for rgb in frames:
            proc.stdin.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
    except BrokenPipeError:
        pass  # ffmpeg stopped: its message follows
    finally:
        proc.stdin.close()
        message = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        code = proc.wait()
    if code != 0:
        raise InputError(f"ffmpeg failed writing {path} ({message or f'exit {code}'})")


def render_video(
    run: Run | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    layers: Sequence[str] | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    fps: float = 10.0,
    max_frames: int | None = 200,
    every: int | None = None,
    mode: str = "auto",
    cmap: str = DEFAULT_CMAP,
    dpi: float = 100.0,
    panel_inches: float = 3.0,
    progress: bool = True,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
) -> VideoInfo:
    """Write a heatmap animation of ``run`` to ``out`` (``.gif`` or ``.mp4``).

    Args:
        run: a :class:`Run` or its directory.
        out: output file (default ``RUN/heatmap.gif``).
        layers: layers to show (default all layers with temperatures; one name for one layer).
        tmin, tmax: colour scale (deg C); default min/max over the whole run.
        fps: frames per second of the video.
        max_frames: at most about this many frames (the epochs are subsampled evenly);
            ``None`` for one frame per epoch (per snapshot in grid mode).
        every: show every ``every``-th epoch instead (overrides ``max_frames``).
        mode: ``auto`` (grid maps where ``grid.npz`` has them), ``grid`` or ``block``.
        progress: show a tqdm progress bar.
        on_frame: called with (frame number, RGB array) for each frame (tests, previews).
    """
    from tqdm import tqdm

    from comet.viz.heatmap import HeatmapPanels

    if not isinstance(run, Run):
        run = Run(run)
    out_path = Path(out) if out is not None else run.path / "heatmap.gif"
    fmt = video_format(out_path)
    if out_path.is_dir():
        raise InputError("the video output is a directory", path=out_path, hint="give a file name")
    ensure_dir(out_path.parent, "video directory")
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps:g}")
    if run.times.size == 0:
        raise InputError("the run has no epochs to animate", path=run.path)
    panels = HeatmapPanels(
        run,
        layers,
        mode=mode,  # type: ignore[arg-type]
        tmin=tmin,
        tmax=tmax,
        cmap=cmap,
        dpi=dpi,
        panel_inches=panel_inches,
        even_pixels=fmt == "mp4",
    )
    all_times = panels.times
    picks = frame_indices(len(all_times), max_frames, every)
    times = [float(all_times[i]) for i in picks]
    panels.show(times[0])
    first = panels.rgb()
    height, width = first.shape[:2]
    shown: list[float] = []

    def frames() -> Iterator[np.ndarray]:
        with tqdm(
            total=len(times), disable=not progress, unit="frame", desc=out_path.name, leave=False
        ) as bar:
            for k, t in enumerate(times):
                shown.append(panels.show(t))
                rgb = panels.rgb()
                if on_frame is not None:
                    on_frame(k, rgb)
                bar.update()
                yield rgb

    if fmt == "gif":
        _write_gif(out_path, frames(), fps)
    else:
        _write_mp4(out_path, frames(), fps, (width, height))
    return VideoInfo(out_path, len(shown), width, height, tuple(shown), panels.tmin, panels.tmax)


def video_panels(run: Run, layers: Sequence[str] | None = None, **kwargs: object) -> object:
    """The :class:`~comet.viz.heatmap.HeatmapPanels` a video of ``run`` uses (same geometry),
    e.g. to find the pixel of a unit in the frames."""
    from comet.viz.heatmap import HeatmapPanels

    return HeatmapPanels(run, layers, **kwargs)  # type: ignore[arg-type]
