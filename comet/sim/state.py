"""Saved state of a run (``state.npz``, ``state.pkl``) and warm starts from HotSpot init files.

Every closed-loop run directory ends with its state at the last completed epoch boundary:

* ``state.npz`` (numpy, no pickle): ``format``, ``time_s`` (the traces' clock at the end),
  ``clock_s`` (the workload's clock: warm-up included), ``epoch`` (epochs simulated, warm-up
  included), ``dt``, ``backend``, ``power_names``, ``block_K`` (power-block temperatures) and,
  for the built-in thermal back end, ``nodes_<s>``: every node of stack ``s`` (K, the full
  grid and package state) with ``dump_names_<s>`` (HotSpot's block-level node names) and, for
  the structured solver, the modal state (``eta_<s>``, ``tp_<s>``, ``pl_hat_<s>``), so that a
  continued run is exact to rounding.
  ``sim.init = {run = DIR}`` / ``comet run --init-from DIR`` start a new run from it.
* ``state.pkl``: the closed loop's own state (jobs and their progress, frequencies, placement,
  bank modes, policies, energy so far) and the thermal back end's :meth:`save`, pickled with
  the run's fixed parts (stepper, simulation) left out by reference. ``comet run --resume DIR``
  uses it to continue an interrupted run exactly. Written only when every part pickles (a
  plugin policy or a performance model holding a process may not); never loaded from a run
  directory you did not make (pickle runs code).

Both are written atomically (a temporary file renamed), and only at an epoch boundary.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from comet.errors import InputError

__all__ = [
    "STATE_FILE",
    "STATE_PICKLE",
    "apply_node_dumps",
    "apply_thermal_state",
    "load_closed_state",
    "load_state",
    "model_state",
    "save_closed_state",
    "save_state",
    "set_model_state",
]

STATE_FILE = "state.npz"
STATE_PICKLE = "state.pkl"
FORMAT = "comet-state-1"
_SECONDARY = ("pcb_", "solder_", "sub_")


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# the exact state of a built-in thermal model


def model_state(model: Any) -> dict[str, np.ndarray]:
    """Every array that makes up a :class:`~comet.thermal.solver.ThermalModel`'s state: the
    node vector (K) and, for the structured back end between steps, its modal form (the
    state the next step starts from: rebuilding it from the node vector is exact only to
    rounding, about 1e-9 K with ``precision = "mixed"``)."""
    out = {"nodes": np.array(model.temperature, dtype=float)}
    for key, attr in (("eta", "_eta"), ("tp", "_Tp"), ("pl_hat", "_pl_hat")):
        value = getattr(model, attr, None)
        if isinstance(value, np.ndarray):
            out[key] = value.copy()
    return out


def set_model_state(model: Any, state: dict[str, np.ndarray]) -> None:
    """Put back a :func:`model_state` (the modal form too, when it was saved)."""
    model.temperature = np.asarray(state["nodes"], dtype=float).copy()
    if "eta" in state and "tp" in state and getattr(model, "_modal", False):
        model._eta = np.asarray(state["eta"]).copy()
        model._Tp = np.asarray(state["tp"]).copy()
        model._pl_hat = np.asarray(state["pl_hat"]).copy() if "pl_hat" in state else None
        model._T = None


# ----------------------------------------------------------------------------------------------
# state.npz: the thermal state and the clocks


def save_state(
    run_dir: Path,
    stepper: Any,
    *,
    time_s: float,
    clock_s: float,
    epoch: int,
    dt: float,
    frequency_hz: np.ndarray,
    status: str,
    base_dir: str = "",
) -> Path:
    """Write ``run_dir/state.npz`` (atomically); returns its path."""
    arrays: dict[str, Any] = {
        "format": np.array(FORMAT),
        "status": np.array(status),
        "base_dir": np.array(base_dir),
        "time_s": np.array(float(time_s)),
        "clock_s": np.array(float(clock_s)),
        "epoch": np.array(int(epoch)),
        "dt": np.array(float(dt)),
        "backend": np.array(str(getattr(stepper, "name", ""))),
        "power_names": np.array(list(stepper.power_names)),
        "block_K": np.array(stepper.block_temperatures(), dtype=float),
        "frequency_hz": np.array(frequency_hz, dtype=float),
    }
    models = list(getattr(stepper, "models", []))
    arrays["n_stacks"] = np.array(len(models))
    for s, m in enumerate(models):
        for key, value in model_state(m).items():
            arrays[f"{key}_{s}"] = value
        arrays[f"dump_names_{s}"] = np.array(m.dump_names())
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = Path(run_dir) / STATE_FILE
    _atomic_bytes(path, buf.getvalue())
    return path


def load_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run directory's ``state.npz``.

    Raises:
        InputError: no such directory or no (readable) state in it.
    """
    d = Path(run_dir)
    path = d / STATE_FILE
    if not d.is_dir():
        raise InputError(f"run directory {str(d)!r} not found")
    if not path.is_file():
        raise InputError(
            f"{str(d)!r} holds no {STATE_FILE}",
            hint="runs save their final state since comet 0.x; re-run it to make one",
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise InputError(f"{STATE_FILE} is unreadable: {err}", path=path) from None
    if str(data.get("format", "")) != FORMAT:
        raise InputError(f"{STATE_FILE} is not a {FORMAT} file", path=path)
    return data


def apply_thermal_state(stepper: Any, state: dict[str, Any], where: str) -> str:
    """Set the stepper's state from a loaded ``state.npz``; returns a one-line description.

    Raises:
        InputError: the saved state does not fit the stepper's stacks (one line).
    """
    models = list(getattr(stepper, "models", []))
    names = [str(n) for n in state["power_names"]]
    hint = "continue a run of the same configuration (architecture, grid, thermal keys)"
    if names != list(stepper.power_names):
        raise InputError(
            f"{where}: the saved state's {len(names)} power blocks are not this run's "
            f"{len(stepper.power_names)}",
            hint=hint,
        )
    n_saved = int(state.get("n_stacks", 0))
    if not models or n_saved != len(models):
        raise InputError(
            f"{where}: the saved state holds {n_saved} node vector(s), this run's thermal "
            f"back end {getattr(stepper, 'name', '?')!r} has {len(models)} built-in model(s)",
            hint="warm starts from a run need the builtin thermal back end in both runs",
        )
    for s, m in enumerate(models):
        nodes = np.asarray(state[f"nodes_{s}"], dtype=float)
        if nodes.shape != (m.n_nodes,):
            raise InputError(
                f"{where}: stack {s} has {m.n_nodes} nodes, the saved state {nodes.size}",
                hint=hint,
            )
        keys = ("nodes", "eta", "tp", "pl_hat")
        saved = {k: state[f"{k}_{s}"] for k in keys if f"{k}_{s}" in state}
        set_model_state(m, saved)
    refresh = getattr(stepper, "_refresh", None)
    if callable(refresh):
        refresh()
    n = sum(m.n_nodes for m in models)
    t = float(state["time_s"])
    return f"run state {where}: {n} nodes of {len(models)} stack(s) at t = {t:g} s"


# ----------------------------------------------------------------------------------------------
# HotSpot init / steady files


def _fit(expected: Sequence[str], names: Sequence[str]) -> tuple[int, list[str], list[str]]:
    exp = {n.lower() for n in expected}
    got = {n.lower() for n in names}
    missing = [n for n in expected if n.lower() not in got]
    extra = [n for n in names if n.lower() not in exp]
    return len(exp & got), missing, extra


def apply_node_dumps(
    stepper: Any, files: Sequence[str | os.PathLike[str]], stack_names: Sequence[str]
) -> list[str]:
    """Set stacks from HotSpot node files (each must fit one stack exactly: every node of it,
    no other); returns one line per file (and per stack left out) saying what matched.

    Raises:
        InputError: a file that fits no stack, two files for one stack, or a back end
            without node state (one line, naming the file).
    """
    from comet.thermal.traces import read_node_dump

    models = list(getattr(stepper, "models", []))
    if not models:
        raise InputError(
            f"sim.init: HotSpot init files need the builtin thermal back end, not "
            f"{getattr(stepper, 'name', '?')!r}"
        )
    expected = [m.dump_names() for m in models]
    used: dict[int, str] = {}
    lines: list[str] = []
    for f in files:
        names, values = read_node_dump(f)
        fits = [_fit(exp, names) for exp in expected]
        exact = [s for s, (_, miss, extra) in enumerate(fits) if not miss and not extra]
        if not exact:
            s = max(range(len(fits)), key=lambda i: fits[i][0])
            matched, miss, extra = fits[s]
            label = stack_names[s] if s < len(stack_names) else str(s)
            parts = [f"{matched} of its {len(names)} nodes match stack {label!r}"]
            parts.append(f"({len(expected[s])} nodes)")
            if miss:
                parts.append(f"{len(miss)} missing, first {miss[0]!r}")
            if extra:
                parts.append(f"{len(extra)} unknown, first {extra[0]!r}")
            hint = "an init file must come from the same floorplans, layers and grid"
            if any(n.lower().startswith(_SECONDARY) for n in extra):
                hint = (
                    "the file has HotSpot's secondary heat path (pcb_/solder_/sub_ nodes, "
                    "model_secondary 1), which comet's generated stacks do not model"
                )
            raise InputError(
                "init file does not fit the stack: " + ", ".join(parts), path=str(f), hint=hint
            )
        s = exact[0]
        if s in used:
            raise InputError(
                f"init file fits stack {stack_names[s]!r}, already set from {used[s]!r}",
                path=str(f),
            )
        used[s] = str(f)
        models[s].set_from_dump(names, values)
        label = stack_names[s] if s < len(stack_names) else str(s)
        lines.append(
            f"init file {Path(f).name}: all {len(names)} nodes matched stack {label!r} "
            f"({names[0]} .. {names[-1]}; {min(values):.2f}-{max(values):.2f} K)"
        )
    refresh = getattr(stepper, "_refresh", None)
    if callable(refresh):
        refresh()
    for s in range(len(models)):
        if s not in used:
            label = stack_names[s] if s < len(stack_names) else str(s)
            lines.append(f"stack {label!r}: no init file, left at ambient")
    return lines


# ----------------------------------------------------------------------------------------------
# state.pkl: the closed loop


def _rebuild_view(
    root: np.ndarray, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], dtype: str
) -> np.ndarray:
    return np.ndarray(shape, dtype=np.dtype(dtype), buffer=root, offset=offset, strides=strides)


class _Pickler(pickle.Pickler):
    """Pickles the objects of ``fixed`` by name, and numpy views as views of their (pickled
    once) base array: the closed loop's parts share arrays (counter tables and their rows,
    the policy view's buffers), which plain pickling would turn into independent copies."""

    def __init__(self, fh: Any, fixed: dict[int, str]) -> None:
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.fixed = fixed

    def persistent_id(self, obj: Any) -> str | None:  # noqa: D102
        return self.fixed.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:  # noqa: D102
        if type(obj) is not np.ndarray or not isinstance(obj.base, np.ndarray):
            return NotImplemented
        root = obj.base
        while isinstance(root.base, np.ndarray):
            root = root.base
        if not root.flags.c_contiguous or root.dtype.hasobject:
            return NotImplemented
        offset = obj.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        return _rebuild_view, (root, offset, obj.shape, obj.strides, obj.dtype.str)


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh: Any, fixed: dict[str, Any]) -> None:
        super().__init__(fh)
        self.fixed = fixed

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        try:
            return self.fixed[pid]
        except KeyError:
            raise pickle.UnpicklingError(f"unknown reference {pid!r}") from None


def save_closed_state(
    run_dir: Path, payload: dict[str, Any], fixed: dict[str, Any]
) -> tuple[Path | None, str]:
    """Pickle ``payload`` to ``run_dir/state.pkl`` with the objects of ``fixed`` (name ->
    object) stored by name. Returns (path or None, why not)."""
    buf = io.BytesIO()
    try:
        _Pickler(buf, {id(v): k for k, v in fixed.items()}).dump(payload)
    except Exception as err:  # an unpicklable plugin, a process handle...
        return None, f"{type(err).__name__}: {err}"
    path = Path(run_dir) / STATE_PICKLE
    _atomic_bytes(path, buf.getvalue())
    return path, ""


def load_closed_state(run_dir: str | os.PathLike[str], fixed: dict[str, Any]) -> dict[str, Any]:
    """Unpickle ``run_dir/state.pkl`` with the named objects of ``fixed`` put back.

    Raises:
        InputError: no state.pkl, or it does not load.
    """
    path = Path(run_dir) / STATE_PICKLE
    if not path.is_file():
        raise InputError(
            f"{str(run_dir)!r} holds no {STATE_PICKLE}: the run's closed-loop state could not "
            "be saved (see its events.csv), so it cannot be resumed exactly",
            hint="start a new run from its thermal state with --init-from",
        )
    try:
        with open(path, "rb") as fh:
            out = _Unpickler(fh, fixed).load()
    except Exception as err:
        raise InputError(f"{STATE_PICKLE} does not load: {err}", path=path) from None
    if not isinstance(out, dict):
        raise InputError(f"{STATE_PICKLE} holds no closed-loop state", path=path)
    return out
