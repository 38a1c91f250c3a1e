"""comet_gui: the PyQt6 viewer of comet run directories (``pip install "comet[gui]"``).

``comet view RUN`` opens :class:`~comet_gui.main_window.MainWindow`;
``comet view RUN --screenshot FILE`` renders it offscreen with :func:`~comet_gui.app.screenshot`.
"""

from __future__ import annotations

__all__ = ["MainWindow", "run_viewer", "screenshot"]


def __getattr__(name: str) -> object:
    if name == "MainWindow":
        from .main_window import MainWindow

        return MainWindow
    if name in ("run_viewer", "screenshot"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'comet_gui' has no attribute {name!r}")
