"""Thermal back ends of ``comet hotspot``: the built-in solver or a real HotSpot 7 binary.

:class:`HotSpotBinary` writes the run's inputs (config, floorplan or LCF stack, power trace,
init file) into a temporary directory in HotSpot's formats, runs the binary there and reads its
outputs back with comet's readers, so a user with HotSpot installed can check comet against it
with one flag (``comet hotspot --backend hotspot ...``). The binary is found from an explicit
path, the ``COMET_HOTSPOT`` environment variable, or ``hotspot`` on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from comet.errors import InputError
from comet.floorplan.flp import atomic_write_text, write_flp
from comet.floorplan.lcf import write_lcf
from comet.floorplan.model import Floorplan, Stack
from comet.thermal.hotspot_config import ThermalConfig, write_config
from comet.thermal.hotspot_run import (
    HotSpotOptions,
    HotSpotResult,
    check_unsupported,
    is_null,
    load_inputs,
)
from comet.thermal.traces import (
    format_grid,
    match_power_columns,
    read_grid_steady,
    read_grid_transient,
    read_node_dump,
    read_ttrace,
    write_grid_steady,
    write_node_dump,
    write_ptrace,
    write_ttrace,
)

__all__ = [
    "ENV_VAR",
    "BackendError",
    "BinaryRun",
    "HotSpotBinary",
    "find_hotspot",
    "run_hotspot_binary",
]

#: Environment variable naming the HotSpot binary.
ENV_VAR = "COMET_HOTSPOT"


class BackendError(InputError):
    """The external HotSpot binary failed (the message carries its last error line)."""


def find_hotspot(path: str | os.PathLike[str] | None = None) -> str:
    """The HotSpot binary: ``path``, else ``$COMET_HOTSPOT``, else ``hotspot`` on ``PATH``.

    Raises:
        InputError: when none is found or the file is not executable.
    """
    candidates: list[tuple[str, str]] = []
    if path is not None:
        candidates.append((str(path), "--hotspot-binary"))
    elif os.environ.get(ENV_VAR):
        candidates.append((os.environ[ENV_VAR], ENV_VAR))
    else:
        found = shutil.which("hotspot")
        if found is None:
            raise InputError(
                "no HotSpot binary found",
                hint=f"pass --hotspot-binary PATH, set {ENV_VAR}, or put 'hotspot' on PATH "
                "(build it from github.com/uvahotspot/HotSpot)",
            )
        candidates.append((found, "PATH"))
    exe, origin = candidates[0]
    resolved = shutil.which(exe) if os.sep not in exe else exe
    if resolved is None or not os.path.isfile(resolved):
        raise InputError(f"HotSpot binary {exe!r} (from {origin}) not found")
    if not os.access(resolved, os.X_OK):
        raise InputError(
            f"HotSpot binary {resolved!r} (from {origin}) is not executable", hint="chmod +x it"
        )
    return str(Path(resolved).resolve())


@dataclass
class BinaryRun:
    """Outputs of one HotSpot binary run (K).

    Attributes:
        trace_names: the ``.ttrace`` header (= the power trace's).
        transient: (rows, columns) block temperatures, or None for a steady-only run.
        steady_names, steady: the steady file (node dump).
        grid_steady: (layers, rows, cols) grid model steady cells, else None.
        grid_transient: ``(t, grids)`` of the grid transient file if requested, else None.
        stdout, stderr: what the binary printed.
        command: the command line that was run (relative to its working directory).
    """

    trace_names: list[str]
    transient: np.ndarray | None
    steady_names: list[str]
    steady: np.ndarray
    grid_steady: np.ndarray | None = None
    grid_transient: tuple[np.ndarray, np.ndarray] | None = None
    stdout: str = ""
    stderr: str = ""
    command: list[str] = field(default_factory=list)


def _write_init(path: Path, names: Sequence[str], values: np.ndarray) -> None:
    # exact values (HotSpot reads them with %lf); a steady file would round to 0.01 K
    atomic_write_text(
        path, "".join(f"{n}\t{float(v)!r}\n" for n, v in zip(names, values, strict=True))
    )


class HotSpotBinary:
    """A HotSpot 7 executable driven through files in a temporary directory."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = find_hotspot(path)

    def run(
        self,
        config: ThermalConfig,
        trace_names: Sequence[str],
        power: np.ndarray,
        *,
        floorplan: Floorplan | None = None,
        stack: Stack | None = None,
        transient: bool = True,
        init: tuple[Sequence[str], np.ndarray] | None = None,
        grid_transient: bool = False,
        workdir: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> BinaryRun:
        """Run HotSpot on these inputs and read its outputs.

        Args:
            config: the thermal configuration (its file keys are replaced by the run's files;
                ``material_*`` keys are written as their k and p, so no materials file is needed).
            trace_names, power: the power trace (W), (rows, columns).
            floorplan: the ``-f`` floorplan (HotSpot's default layers), or
            stack: a layered stack, written as an LCF (grid model).
            transient: run the transient (``-o``); the steady state is always computed.
            init: the init file ``(names, K)``; None: every node at ``config.init_temp``.
            grid_transient: also request the grid transient file (grid model).
            workdir: keep the files in this directory instead of a temporary one.
            timeout: seconds before the binary is killed.

        Raises:
            BackendError: the binary exited with an error (its message is included).
        """
        if (floorplan is None) == (stack is None):
            raise ValueError("give exactly one of floorplan and stack")
        if workdir is not None:
            Path(workdir).mkdir(parents=True, exist_ok=True)
            return self._run_in(
                Path(workdir), config, trace_names, power, floorplan, stack, transient, init,
                grid_transient, timeout,
            )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="comet-hotspot-") as tmp:
            return self._run_in(
                Path(tmp), config, trace_names, power, floorplan, stack, transient, init,
                grid_transient, timeout,
            )  # fmt: skip

    def _run_in(
        self,
        d: Path,
        config: ThermalConfig,
        trace_names: Sequence[str],
        power: np.ndarray,
        floorplan: Floorplan | None,
        stack: Stack | None,
        transient: bool,
        init: tuple[Sequence[str], np.ndarray] | None,
        grid_transient: bool,
        timeout: float | None,
    ) -> BinaryRun:
        grid = config.model_type == "grid"
        values: dict[str, object] = {
            "steady_file": "out.steady",
            "grid_steady_file": "out.grid.steady" if grid else None,
            "grid_transient_file": "out.grid.transient" if grid and grid_transient else None,
            "init_file": None,
            "grid_layer_file": None,
        }
        if config.package_model_used and config.package_config_file:
            values["package_config_file"] = str(Path(config.package_config_file).resolve())
        cmd = [self.path, "-c", "hotspot.config", "-p", "power.ptrace"]
        if stack is not None:
            write_lcf(stack, d, "stack.lcf")
            values["grid_layer_file"] = "stack.lcf"
        else:
            assert floorplan is not None
            write_flp(floorplan, d / "chip.flp")
            cmd += ["-f", "chip.flp"]
        if transient:
            cmd += ["-o", "out.ttrace"]
            if init is not None:
                _write_init(d / "init.temp", init[0], np.asarray(init[1], float))
                values["init_file"] = "init.temp"
        write_config(config.with_values(**values), d / "hotspot.config")
        write_ptrace(d / "power.ptrace", list(trace_names), power)
        try:
            proc = subprocess.run(
                cmd, cwd=d, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise BackendError(f"HotSpot did not finish within {timeout} s") from None
        except OSError as err:
            raise BackendError(f"cannot run HotSpot binary {self.path}: {err}") from None
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
            errs = [ln for ln in lines if "error" in ln.lower()]
            last = (errs or lines or ["(no output)"])[-1].strip()
            raise BackendError(
                f"HotSpot failed with status {proc.returncode}: {last}",
                hint=f"command: {' '.join(cmd[1:])} (in a temporary copy of the inputs)",
            )
        names: list[str] = list(trace_names)
        trans = None
        if transient:
            names, trans = read_ttrace(d / "out.ttrace")
        steady_names, steady = read_node_dump(d / "out.steady")
        grid_steady = None
        if grid:
            rows, cols = config.grid_rows, config.grid_cols
            grid_steady = read_grid_steady(d / "out.grid.steady", rows, cols)
        gt = None
        if grid and grid_transient and transient:
            gt = read_grid_transient(d / "out.grid.transient", config.grid_rows, config.grid_cols)
        return BinaryRun(
            names, trans, steady_names, steady, grid_steady, gt, proc.stdout, proc.stderr, cmd
        )


def run_hotspot_binary(
    options: HotSpotOptions, binary: str | os.PathLike[str] | None = None
) -> HotSpotResult:
    """``comet hotspot --backend hotspot``: check the inputs with comet's readers, run the
    HotSpot binary on a copy, and write the outputs where HotSpot would.

    Args:
        options: a :class:`comet.thermal.hotspot_run.HotSpotOptions`.
        binary: the HotSpot executable (see :func:`find_hotspot`).

    Returns:
        a :class:`comet.thermal.hotspot_run.HotSpotResult`.
    """
    exe = HotSpotBinary(binary)
    check_unsupported(options)
    inputs = load_inputs(options)
    config = inputs.config
    if config.model_type == "block":
        assert inputs.floorplan is not None
        power_names = inputs.floorplan.names
    else:
        power_names = (
            inputs.stack.power_block_names()
            if inputs.stack is not None
            else (inputs.floorplan.names if inputs.floorplan is not None else [])
        )
    perm = match_power_columns(
        inputs.trace_names, power_names, config.model_type, options.ptrace_file, inputs.group_sizes
    )
    files: list[str] = []
    if not is_null(options.dump_config):
        write_config(config, str(options.dump_config), options.global_pairs())
        files.append(str(options.dump_config))
    transient = not is_null(options.ttrace_file)
    out = exe.run(
        config,
        inputs.trace_names,
        inputs.power,
        floorplan=inputs.floorplan,
        stack=inputs.stack,
        transient=transient,
        init=inputs.init,
        grid_transient=config.grid_transient_file is not None,
    )
    if transient and out.transient is not None:
        write_ttrace(str(options.ttrace_file), out.trace_names, out.transient)
        files.append(str(options.ttrace_file))
        if out.grid_transient is not None and config.grid_transient_file is not None:
            times, grids = out.grid_transient
            atomic_write_text(
                config.grid_transient_file,
                "".join(f"t = {t:f}\n" + format_grid(g) for t, g in zip(times, grids, strict=True)),
            )
            files.append(config.grid_transient_file)
    if config.steady_file is not None:
        write_node_dump(config.steady_file, out.steady_names, out.steady)
        files.append(config.steady_file)
    if out.grid_steady is not None and config.grid_steady_file is not None:
        write_grid_steady(config.grid_steady_file, out.grid_steady)
        files.append(config.grid_steady_file)
    # steady temperatures of the power blocks, trace column order
    lookup = {n.lower(): float(v) for n, v in zip(out.steady_names, out.steady, strict=True)}
    if inputs.stack is not None:
        dumped = [
            f"layer_{i}_{b.name}"
            for i in inputs.stack.power_layers
            for b in inputs.stack.layers[i].floorplan
        ]
    else:
        dumped = list(power_names)
    model_order = np.array([lookup.get(n.lower(), np.nan) for n in dumped])
    steady_blocks = np.empty(len(perm))
    steady_blocks[perm] = model_order
    return HotSpotResult(
        config=config,
        trace_names=inputs.trace_names,
        transient=out.transient,
        steady_names=out.steady_names,
        steady=out.steady,
        steady_blocks=steady_blocks,
        grid_steady=out.grid_steady,
        files=files,
        notes=inputs.notes,
    )
