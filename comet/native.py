"""Finding the native tools comet can drive: HotSpot, Sniper (and its frontends) and McPAT.

One function per tool returns its path or raises :class:`comet.errors.InputError` saying how to
point comet at it. Lookup order, first match wins:

- HotSpot: ``--hotspot-binary``, ``$COMET_HOTSPOT``, ``hotspot`` on ``PATH``
  (:func:`comet.thermal.backends.find_hotspot`, re-exported here).
- Sniper: ``--sniper DIR``, ``$COMET_SNIPER``, ``$SNIPER_ROOT``, ``run-sniper`` on ``PATH``
  (its directory). A Sniper directory holds ``run-sniper`` and the built ``lib/sniper``.
- McPAT: ``--mcpat BIN``, ``$COMET_MCPAT``, ``mcpat`` on ``PATH``.

``scripts/build_native.sh`` builds all three from their public repositories (README, "Native
tools"); ``comet doctor`` reports what is found.
"""

from __future__ import annotations

import ast
import mmap
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from comet.errors import InputError
from comet.thermal.backends import ENV_VAR as HOTSPOT_ENV
from comet.thermal.backends import find_hotspot

__all__ = [
    "HOTSPOT_ENV",
    "MCPAT_ENV",
    "SNIPER_ENVS",
    "BUILD_HINT",
    "find_hotspot",
    "find_mcpat",
    "find_sniper",
    "sniper_config",
    "find_sniper_dr_frontend",
    "find_sniper_sift_recorder",
    "sniper_counts_dram_banks",
    "hotspot_version",
    "mcpat_version",
    "sniper_version",
]

#: Environment variable naming the McPAT binary.
MCPAT_ENV = "COMET_MCPAT"
#: Environment variables naming a Sniper directory, in the order they are read.
SNIPER_ENVS = ("COMET_SNIPER", "SNIPER_ROOT")
#: How to build the tools (repeated in every hint).
BUILD_HINT = "scripts/build_native.sh builds it; see README 'Native tools'"
#: The config key comet's DRAM patch (scripts/patches/sniper-dram-bank-stats.patch) reads; its
#: presence in ``lib/sniper`` means the build counts DRAM reads/writes per bank.
BANK_STATS_KEY = b"perf_model/dram/bank_stats/banks"

_VERSION_TIMEOUT_S = 10.0


def _executable(path: str, what: str, origin: str) -> str:
    """``path`` resolved (PATH lookup for a bare name), checked to be an executable file."""
    resolved = shutil.which(path) if os.sep not in path else path
    if resolved is None or not os.path.isfile(resolved):
        raise InputError(f"{what} {path!r} (from {origin}) not found", hint=BUILD_HINT)
    if not os.access(resolved, os.X_OK):
        raise InputError(
            f"{what} {resolved!r} (from {origin}) is not executable", hint="chmod +x it"
        )
    return str(Path(resolved).resolve())


def find_mcpat(path: str | os.PathLike[str] | None = None) -> str:
    """The McPAT binary: ``path``, else ``$COMET_MCPAT``, else ``mcpat`` on ``PATH``.

    Raises:
        InputError: when none is found or the file is not executable.
    """
    if path is not None:
        return _executable(str(path), "McPAT binary", "--mcpat")
    if os.environ.get(MCPAT_ENV):
        return _executable(os.environ[MCPAT_ENV], "McPAT binary", MCPAT_ENV)
    found = shutil.which("mcpat")
    if found is None:
        raise InputError(
            "no McPAT binary found",
            hint=f"pass --mcpat PATH, set {MCPAT_ENV}, or put 'mcpat' on PATH "
            f"(github.com/HewlettPackard/mcpat v1.3, 64-bit; {BUILD_HINT})",
        )
    return _executable(found, "McPAT binary", "PATH")


def _check_sniper_dir(root: str, origin: str) -> str:
    path = Path(root)
    if not path.is_dir():
        raise InputError(f"Sniper directory {root!r} (from {origin}) not found", hint=BUILD_HINT)
    run = path / "run-sniper"
    if not run.is_file():
        raise InputError(
            f"{root!r} (from {origin}) is not a Sniper directory: it has no run-sniper",
            hint="point at the top of a Sniper checkout (the directory holding run-sniper)",
        )
    lib = path / "lib" / "sniper"
    if not (lib.is_file() and os.access(lib, os.X_OK)):
        raise InputError(
            f"Sniper at {root!r} (from {origin}) is not built: {lib} is missing",
            hint=BUILD_HINT,
        )
    if not (path / "config" / "sniper.py").is_file():
        raise InputError(
            f"Sniper at {root!r} (from {origin}) has no config/sniper.py",
            hint="Sniper's 'make configscripts' or scripts/build_native.sh writes it",
        )
    return str(path.resolve())


def find_sniper(path: str | os.PathLike[str] | None = None) -> str:
    """The Sniper directory (``SNIPER_ROOT``): ``path``, ``$COMET_SNIPER``, ``$SNIPER_ROOT``,
    else the directory of ``run-sniper`` on ``PATH``.

    Raises:
        InputError: when none is found, or the directory is not a built Sniper.
    """
    if path is not None:
        return _check_sniper_dir(str(path), "--sniper")
    for var in SNIPER_ENVS:
        if os.environ.get(var):
            return _check_sniper_dir(os.environ[var], var)
    found = shutil.which("run-sniper")
    if found is None:
        raise InputError(
            "no Sniper found",
            hint=f"pass --sniper DIR, set {' or '.join(SNIPER_ENVS)}, or put run-sniper on PATH "
            f"(Sniper 8.1, github.com/snipersim/snipersim; {BUILD_HINT})",
        )
    return _check_sniper_dir(str(Path(found).resolve().parent), "run-sniper on PATH")


def sniper_config(root: str | os.PathLike[str]) -> dict[str, str]:
    """The string settings of ``ROOT/config/sniper.py`` (``target``, ``xed_home``,
    ``dynamorio_home``, ``git_revision``...), read without executing it."""
    path = Path(root) / "config" / "sniper.py"
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as err:
        raise InputError(f"cannot read Sniper's config: {err}", path=path) from err
    out: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            out[node.targets[0].id] = node.value.value
    return out


@dataclass(frozen=True)
class DrFrontend:
    """Sniper's DynamoRIO frontend: the client library and DynamoRIO's ``drrun``."""

    client: str
    drrun: str


def find_sniper_dr_frontend(root: str | os.PathLike[str]) -> DrFrontend:
    """Sniper's DynamoRIO frontend (``record-trace --frontend=dr``, ``run-sniper --frontend=dr``).

    Raises:
        InputError: when the client library or ``drrun`` is not built.
    """
    base = Path(root)
    client = base / "frontend" / "dr-frontend" / "build" / "libdr-frontend.so"
    if not client.is_file():
        raise InputError(
            f"Sniper's DynamoRIO frontend is not built ({client} missing)", hint=BUILD_HINT
        )
    dr_home = base / sniper_config(base).get("dynamorio_home", "dynamorio/build")
    drrun = dr_home / "bin64" / "drrun"
    if not (drrun.is_file() and os.access(drrun, os.X_OK)):
        raise InputError(f"DynamoRIO's drrun is not built ({drrun} missing)", hint=BUILD_HINT)
    return DrFrontend(client=str(client.resolve()), drrun=str(drrun.resolve()))


def find_sniper_sift_recorder(root: str | os.PathLike[str]) -> str:
    """Sniper's Pin/SDE SIFT recorder (``record-trace`` without ``--frontend``).

    Raises:
        InputError: when it is not built (it needs Pin or SDE, which comet's build leaves out).
    """
    base = Path(root)
    target = sniper_config(base).get("target", "intel64")
    obj = base / "sift" / "recorder" / f"obj-{target}"
    for name in ("sde_sift_recorder.so", "sift_recorder"):
        if (obj / name).is_file():
            return str((obj / name).resolve())
    raise InputError(
        f"Sniper's Pin SIFT recorder is not built (nothing in {obj})",
        hint="comet's build has no Pin: record traces with record-trace --frontend=dr",
    )


def _file_has(path: str | os.PathLike[str], needle: bytes) -> bool:
    """Whether the file holds ``needle`` (a string compiled into a binary); False if unreadable."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm.find(needle) >= 0
    except (OSError, ValueError):
        return False


def sniper_counts_dram_banks(root: str | os.PathLike[str]) -> bool:
    """Whether ``ROOT/lib/sniper`` carries comet's per-bank DRAM counters (it names their
    config key). False when the binary cannot be read."""
    return _file_has(Path(root) / "lib" / "sniper", BANK_STATS_KEY)


def _run_text(argv: list[str]) -> str:
    """stdout + stderr of a short run (a version or usage banner); '' when it cannot run."""
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_VERSION_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout + proc.stderr


def hotspot_version(binary: str) -> str:
    """What can be told of a HotSpot binary: it has no version flag, so its usage text is
    recognised, and the ``materials_file`` option (new in HotSpot 7.0) marks version 7."""
    if "thermal simulator" not in _run_text([binary]):
        return "unknown (no HotSpot usage text)"
    return "7.x" if _file_has(binary, b"materials_file") else "before 7.0 (no materials_file)"


def mcpat_version(binary: str) -> str:
    """McPAT's banner (``1.3 of Feb, 2015``), from a run on an empty input."""
    text = _run_text([binary, "-infile", os.devnull])
    for line in text.splitlines():
        if line.startswith("McPAT (version "):
            return line.removeprefix("McPAT (version ").split(")")[0]
    return "unknown (no McPAT banner)"


def sniper_version(root: str | os.PathLike[str]) -> str:
    """Sniper's release (first line of its CHANGELOG) and git revision (config/sniper.py)."""
    base = Path(root)
    release = ""
    try:
        with (base / "CHANGELOG").open(errors="replace") as fh:
            for line in fh:
                if line.strip():
                    release = line.strip()
                    break
    except OSError:
        pass
    rev = sniper_config(base).get("git_revision", "")
    parts = [p for p in (release, rev[:10] and f"git {rev[:10]}") if p]
    return ", ".join(parts) or "unknown"
