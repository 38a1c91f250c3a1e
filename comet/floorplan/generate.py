"""CoMeT's four core-memory configurations and chiplet packages, without CoMeT's limits.

``generate(kind, **params)`` builds the thermal stacks of a configuration in memory (all geometry
is computed here, in Python, where tests can check it); :func:`render` writes them through the
Jinja templates of ``templates/`` (or a user's own) and parses the files back to prove they are
valid HotSpot input.

Configurations (layer order = HotSpot's LCF order: index 0 is farthest from the heat sink):

``ddr``
    Two stacks. ``processor``: per core layer ``core<l>`` then ``tim<j>``. ``memory`` (one DRAM
    die of banks, a DIMM chip): ``dram0``, ``tim<j>``; it has no heat sink, modelled as CoMeT
    does with a 10 um sink (``dram_sink_thickness``), or an aluminium DIMM heat spreader
    (``dimm_spreader=True``). Each bank has a ``channel``.
``3dmem``
    Two stacks. ``processor`` as in ddr. ``memory`` (HMC-like): ``logic`` (one logic core
    ``LC_v`` per vault), then per DRAM layer ``tim<j>``, ``dram<d>``, and a last ``tim<j>``.
``2.5d``
    One stack ``package``: ``interposer`` (``I_0``), a bond layer ``tim<j>``, then die levels
    separated by TIM layers, and a last TIM under the spreader. The memory stack (right) is
    its logic die (level 0, ``LC_v``) and DRAM dies (levels 1..D); the core die (left, ``gap``
    away) takes the top level(s), next to the sink, like the top DRAM die. Under the core die,
    down to the interposer, is ``spacer`` (silicon by default: a processor die as thick as the
    memory stack, as in real 2.5D packages where the lid touches both); the gap and margins are
    ``filler`` (mold compound by default, not CoMeT's 7.7 W/(m K) "air"). Filler and spacer
    blocks ``X<i>`` whose material differs from their layer's carry it in 7-field ``.flp``
    lines, which HotSpot uses with ``-detailed_3D on`` (``detailed_3D_used = 1`` in the
    stack's config). That is ``layout="spacer"``; ``layout="cores-in-logic-layer"`` is
    CoMeT's: the cores in level 0 beside the logic die, the ``spacer`` material above them in
    every DRAM and TIM layer (the processor die's bulk silicon; CoMeT: its "air"). Either die
    may be placed anywhere (``core_pos``, ``mem_pos``) on an interposer of any size
    (``interposer_size``, ``interposer_margin``); the area without dies is ``filler``.
``3d``
    One stack ``package``: DRAM layers (``dram<d>``, ``tim<j>``) then core layers (``core<l>``,
    ``tim<j>``): the cores next to the spreader, as CoMeT orders them; ``cores_at_bottom=True``
    puts the cores first (farthest from the sink). Banks cover exactly the cores' area.
``chiplets``
    One stack ``package`` like 2.5d with N core chiplets (``chiplets`` AxB, each of ``cores``)
    and M DRAM stacks (``dram_stacks`` AxB, each a logic die and ``banks``) on the interposer,
    at given positions or in a default arrangement; ``cores-in-logic-layer`` by default.
    Cores, banks and logic cores are numbered die by die; ``UnitInfo.die`` names the die.

Layers of the interposer packages are built by one routine (:func:`_on_interposer`) from die
rectangles and the content of each die at each level; :func:`free_rects` tiles the rest.

Every stack carries in ``stack.meta``:

* ``"configuration"``: the canonical configuration name;
* ``"config"``: HotSpot keys of its package (spreader and sink size, sink thickness, grid,
  ``grid_layer_file``...), to apply on top of a :class:`ThermalConfig` (see
  :func:`thermal_config`);
* ``"info"``: a :class:`comet.floorplan.stack_toml.StackInfo` (what each layer and unit is,
  the same object :func:`comet.floorplan.stack_toml.read_stack_toml` returns);
* ``"units"``: ``info.units``.
"""

from __future__ import annotations

import os
import sys
import tomllib
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from comet.errors import InputError
from comet.floorplan.flp import atomic_write_text, uncovered_area, validate_floorplan
from comet.floorplan.materials_lib import Material, get_material
from comet.floorplan.model import GEOMETRY_TOLERANCE, Block, Floorplan, Layer, Stack
from comet.floorplan.params import FloorplanParams, Grid, parse_params
from comet.floorplan.stack_toml import LayerInfo, StackInfo, UnitInfo, write_stack_toml
from comet.thermal.hotspot_config import ThermalConfig

__all__ = [
    "DEFAULT_FLOORPLANS",
    "CoreUnit",
    "floorplans_dir",
    "generate",
    "load_core_units",
    "render",
    "template_dir",
    "thermal_config",
    "validate_generated",
    "write_default_floorplans",
]

#: Template file names (a user's ``--template-dir`` may replace any of them).
TEMPLATES = ("layer.flp.j2", "stack.lcf.j2", "hotspot.config.j2")
LCF_NAME = "stack.lcf"
CONFIG_NAME = "hotspot.config"
TOML_NAME = "stack.toml"

#: HotSpot keys that exist only on HotSpot's command line (never written to hotspot.config).
_COMMAND_LINE_ONLY = {"detailed_3D_used"}


def _r(value: float) -> float:
    """Round a length to 1e-12 m so that sums like 3 x 1.707 mm print as 5.121 mm."""
    return round(value, 12)


# --------------------------------------------------------------------------------------------
# per-core units


@dataclass(frozen=True, slots=True)
class CoreUnit:
    """A unit inside one core; position relative to the core's bottom-left corner (m)."""

    name: str
    x: float
    y: float
    width: float
    height: float


def load_core_units(spec: str, core_width: float, core_height: float) -> list[CoreUnit]:
    """Units of one core from a template.

    Args:
        spec: ``builtin`` (``templates/core_units.toml``), a ``.toml`` file of ``[[units]]``
            with ``name``, ``x``, ``y``, ``width``, ``height`` as fractions of the core, or a
            ``.flp`` file whose bounding box is the core (within 1e-6 m).
        core_width, core_height: the core's size (m).

    Raises:
        InputError: naming ``core_units`` when the file is missing or malformed, or the units
            do not tile the core.
    """
    path = template_dir() / "core_units.toml" if spec == "builtin" else Path(spec)
    if not path.is_file():
        raise InputError("core_units: file not found", path=path)
    units: list[CoreUnit] = []
    if path.suffix.lower() == ".flp":
        from comet.floorplan.flp import read_flp

        fp = read_flp(path).translated()
        if (
            abs(fp.width - core_width) > GEOMETRY_TOLERANCE
            or abs(fp.height - core_height) > GEOMETRY_TOLERANCE
        ):
            raise InputError(
                f"core_units: the template is {fp.width * 1e3:.6g} x {fp.height * 1e3:.6g} mm "
                f"but a core is {core_width * 1e3:.6g} x {core_height * 1e3:.6g} mm",
                path=path,
                hint="make the .flp the size of one core, or use a .toml of fractions",
            )
        units = [CoreUnit(b.name, b.x, b.y, b.width, b.height) for b in fp]
    else:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"core_units: not valid TOML: {err}", path=path) from None
        records = data.get("units")
        if not isinstance(records, list) or not records:
            raise InputError("core_units: no [[units]] tables", path=path)
        for i, rec in enumerate(records):
            try:
                name = str(rec["name"])
                fx, fy = float(rec["x"]), float(rec["y"])
                fw, fh = float(rec["width"]), float(rec["height"])
            except (KeyError, TypeError, ValueError) as err:
                raise InputError(
                    f"core_units: unit {i}: needs name, x, y, width, height ({err})", path=path
                ) from None
            if fw <= 0 or fh <= 0 or fx < 0 or fy < 0 or fx + fw > 1 + 1e-9 or fy + fh > 1 + 1e-9:
                raise InputError(
                    f"core_units: unit {name!r} is not inside the core",
                    path=path,
                    hint="x, y, width, height are fractions of the core in [0, 1]",
                )
            units.append(
                CoreUnit(
                    name,
                    _r(fx * core_width),
                    _r(fy * core_height),
                    _r(fw * core_width),
                    _r(fh * core_height),
                )
            )
    fp = Floorplan(tuple(Block(u.name, u.width, u.height, u.x, u.y) for u in units))
    try:
        validate_floorplan(fp)
    except InputError as err:
        raise InputError(f"core_units: {err.message}", path=path, hint=err.hint) from None
    for u in units:
        if not u.name.replace("_", "").isalnum():
            raise InputError(
                f"core_units: unit name {u.name!r} must be letters, digits and _", path=path
            )
    gap = core_width * core_height - fp.area
    if abs(gap) > 1e-9 * core_width * core_height:
        raise InputError(
            f"core_units: the units cover {fp.area / (core_width * core_height):.6g} of the core",
            path=path,
            hint="units must tile the core without gaps or overlaps",
        )
    return units


# --------------------------------------------------------------------------------------------
# stack building


@dataclass
class _Builder:
    """Accumulates the layers and unit descriptions of one stack."""

    configuration: str
    name: str
    width: float
    height: float
    layers: list[Layer] = field(default_factory=list)
    layer_infos: list[LayerInfo] = field(default_factory=list)
    units: list[UnitInfo] = field(default_factory=list)
    n_filler: int = 0
    n_tim: int = 0
    own_materials: bool = False

    def block(
        self, name: str, x: float, y: float, w: float, h: float, material: Material, base: Material
    ) -> Block:
        if material.name == base.name:
            return Block(name, _r(w), _r(h), _r(x), _r(y))
        self.own_materials = True
        return Block(
            name,
            _r(w),
            _r(h),
            _r(x),
            _r(y),
            heat_capacity=material.heat_capacity,
            resistivity=material.resistivity,
        )

    def filler_name(self) -> str:
        name = f"X{self.n_filler}"
        self.n_filler += 1
        return name

    def add(
        self,
        name: str,
        kind: str,
        material: Material,
        thickness: float,
        power: bool,
        parts: Sequence[tuple[Block, UnitInfo]],
    ) -> None:
        blocks = tuple(b for b, _ in parts)
        self.layers.append(
            Layer(
                name=name,
                floorplan=Floorplan(blocks),
                thickness=thickness,
                conductivity=material.conductivity,
                heat_capacity=material.heat_capacity,
                lateral=True,
                has_power=power,
                material=material.name,
            )
        )
        self.layer_infos.append(
            LayerInfo(
                index=len(self.layer_infos),
                name=name,
                kind=kind,
                thickness=thickness,
                material=material.name,
                power=power,
                flp=f"{name}.flp",
            )
        )
        self.units.extend(info for _, info in parts)

    def tim_layer(self, p: FloorplanParams) -> None:
        """A TIM layer over the whole footprint, one block ``TIM<j>``."""
        tim = get_material(p.tim_material)
        name = f"tim{self.n_tim}"
        block_name = f"TIM{self.n_tim}"
        self.n_tim += 1
        part = (
            self.block(block_name, 0.0, 0.0, self.width, self.height, tim, tim),
            UnitInfo(block_name, name, "tim", material=tim.name),
        )
        self.add(name, "tim", tim, p.tim_thickness, False, [part])

    def build(self, config: dict[str, Any]) -> Stack:
        if self.own_materials:
            config = {**config, "detailed_3D_used": 1}
        info = StackInfo(
            configuration=self.configuration,
            stack=self.name,
            layers=tuple(self.layer_infos),
            units=tuple(self.units),
            config=dict(config),
            lcf=LCF_NAME,
            hotspot_config=CONFIG_NAME,
        )
        meta: dict[str, object] = {
            "configuration": self.configuration,
            "config": dict(config),
            "info": info,
            "units": info.units,
        }
        return Stack(tuple(self.layers), name=self.name, meta=meta)


def _core_parts(
    b: _Builder,
    p: FloorplanParams,
    layer_name: str,
    core_layer: int,
    x0: float,
    y0: float,
    units: list[CoreUnit] | None,
    die: int | None = None,
    grid: Grid | None = None,
    first: int = 0,
) -> list[tuple[Block, UnitInfo]]:
    """Cores of one core layer of a ``grid`` (default ``p.cores``) of cores numbered from
    ``first``; ``die``: the chiplet (cores are numbered chiplet by chiplet)."""
    si = get_material(p.die_material)
    g = p.cores if grid is None else grid
    parts = []
    for j in range(g.ny):
        for i in range(g.nx):
            core = first + core_layer * g.per_layer + j * g.nx + i
            x, y = x0 + i * p.core_width, y0 + j * p.core_height
            if units is None:
                name = f"C_{core}"
                info = UnitInfo(name, layer_name, "core", core=core, die=die)
                parts.append((b.block(name, x, y, p.core_width, p.core_height, si, si), info))
                continue
            for u in units:
                name = f"C_{core}_{u.name}"
                info = UnitInfo(name, layer_name, "core_unit", core=core, unit=u.name, die=die)
                block = b.block(name, x + u.x, y + u.y, u.width, u.height, si, si)
                parts.append((block, info))
    return parts


def _grid_parts(
    b: _Builder,
    p: FloorplanParams,
    layer_name: str,
    prefix: str,
    first: int,
    x0: float,
    y0: float,
    describe: Callable[[str, int, int], UnitInfo],
) -> list[tuple[Block, UnitInfo]]:
    """Banks or logic cores on the bank grid: ``<prefix>_<first + position>``."""
    si = get_material(p.die_material)
    g = p.banks
    parts = []
    for j in range(g.ny):
        for i in range(g.nx):
            position = j * g.nx + i
            name = f"{prefix}_{first + position}"
            x, y = x0 + i * p.bank_width, y0 + j * p.bank_height
            block = b.block(name, x, y, p.bank_width, p.bank_height, si, si)
            parts.append((block, describe(name, first + position, position)))
    return parts


def _bank_parts(
    b: _Builder,
    p: FloorplanParams,
    layer_name: str,
    d: int,
    x0: float,
    y0: float,
    die: int | None = None,
) -> list[tuple[Block, UnitInfo]]:
    """Banks of DRAM layer ``d``; ``die``: the DRAM stack (banks numbered stack by stack,
    vaults global: ``die * banks per layer + position``)."""
    per_channel = p.banks.total // p.channels
    stack = 0 if die is None else die

    def describe(name: str, bank: int, position: int) -> UnitInfo:
        if p.kind == "ddr":
            return UnitInfo(name, layer_name, "bank", bank=bank, channel=bank // per_channel)
        vault = stack * p.banks.per_layer + position
        return UnitInfo(name, layer_name, "bank", bank=bank, vault=vault, bank_layer=d, die=die)

    first = stack * p.banks.total + d * p.banks.per_layer
    return _grid_parts(b, p, layer_name, "B", first, x0, y0, describe)


def _logic_parts(
    b: _Builder,
    p: FloorplanParams,
    layer_name: str,
    x0: float,
    y0: float,
    die: int | None = None,
) -> list[tuple[Block, UnitInfo]]:
    """Logic cores ``LC_v``, one per vault (``die``: the DRAM stack, vaults global)."""
    first = 0 if die is None else die * p.banks.per_layer

    def describe(name: str, index: int, position: int) -> UnitInfo:
        return UnitInfo(name, layer_name, "logic", vault=index, die=die)

    return _grid_parts(b, p, layer_name, "LC", first, x0, y0, describe)


def _package_config(
    p: FloorplanParams, width: float, height: float, *, bare_dram: bool = False
) -> dict[str, Any]:
    """HotSpot keys of a stack's package: CoMeT's spreader/sink sizing, our materials."""
    side = max(width, height)
    spreader = get_material(p.spreader_material)
    sink = get_material(p.sink_material)
    config: dict[str, Any] = {
        "model_type": "grid",
        "grid_rows": p.grid_rows,
        "grid_cols": p.grid_cols,
        "grid_layer_file": LCF_NAME,
        "s_spreader": _r(side + p.spreader_margin),
        "t_spreader": p.spreader_thickness,
        "k_spreader": spreader.conductivity,
        "p_spreader": spreader.heat_capacity,
        "s_sink": _r(side + p.sink_margin),
        "t_sink": p.sink_thickness,
        "k_sink": sink.conductivity,
        "p_sink": sink.heat_capacity,
        "r_convec": p.r_convec,
        "c_convec": p.c_convec,
        "ambient": p.ambient,
        "init_temp": p.ambient,
        "s_sub": _r(side + 0.02),
        "s_solder": _r(side + 0.001),
    }
    if bare_dram:
        if p.dimm_spreader:
            plate = get_material(p.dimm_spreader_material)
            config.update(
                t_sink=p.dimm_spreader_thickness,
                k_sink=plate.conductivity,
                p_sink=plate.heat_capacity,
            )
        else:
            config["t_sink"] = p.dram_sink_thickness
    return config


def _processor_stack(p: FloorplanParams, units: list[CoreUnit] | None) -> Stack:
    width, height = _r(p.cores.nx * p.core_width), _r(p.cores.ny * p.core_height)
    b = _Builder(p.kind, "processor", width, height)
    si = get_material(p.die_material)
    for layer in range(p.cores.nz):
        name = f"core{layer}"
        parts = _core_parts(b, p, name, layer, 0.0, 0.0, units)
        b.add(name, "core", si, p.core_thickness, True, parts)
        b.tim_layer(p)
    return b.build(_package_config(p, width, height))


def _ddr(p: FloorplanParams, units: list[CoreUnit] | None) -> list[Stack]:
    width, height = _r(p.banks.nx * p.bank_width), _r(p.banks.ny * p.bank_height)
    mem = _Builder(p.kind, "memory", width, height)
    si = get_material(p.die_material)
    mem.add("dram0", "dram", si, p.bank_thickness, True, _bank_parts(mem, p, "dram0", 0, 0, 0))
    mem.tim_layer(p)
    return [
        _processor_stack(p, units),
        mem.build(_package_config(p, width, height, bare_dram=True)),
    ]


def _3dmem(p: FloorplanParams, units: list[CoreUnit] | None) -> list[Stack]:
    width, height = _r(p.banks.nx * p.bank_width), _r(p.banks.ny * p.bank_height)
    mem = _Builder(p.kind, "memory", width, height)
    si = get_material(p.die_material)
    mem.add("logic", "logic", si, p.logic_thickness, True, _logic_parts(mem, p, "logic", 0, 0))
    for d in range(p.banks.nz):
        mem.tim_layer(p)
        name = f"dram{d}"
        mem.add(name, "dram", si, p.bank_thickness, True, _bank_parts(mem, p, name, d, 0, 0))
    mem.tim_layer(p)
    return [_processor_stack(p, units), mem.build(_package_config(p, width, height))]


def _3d(p: FloorplanParams, units: list[CoreUnit] | None) -> list[Stack]:
    width, height = _r(p.cores.nx * p.core_width), _r(p.cores.ny * p.core_height)
    b = _Builder(p.kind, "package", width, height)
    si = get_material(p.die_material)

    def drams() -> None:
        for d in range(p.banks.nz):
            name = f"dram{d}"
            b.add(name, "dram", si, p.bank_thickness, True, _bank_parts(b, p, name, d, 0, 0))
            b.tim_layer(p)

    def cores() -> None:
        for layer in range(p.cores.nz):
            name = f"core{layer}"
            b.add(
                name,
                "core",
                si,
                p.core_thickness,
                True,
                _core_parts(b, p, name, layer, 0, 0, units),
            )
            b.tim_layer(p)

    if p.cores_at_bottom:
        cores()
        drams()
    else:
        drams()
        cores()
    return [b.build(_package_config(p, width, height))]


@dataclass(frozen=True)
class _Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def top(self) -> float:
        return self.y + self.h


#: What a die holds at one level above the interposer: ("core", core layer), ("logic", 0),
#: ("dram", DRAM layer), or None (the die's ``spacer`` material: bulk silicon, no power).
_Content = tuple[str, int] | None


@dataclass(frozen=True)
class _Die:
    """A die (or a stack of dies) on the interposer: its rectangle and its levels."""

    tag: str  # suffix of its TIM blocks: core, mem (2.5d); chip<k>, mem<s> (chiplets)
    rect: _Rect
    levels: tuple[_Content, ...]
    index: int | None = None  # the chiplet or DRAM stack number (chiplets), for stack.toml
    cores: Grid | None = None  # a processor die's cores (default: the parameters' cores)
    first_core: int = 0  # the number of its first core

    def at(self, level: int) -> _Content:
        return self.levels[level] if level < len(self.levels) else None

    def active(self, level: int) -> bool:
        return 0 <= level < len(self.levels) and self.levels[level] is not None


def free_rects(
    width: float, height: float, occupied: Sequence[_Rect], tol: float = 1e-9
) -> list[_Rect]:
    """Rectangles tiling ``[0, width] x [0, height]`` minus the ``occupied`` ones (which must
    not overlap): vertical slabs at every die edge, the free intervals of each slab, slabs with
    the same free interval merged; sorted by x, then y."""
    xs = sorted({0.0, width, *(r.x for r in occupied), *(r.right for r in occupied)})
    edges: list[float] = []
    for x in xs:
        if 0.0 <= x <= width and (not edges or x - edges[-1] > tol):
            edges.append(x)
    out: list[_Rect] = []
    open_: dict[tuple[float, float], tuple[float, float]] = {}
    for x0, x1 in zip(edges, edges[1:], strict=False):
        covering = sorted((r.y, r.top) for r in occupied if r.x < x1 - tol and r.right > x0 + tol)
        free: list[tuple[float, float]] = []
        y = 0.0
        for y0, y1 in covering:
            if y0 - y > tol:
                free.append((_r(y), _r(y0)))
            y = max(y, y1)
        if height - y > tol:
            free.append((_r(y), _r(height)))
        now: dict[tuple[float, float], tuple[float, float]] = {}
        for iv in free:
            start = open_[iv][0] if iv in open_ else x0
            now[iv] = (start, x1)
        for iv, (a, b) in open_.items():
            if iv not in now:
                out.append(_Rect(_r(a), iv[0], _r(b - a), _r(iv[1] - iv[0])))
        open_ = now
    for iv, (a, b) in open_.items():
        out.append(_Rect(_r(a), iv[0], _r(b - a), _r(iv[1] - iv[0])))
    return sorted(out, key=lambda r: (r.x, r.y))


def _check_dies(dies: Sequence[_Die], width: float, height: float, what: str) -> None:
    """Dies inside the interposer and apart from each other (1e-9 m), or a clear error."""
    tol = 1e-9
    for d in dies:
        r = d.rect
        if r.right > width + tol or r.top > height + tol:
            raise InputError(
                f"{what}: die {d.tag} ({r.x * 1e3:.6g}, {r.y * 1e3:.6g}) mm + "
                f"{r.w * 1e3:.6g} x {r.h * 1e3:.6g} mm does not fit on the "
                f"{width * 1e3:.6g} x {height * 1e3:.6g} mm interposer",
                hint="move it or give a larger interposer_size",
            )
    for i, a in enumerate(dies):
        for b in dies[i + 1 :]:
            ra, rb = a.rect, b.rect
            if (
                ra.x < rb.right - tol
                and rb.x < ra.right - tol
                and ra.y < rb.top - tol
                and rb.y < ra.top - tol
            ):
                raise InputError(
                    f"{what}: dies {a.tag} and {b.tag} overlap",
                    hint="give positions (bottom-left corners, e.g. 0,0;8mm,0) that keep "
                    "the dies apart",
                )


def _interposer_size(p: FloorplanParams, dies: Sequence[_Die], what: str) -> tuple[float, float]:
    """The interposer: ``interposer_size``, else the dies' bounding box + the margin."""
    if p.interposer_size is not None:
        width, height = _r(p.interposer_size[0]), _r(p.interposer_size[1])
    else:
        width = _r(max(d.rect.right for d in dies) + p.interposer_margin)
        height = _r(max(d.rect.top for d in dies) + p.interposer_margin)
    _check_dies(dies, width, height, what)
    return width, height


def _on_interposer(
    p: FloorplanParams,
    units: list[CoreUnit] | None,
    dies: Sequence[_Die],
    width: float,
    height: float,
) -> Stack:
    """One stack: interposer, bond TIM, die levels separated by TIM layers, a last TIM.

    At each level a die holds its content (cores, logic cores, banks) or, where it has none,
    its ``spacer`` material; TIM layers hold TIM between two active levels of a die and the
    die's spacer elsewhere over it (or one TIM block over everything with
    ``tim_layers="full"``); the area without dies is ``filler`` in every die and TIM layer.
    """
    b = _Builder(p.kind, "package", width, height)
    si = get_material(p.die_material)
    tim = get_material(p.tim_material)
    filler = get_material(p.filler)
    spacer = get_material(p.spacer)
    inter = get_material(p.interposer_material)
    margins = free_rects(width, height, [d.rect for d in dies])
    full_tim = p.tim_layers == "full"

    def fill(
        layer_name: str, rect: _Rect, material: Material, base: Material
    ) -> tuple[Block, UnitInfo]:
        name = b.filler_name()
        block = b.block(name, rect.x, rect.y, rect.w, rect.h, material, base)
        return block, UnitInfo(name, layer_name, "filler", material=material.name)

    def margin_parts(layer_name: str, base: Material) -> list[tuple[Block, UnitInfo]]:
        return [fill(layer_name, r, filler, base) for r in margins]

    b.add(
        "interposer",
        "interposer",
        inter,
        p.interposer_thickness,
        False,
        [
            (
                b.block("I_0", 0.0, 0.0, width, height, inter, inter),
                UnitInfo("I_0", "interposer", "interposer", material=inter.name),
            )
        ],
    )
    b.tim_layer(p)
    n_levels = max(len(d.levels) for d in dies)
    for level in range(n_levels):
        if level > 0 and full_tim:
            b.tim_layer(p)
        elif level > 0:
            name = f"tim{b.n_tim}"
            stem = f"TIM{b.n_tim}"
            b.n_tim += 1
            parts: list[tuple[Block, UnitInfo]] = []
            for die in dies:
                r = die.rect
                if die.active(level - 1) and die.active(level):
                    block_name = f"{stem}_{die.tag}"
                    block = b.block(block_name, r.x, r.y, r.w, r.h, tim, tim)
                    parts.append((block, UnitInfo(block_name, name, "tim", material=tim.name)))
                else:
                    parts.append(fill(name, r, spacer, tim))
            parts += margin_parts(name, tim)
            b.add(name, "tim", tim, p.tim_thickness, False, parts)
        contents: list[str] = []
        for kind, label in (("core", "core"), ("logic", "logic"), ("dram", "dram")):
            found = sorted({c[1] for d in dies if (c := d.at(level)) is not None and c[0] == kind})
            contents += [label if kind == "logic" else f"{label}{n}" for n in found]
        name = "_".join(contents) if contents else f"spacer{level}"
        parts = []
        for die in dies:
            r = die.rect
            content = die.at(level)
            if content is None:
                parts.append(fill(name, r, spacer, si))
            elif content[0] == "core":
                parts += _core_parts(
                    b, p, name, content[1], r.x, r.y, units, die.index, die.cores, die.first_core
                )
            elif content[0] == "logic":
                parts += _logic_parts(b, p, name, r.x, r.y, die.index)
            else:
                parts += _bank_parts(b, p, name, content[1], r.x, r.y, die.index)
        parts += margin_parts(name, si)
        kinds = {u.kind for _, u in parts}
        kind = (
            "core"
            if kinds & {"core", "core_unit"}
            else "logic"
            if "logic" in kinds
            else "dram"
            if "bank" in kinds
            else "filler"
        )
        power = bool(kinds & {"core", "core_unit", "bank", "logic"})
        b.add(name, kind, si, p.core_thickness, power, parts)
    b.tim_layer(p)
    return b.build(_package_config(p, width, height))


def _core_levels(
    p: FloorplanParams, n_levels: int, grid: Grid | None = None
) -> tuple[_Content, ...]:
    """A processor die's levels: its core layers (of ``grid``, default ``p.cores``) at the
    bottom (cores in the logic layer) or at the top (spacer layout), its spacer elsewhere."""
    nz = (p.cores if grid is None else grid).nz
    cores: list[_Content] = [("core", layer) for layer in range(nz)]
    rest: list[_Content] = [None] * (n_levels - nz)
    if p.resolved_layout == "spacer":
        return tuple(rest + cores)
    return tuple(cores + rest)


def _memory_levels(p: FloorplanParams) -> tuple[_Content, ...]:
    return (("logic", 0), *(("dram", d) for d in range(p.banks.nz)))


def _2_5d(p: FloorplanParams, units: list[CoreUnit] | None) -> list[Stack]:
    cw, ch = p.cores.nx * p.core_width, p.cores.ny * p.core_height
    mw, mh = p.banks.nx * p.bank_width, p.banks.ny * p.bank_height
    height = _r(max(ch, mh))
    n_levels = max(p.cores.nz, 1 + p.banks.nz)
    m = p.interposer_margin
    core_xy = p.core_pos if p.core_pos is not None else (m, _r(m + (height - ch) / 2))
    mem_xy = p.mem_pos if p.mem_pos is not None else (_r(m + cw + p.gap), _r(m + (height - mh) / 2))
    dies = [
        _Die("core", _Rect(_r(core_xy[0]), _r(core_xy[1]), cw, ch), _core_levels(p, n_levels)),
        _Die("mem", _Rect(_r(mem_xy[0]), _r(mem_xy[1]), mw, mh), _memory_levels(p)),
    ]
    width, height = _interposer_size(p, dies, "2.5d")
    return [_on_interposer(p, units, dies, width, height)]


def _grid_arrangement(
    grid: Grid, sizes: Sequence[tuple[float, float]], gap: float, x0: float, height: float
) -> list[tuple[float, float]]:
    """Bottom-left corners of dies of ``sizes`` (row by row) in a ``grid``, ``gap`` apart, from
    x = ``x0``, the grid centred in ``height``: each column as wide as its widest die, each
    row as tall as its tallest, each die centred in its cell."""
    cols = [max(sizes[j * grid.nx + i][0] for j in range(grid.ny)) for i in range(grid.nx)]
    rows = [max(sizes[j * grid.nx + i][1] for i in range(grid.nx)) for j in range(grid.ny)]
    y0 = (height - (sum(rows) + (grid.ny - 1) * gap)) / 2
    xs = [x0 + sum(cols[:i]) + i * gap for i in range(grid.nx)]
    ys = [y0 + sum(rows[:j]) + j * gap for j in range(grid.ny)]
    out = []
    for j in range(grid.ny):
        for i in range(grid.nx):
            w, h = sizes[j * grid.nx + i]
            out.append((_r(xs[i] + (cols[i] - w) / 2), _r(ys[j] + (rows[j] - h) / 2)))
    return out


def _extent(grid: Grid, sizes: Sequence[tuple[float, float]], gap: float) -> tuple[float, float]:
    """Width and height of :func:`_grid_arrangement`'s dies."""
    cols = [max(sizes[j * grid.nx + i][0] for j in range(grid.ny)) for i in range(grid.nx)]
    rows = [max(sizes[j * grid.nx + i][1] for i in range(grid.nx)) for j in range(grid.ny)]
    return sum(cols) + (grid.nx - 1) * gap, sum(rows) + (grid.ny - 1) * gap


def _chiplets(p: FloorplanParams, units: list[CoreUnit] | None) -> list[Stack]:
    grids = list(p.chiplet_cores or [p.cores] * p.chiplets.per_layer)
    chip_sizes = [(g.nx * p.core_width, g.ny * p.core_height) for g in grids]
    mw, mh = p.banks.nx * p.bank_width, p.banks.ny * p.bank_height
    mem_sizes = [(mw, mh)] * p.dram_stacks.per_layer
    n_levels = max(*(g.nz for g in grids), 1 + p.banks.nz)
    m = p.interposer_margin
    # default arrangement: the chiplet grid at the left, the stack grid gap to its right,
    # both centred vertically, everything gap apart, the margin all round
    chip_w, chip_h = _extent(p.chiplets, chip_sizes, p.gap)
    mem_h = _extent(p.dram_stacks, mem_sizes, p.gap)[1]
    tall = max(chip_h, mem_h)
    chips = list(p.chiplet_positions or ()) or [
        (_r(x), _r(y)) for x, y in _grid_arrangement(p.chiplets, chip_sizes, p.gap, m, tall + 2 * m)
    ]
    stacks = list(p.stack_positions or ()) or _grid_arrangement(
        p.dram_stacks, mem_sizes, p.gap, m + chip_w + p.gap, tall + 2 * m
    )
    firsts = [sum(g.total for g in grids[:k]) for k in range(len(grids))]
    dies = [
        _Die(
            f"chip{k}",
            _Rect(_r(x), _r(y), w, h),
            _core_levels(p, n_levels, grids[k]),
            k,
            grids[k],
            firsts[k],
        )
        for k, ((x, y), (w, h)) in enumerate(zip(chips, chip_sizes, strict=True))
    ]
    dies += [
        _Die(f"mem{s}", _Rect(_r(x), _r(y), mw, mh), _memory_levels(p), s)
        for s, (x, y) in enumerate(stacks)
    ]
    width, height = _interposer_size(p, dies, "chiplets")
    return [_on_interposer(p, units, dies, width, height)]


_BUILDERS: dict[str, Callable[[FloorplanParams, list[CoreUnit] | None], list[Stack]]] = {
    "ddr": _ddr,
    "3dmem": _3dmem,
    "2.5d": _2_5d,
    "3d": _3d,
    "chiplets": _chiplets,
}


def generate(kind: str, **params: Any) -> list[Stack]:
    """The thermal stacks of ``kind`` (``ddr``, ``3dmem``, ``2.5d``, ``3d``, ``chiplets``).

    Args:
        kind: configuration name; CoMeT's ``DDR``, ``3Dmem``, ``2_5D``, ``3D`` are aliases.
        **params: see :class:`comet.floorplan.params.FloorplanParams` (lengths in m or with
            units, e.g. ``cores="4x4"``, ``core_size="3.4mm"``, ``banks="8x8x8"``).

    Returns:
        ``[processor, memory]`` for ddr and 3dmem, ``[package]`` for the others; each stack's
        ``meta`` holds ``configuration``, ``config`` (HotSpot keys), ``info`` and ``units``.

    Raises:
        InputError: one line naming the bad parameter.
    """
    p = parse_params(kind, params)
    units = None
    if p.core_units is not None:
        units = load_core_units(p.core_units, p.core_width, p.core_height)
    stacks = _BUILDERS[p.kind](p, units)
    for stack in stacks:
        validate_generated(stack)
    return stacks


def thermal_config(stack: Stack, base: ThermalConfig | None = None) -> ThermalConfig:
    """``base`` (HotSpot's defaults if None) with the stack's own package keys applied."""
    base = ThermalConfig() if base is None else base
    config = stack.meta.get("config", {})
    if not isinstance(config, dict):
        raise TypeError("stack.meta['config'] must be a dict of HotSpot keys")
    return base.with_values(**config)


def validate_generated(stack: Stack, tol: float = GEOMETRY_TOLERANCE) -> None:
    """Check what HotSpot needs and more: equal footprints, tiling layers, unique names.

    Every layer's blocks must lie in ``[0, W] x [0, H]`` of the first layer's footprint (within
    ``tol`` m), not overlap, and cover it (uncovered area below ``tol`` x perimeter); block
    names must be unique in the whole stack (case-insensitive).

    Raises:
        InputError: naming the layer and the problem.
    """
    if not stack.layers:
        raise InputError(f"stack {stack.name}: no layers")
    w0, h0 = stack.layers[0].floorplan.width, stack.layers[0].floorplan.height
    seen: dict[str, str] = {}
    for layer in stack.layers:
        fp = layer.floorplan
        where = f"stack {stack.name}, layer {layer.name}"
        validate_floorplan(fp, where, tol=tol)
        if abs(fp.width - w0) > tol or abs(fp.height - h0) > tol:
            raise InputError(
                f"{where}: footprint {fp.width:.9g} x {fp.height:.9g} m differs from "
                f"{w0:.9g} x {h0:.9g} m",
                hint="all layers of a stack must have the same width and height (1e-6 m)",
            )
        if abs(fp.min_x) > tol or abs(fp.min_y) > tol:
            raise InputError(f"{where}: blocks do not start at (0, 0)")
        gap = uncovered_area(fp)
        if gap > tol * 2 * (w0 + h0):
            raise InputError(f"{where}: blocks leave {gap:.3g} m^2 uncovered")
        for block in fp:
            key = block.name.lower()
            if key in seen:
                raise InputError(f"{where}: block name {block.name!r} is also in layer {seen[key]}")
            seen[key] = layer.name


# --------------------------------------------------------------------------------------------
# templates and files


def _data_dir(package: str, source_name: str, probe: str) -> Path:
    """A data directory of comet: installed as ``comet/<package>`` (package data), or the
    repository's top-level ``source_name`` directory in a source checkout / editable install.

    ``probe`` is a file or directory that must exist inside it.
    """
    here = Path(__file__).resolve().parents[1]  # the comet package directory
    candidates = [here / package]
    try:
        from importlib.resources import files

        found = files(f"comet.{package}")
        # a data directory without __init__.py is a namespace package: MultiplexedPath
        candidates += [Path(str(p)) for p in getattr(found, "_paths", [found])]
    except (ModuleNotFoundError, TypeError):
        pass
    candidates.append(here.parent / source_name)
    for path in candidates:
        if (path / probe).exists():
            return path
    raise InputError(
        f"comet's {source_name}/ data is missing (looked in {', '.join(map(str, candidates))})",
        hint="reinstall comet (pip install .)",
    )


def template_dir() -> Path:
    """The directory of the built-in templates (installed package data or ``templates/``)."""
    return _data_dir("_templates", "templates", TEMPLATES[0])


def floorplans_dir() -> Path:
    """The directory of the ready-made floorplans (installed package data or ``floorplans/``)."""
    return _data_dir("_floorplans", "floorplans", "3d")


#: The ready-made floorplans of ``floorplans/``: directory -> (configuration, parameters).
#: The 16-core variants keep the die area of the defaults (4x4 cores of 1.707 mm).
DEFAULT_FLOORPLANS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddr": ("ddr", {}),
    "3dmem": ("3dmem", {}),
    "2.5d": ("2.5d", {}),
    "3d": ("3d", {}),
    "ddr-16core": ("ddr", {"cores": "4x4", "core_size": "1.707mm"}),
    "3dmem-16core": ("3dmem", {"cores": "4x4", "core_size": "1.707mm"}),
    "2.5d-16core": ("2.5d", {"cores": "4x4", "core_size": "1.707mm"}),
    "3d-16core": ("3d", {"cores": "4x4", "core_size": "1.707mm"}),
    "2.5d-cores-in-logic-layer": ("2.5d", {"layout": "cores-in-logic-layer"}),
    "chiplets": ("chiplets", {}),
}


def write_default_floorplans(root: str | os.PathLike[str]) -> list[Path]:
    """Regenerate the ready-made floorplans (:data:`DEFAULT_FLOORPLANS`) under ``root``."""
    dirs: list[Path] = []
    for name, (kind, params) in DEFAULT_FLOORPLANS.items():
        dirs += render(generate(kind, **params), Path(root) / name)
    return dirs


def _num(value: Any) -> str:
    """A number as HotSpot reads it: 12 significant digits, no trailing noise."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.12g}"


def environment(user_dir: str | os.PathLike[str] | None = None) -> SandboxedEnvironment:
    """The sandboxed Jinja environment: a user's directory first, then the built-ins."""
    paths = [str(template_dir())]
    if user_dir is not None:
        if not Path(user_dir).is_dir():
            raise InputError("template_dir: not a directory", path=user_dir)
        paths.insert(0, str(user_dir))
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(paths),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["num"] = _num
    return env


def _render(env: SandboxedEnvironment, name: str, **context: Any) -> str:
    try:
        template = env.get_template(name)
        return template.render(**context)
    except jinja2.TemplateNotFound as err:
        missing = err.name or name
        if missing == name:
            raise InputError(f"template {name} not found", hint="check --template-dir") from None
        raise InputError(
            f"template {missing} not found (included from {name})",
            path=_template_path(env, name),
            line=_template_line(err, env),
            hint="check the include's name and --template-dir",
        ) from None
    except jinja2.TemplateSyntaxError as err:
        raise InputError(
            f"template syntax error: {err.message}", path=err.filename or name, line=err.lineno
        ) from None
    except jinja2.UndefinedError as err:
        path = _template_path(env, name)
        raise InputError(
            f"template {name}: undefined variable ({err.message})",
            path=path,
            hint="see the comment at the top of the built-in template for the variables",
        ) from None
    except jinja2.exceptions.SecurityError as err:
        raise InputError(f"template {name}: not allowed in the sandbox ({err})") from None
    except (KeyboardInterrupt, InputError):
        raise
    except Exception as err:  # the template's own arithmetic, filters...: name file and line
        where = _template_frame(err, env)
        path, line = where if where else (_template_path(env, name), None)
        text = " ".join(str(err).split())
        raise InputError(
            f"template {name}: rendering failed: {type(err).__name__}"
            + (f": {text}" if text else ""),
            path=path,
            line=line,
        ) from None


def _template_frame(err: BaseException, env: SandboxedEnvironment) -> tuple[str, int] | None:
    """(file, line) of the innermost template frame of ``err``'s traceback (jinja2 rewrites
    template frames to point at the template source)."""
    import traceback

    suffixes = (".j2", ".jinja", ".jinja2", ".tmpl")
    frames = traceback.extract_tb(err.__traceback__) if err.__traceback__ else []
    ours = [f for f in frames if f.filename.endswith(suffixes) and f.lineno]
    if not ours:
        return None
    return ours[-1].filename, int(ours[-1].lineno or 0)


def _template_line(err: BaseException, env: SandboxedEnvironment) -> int | None:
    where = _template_frame(err, env)
    return where[1] if where else None


def _template_path(env: SandboxedEnvironment, name: str) -> str | None:
    try:
        _, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except jinja2.TemplateNotFound:
        return None
    return filename


def _config_items(stack: Stack) -> list[dict[str, str]]:
    config = thermal_config(stack)
    items = []
    for key in ThermalConfig.keys():  # noqa: SIM118  (a classmethod, not a dict)
        value = getattr(config, key)
        if value is None or key in _COMMAND_LINE_ONLY:
            continue
        items.append({"key": key, "value": _num(value) if not isinstance(value, str) else value})
    return items


def render(
    stacks: Sequence[Stack],
    out_dir: str | os.PathLike[str],
    template_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write each stack to ``out_dir/<stack name>/`` through the templates, then read it back.

    Writes one ``<layer>.flp`` per layer, ``stack.lcf``, ``hotspot.config`` and ``stack.toml``
    (atomically, file by file). The written ``.lcf`` is parsed back with
    :func:`comet.floorplan.lcf.read_lcf` and checked with :func:`validate_generated`, and every
    unit of ``stack.toml`` must be a block of its layer, so an edited template cannot produce
    files HotSpot or comet would misread.

    Returns:
        The stack directories, in the order of ``stacks``.

    Raises:
        InputError: template errors (undefined variable, syntax) and invalid output.
    """
    from comet.floorplan.lcf import read_lcf

    env = environment(template_dir)
    out = Path(out_dir)
    dirs = []
    for stack in stacks:
        info = stack.meta.get("info")
        if not isinstance(info, StackInfo):
            raise ValueError(f"stack {stack.name} was not made by generate() (no meta['info'])")
        d = out / stack.name
        d.mkdir(parents=True, exist_ok=True)
        common = {"configuration": info.configuration, "stack": stack.name}
        kinds = {u.name: u.kind for u in info.units}
        for layer, linfo in zip(stack.layers, info.layers, strict=True):
            blocks = [
                {
                    "name": blk.name,
                    "kind": kinds.get(blk.name, ""),
                    "width": blk.width,
                    "height": blk.height,
                    "x": blk.x,
                    "y": blk.y,
                    "heat_capacity": blk.heat_capacity,
                    "resistivity": blk.resistivity,
                }
                for blk in layer.floorplan
            ]
            text = _render(
                env,
                "layer.flp.j2",
                layer={
                    "name": layer.name,
                    "kind": linfo.kind,
                    "material": linfo.material,
                    "thickness": layer.thickness,
                    "power": layer.has_power,
                },
                blocks=blocks,
                **common,
            )
            atomic_write_text(d / linfo.flp, text)
        layers = [
            {
                "index": linfo.index,
                "name": layer.name,
                "kind": linfo.kind,
                "material": linfo.material,
                "lateral": layer.lateral,
                "power": layer.has_power,
                "heat_capacity": layer.heat_capacity,
                "resistivity": layer.resistivity,
                "thickness": layer.thickness,
                "flp": linfo.flp,
            }
            for layer, linfo in zip(stack.layers, info.layers, strict=True)
        ]
        atomic_write_text(d / LCF_NAME, _render(env, "stack.lcf.j2", layers=layers, **common))
        detailed = bool(info.config.get("detailed_3D_used", 0))
        text = _render(
            env,
            "hotspot.config.j2",
            lcf=LCF_NAME,
            first_flp=info.layers[0].flp,
            detailed_3d=detailed,
            config=_config_items(stack),
            **common,
        )
        atomic_write_text(d / CONFIG_NAME, text)
        write_stack_toml(info, d / TOML_NAME)
        _check_written(d, info, read_lcf(d / LCF_NAME))
        dirs.append(d)
    return dirs


def _check_written(d: Path, info: StackInfo, stack: Stack) -> None:
    from comet.thermal.hotspot_config import read_config, validate_config

    validate_config(read_config(d / CONFIG_NAME))
    validate_generated(stack)
    if len(stack.layers) != len(info.layers):
        raise InputError(
            f"{d / LCF_NAME}: {len(stack.layers)} layers written, stack.toml describes "
            f"{len(info.layers)}",
            hint="an edited stack.lcf.j2 must keep one record per layer",
        )
    by_layer = {layer.name: {b.name for b in layer.floorplan} for layer in stack.layers}
    for unit in info.units:
        if unit.name not in by_layer.get(unit.layer, set()):
            raise InputError(
                f"{d}: unit {unit.name} of layer {unit.layer} is missing from the written files",
                hint="an edited template must keep every block",
            )


class _CallableModule(types.ModuleType):
    """Lets ``comet.floorplan.generate(kind, **params)`` call :func:`generate` while
    ``comet.floorplan.generate.render`` etc. stay reachable (typed code: import the function)."""

    def __call__(self, kind: str, **params: Any) -> list[Stack]:
        return generate(kind, **params)


sys.modules[__name__].__class__ = _CallableModule


if __name__ == "__main__":  # python -m comet.floorplan.generate [DIR]: rewrite floorplans/
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else floorplans_dir()
    for d in write_default_floorplans(target):
        print(d)
