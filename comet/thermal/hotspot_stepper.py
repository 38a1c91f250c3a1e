"""A HotSpot binary as the thermal back end of the epoch loop (``[thermal] backend = "hotspot"``).

What CoMeT does, epoch by epoch, for every stack: write the epoch's power row (``.ptrace`` of
one row) and the state as an init file (HotSpot's block-level node dump), run the binary
(``-init_file``, ``-o``, ``-all_transient_file``), read the power blocks' temperatures from
the ``.ttrace`` and the new state from the ``-all_transient_file`` dump.

The binary is found from ``[thermal] hotspot = "path"`` (``comet run --hotspot``),
``$COMET_HOTSPOT`` or ``hotspot`` on ``PATH``. It must write ``-all_transient_file`` (the
final node dump of the transient): CoMeT's and HotSniper's HotSpot do, comet's build recipe
patches HotSpot 7 to (``scripts/patches/``), and ``comet hotspot`` does.

Between epochs the state is what an init file holds: one temperature per block of every
layer and per package node. Inside a block the grid cells restart each epoch from the block's
temperature, so this back end differs from the built-in solver (which keeps every cell) by
the intra-block gradients it drops -- as CoMeT does. Steady states come from HotSpot's own
steady solve (``-steady_file``, two decimals).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from comet.thermal.backends import BackendError, find_hotspot
from comet.thermal.hotspot_run import read_node_vector, write_node_vector
from comet.thermal.stepper import LayerGrids, ThermalSystem, per_stack

__all__ = ["HotSpotStepper"]


class _StackRun:
    """One stack's files and state in the work directory."""

    def __init__(self, d: Path, model: Any, config: Any, stack: Any) -> None:
        from comet.floorplan.lcf import write_lcf
        from comet.thermal.hotspot_config import write_config

        self.d = d
        self.model = model  # comet's network of the stack: node names, block maps
        self.power_names = list(model.power_names)
        d.mkdir(parents=True, exist_ok=True)
        write_lcf(stack, d, "stack.lcf")
        write_config(
            config.with_values(
                grid_layer_file="stack.lcf",
                init_file=None,
                steady_file=None,
                grid_steady_file=None,
                grid_transient_file=None,
                model_type="grid",
            ),
            d / "hotspot.config",
        )
        self.names = model.dump_names()
        self.state = np.zeros(len(self.names))
        self.T = np.zeros(len(self.power_names))


class HotSpotStepper:
    """The HotSpot binary per epoch (see the module docstring).

    Args:
        binary: the HotSpot executable (default: ``$COMET_HOTSPOT``, then PATH).
        state: what carries the state from one epoch to the next: ``"blocks"`` (CoMeT's way:
            the block-level init file, ``-init_file`` / ``-all_transient_file``) or ``"grid"``
            (every grid cell and package node, exact: ``-grid_state_in`` /
            ``-grid_state_out``, which ``comet hotspot`` offers).
        timeout: seconds one HotSpot run may take before it is killed.
        keep_files: keep the work directory (``thermal/`` of the run directory, or a
            temporary one) after the run.
    """

    name = "hotspot"

    def __init__(
        self,
        binary: str | None = None,
        timeout: float = 600.0,
        keep_files: bool = False,
        state: str = "blocks",
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout {timeout!r} must be positive")
        if state not in ("blocks", "grid"):
            raise ValueError(f"state {state!r}: use 'blocks' or 'grid'")
        self.state_mode = state
        self.binary = find_hotspot(binary)
        self.timeout = float(timeout)
        self.keep_files = keep_files
        self.power_names: list[str] = []
        self.offsets = np.zeros(1, dtype=np.int64)
        self.runs: list[_StackRun] = []
        self._tmp: str | None = None
        self.calls = 0

    def start(self, system: ThermalSystem) -> None:
        from comet.thermal.solver import ThermalModel

        if system.work_dir is not None:
            root = Path(system.work_dir)
            root.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = tempfile.mkdtemp(prefix="comet-hotspot-")
            root = Path(self._tmp)
        self.runs = []
        for i, (stack, tc) in enumerate(zip(system.stacks, system.configs, strict=True)):
            model = ThermalModel.from_stack(stack, tc, solver="sparse")
            d = root if len(system.stacks) == 1 else root / (stack.name or f"stack{i}")
            self.runs.append(_StackRun(d, model, tc, stack))
        self.power_names = [n for r in self.runs for n in r.power_names]
        self.offsets = np.cumsum([0] + [len(r.power_names) for r in self.runs])
        self._T = np.zeros(int(self.offsets[-1]))

    # -- running the binary ------------------------------------------------------------------

    def _run(self, r: _StackRun, args: Sequence[str]) -> None:
        cmd = [self.binary, "-c", "hotspot.config", "-p", "power.ptrace", *args]
        try:
            proc = subprocess.run(
                cmd, cwd=r.d, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"HotSpot did not finish within {self.timeout:g} s",
                hint=f"raise [thermal] timeout; files in {r.d}",
            ) from None
        except OSError as err:
            raise BackendError(f"cannot run HotSpot binary {self.binary}: {err}") from None
        self.calls += 1
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
            last = (lines or ["(no output)"])[-1].strip()
            raise BackendError(
                f"HotSpot failed with status {proc.returncode}: {last}",
                hint=f"command: {' '.join(cmd)} in {r.d}",
            )

    def _write_power(self, r: _StackRun, power: np.ndarray) -> None:
        from comet.thermal.traces import write_ptrace

        write_ptrace(r.d / "power.ptrace", r.power_names, np.asarray(power, float)[None, :])

    def _write_init(self, r: _StackRun) -> None:
        (r.d / "init.temp").write_text(
            "".join(f"{n}\t{float(v)!r}\n" for n, v in zip(r.names, r.state, strict=True))
        )

    def _read_dump(self, r: _StackRun, path: Path, what: str) -> np.ndarray:
        from comet.thermal.traces import read_node_dump

        if not path.is_file():
            raise BackendError(
                f"HotSpot wrote no {what} ({path.name})",
                hint="the binary must support -all_transient_file (CoMeT's HotSpot, comet's "
                "patched HotSpot 7 from scripts/build_native.sh, or comet hotspot)",
            )
        names, values = read_node_dump(path)
        lookup = {n.lower(): float(v) for n, v in zip(names, values, strict=True)}
        missing = [n for n in r.names if n.lower() not in lookup]
        if missing:
            raise BackendError(f"HotSpot's {what} lacks node {missing[0]!r}", path=path)
        return np.array([lookup[n.lower()] for n in r.names])

    def _model_state(self, r: _StackRun) -> np.ndarray:
        """The state of the stack's comet model in this stepper's state form."""
        if self.state_mode == "grid":
            return np.array(r.model.temperature, dtype=float)
        return np.asarray(r.model.dump()[1], dtype=float)

    # -- the protocol ------------------------------------------------------------------------

    def set_uniform(self, kelvin: float | Sequence[float]) -> None:
        for r, t in zip(self.runs, per_stack(kelvin, len(self.runs)), strict=True):
            r.model.set_temperature(t)
            r.state = self._model_state(r)
            r.T = np.asarray(r.model.power_block_temperatures(), dtype=float)
        self._gather()

    def steady(self, power: np.ndarray) -> np.ndarray:
        out = np.empty(int(self.offsets[-1]))
        for s, r in enumerate(self.runs):
            sl = slice(int(self.offsets[s]), int(self.offsets[s + 1]))
            self._write_power(r, power[sl])
            self._run(r, ["-steady_file", "steady.out"])
            r.model.set_from_dump(r.names, self._read_dump(r, r.d / "steady.out", "steady file"))
            out[sl] = r.model.power_block_temperatures()
        return out

    def set_steady(self, power: np.ndarray) -> None:
        for s, r in enumerate(self.runs):
            sl = slice(int(self.offsets[s]), int(self.offsets[s + 1]))
            self._write_power(r, power[sl])
            self._run(r, ["-steady_file", "steady.out"])
            r.model.set_from_dump(r.names, self._read_dump(r, r.d / "steady.out", "steady file"))
            r.T = np.asarray(r.model.power_block_temperatures(), dtype=float)
            r.state = self._model_state(r)
        self._gather()

    def advance(self, power: np.ndarray, dt: float) -> None:
        from comet.thermal.traces import read_ttrace

        for s, r in enumerate(self.runs):
            sl = slice(int(self.offsets[s]), int(self.offsets[s + 1]))
            self._write_power(r, power[sl])
            for f in ("out.ttrace", "state.out"):
                (r.d / f).unlink(missing_ok=True)
            args = ["-sampling_intvl", repr(float(dt)), "-o", "out.ttrace"]
            if self.state_mode == "grid":
                write_node_vector(str(r.d / "state.in"), r.state)
                args += ["-grid_state_in", "state.in", "-grid_state_out", "state.out"]
            else:
                self._write_init(r)
                args += ["-init_file", "init.temp", "-all_transient_file", "state.out"]
            self._run(r, args)
            names, rows = read_ttrace(r.d / "out.ttrace")
            order = {n.lower(): i for i, n in enumerate(names)}
            r.T = np.array([rows[-1, order[n.lower()]] for n in r.power_names])
            if self.state_mode == "grid":
                if not (r.d / "state.out").is_file():
                    raise BackendError(
                        "HotSpot wrote no -grid_state_out file",
                        hint="state = 'grid' needs comet hotspot as the binary; "
                        "use state = 'blocks' with a HotSpot binary",
                    )
                r.state = read_node_vector(str(r.d / "state.out"), len(r.state))
            else:
                r.state = self._read_dump(r, r.d / "state.out", "-all_transient_file dump")
        self._gather()

    def _gather(self) -> None:
        for s, r in enumerate(self.runs):
            self._T[int(self.offsets[s]) : int(self.offsets[s + 1])] = r.T

    def block_temperatures(self) -> np.ndarray:
        return self._T

    def save(self) -> Any:
        return [(r.state.copy(), r.T.copy()) for r in self.runs]

    def restore(self, state: Any) -> None:
        for r, (st, T) in zip(self.runs, state, strict=True):
            r.state, r.T = st.copy(), T.copy()
        self._gather()

    def grids(self) -> list[LayerGrids] | None:
        return None

    def close(self) -> None:
        if self._tmp is not None and not self.keep_files:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
