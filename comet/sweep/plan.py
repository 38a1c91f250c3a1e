"""A sweep file -> the validated list of runs it stands for, each with a stable id.

A sweep file is a run config (inline, or ``base = "path/to/run.toml"`` relative to the sweep
file, with inline keys laid over it) plus what varies::

    base = "3d.toml"
    repeat = 3                       # each run 3 times, seeds derived from the run's seed

    [sim]                            # inline keys over the base
    duration = "200ms"

    [matrix]                         # cartesian product of value lists for dotted keys
    "policies.dvfs" = ["ondemand", "throttle", "tsp"]
    "architecture.grid" = ["16x16", "32x32"]

    [zip]                            # lists varied together (same length), crossed with matrix
    "workload.interval" = ["10ms", "20ms"]
    "workload.count" = [40, 20]

Keys in ``[matrix]`` and ``[zip]`` may be quoted dotted keys or nested tables (``[matrix.sim]
duration = [...]``); a numeric part indexes a list (``"workload.jobs.0.threads"``). Every run's
config is validated (:func:`comet.config.config_from_dict`, the architecture parameters, the
policies and their parameters) before any run starts, with the same ``file: key: what (hint)``
errors as run configs; a bad matrix key or value is reported as ``sweep.toml: matrix.<key>: ...``.

Relative paths inside the run config (plugin files, ``workload.profile_files``) are resolved
against the base file's directory (the sweep file's without ``base``), as ``comet run`` would
resolve them against the run config's.

A run's id is the first 12 hex digits of the SHA-256 of its resolved config (canonical JSON of
:meth:`comet.config.RunConfig.to_dict` without ``name``): the same config always gets the same
id, whatever the sweep file looked like, so a resumed or extended sweep finds its finished runs.

Seeds of repeats: repeat ``r`` of a run whose config has ``seed = s`` runs with
``derive_seed(s, r)`` (the first 31 bits of SHA-256 of ``"s:r"``): independent of the other
keys, stable, and distinct per repeat. Without ``repeat`` the seed is the config's own.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comet.config import RunConfig, config_from_dict
from comet.errors import InputError

__all__ = [
    "SWEEP_KEYS",
    "PlannedRun",
    "SweepPlan",
    "derive_seed",
    "load_sweep",
    "plan_from_dict",
    "run_id",
    "set_dotted",
]

#: top-level keys of a sweep file that are not run-config keys
SWEEP_KEYS = ("base", "matrix", "zip", "repeat")
#: hex digits of a run id
ID_LENGTH = 12


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep.

    Attributes:
        id: stable id (hash of the resolved config).
        index: position in the sweep (matrix order, then zip, then repeat).
        params: the varied keys and their values (``{"policies.dvfs": "ondemand"}``).
        repeat: repeat index (0-based), None without ``repeat``.
        seed: the run's seed.
        config: resolved config (:meth:`RunConfig.to_dict`), with ``name`` set to the id.
        base_dir: directory relative paths of the config are resolved against.
    """

    id: str
    index: int
    params: dict[str, Any]
    repeat: int | None
    seed: int
    config: dict[str, Any]
    base_dir: str

    def run_config(self) -> RunConfig:
        """The validated :class:`RunConfig` of this run."""
        cfg = config_from_dict(self.config)
        cfg._base_dir = Path(self.base_dir)
        return cfg

    def label(self) -> str:
        """``key=value`` pairs of the varied parameters (and the repeat)."""
        parts = [f"{k}={_short(v)}" for k, v in self.params.items()]
        if self.repeat is not None:
            parts.append(f"repeat={self.repeat}")
        return " ".join(parts) or "(base)"


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: its runs and what varies.

    Attributes:
        name: the sweep's name (the sweep file's stem).
        runs: the runs in sweep order.
        varied: the varied keys (matrix keys, then zip keys).
        repeat: repeats per configuration (None without ``repeat``).
        path: the sweep file (None for a dict).
        text: the sweep file's text ("" for a dict).
        base: the raw base run config with the inline keys laid over it.
    """

    name: str
    runs: list[PlannedRun]
    varied: list[str]
    repeat: int | None = None
    path: Path | None = None
    text: str = ""
    base: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.runs)


# --------------------------------------------------------------------------------------------
# small pure helpers


def derive_seed(seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` of a run with seed ``seed``: 31 bits of SHA-256."""
    digest = hashlib.sha256(f"{int(seed)}:{int(repeat)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def run_id(config: Mapping[str, Any]) -> str:
    """Stable id of a resolved config dict (its ``name`` left out)."""
    data = {k: v for k, v in config.items() if k != "name"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c = value`` in a nested dict (in place); numeric parts index lists.

    Raises:
        InputError: a part goes through a value that is not a table or list.
    """
    parts = [p for p in key.split(".") if p]
    if not parts:
        raise InputError("empty key")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(f"{where}: not an index of the list (it has {len(node)} items)")
            node = node[int(part)]
            continue
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict | list):
            raise InputError(f"{where}: is a value, not a table")
        node = nxt
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise InputError(f"{key}: {last} is not an index of the list")
        node[int(last)] = copy.deepcopy(value)
    else:
        node[last] = copy.deepcopy(value)


def _short(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "name" in value:
        return str(value["name"]) + ("(...)" if len(value) > 1 else "")
    return json.dumps(value, separators=(",", ":"))


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _flatten(section: str, table: Mapping[str, Any], prefix: str = "") -> dict[str, list[Any]]:
    """``[matrix]`` / ``[zip]`` -> {dotted key: list of values}; nested tables are descended
    until a list is met (so a list of inline tables is a list of values)."""
    out: dict[str, list[Any]] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, list):
            if not v:
                raise InputError(f"{section}.{key}: the list of values is empty")
            out[key] = v
        elif isinstance(v, Mapping):
            out.update(_flatten(section, v, prefix=f"{key}."))
        else:
            raise InputError(
                f"{section}.{key}: must be a list of values, got {v!r}",
                hint=f'example: "{key}" = [{json.dumps(v)}, ...]',
            )
    return out


# --------------------------------------------------------------------------------------------
# validation


class _Checker:
    """Validates resolved configs beyond the pydantic model: the architecture parameters
    (:func:`comet.floorplan.params.parse_params`) and every policy with its parameters
    (:func:`comet.policies.registry.create_policy`), cached by value."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def check(self, data: Mapping[str, Any], base_dir: Path, path: Path | None) -> RunConfig:
        cfg = config_from_dict(data, path=path)
        cfg._base_dir = base_dir
        from comet.floorplan.params import parse_params

        arch = cfg.architecture
        key = "arch:" + json.dumps(arch.model_dump(mode="json"), sort_keys=True)
        if key not in self._seen:
            try:
                parse_params(arch.kind, arch.generate_params())
            except InputError as err:
                raise InputError(f"architecture.{err.message}", path=path, hint=err.hint) from None
            self._seen.add(key)
        from comet.policies.registry import create_policy

        for knob, spec in cfg.policies.ordered():
            key = "pol:" + json.dumps(spec.model_dump(mode="json"), sort_keys=True)
            if key in self._seen:
                continue
            try:
                create_policy(spec.name, spec.params, base_dir)
            except InputError as err:
                raise InputError(
                    f"policies.{knob}: {err.message}", path=path, hint=err.hint
                ) from None
            self._seen.add(key)
        return cfg


def _strip_key(message: str, key: str) -> str:
    """``"sim.duraton: unknown key"`` -> ``"unknown key"`` when the message names ``key``."""
    return message[len(key) + 2 :] if message.startswith(f"{key}: ") else message


# --------------------------------------------------------------------------------------------
# loading


def load_sweep(path: str | Path) -> SweepPlan:
    """Read and validate a sweep file (see the module docstring).

    Raises:
        InputError: missing file, bad TOML (with the line), a bad sweep key, or a run config
            that does not validate (``sweep.toml: matrix.<key>: ...``).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("sweep file not found", path=path, hint="give a .toml sweep file")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err).split(" (at line")[0]
        line = getattr(err, "lineno", None)
        if line is None:
            m = re.search(r"\(at line (\d+), column \d+\)", str(err))
            line = int(m.group(1)) if m else None
        raise InputError(f"not valid TOML: {msg}", path=path, line=line) from None
    except UnicodeDecodeError:
        raise InputError("not a text file", path=path) from None
    return plan_from_dict(data, path=path, text=text)


def plan_from_dict(
    data: Mapping[str, Any],
    *,
    path: str | Path | None = None,
    text: str = "",
    name: str | None = None,
) -> SweepPlan:
    """Expand and validate a sweep given as a dict (what :func:`load_sweep` reads).

    Relative paths (``base``, and those inside the run config) are taken from the sweep
    file's directory, or the working directory for a dict without ``path``.
    """
    spath = Path(path) if path is not None else None
    where = spath.resolve().parent if spath is not None else Path.cwd()
    data = dict(data)
    # -- the base run config
    base_raw: dict[str, Any] = {}
    base_dir = where
    base_path: Path | None = None
    if "base" in data:
        b = data["base"]
        if not isinstance(b, str) or not b.strip():
            raise InputError(
                "base: must be the path of a run config", path=spath, hint='base = "3d.toml"'
            )
        base_path = (where / b).resolve()
        if not base_path.is_file():
            raise InputError(
                f"base: {b!r} not found (relative to the sweep file's directory {where})",
                path=spath,
            )
        try:
            base_raw = tomllib.loads(base_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise InputError(
                f"not valid TOML: {str(err).split(' (at line')[0]}",
                path=base_path,
                line=getattr(err, "lineno", None),
            ) from None
        base_dir = base_path.parent
    inline = {k: v for k, v in data.items() if k not in SWEEP_KEYS}
    base = _deep_merge(base_raw, inline)
    # -- what varies
    matrix_raw = data.get("matrix", {})
    zip_raw = data.get("zip", {})
    for section, table in (("matrix", matrix_raw), ("zip", zip_raw)):
        if not isinstance(table, Mapping):
            raise InputError(
                f"{section}: must be a table of key = [values]",
                path=spath,
                hint=f'[{section}]\n"policies.dvfs" = ["ondemand", "throttle"]',
            )
    try:
        matrix = _flatten("matrix", matrix_raw)
        zipped = _flatten("zip", zip_raw)
    except InputError as err:
        raise InputError(err.message, path=spath, hint=err.hint) from None
    both = sorted(set(matrix) & set(zipped))
    if both:
        raise InputError(f"zip.{both[0]}: also in [matrix]; vary a key in one of them", path=spath)
    if zipped:
        lengths = {k: len(v) for k, v in zipped.items()}
        first = next(iter(lengths))
        for k, n in lengths.items():
            if n != lengths[first]:
                raise InputError(
                    f"zip.{k}: has {n} values but zip.{first} has {lengths[first]}",
                    path=spath,
                    hint="the lists of [zip] vary together and need the same length",
                )
    repeat = data.get("repeat")
    if repeat is not None and (
        isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1
    ):
        raise InputError(f"repeat: must be a whole number >= 1, got {repeat!r}", path=spath)
    if "name" in matrix or "name" in zipped:
        raise InputError(
            f"{'matrix' if 'name' in matrix else 'zip'}.name: runs are named by their ids",
            path=spath,
            hint="vary another key; the index and comet report list each run's parameters",
        )
    checker = _Checker()
    cfg_path = spath if spath is not None else base_path
    # -- each varied key alone: a typo in one key is reported as that key
    try:
        base_cfg = checker.check(base, base_dir, cfg_path)
    except InputError as err:
        src = "base run config" if base_path is not None else "run config"
        raise InputError(
            f"{err.message} (in the {src})", path=err.path or spath, hint=err.hint
        ) from None
    for section, table in (("matrix", matrix), ("zip", zipped)):
        for key, values in table.items():
            for value in values:
                trial = copy.deepcopy(base)
                try:
                    set_dotted(trial, key, value)
                    checker.check(trial, base_dir, None)
                except InputError as err:
                    msg = _strip_key(err.message, key)
                    quiet = len(values) == 1 or _short(value) in msg or "unknown key" in msg
                    raise InputError(
                        f"{section}.{key}: {msg}"
                        + ("" if quiet else f" (value {_short(value)!r})"),
                        path=spath,
                        hint=err.hint,
                    ) from None
    # -- expand
    mkeys = list(matrix)
    zkeys = list(zipped)
    combos = list(itertools.product(*(matrix[k] for k in mkeys))) if mkeys else [()]
    ztuples = list(zip(*(zipped[k] for k in zkeys), strict=True)) if zkeys else [()]
    reps: Sequence[int | None] = list(range(repeat)) if repeat is not None else [None]
    runs: list[PlannedRun] = []
    by_id: dict[str, PlannedRun] = {}
    base_name = base_cfg.name
    for mvals in combos:
        for zvals in ztuples:
            params = dict(zip(mkeys, mvals, strict=True)) | dict(zip(zkeys, zvals, strict=True))
            for r in reps:
                trial = copy.deepcopy(base)
                for k, v in params.items():
                    set_dotted(trial, k, v)
                try:
                    cfg = checker.check(trial, base_dir, None)
                except InputError as err:
                    label = " ".join(f"{k}={_short(v)}" for k, v in params.items())
                    raise InputError(
                        f"run {label}: {err.message}", path=spath, hint=err.hint
                    ) from None
                if r is not None:
                    cfg.seed = derive_seed(cfg.seed, r)
                resolved = cfg.to_dict()
                rid = run_id(resolved)
                resolved["name"] = f"{base_name}-{rid}"
                run = PlannedRun(
                    id=rid,
                    index=len(runs),
                    params=params,
                    repeat=r,
                    seed=cfg.seed,
                    config=resolved,
                    base_dir=str(base_dir),
                )
                if rid in by_id:
                    other = by_id[rid]
                    raise InputError(
                        f"runs {other.label()!r} and {run.label()!r} have the same resolved config",
                        path=spath,
                        hint="two values of a varied key mean the same thing (e.g. 5ms and "
                        "0.005); drop one",
                    )
                by_id[rid] = run
                runs.append(run)
    sweep_name = name or (spath.stem if spath is not None else base_name)
    return SweepPlan(
        name=sweep_name,
        runs=runs,
        varied=mkeys + zkeys,
        repeat=repeat,
        path=spath,
        text=text,
        base=base,
    )
