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
