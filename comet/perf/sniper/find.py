"""Finding Sniper: ``run-sniper`` from a given root, ``$COMET_SNIPER``, ``$SNIPER_ROOT`` or PATH.

(comet has no shared native-tool finder yet; when one exists, :func:`find_run_sniper` can
defer to it.)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from comet.errors import InputError

__all__ = ["find_run_sniper"]

_HINT = (
    "set [perf] sniper_root = '/path/to/sniper', $COMET_SNIPER or $SNIPER_ROOT (Sniper's "
    "directory or its run-sniper), or put run-sniper on PATH"
)


def _candidate(value: str | os.PathLike[str]) -> Path:
    p = Path(value).expanduser()
    return p if p.is_file() else p / "run-sniper"


def find_run_sniper(sniper_root: str | os.PathLike[str] | None = None) -> Path:
    """The ``run-sniper`` script of a Sniper build (its directory is Sniper's root).

    Order: ``sniper_root`` (Sniper's directory or its ``run-sniper``), ``$COMET_SNIPER``,
    ``$SNIPER_ROOT``, ``run-sniper`` on PATH (the order of :mod:`comet.native`). The root
    must hold ``scripts/sim`` (the scripting package comet's script imports).

    Raises:
        InputError: not found, or not a Sniper directory.
    """
    sources: list[tuple[str, str | os.PathLike[str]]] = []
    if sniper_root is not None:
        sources.append(("perf.sniper_root", sniper_root))
    for var in ("COMET_SNIPER", "SNIPER_ROOT"):
        if os.environ.get(var):
            sources.append((f"${var}", os.environ[var]))
    on_path = shutil.which("run-sniper")
    if on_path:
        sources.append(("PATH", on_path))
    if not sources:
        raise InputError("perf.model = 'sniper': Sniper not found", hint=_HINT)
    where, value = sources[0]
    run = _candidate(value)
    if not run.is_file():
        raise InputError(f"{where}: {value}: no run-sniper there", hint=_HINT)
    if not os.access(run, os.X_OK):
        raise InputError(f"{where}: {run} is not executable", hint="chmod +x it")
    if not (run.parent / "scripts" / "sim" / "__init__.py").is_file():
        raise InputError(
            f"{where}: {run.parent} has no scripts/sim (not a Sniper directory?)", hint=_HINT
        )
    return run
