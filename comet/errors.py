"""Errors that reach the user.

Every reader of a user file raises :class:`InputError` with the file, the line (1-based, when
there is one), what is wrong and how to fix it. The CLI prints ``str(err)`` on one line and exits
with status 2; it never shows a traceback for an ``InputError``.
"""

from __future__ import annotations

from os import PathLike


class InputError(ValueError):
    """A problem with user input: ``file:line: what is wrong (how to fix it)``."""

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        text = f"{where}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split("\n"))

    def __str__(self) -> str:
        return self.format()


def raised_at(err: BaseException, prefer: str | PathLike[str] | None = None) -> str | None:
    """``file:line`` where ``err`` was raised in user code: the innermost frame in ``prefer``
    (a plugin's file) if any, else the innermost frame outside comet itself, else None."""
    import os
    import traceback

    frames = traceback.extract_tb(err.__traceback__) if err.__traceback__ else []
    if not frames:
        return None
    if prefer is not None:
        target = os.path.realpath(prefer)
        mine = [f for f in frames if os.path.realpath(f.filename) == target]
        if mine:
            return f"{mine[-1].filename}:{mine[-1].lineno}"
    package = os.path.dirname(os.path.realpath(__file__))
    outside = [
        f
        for f in frames
        if not os.path.realpath(f.filename).startswith(package + os.sep)
        and not f.filename.startswith("<frozen")
    ]
    frame = outside[-1] if outside else frames[-1]
    return f"{frame.filename}:{frame.lineno}"


def describe(err: BaseException) -> str:
    """``Type: message`` of an exception on one line (``SystemExit`` as a call of sys.exit)."""
    if isinstance(err, SystemExit):
        return f"called sys.exit({err.code!r})"
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
