"""Parameters of the core-memory configurations (pydantic models, SI units, clear errors).

Lengths accept units: ``3.4mm``, ``50um``, ``0.5 mm``, ``1.2e-3 m``; a plain number is metres.
Grids are ``AxB`` or ``AxBxC`` (C layers). Positions are ``"x,y"`` (``"2mm,0"``) or ``[x, y]``;
lists of positions are ``"x,y;x,y"`` or ``[[x, y], ...]``; sizes are ``"WxH"`` (``"30mmx20mm"``)
or ``[w, h]``. :func:`parse_params` turns ``generate(kind, **params)``
keywords into a validated :class:`FloorplanParams` or raises :class:`comet.errors.InputError` whose
one-line message starts with the name of the offending parameter.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)

from comet.errors import InputError
from comet.floorplan.materials_lib import get_material

#: Canonical configuration names.
KINDS: tuple[str, ...] = ("ddr", "3dmem", "2.5d", "3d", "chiplets")

#: CoMeT's spellings (and a few obvious variants) -> canonical names.
KIND_ALIASES: dict[str, str] = {
    "ddr": "ddr",
    "2d": "ddr",
    "3dmem": "3dmem",
    "3d-mem": "3dmem",
    "3d_mem": "3dmem",
    "2.5d": "2.5d",
    "2_5d": "2.5d",
    "2-5d": "2.5d",
    "25d": "2.5d",
    "3d": "3d",
    "chiplets": "chiplets",
    "chiplet": "chiplets",
}

Kind = Literal["ddr", "3dmem", "2.5d", "3d", "chiplets"]

#: 2.5D layouts (``layout``): where the processor's active layer sits in the package.
LAYOUTS: tuple[str, ...] = ("spacer", "cores-in-logic-layer")
LAYOUT_ALIASES: dict[str, str] = {
    "spacer": "spacer",
    "cores-on-top": "spacer",
    "cores-in-logic-layer": "cores-in-logic-layer",
    "comet": "cores-in-logic-layer",
    "cores-at-bottom": "cores-in-logic-layer",
}
Layout = Literal["spacer", "cores-in-logic-layer"]

_UNITS = {
    "m": 1.0,
    "dm": 0.1,
    "cm": 1e-2,
    "mm": 1e-3,
    "um": 1e-6,
    "µm": 1e-6,
    "μm": 1e-6,
    "micron": 1e-6,
    "microns": 1e-6,
    "nm": 1e-9,
}
_LENGTH_RE = re.compile(
    r"^\s*(?P<num>[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)\s*(?P<unit>[a-zA-Zµμ]+)?\s*$"
)


def canonical_kind(kind: str) -> str:
    """``ddr``, ``3dmem``, ``2.5d`` or ``3d`` for any accepted spelling (``DDR``, ``2_5D``...)."""
    key = str(kind).strip().lower()
    if key in KIND_ALIASES:
        return KIND_ALIASES[key]
    raise InputError(
        f"kind: unknown configuration {kind!r}",
        hint="choose one of ddr, 3dmem, 2.5d, 3d, chiplets "
        "(CoMeT's DDR, 3Dmem, 2_5D, 3D also work)",
    )


def parse_length(value: Any) -> float:
    """A length in metres from ``3.4mm``, ``50um``, ``0.5 mm``, ``1e-3`` (plain numbers are m).

    Raises:
        ValueError: when the text is not a number with an optional length unit.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a length")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a length")
    match = _LENGTH_RE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a length (examples: 3.4mm, 50um, 0.002)")
    unit = match["unit"] or "m"
    if unit not in _UNITS:
        raise ValueError(f"{value!r}: unknown unit {unit!r} (use m, cm, mm, um or nm)")
    return float(match["num"]) * _UNITS[unit]


class Grid(NamedTuple):
    """``nx`` x ``ny`` units per layer, ``nz`` layers."""

    nx: int
    ny: int
    nz: int = 1

    @property
    def per_layer(self) -> int:
        return self.nx * self.ny

    @property
    def total(self) -> int:
        return self.nx * self.ny * self.nz

    def __str__(self) -> str:
        return f"{self.nx}x{self.ny}x{self.nz}"


def parse_grid(value: Any) -> Grid:
    """``Grid`` from ``"4x4"``, ``"4x4x8"``, a tuple or a Grid; every count must be >= 1."""
    if isinstance(value, list | tuple):
        parts = list(value)
    elif isinstance(value, str):
        texts = value.strip().lower().split("x")
        try:
            parts = [int(t) for t in texts]
        except ValueError:
            raise ValueError(f"{value!r} is not AxB or AxBxC (examples: 4x4, 4x4x8)") from None
    else:
        raise ValueError(f"{value!r} is not AxB or AxBxC (examples: 4x4, 4x4x8)")
    if len(parts) not in (2, 3) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in parts
    ):
        raise ValueError(f"{value!r} is not AxB or AxBxC (examples: 4x4, 4x4x8)")
    if any(p < 1 for p in parts):
        raise ValueError(f"{value!r}: every count must be at least 1")
    from comet.limits import BLOCKS

    try:
        BLOCKS.check(math.prod(parts), f"{value!r}")
    except InputError as err:
        raise ValueError(err.message + f" ({err.hint})") from None
    return Grid(*parts)


def _split_pair(value: Any, sep: str, what: str) -> list[Any]:
    if isinstance(value, list | tuple):
        parts = list(value)
    elif isinstance(value, str):
        parts = [t.strip() for t in value.strip().lower().split(sep)]
    else:
        raise ValueError(f"{value!r} is not {what}")
    if len(parts) != 2:
        raise ValueError(f"{value!r} is not {what}")
    return parts


def parse_position(value: Any) -> tuple[float, float]:
    """``(x, y)`` in m from ``"2mm,0"`` or ``[x, y]``; both must be >= 0."""
    x, y = (parse_length(v) for v in _split_pair(value, ",", "a position x,y (e.g. 2mm,0)"))
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:
        raise ValueError(f"{value!r}: a position must be finite and >= 0")
    return (x, y)


def parse_positions(value: Any) -> tuple[tuple[float, float], ...]:
    """Positions from ``"x,y;x,y"`` or ``[[x, y], ...]``."""
    if isinstance(value, str):
        items: list[Any] = [t for t in value.split(";") if t.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError(f"{value!r} is not a list of positions (e.g. 0,0;8mm,0)")
    if not items:
        raise ValueError("the list of positions is empty")
    return tuple(parse_position(v) for v in items)


def parse_size(value: Any) -> tuple[float, float]:
    """``(width, height)`` in m from ``"30mmx20mm"``, ``[w, h]`` or one length (a square)."""
    if isinstance(value, str) and "x" not in value.lower():
        w = h = parse_length(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        w = h = float(value)
    else:
        w, h = (parse_length(v) for v in _split_pair(value, "x", "a size WxH (e.g. 30mmx20mm)"))
    if not (math.isfinite(w) and math.isfinite(h)) or w <= 0 or h <= 0:
        raise ValueError(f"{value!r}: a size must be positive")
    return (w, h)


def parse_grids(value: Any) -> tuple[Grid, ...]:
    """Grids from ``"2x2;1x1"`` or ``["2x2", "1x1"]``."""
    if isinstance(value, str):
        items: list[Any] = [t for t in value.split(";") if t.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError(f"{value!r} is not a list of AxB grids (e.g. 2x2;1x1)")
    if not items:
        raise ValueError("the list of grids is empty")
    return tuple(parse_grid(v) for v in items)


def _layout(value: Any) -> str:
    key = str(value).strip().lower().replace("_", "-")
    if key not in LAYOUT_ALIASES:
        raise ValueError(f"unknown layout {value!r} (choose spacer or cores-in-logic-layer)")
    return LAYOUT_ALIASES[key]


def _tim_layers(value: Any) -> str:
    key = str(value).strip().lower().replace("_", "-")
    if key not in ("between-dies", "full"):
        raise ValueError(f"{value!r} is not between-dies or full")
    return key


def _nonneg_length(value: Any) -> float:
    metres = parse_length(value)
    if not math.isfinite(metres) or metres < 0.0:
        raise ValueError(f"must be a length >= 0, got {value!r}")
    return metres


#: Lengths a parameter may take (m): 1 nm .. 10 m, as block sizes in a .flp
#: (:data:`comet.floorplan.flp.MAX_EXTENT_M`); outside is a unit mistake.
LENGTH_RANGE_M = (1e-9, 10.0)


def _positive_length(value: Any) -> float:
    metres = parse_length(value)
    if not math.isfinite(metres) or metres <= 0.0:
        raise ValueError(f"must be a positive length, got {value!r}")
    low, high = LENGTH_RANGE_M
    if not low <= metres <= high:
        raise ValueError(
            f"{value!r} is {metres:g} m, outside {low:g} .. {high:g} m (examples: 3.4mm, 50um)"
        )
    return metres


def _material_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a material name")
    try:
        return get_material(value).name
    except InputError as err:
        raise ValueError(err.message.removeprefix("material: ") + f" ({err.hint})") from None


def _positive_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0.0:
        raise ValueError(f"must be positive, got {value!r}")
    return number


PositiveLength = Annotated[float, BeforeValidator(_positive_length)]
PositiveNumber = Annotated[float, BeforeValidator(_positive_number)]
GridSpec = Annotated[Grid, BeforeValidator(parse_grid)]
GridList = Annotated[tuple[Grid, ...], BeforeValidator(parse_grids)]
MaterialName = Annotated[str, BeforeValidator(_material_name)]
NonNegLength = Annotated[float, BeforeValidator(_nonneg_length)]
Position = Annotated[tuple[float, float], BeforeValidator(parse_position)]
Positions = Annotated[tuple[tuple[float, float], ...], BeforeValidator(parse_positions)]
Size = Annotated[tuple[float, float], BeforeValidator(parse_size)]
LayoutName = Annotated[Layout, BeforeValidator(_layout)]
TimLayers = Annotated[Literal["between-dies", "full"], BeforeValidator(_tim_layers)]

#: Parameters that only the package-on-interposer configurations (2.5d, chiplets) take.
_INTERPOSER_ONLY = ("layout", "tim_layers", "interposer_size", "interposer_margin")
_2_5D_ONLY = ("core_pos", "mem_pos")
_CHIPLETS_ONLY = (
    "chiplets",
    "chiplet_cores",
    "dram_stacks",
    "chiplet_positions",
    "stack_positions",
)


class FloorplanParams(BaseModel):
    """All parameters of a configuration; lengths in m (CoMeT's values as defaults).

    Geometry:
        cores: cores per layer and core layers, ``AxB[xC]`` (default 2x2).
        core_width, core_height: size of one core (3.414 mm); ``core_size`` sets both.
        banks: banks per layer and DRAM layers (ddr: 4x4, one die; chiplets: 4x4x4 per stack,
            a 4-high HBM2 stack (JEDEC JESD235); others: 4x4x8, CoMeT's).
        bank_width, bank_height: size of one bank (1.707 mm); ``bank_size`` sets both. A logic
            core ``LC_i`` (3dmem, 2.5d) has the footprint of the vault above it (one bank).
        gap: 2.5d: distance between the core die and the memory stack (1.3 mm: CoMeT's
            config/hotspot/2_5D, ``--core_mem_distance 1.3mm``); chiplets: the distance between
            neighbouring dies of the default arrangement.
        cores_at_bottom: 3d only; False (CoMeT) puts the cores next to the spreader, True puts
            them farthest from it, under the DRAM.
        channels: ddr only, number of channels; banks are split into equal contiguous groups.
        core_units: optional per-core unit template (``.toml`` of fractions or ``.flp`` of the
            core's size), or ``builtin`` for ``templates/core_units.toml``; units are named
            ``C_<i>_<unit>``.
    Packages on an interposer (2.5d, chiplets):
        layout: ``spacer`` (2.5d default): the processor's cores are the top die level, next
            to the heat sink, on a ``spacer`` column down to the interposer;
            ``cores-in-logic-layer`` (chiplets default; CoMeT's 2.5D): the cores are in the
            bottom die level beside the memory's logic die, with the ``spacer`` material above
            them in every DRAM and TIM layer (silicon: the processor die's bulk, a flip-chip die
            as thick as the memory stack; ``comet_air``: CoMeT's filler).
        tim_layers: ``between-dies`` (default): TIM only between bonded dies, the die's
            ``spacer`` column and the ``filler`` elsewhere; ``full``: every TIM layer is one
            TIM block over the whole interposer (CoMeT's files).
        interposer_size: ``WxH`` of the interposer (default: the dies' bounding box plus
            ``interposer_margin``); the area without dies is ``filler``.
        interposer_margin: filler around the dies' bounding box (0, as CoMeT).
        core_pos, mem_pos: 2.5d: bottom-left corner of the core die and of the memory stack
            on the interposer (default: the core die at the left, the memory ``gap`` to its
            right, both centred vertically).
    Chiplets (``chiplets``: N core chiplets and M DRAM stacks on an interposer):
        chiplets: core chiplets ``AxB`` (2x1), each of ``cores`` cores of ``core_size``;
            cores are numbered chiplet by chiplet.
        chiplet_cores: chiplets of different sizes: one core grid ``AxB[xC]`` per chiplet
            (``"2x2;1x1"``), instead of ``cores`` for all; ``chiplets`` defaults to one row.
        dram_stacks: DRAM stacks ``AxB`` (1x2), each a logic die of one ``LC_i`` per vault and
            ``banks`` (``AxBxC``: C DRAM dies) of ``bank_size``; banks and logic cores are
            numbered stack by stack, vaults are global (stack s, position v: s * A*B + v).
        chiplet_positions, stack_positions: bottom-left corners of each chiplet / stack (default:
            the chiplets in an AxB grid at the left, the stacks in an AxB grid ``gap`` to their
            right, everything ``gap`` apart and centred vertically).
    Layers:
        core_thickness, bank_thickness, logic_thickness (50 um), tim_thickness (20 um),
        interposer_thickness (50 um); die_material, tim_material, interposer_material;
        filler (2.5d, chiplets: the area without dies, default ``mold_compound``), spacer
        (2.5d, chiplets: a die's material at the levels where it has no cores, logic cores or
        banks: under the cores in the spacer layout, above them in cores-in-logic-layer;
        default ``silicon``: a processor die as thick as the memory stack, as in real 2.5D
        packages where the lid touches both dies).
    Package (HotSpot keys of each stack's ``hotspot.config``):
        r_convec (0.1 K/W), c_convec (140.4 J/K), spreader_thickness (1 mm), spreader_margin
        (20 mm: spreader side = die side + margin, as CoMeT), sink_thickness (6.9 mm),
        sink_margin (40 mm), spreader_material, sink_material (copper), ambient (318.15 K),
        grid_rows, grid_cols (64).
        dram_sink_thickness: ddr's DRAM package has no heat sink; modelled as CoMeT does by a
            sink of this thickness (10 um).
        dimm_spreader: ddr only; a DIMM heat spreader on the DRAM package instead: a plate of
            ``dimm_spreader_material`` (aluminium) of ``dimm_spreader_thickness`` (1 mm) acting
            as HotSpot's sink.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    cores: GridSpec = Grid(2, 2, 1)
    core_width: PositiveLength = 3.414e-3
    core_height: PositiveLength = 3.414e-3
    banks: GridSpec = Grid(4, 4, 8)
    bank_width: PositiveLength = 1.707e-3
    bank_height: PositiveLength = 1.707e-3
    gap: PositiveLength = 1.3e-3
    cores_at_bottom: bool = False
    channels: int = 1
    core_units: str | None = None
    layout: LayoutName | None = None
    tim_layers: TimLayers = "between-dies"
    interposer_size: Size | None = None
    interposer_margin: NonNegLength = 0.0
    core_pos: Position | None = None
    mem_pos: Position | None = None
    chiplets: GridSpec = Grid(2, 1, 1)
    chiplet_cores: GridList | None = None
    dram_stacks: GridSpec = Grid(1, 2, 1)
    chiplet_positions: Positions | None = None
    stack_positions: Positions | None = None

    core_thickness: PositiveLength = 50e-6
    bank_thickness: PositiveLength = 50e-6
    logic_thickness: PositiveLength = 50e-6
    tim_thickness: PositiveLength = 20e-6
    interposer_thickness: PositiveLength = 50e-6
    die_material: MaterialName = "silicon"
    tim_material: MaterialName = "tim"
    interposer_material: MaterialName = "silicon"
    filler: MaterialName = "mold_compound"
    spacer: MaterialName = "silicon"

    r_convec: PositiveNumber = 0.1
    c_convec: PositiveNumber = 140.4
    spreader_thickness: PositiveLength = 1e-3
    spreader_margin: PositiveLength = 20e-3
    sink_thickness: PositiveLength = 6.9e-3
    sink_margin: PositiveLength = 40e-3
    spreader_material: MaterialName = "copper"
    sink_material: MaterialName = "copper"
    ambient: PositiveNumber = 318.15
    grid_rows: int = 64
    grid_cols: int = 64
    dram_sink_thickness: PositiveLength = 10e-6
    dimm_spreader: bool = False
    dimm_spreader_thickness: PositiveLength = 1e-3
    dimm_spreader_material: MaterialName = "aluminium"

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for short, (w, h) in {
            "core_size": ("core_width", "core_height"),
            "bank_size": ("bank_width", "bank_height"),
        }.items():
            if short in data:
                size = data.pop(short)
                try:
                    _positive_length(size)
                except ValueError as err:
                    raise ValueError(f"{short}: {err}") from None
                data.setdefault(w, size)
                data.setdefault(h, size)
        if data.get("kind") == "ddr" and "banks" not in data:
            data["banks"] = Grid(4, 4, 1)
        if data.get("kind") == "chiplets" and "chiplet_cores" in data and "chiplets" not in data:
            try:
                data["chiplets"] = Grid(len(parse_grids(data["chiplet_cores"])), 1, 1)
            except ValueError as err:
                raise ValueError(f"chiplet_cores: {err}") from None
        if data.get("kind") == "chiplets" and "banks" not in data:
            data["banks"] = Grid(4, 4, 4)  # a 4-high stack per DRAM stack (HBM2 4-Hi)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> FloorplanParams:
        for name in ("channels", "grid_rows", "grid_cols"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        from comet.limits import GRID_CELLS

        try:
            GRID_CELLS.check(
                self.grid_rows * self.grid_cols, f"grid {self.grid_rows}x{self.grid_cols}"
            )
        except InputError as err:
            raise ValueError(f"grid_rows: {err.message} ({err.hint})") from None
        if self.sink_margin < self.spreader_margin:
            raise ValueError(
                "sink_margin: the sink must be at least as large as the spreader "
                f"({self.sink_margin} m < spreader_margin {self.spreader_margin} m)"
            )
        if self.kind == "ddr":
            if self.banks.nz != 1:
                raise ValueError(
                    f"banks: ddr has one DRAM die per package, got {self.banks} (give AxB)"
                )
            if self.banks.total % self.channels:
                raise ValueError(
                    f"channels: {self.banks.total} banks do not split evenly over "
                    f"{self.channels} channels"
                )
        if self.kind == "3d":
            cw, ch = self.cores.nx * self.core_width, self.cores.ny * self.core_height
            bw, bh = self.banks.nx * self.bank_width, self.banks.ny * self.bank_height
            if abs(cw - bw) > 1e-9 or abs(ch - bh) > 1e-9:
                raise ValueError(
                    "bank_width: in 3d the banks must cover the cores' area: banks "
                    f"{bw * 1e3:.6g} x {bh * 1e3:.6g} mm vs cores {cw * 1e3:.6g} x "
                    f"{ch * 1e3:.6g} mm (change banks, bank_width/bank_height or core size)"
                )
        given = self.model_fields_set
        on_interposer = self.kind in ("2.5d", "chiplets")
        for names, ok, where in (
            (_INTERPOSER_ONLY, on_interposer, "2.5d and chiplets"),
            (_2_5D_ONLY, self.kind == "2.5d", "2.5d"),
            (_CHIPLETS_ONLY, self.kind == "chiplets", "chiplets"),
        ):
            for name in names:
                if name in given and getattr(self, name) is not None and not ok:
                    raise ValueError(f"{name}: only {where} take this parameter, not {self.kind}")
        if on_interposer and not (
            self.core_thickness == self.bank_thickness == self.logic_thickness
        ):
            raise ValueError(
                f"core_thickness: in {self.kind} the dies side by side share their layers, so "
                "core_thickness, bank_thickness and logic_thickness must be equal"
            )
        if self.kind == "chiplets":
            for grid_name, name, positions, grid in (
                ("chiplets", "chiplet_positions", self.chiplet_positions, self.chiplets),
                ("dram_stacks", "stack_positions", self.stack_positions, self.dram_stacks),
            ):
                if grid.nz != 1:
                    raise ValueError(f"{grid_name}: give AxB, got {grid}")
                cores = self.chiplet_cores if grid_name == "chiplets" else None
                if cores is not None and len(cores) != grid.per_layer:
                    raise ValueError(
                        f"chiplet_cores: {len(cores)} core grids for "
                        f"{grid.per_layer} chiplets ({grid.nx}x{grid.ny})"
                    )
                if positions is not None and len(positions) != grid.per_layer:
                    raise ValueError(
                        f"{name}: {len(positions)} positions for {grid.per_layer} dies "
                        f"({grid.nx}x{grid.ny})"
                    )
        return self

    @property
    def resolved_layout(self) -> str:
        """``layout``, or the configuration's default (2.5d: spacer, chiplets: cores in the
        logic layer)."""
        if self.layout is not None:
            return self.layout
        return "cores-in-logic-layer" if self.kind == "chiplets" else "spacer"


def parse_params(kind: str, params: dict[str, Any]) -> FloorplanParams:
    """Validate the keywords of ``generate(kind, **params)``.

    Raises:
        InputError: one line naming the parameter (``banks: ...``, ``core_width: ...``).
    """
    canonical = canonical_kind(kind)
    if "kind" in params:
        raise InputError("kind: give the configuration as the first argument, not a keyword")
    try:
        return FloorplanParams(kind=canonical, **params)  # type: ignore[arg-type]
    except ValidationError as err:
        raise InputError(_one_line(err)) from None


def _one_line(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if first["type"] == "extra_forbidden":
        known = ", ".join(sorted(set(FloorplanParams.model_fields) - {"kind"}))
        return f"{loc}: unknown parameter (known: {known}, core_size, bank_size)"
    if not loc:  # a model-level check names its parameter itself
        return msg
    if "input" in first and first["type"] not in ("value_error",):
        msg = f"{msg}, got {first['input']!r}"
    return f"{loc}: {msg}"
