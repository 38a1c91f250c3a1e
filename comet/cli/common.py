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
    """Turn bad input into ``comet: <file:line: message>`` on stderr and exit status 2."""

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

    return wrapper  # type: ignore[return-value]
