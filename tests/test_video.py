"""Heatmap videos: frame count, frame size, simulated times and colours at the hot spots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import viz_fixtures as vf
from click.testing import CliRunner
from PIL import Image

from comet.cli import main
from comet.errors import InputError
from comet.sim.results import Run
from comet.viz.heatmap import HeatmapPanels
from comet.viz.video import render_video, video_format

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(vf.make_run(tmp_path_factory.mktemp("video") / "r", epochs=24, grid_every=6))


def _gif_frames(path: Path) -> tuple[list[np.ndarray], list[int]]:
    frames, durations = [], []
    with Image.open(path) as im:
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(int(im.info.get("duration", 0)))
            frames.append(np.asarray(im.convert("RGB")))
    return frames, durations


def _near(rgb: np.ndarray, expected: tuple[int, int, int], tol: int) -> bool:
    return bool(np.all(np.abs(rgb.astype(int) - np.array(expected)) <= tol))


def test_gif_block_maps_every_epoch(run: Run, tmp_path: Path) -> None:
    seen: list[np.ndarray] = []
    info = render_video(
        run,
        tmp_path / "a.gif",
        layers=["core", "dram0"],
        mode="block",
        max_frames=None,
        fps=20,
        dpi=60,
        progress=False,
        on_frame=lambda k, rgb: seen.append(rgb),
    )
    frames, durations = _gif_frames(info.path)
    assert info.frames == len(frames) == len(run.times) == 24
    assert frames[0].shape == (info.height, info.width, 3)
    assert set(durations) == {50}  # 20 frames per second
    np.testing.assert_allclose(info.times_s, run.times)  # true simulated time of each frame
    assert info.tmin == pytest.approx(run.temperature[vf.CORES + vf.BANKS[:8]].min().min())
    assert info.tmax == pytest.approx(run.temperature["C_3"].max())
    # locate the units in the frames with the same figure geometry
    panels = HeatmapPanels(run, ["core", "dram0"], mode="block", dpi=60)
    x, y = panels.pixel_of("core", 2.3e-3, 2.3e-3)
    x0, y0 = panels.pixel_of("core", 0.3e-3, 0.3e-3)
    last = frames[-1]
    # the hot core ends at the top of the fixed scale: the hot end of the colour map
    assert _near(last[y, x], panels.colour_of(run.temperature["C_3"].iloc[-1]), tol=12)
    assert _near(last[y0, x0], panels.colour_of(run.temperature["C_0"].iloc[-1]), tol=12)
    # the rendered frame handed to the writer is the frame in the file (up to the palette)
    assert np.abs(seen[-1].astype(int) - last.astype(int)).mean() < 2.0
    # heating up: the hot core brightens from frame to frame, under one colour scale
    brightness = [int(f[y, x].astype(int).sum()) for f in frames]
    assert brightness[0] < brightness[len(brightness) // 2] < brightness[-1]
    assert _near(frames[0][y, x], panels.colour_of(run.temperature["C_3"].iloc[0]), tol=12)


def test_gif_subsampled_with_fixed_scale(run: Run, tmp_path: Path) -> None:
    info = render_video(
        run,
        tmp_path / "b.gif",
        layers=["core"],
        mode="block",
        max_frames=5,
        tmin=90.0,
        tmax=100.0,
        dpi=50,
        progress=False,
    )
    frames, _ = _gif_frames(info.path)
    assert len(frames) == info.frames == 5
    assert info.times_s[-1] == pytest.approx(run.times[-1])  # the last epoch is always shown
    assert (info.tmin, info.tmax) == (90.0, 100.0)
    panels = HeatmapPanels(run, ["core"], mode="block", dpi=50, tmin=90, tmax=100)
    x0, y0 = panels.pixel_of("core", 0.3e-3, 0.3e-3)
    # C_0 (about 60 degC) is below the scale: the cold end of the colour map
    assert _near(frames[-1][y0, x0], panels.colour_of(90.0), tol=12)


def test_gif_grid_snapshots(run: Run, tmp_path: Path) -> None:
    info = render_video(run, tmp_path / "g.gif", dpi=50, progress=False)
    assert run.grid is not None
    assert info.frames == len(run.grid.times_s) == 4
    np.testing.assert_allclose(info.times_s, run.grid.times_s)


def _decode_mp4(ffmpeg: str, path: Path, w: int, h: int) -> tuple[np.ndarray, float]:
    """Frames (n, h, w, 3) and frame rate of an MP4, decoded by ffmpeg into raw RGB."""
    import re
    import subprocess

    raw = subprocess.run(
        [ffmpeg, "-loglevel", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    probe = subprocess.run([ffmpeg, "-i", str(path)], capture_output=True, text=True).stderr
    fps = float(re.search(r"([0-9.]+) fps", probe).group(1))  # type: ignore[union-attr]
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3), fps


def test_mp4(run: Run, tmp_path: Path) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    info = render_video(
        run, tmp_path / "v.mp4", layers=["core"], mode="block", every=2, dpi=80, progress=False
    )
    assert info.width % 16 == 0 and info.height % 16 == 0
    frames, fps = _decode_mp4(imageio_ffmpeg.get_ffmpeg_exe(), info.path, info.width, info.height)
    assert fps == pytest.approx(10.0)
    assert frames.shape == (12, info.height, info.width, 3)
    assert info.frames == 12
    panels = HeatmapPanels(run, ["core"], mode="block", dpi=80, even_pixels=True)
    x, y = panels.pixel_of("core", 2.3e-3, 2.3e-3)
    # lossy yuv420: a wider tolerance, still far from the cold colours
    assert _near(frames[-1][y, x], panels.colour_of(run.temperature["C_3"].iloc[-1]), tol=25)
    x0, y0 = panels.pixel_of("core", 0.3e-3, 0.3e-3)
    assert frames[-1][y, x].astype(int).sum() > frames[-1][y0, x0].astype(int).sum() + 250


def test_video_errors(run: Run, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown video format 'avi'"):
        render_video(run, tmp_path / "x.avi")
    with pytest.raises(InputError, match="unknown video format"):
        video_format("noext")
    with pytest.raises(InputError, match="fps must be positive"):
        render_video(run, tmp_path / "x.gif", fps=0)
    with pytest.raises(InputError, match="empty colour scale"):
        render_video(run, tmp_path / "x.gif", tmin=80, tmax=70, progress=False)
    assert not (tmp_path / "x.gif").exists()


def test_cli_video(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "c.gif"
    res = CliRunner().invoke(
        main,
        ["video", str(run.path), "-o", str(out), "--layer", "core", "--mode", "block",
         "--frames", "6", "--dpi", "40", "--quiet"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "6 frames" in res.output
    with Image.open(out) as im:
        assert im.n_frames == 6
    res = CliRunner().invoke(main, ["video", str(run.path), "--every", "0"])
    assert res.exit_code == 2 and "--every must be at least 1" in res.output
    res = CliRunner().invoke(main, ["video", str(run.path), "--layer", "nope", "--quiet"])
    assert res.exit_code == 2 and "no layer 'nope'" in res.output
    assert CliRunner().invoke(main, ["video", "--help"]).exit_code == 0
