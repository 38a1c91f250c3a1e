"""HotSpot's ``main`` re-implemented on comet's thermal model (the ``comet hotspot`` command).

The run follows HotSpot 7 (``hotspot.c:main``): read the config file with command-line
overrides and the materials file; build the model from the floorplan (``-f``) or the layer
configuration file (``grid_layer_file``); with ``-o``, start from ``init_file`` (a node dump,
optionally clipped when ``dtm_used``) or ``init_temp`` and advance one power-trace row of
``sampling_intvl`` at a time, writing the power blocks' temperatures to the ``.ttrace`` (and
the grid cells to ``grid_transient_file``); finally solve the steady state of the *average*
power of all rows for ``steady_file`` and ``grid_steady_file``.

Differences from HotSpot: the transient is exact for piecewise-constant power (HotSpot
integrates with adaptive RK4 or one backward-Euler step, see the reference notes), the grid
transient file is truncated at the start instead of appended to, any grid size works, and bad
input is reported as ``file:line: what (hint)``. ``-detailed_3D on`` and microchannels are not
supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from comet.errors import InputError
from comet.floorplan.flp import atomic_write_text, read_flp
from comet.floorplan.lcf import read_lcf
from comet.floorplan.model import Floorplan, Stack
from comet.thermal.hotspot_config import (
    ThermalConfig,
    build_config,
    read_config_pairs,
    write_config,
)
from comet.thermal.materials import Material, read_materials
from comet.thermal.traces import (
    append_grid_transient,
    match_power_columns,
    read_node_dump,
    read_ptrace,
    write_grid_steady,
    write_node_dump,
)

if TYPE_CHECKING:  # pragma: no cover
    from comet.thermal.solver import ThermalModel

__all__ = [
    "GLOBAL_KEYS",
    "HotSpotInputs",
    "HotSpotOptions",
    "HotSpotResult",
    "clip_init",
    "load_inputs",
    "order_init_dump",
    "run_hotspot",
]

#: HotSpot's command-line-only keys (``hotspot.c:global_config_from_strs``), lower case -> field.
GLOBAL_KEYS = {
    "f": "flp_file",
    "p": "ptrace_file",
    "o": "ttrace_file",
    "c": "config_file",
    "d": "dump_config",
    "detailed_3d": "detailed_3D",
    "use_microchannels": "use_microchannels",
    "materials_file": "materials_file",
    "all_transient_file": "all_transient_file",
    "grid_state_in": "grid_state_in",
    "grid_state_out": "grid_state_out",
}


@dataclass
class HotSpotOptions:
    """HotSpot's command line: the global keys plus ``-<name> <value>`` config overrides.

    Attributes:
        ptrace_file: ``-p`` power trace (required).
        flp_file: ``-f`` floorplan (not needed with ``grid_layer_file``).
        ttrace_file: ``-o`` transient output; without it only the steady state is computed.
        config_file: ``-c`` config file.
        dump_config: ``-d`` file to write the effective configuration to.
        detailed_3D: ``-detailed_3D on|off``.
        use_microchannels: ``-use_microchannels 0|1``.
        materials_file: ``-materials_file``.
        overrides: the other ``(name, value)`` pairs, names without the dash.
    """

    ptrace_file: str | None = None
    flp_file: str | None = None
    ttrace_file: str | None = None
    config_file: str | None = None
    dump_config: str | None = None
    detailed_3D: str = "off"  # noqa: N815 (HotSpot's spelling)
    use_microchannels: str = "0"
    materials_file: str | None = None
    #: CoMeT/HotSniper's option: the node dump (init-file format, full precision) of the
    #: state at the end of the transient, to start the next run from (``-init_file``)
    all_transient_file: str | None = None
    #: comet only: the full node vector (every grid cell and package node, K, full precision;
    #: one ``node_<i> value`` line each) to start the transient from / written at its end, so
    #: that runs chained epoch by epoch lose nothing between them
    grid_state_in: str | None = None
    grid_state_out: str | None = None
    overrides: list[tuple[str, str]] = field(default_factory=list)
    #: comet only: reproduce HotSpot 7's swapped lateral resistances on non-square cells.
    hotspot7_quirks: bool = False

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str]]) -> HotSpotOptions:
        """Split command-line ``(name, value)`` pairs (names with or without ``-``).

        The first occurrence of a name wins, as in HotSpot.
        """
        opts = cls()
        seen: set[str] = set()
        for name, value in pairs:
            key = name[1:] if name.startswith("-") else name
            lower = key.lower()
            if lower in seen:
                continue
            seen.add(lower)
            if lower in GLOBAL_KEYS:
                setattr(opts, GLOBAL_KEYS[lower], value)
            else:
                opts.overrides.append((key, value))
        return opts

    def global_pairs(self) -> list[tuple[str, str]]:
        """The global keys as HotSpot's ``-d`` dump writes them (``(null)`` for none)."""

        def v(x: str | None) -> str:
            return "(null)" if x is None else x

        return [
            ("f", v(self.flp_file)),
            ("p", v(self.ptrace_file)),
            ("o", v(self.ttrace_file)),
            ("c", v(self.config_file)),
            ("d", v(self.dump_config)),
            ("detailed_3D", self.detailed_3D),
            ("use_microchannels", self.use_microchannels),
            ("materials_file", v(self.materials_file)),
        ]


@dataclass
class HotSpotInputs:
    """Everything a run reads, validated: config, geometry and power trace."""

    config: ThermalConfig
    materials: dict[str, Material] | None
    floorplan: Floorplan | None
    stack: Stack | None
    trace_names: list[str]
    power: np.ndarray  # (rows, columns) W, trace column order
    notes: list[str] = field(default_factory=list)
    init: tuple[list[str], np.ndarray] | None = None  # init file (names, K), already clipped
    hotspot7_quirks: bool = False

    @property
    def group_sizes(self) -> list[int] | None:
        """Blocks per power layer (grid model with an LCF), for matching the trace columns."""
        if self.stack is None:
            return None
        return [len(self.stack.layers[i].floorplan) for i in self.stack.power_layers]


@dataclass
class HotSpotResult:
    """What a run computed (all temperatures in K).

    Attributes:
        config: the effective configuration.
        trace_names: power-trace column names (the ``.ttrace`` header).
        transient: (rows, columns) block temperatures at the end of every row, trace column
            order; None without ``-o``.
        steady_names, steady: the steady-state node dump (steady file format).
        steady_blocks: steady temperatures of the power blocks in trace column order.
        grid_steady: (layers, rows, cols) steady cell temperatures (grid model), else None.
        files: the files written.
        notes: warnings HotSpot would print (e.g. an ignored option).
    """

    config: ThermalConfig
    trace_names: list[str]
    transient: np.ndarray | None
    steady_names: list[str]
    steady: np.ndarray
    steady_blocks: np.ndarray
    grid_steady: np.ndarray | None = None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def peak(self) -> float:
        """Highest power-block temperature (K) of the transient, or of the steady state."""
        if self.transient is not None:
            return float(np.max(self.transient))
        return float(np.max(self.steady_blocks))


def is_null(value: str | None) -> bool:
    return value is None or value == "(null)"


def check_unsupported(opts: HotSpotOptions) -> None:
    if opts.detailed_3D not in ("on", "off"):
        raise InputError(f"-detailed_3D {opts.detailed_3D!r} is not on or off", path="command line")
    try:
        micro = int(opts.use_microchannels)
    except ValueError:
        raise InputError(
            f"-use_microchannels {opts.use_microchannels!r} is not 0 or 1", path="command line"
        ) from None
    if micro:
        raise InputError(
            "microchannels (-use_microchannels 1) are not supported by comet",
            path="command line",
            hint="use a HotSpot 7 binary for microfluidic cooling",
        )


def clip_init(values: np.ndarray, first_layer: int, config: ThermalConfig) -> np.ndarray:
    """HotSpot's init clipping with ``dtm_used``: if the hottest node of the first layer
    (``values[:first_layer]``) is above ``thermal_threshold``, scale every temperature about
    ambient, ``T = (T - amb) * (thr - amb) / (max - amb) + amb``."""
    peak = max(0.0, float(np.max(values[:first_layer]))) if first_layer else 0.0
    thr, amb = config.thermal_threshold, config.ambient
    if not config.dtm_used or peak <= thr:
        return values
    return (values - amb) * ((thr - amb) / (peak - amb)) + amb


_PREFIX = re.compile(r"^(layer_\d+_|iface_|hsp_|hsink_|pcb_|solder_|sub_|c4_|metal_)")


def order_init_dump(
    names: Sequence[str],
    values: np.ndarray,
    groups: Sequence[tuple[str, Sequence[str]]],
    n_package: int,
    path: str | None = None,
) -> np.ndarray:
    """Check an init file against the model's dump layout and return the values in dump order.

    HotSpot's rules (``read_temp_block/grid``): the file lists every node, layer after layer
    in the order of the steady file; inside a layer the blocks may be in any order (names are
    case-insensitive, the layer prefix is literal); then ``inode_0`` .. ``inode_<n-1>`` in order.

    Args:
        names, values: the file (see :func:`comet.thermal.traces.read_node_dump`).
        groups: per dumped layer, ``(prefix, block names)``.
        n_package: number of package nodes.
        path: the init file, for messages.

    Raises:
        InputError: too few or too many lines, a name of the wrong layer, a repeated or unknown
            name, or package nodes out of order.
    """
    expected = sum(len(b) for _, b in groups) + n_package
    hint = "an init file lists every node in steady-file order; make it from a steady file"
    if len(names) != expected:
        word = "not enough" if len(names) < expected else "too many"
        raise InputError(
            f"{word} lines: {len(names)} nodes, the model has {expected}", path=path, hint=hint
        )
    out = np.empty(expected)
    pos = 0
    for prefix, blocks in groups:
        index = {b.lower(): k for k, b in enumerate(blocks)}
        done: set[int] = set()
        for i in range(pos, pos + len(blocks)):
            name = names[i]
            if not name.startswith(prefix) or name[len(prefix) :].lower() not in index:
                raise InputError(
                    f"node {name!r} (entry {i + 1}) is not a block of the layer "
                    f"'{prefix or 'chip'}' expected there",
                    path=path,
                    hint=hint,
                )
            k = index[name[len(prefix) :].lower()]
            if k in done:
                raise InputError(f"node {name!r} appears twice", path=path, hint=hint)
            done.add(k)
            out[pos + k] = values[i]
        pos += len(blocks)
    for k in range(n_package):
        name = names[pos + k]
        if name.lower() != f"inode_{k}":
            raise InputError(
                f"expected package node 'inode_{k}', found {name!r}", path=path, hint=hint
            )
        out[pos + k] = values[pos + k]
    return out


def load_inputs(opts: HotSpotOptions) -> HotSpotInputs:
    """Read and check everything a run needs (config, materials, geometry, power trace)."""
    check_unsupported(opts)
    notes: list[str] = []
    if is_null(opts.ptrace_file):
        raise InputError(
            "the power trace is missing", path="command line", hint="add -p <file.ptrace>"
        )
    materials = None if is_null(opts.materials_file) else read_materials(str(opts.materials_file))
    file_pairs = [] if is_null(opts.config_file) else read_config_pairs(str(opts.config_file))
    config = build_config(
        file_pairs,
        [(n, v, None) for n, v in opts.overrides],
        materials,
        config_path=None if is_null(opts.config_file) else opts.config_file,
    )
    if opts.detailed_3D == "on":
        if config.grid_layer_file is None or config.model_type != "grid":
            raise InputError(
                "-detailed_3D on needs the grid model and a layer configuration file",
                path="command line",
                hint="add -model_type grid -grid_layer_file <file.lcf>",
            )
        config = config.with_values(detailed_3D_used=1)
    floorplan: Floorplan | None = None
    stack: Stack | None = None
    if config.grid_layer_file is not None:
        if config.model_type != "grid":
            raise InputError(
                "a layer configuration file (-grid_layer_file) needs the grid model",
                path="command line",
                hint="add -model_type grid",
            )
        if not is_null(opts.flp_file):
            notes.append(
                f"layer configuration file {config.grid_layer_file} given: "
                f"ignoring floorplan file {opts.flp_file}"
            )
        stack = read_lcf(config.grid_layer_file, materials)
    elif not is_null(opts.flp_file):
        floorplan = read_flp(str(opts.flp_file))
    else:
        raise InputError(
            "no floorplan",
            path="command line",
            hint="give -f <file.flp> or -grid_layer_file <file.lcf>",
        )
    if config.model_type != "grid":
        for key in ("grid_steady_file", "grid_transient_file"):
            if getattr(config, key) is not None:
                notes.append(f"ignoring -{key} because the grid model is not used")
                config = config.with_values(**{key: None})
    names, power = read_ptrace(str(opts.ptrace_file))
    inputs = HotSpotInputs(config, materials, floorplan, stack, names, power, notes)
    inputs.hotspot7_quirks = opts.hotspot7_quirks
    if not is_null(opts.ttrace_file) and config.init_file is not None:
        inputs.init = read_node_dump(config.init_file)
    return inputs


def build_model(inputs: HotSpotInputs) -> ThermalModel:
    """The thermal model of the inputs (LCF stack or HotSpot's default layers)."""
    from comet.thermal.solver import ThermalModel

    compat = inputs.hotspot7_quirks
    if inputs.stack is not None:
        return ThermalModel.from_stack(inputs.stack, inputs.config, hotspot7_quirks=compat)
    assert inputs.floorplan is not None
    return ThermalModel.from_floorplan(inputs.floorplan, inputs.config, hotspot7_quirks=compat)


def _init_groups(model: ThermalModel) -> tuple[list[tuple[str, list[str]]], int]:
    net = model.network
    groups = [
        (prefix, net.floorplans[fi].names)
        for prefix, fi in zip(net.dump_prefixes, net.block_layer_floorplan, strict=True)
    ]
    return groups, net.package.n_nodes


@contextmanager
def _atomic_stream(path: str) -> Iterator[TextIO]:
    """A text file written to a temporary name and renamed to ``path`` when complete."""
    from comet.fileio import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        yield fh  # mode 0666 & ~umask like every file comet writes; no temp file left


def write_node_vector(path: str, values: np.ndarray) -> None:
    """Write a full node vector (K): ``node_<i><TAB>value`` lines, exact (``repr``)."""
    atomic_write_text(path, "".join(f"node_{i}\t{float(v)!r}\n" for i, v in enumerate(values)))


def read_node_vector(path: str, n_nodes: int) -> np.ndarray:
    """Read a node vector written by :func:`write_node_vector`.

    Raises:
        InputError: unreadable file, a malformed line, the wrong number of nodes.
    """
    from comet.fileio import read_text

    lines = read_text(path, "node state").split("\n")
    values: list[float] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2 or parts[0] != f"node_{len(values)}":
                raise ValueError
            v = float(parts[1])
        except ValueError:
            raise InputError(
                f"expected 'node_{len(values)} <K>'",
                path=path,
                line=i,
                hint="a -grid_state_out file",
            ) from None
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"temperature {parts[1]} is not above 0 K", path=path, line=i)
        values.append(v)
    if len(values) != n_nodes:
        raise InputError(
            f"{len(values)} nodes, the model has {n_nodes}",
            path=path,
            hint="the state must come from the same stack, grid and configuration",
        )
    return np.array(values)


class _TtraceRecorder:
    """Writes HotSpot's transient outputs as the epoch loop records: one ``.ttrace`` row (K,
    two decimals, trace column order) and, for the grid model, one grid-transient block per
    power-trace row."""

    def __init__(
        self,
        model: ThermalModel,
        dt: float,
        perm: np.ndarray,
        transient: np.ndarray,
        out: TextIO,
        grid_fh: TextIO | None,
        progress: Callable[[int, int], Any] | None,
    ) -> None:
        self.model, self.dt, self.perm = model, dt, perm
        self.transient, self.out, self.grid_fh, self.progress = transient, out, grid_fh, progress
        self.k = 0

    def open(
        self,
        temperature: Sequence[str],
        power: Sequence[str] | None = None,
        frequency: Sequence[str] | None = None,
        bank_mode: Sequence[str] | None = None,
        cpi: Sequence[str] | None = None,
    ) -> None:
        pass

    def append(
        self,
        time_s: float,
        temperature: Any = None,
        power: Any = None,
        frequency: Any = None,
        bank_mode: Any = None,
        cpi: Any = None,
    ) -> None:
        k = self.k
        temps = self.transient[k]
        temps[self.perm] = temperature
        self.out.write("\t".join(f"{v:.2f}" for v in temps) + "\n")
        if self.grid_fh is not None:
            append_grid_transient(self.grid_fh, k * self.dt, self.model.grid_temperatures())
        self.k += 1
        if self.progress is not None:
            self.progress(self.k, self.transient.shape[0])

    def event(self, *_: Any, **__: Any) -> None:
        pass

    def grid(self, *_: Any, **__: Any) -> None:
        pass

    def close(self, *_: Any, **__: Any) -> None:
        pass


def _run_transient(
    model: ThermalModel,
    power: np.ndarray,
    dt: float,
    perm: np.ndarray,
    transient: np.ndarray,
    out: TextIO,
    grid_fh: TextIO | None,
    progress: Callable[[int, int], Any] | None,
) -> None:
    """The transient of ``power`` (rows in model order) through the epoch loop."""
    from comet.sim.loop import EpochLoop, Recorders
    from comet.sim.trace_source import TraceSource
    from comet.thermal.stepper import BuiltinStepper, ThermalSystem

    stepper = BuiltinStepper()
    stepper.start(ThermalSystem((), (), models=(model,)))
    n = power.shape[1]
    source = TraceSource(power, np.arange(n), np.zeros(n), celsius=False)
    rec = Recorders([_TtraceRecorder(model, dt, perm, transient, out, grid_fh, progress)])
    EpochLoop(source, stepper, rec, dt=dt, n_epochs=power.shape[0]).run()


def run_hotspot(
    options: HotSpotOptions,
    *,
    progress: Callable[[int, int], Any] | None = None,
) -> HotSpotResult:
    """Run HotSpot's ``main`` with comet's built-in solver and write HotSpot's output files.

    Args:
        options: the command line (see :class:`HotSpotOptions`).
        progress: called as ``progress(done_rows, total_rows)`` during the transient.

    Returns:
        the temperatures computed and the files written.

    Raises:
        InputError: any bad input, with the file and line.
    """
    inputs = load_inputs(options)
    config = inputs.config
    if not is_null(options.dump_config):
        write_config(config, str(options.dump_config), options.global_pairs())
    model = build_model(inputs)
    perm = match_power_columns(
        inputs.trace_names,
        model.power_names,
        config.model_type,
        options.ptrace_file,
        inputs.group_sizes,
    )
    files = [] if is_null(options.dump_config) else [str(options.dump_config)]
    power = inputs.power[:, perm]  # model order
    transient: np.ndarray | None = None
    rows = power.shape[0]
    if not is_null(options.ttrace_file):
        groups, n_package = _init_groups(model)
        if not is_null(options.grid_state_in):
            model.set_temperature(read_node_vector(str(options.grid_state_in), model.n_nodes))
        elif inputs.init is not None:
            names, values = inputs.init
            ordered = order_init_dump(names, values, groups, n_package, config.init_file)
            ordered = clip_init(ordered, len(groups[0][1]) if groups else 0, config)
            model.set_from_dump(model.dump_names(), ordered)
        else:
            model.set_temperature(config.init_temp)
        transient = np.empty((rows, len(perm)))
        dt = config.sampling_intvl
        model.prepare(dt, steps=rows)  # a short trace skips the compiled kernels' import
        grid_file = config.grid_transient_file if config.model_type == "grid" else None
        ttrace = str(options.ttrace_file)
        with ExitStack() as stack:
            out = stack.enter_context(_atomic_stream(ttrace))
            grid_fh = stack.enter_context(_atomic_stream(grid_file)) if grid_file else None
            out.write("\t".join(inputs.trace_names) + "\n")
            _run_transient(model, power, dt, perm, transient, out, grid_fh, progress)
        files.append(ttrace)
        if not is_null(options.all_transient_file):
            names, values = model.dump()
            atomic_write_text(
                str(options.all_transient_file),
                "".join(f"{n}\t{float(v)!r}\n" for n, v in zip(names, values, strict=True)),
            )
            files.append(str(options.all_transient_file))
        if not is_null(options.grid_state_out):
            write_node_vector(str(options.grid_state_out), model.temperature)
            files.append(str(options.grid_state_out))
        if grid_file:
            files.append(grid_file)
    average = power.mean(axis=0)
    steady_T = model.steady(average)
    steady_names, steady_values = model.dump(steady_T)
    steady_blocks = np.empty(len(perm))
    steady_blocks[perm] = model.power_block_temperatures(steady_T)
    if config.steady_file is not None:
        write_node_dump(config.steady_file, steady_names, steady_values)
        files.append(config.steady_file)
    grid_steady = None
    if config.model_type == "grid":
        grid_steady = model.grid_temperatures(steady_T)
        if config.grid_steady_file is not None:
            write_grid_steady(config.grid_steady_file, grid_steady)
            files.append(config.grid_steady_file)
    return HotSpotResult(
        config=config,
        trace_names=inputs.trace_names,
        transient=transient,
        steady_names=steady_names,
        steady=steady_values,
        steady_blocks=steady_blocks,
        grid_steady=grid_steady,
        files=files,
        notes=inputs.notes,
    )
