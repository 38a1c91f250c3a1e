"""``comet view``: the interactive PyQt6 viewer (package ``comet_gui``, extra ``gui``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from comet.cli.common import handle_errors
from comet.errors import InputError

GUI_HINT = 'install the viewer with: pip install "comet[gui]"'


def load_gui() -> Any:
    """Import ``comet_gui.app``; a clear :class:`InputError` when PyQt6 is missing."""
    try:
        import PyQt6.QtWidgets  # noqa: F401
    except ImportError as err:
        raise InputError(f"the viewer needs PyQt6 ({err})", hint=GUI_HINT) from err
    try:
        from comet_gui import app
    except ImportError as err:
        raise InputError(f"the viewer package comet_gui is missing ({err})", hint=GUI_HINT) from err
    return app


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(
            f"bad --size {text!r}", hint="give WIDTHxHEIGHT in pixels, e.g. 1280x820"
        ) from None
    if w < 200 or h < 150:
        raise InputError(f"--size {text} is too small", hint="at least 200x150 pixels")
    if w > 10000 or h > 10000:
        raise InputError(f"--size {text} is too large", hint="at most 10000x10000 pixels")
    return w, h


@click.command("view")
@click.argument("run_dir", type=click.Path(path_type=Path), required=False)
@click.option(
    "--compare",
    type=click.Path(path_type=Path),
    default=None,
    help="A second run shown side by side on a shared time axis.",
)
@click.option(
    "--screenshot",
    type=click.Path(path_type=Path),
    default=None,
    help="Render the window offscreen to this PNG and exit.",
)
@click.option("--time", "time_s", type=float, default=None, help="Time shown (s); default: end.")
@click.option("--layer", default=None, help="Layer shown (default: the first with data).")
@click.option(
    "--unit",
    "units",
    multiple=True,
    help="Unit plotted in the time series (screenshot; repeat; default: hottest and two more).",
)
@click.option("--size", default="1280x820", show_default=True, help="Screenshot size WxH (px).")
@handle_errors
def view(
    run_dir: Path | None,
    compare: Path | None,
    screenshot: Path | None,
    time_s: float | None,
    layer: str | None,
    units: tuple[str, ...],
    size: str,
) -> None:
    """Interactive viewer of a run: the stack, the heatmap of a layer over time (play, step,
    Space/arrows/Home/End), unit values on hover, time series of clicked units, comparison
    of two runs. With --screenshot, render offscreen to a PNG instead."""
    if screenshot is not None:
        if run_dir is None:
            raise InputError(
                "--screenshot needs a run directory", hint="comet view RUN --screenshot out.png"
            )
        from comet.fileio import ensure_dir

        if screenshot.is_dir():
            raise InputError("the screenshot path is a directory", path=screenshot)
        ensure_dir(screenshot.parent, "screenshot directory")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = load_gui()
        from comet.sim.results import Run

        Run(run_dir)  # a clear error for a path that is not a run
        out = app.screenshot(
            run_dir,
            screenshot,
            time_s=time_s,
            layer=layer,
            size=_size(size),
            compare=compare,
            units=list(units) or None,
        )
        click.echo(str(out))
        return
    app = load_gui()
    if run_dir is not None:
        from comet.sim.results import Run

        Run(run_dir)
    raise SystemExit(app.run_viewer(run_dir, str(compare) if compare else None))
