"""Shared helpers of the CLI commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from comet.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn bad input into ``comet: error: <file:line: message>`` on stderr and exit status 2.

    The one path for every verb: an :class:`InputError` (bad input, an output that cannot be
    written, a damaged run directory, a non-finite result), any ``OSError`` (named by its
    path) and ``MemoryError`` each print one line, never a traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as err:
            click.echo(f"comet: error: {err}", err=True)
            sys.exit(2)
        except FileNotFoundError as err:
            click.echo(f"comet: error: {err.filename}: no such file", err=True)
            sys.exit(2)
        except OSError as err:  # a full disk, no permission...: one line naming the path
            from comet.fileio import os_error

            click.echo(f"comet: error: {os_error(err)}", err=True)
            sys.exit(2)
        except MemoryError:
            click.echo(
                "comet: error: out of memory (reduce the grid, the duration or the snapshots; "
                "the COMET_MAX_* limits are in the README)",
                err=True,
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
