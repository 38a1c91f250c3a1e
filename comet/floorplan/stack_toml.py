"""``stack.toml``: what each layer and unit of a generated stack is (cores, banks, vaults...).

The ``.flp``/``.lcf`` files say where blocks are; ``stack.toml`` says what they are, so that the
closed loop knows which power column is core 3 or bank 17 of vault 5. :func:`write_stack_toml`
and :func:`read_stack_toml` round-trip a :class:`StackInfo`;
:func:`comet.floorplan.generate.generate` puts the same object in ``stack.meta["info"]``
(and its units in ``stack.meta["units"]``).

Example::

    format = 1
    configuration = "3dmem"
    stack = "memory"
    lcf = "stack.lcf"
    hotspot_config = "hotspot.config"

    [config]              # HotSpot keys of this stack's package (ThermalConfig overrides)
    s_spreader = 0.02683

    [[layers]]            # HotSpot's LCF order: index 0 = farthest from the heat sink
    index = 0
    name = "logic"
    kind = "logic"        # core | dram | logic | tim | interposer | mixed | filler
    thickness = 5e-05     # m
    material = "silicon"
    power = true
    flp = "logic.flp"

    [[units]]
    name = "B_17"
    layer = "dram1"
    kind = "bank"         # core | core_unit | bank | logic | filler | tim | interposer
    bank = 17
    vault = 1             # 3dmem, 2.5d, 3d, chiplets: the x-y position (logic core LC_1 below)
    bank_layer = 1        # DRAM layer, counted in LCF order
    die = 0               # chiplets only: the DRAM stack (banks, logic) or chiplet (cores)
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from comet.errors import InputError
from comet.toml_write import toml_value

FORMAT_VERSION = 1
LAYER_KINDS = ("core", "dram", "logic", "tim", "interposer", "mixed", "filler")
UNIT_KINDS = ("core", "core_unit", "bank", "logic", "filler", "tim", "interposer")


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """One block of a generated stack.

    Attributes:
        name: the block name (``C_3``, ``C_3_FPU``, ``B_17``, ``LC_1``, ``X4``, ``TIM2``, ``I_0``).
        layer: name of its layer.
        kind: one of :data:`UNIT_KINDS`.
        material: for fillers, TIM and interposer blocks: the material name.
        core: core index (cores and their units).
        unit: unit name inside the core (``core_unit`` blocks).
        bank: bank index (banks).
        channel: ddr: the channel of the bank.
        vault: 3dmem, 2.5d, 3d: the vault (x-y position) of a bank or logic core.
        bank_layer: DRAM layer of the bank (0 = first DRAM layer in LCF order).
        die: chiplets: the core chiplet (cores) or the DRAM stack (banks, logic cores).
    """

    name: str
    layer: str
    kind: str
    material: str | None = None
    core: int | None = None
    unit: str | None = None
    bank: int | None = None
    channel: int | None = None
    vault: int | None = None
    bank_layer: int | None = None
    die: int | None = None


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """One layer: ``kind`` is one of :data:`LAYER_KINDS`; thickness in m."""

    index: int
    name: str
    kind: str
    thickness: float
    material: str
    power: bool
    flp: str


@dataclass(frozen=True)
class StackInfo:
    """What a generated stack is made of; see the module docstring for the file form."""

    configuration: str
    stack: str
    layers: tuple[LayerInfo, ...]
    units: tuple[UnitInfo, ...]
    config: dict[str, Any] = field(default_factory=dict)
    lcf: str = "stack.lcf"
    hotspot_config: str = "hotspot.config"

    def units_of_kind(self, kind: str) -> list[UnitInfo]:
        """Units of one kind, in stack order."""
        return [u for u in self.units if u.kind == kind]

    @property
    def cores(self) -> list[UnitInfo]:
        """Core blocks (``C_i``), or core units when cores are split into units."""
        return [u for u in self.units if u.kind in ("core", "core_unit")]

    @property
    def banks(self) -> list[UnitInfo]:
        return self.units_of_kind("bank")

    @property
    def logic_cores(self) -> list[UnitInfo]:
        return self.units_of_kind("logic")

    def unit(self, name: str) -> UnitInfo:
        for u in self.units:
            if u.name == name:
                return u
        raise KeyError(name)


def _table(items: Iterable[tuple[str, Any]]) -> list[str]:
    return [f"{k} = {toml_value(v)}" for k, v in items if v is not None]


def dumps_stack_toml(info: StackInfo) -> str:
    """The text of ``stack.toml`` for ``info``."""
    lines = [
        "# comet stack description: what each layer and unit is (written by comet floorplan)",
        "# layers in HotSpot's LCF order: index 0 = farthest from the heat sink; lengths in m",
        f"format = {FORMAT_VERSION}",
        f"configuration = {toml_value(info.configuration)}",
        f"stack = {toml_value(info.stack)}",
        f"lcf = {toml_value(info.lcf)}",
        f"hotspot_config = {toml_value(info.hotspot_config)}",
        "",
        "# HotSpot keys of this stack's package (overrides of the ThermalConfig defaults)",
        "[config]",
        *_table(sorted(info.config.items())),
    ]
    for layer in info.layers:
        lines += ["", "[[layers]]", *_table(asdict(layer).items())]
    for unit in info.units:
        lines += ["", "[[units]]", *_table(asdict(unit).items())]
    return "\n".join(lines) + "\n"


def write_stack_toml(info: StackInfo, path: str | os.PathLike[str]) -> Path:
    """Write ``info`` to ``path`` atomically (temp file in the same directory, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = dumps_stack_toml(info)
    from comet.fileio import write_atomic

    write_atomic(target, text)
    return target


def _build(cls: type, record: dict[str, Any], path: Path, what: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(record) - names
    if unknown:
        raise InputError(
            f"{what}: unknown key(s) {', '.join(sorted(unknown))}",
            path=path,
            hint=f"known: {', '.join(sorted(names))}",
        )
    try:
        return cls(**record)
    except TypeError as err:
        raise InputError(f"{what}: {err}", path=path) from None


def read_stack_toml(path: str | os.PathLike[str]) -> StackInfo:
    """Read a ``stack.toml`` (a file, or a directory holding one).

    Raises:
        InputError: malformed TOML, missing or unknown keys, unknown kinds.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "stack.toml"
    try:
        from comet.fileio import read_text

        data = tomllib.loads(read_text(p, "stack description"))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", path=p) from None
    if data.get("format") != FORMAT_VERSION:
        raise InputError(
            f"format: expected {FORMAT_VERSION}, got {data.get('format')!r}",
            path=p,
            hint="regenerate it with comet floorplan",
        )
    for key in ("configuration", "stack", "layers", "units"):
        if key not in data:
            raise InputError(f"missing key {key!r}", path=p)
    layers = tuple(_build(LayerInfo, r, p, "layers") for r in data["layers"])
    units = tuple(_build(UnitInfo, r, p, "units") for r in data["units"])
    for layer in layers:
        if layer.kind not in LAYER_KINDS:
            raise InputError(f"layer {layer.name}: unknown kind {layer.kind!r}", path=p)
    layer_names = {layer.name for layer in layers}
    for unit in units:
        if unit.kind not in UNIT_KINDS:
            raise InputError(f"unit {unit.name}: unknown kind {unit.kind!r}", path=p)
        if unit.layer not in layer_names:
            raise InputError(f"unit {unit.name}: unknown layer {unit.layer!r}", path=p)
    return StackInfo(
        configuration=data["configuration"],
        stack=data["stack"],
        layers=layers,
        units=units,
        config=dict(data.get("config", {})),
        lcf=data.get("lcf", "stack.lcf"),
        hotspot_config=data.get("hotspot_config", "hotspot.config"),
    )
