"""The unit index: where each core, core unit, bank and logic core sits in the power vector.

The thermal stepper's power vector is the concatenation of every stack's power blocks. A
core may be one block (``C_3``) or several per-core units (``C_3_ALU``, ...; its power is
split by area and its temperature is the hottest unit's); banks (``B_i``) and logic cores
(``LC_i``) are one block each. :class:`UnitIndex` holds these maps, built once from the
stacks' unit descriptions (``stack.meta['info']``, :class:`~comet.floorplan.stack_toml.StackInfo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from comet.errors import InputError
from comet.floorplan.model import Stack
from comet.floorplan.stack_toml import StackInfo, UnitInfo

__all__ = ["UnitIndex", "stack_info"]


def stack_info(stack: Stack) -> StackInfo:
    """The unit description of a generated stack."""
    info = stack.meta.get("info")
    if not isinstance(info, StackInfo):
        raise InputError(f"stack {stack.name}: no unit description (stack.meta['info'])")
    return info


def _index_from_name(name: str) -> int:
    try:
        return int(name.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        raise InputError(f"unit {name!r}: cannot tell its index from its name") from None


@dataclass
class UnitIndex:
    """Where each unit sits in the concatenated power vector of all stacks."""

    core_idx: np.ndarray  # power index of each core unit (sorted by core)
    core_of_unit: np.ndarray
    unit_frac: np.ndarray  # area fraction of the unit in its core
    unit_starts: np.ndarray  # first unit of each core (for reduceat)
    core_area: np.ndarray
    bank_idx: np.ndarray  # power index of each bank (by bank number)
    logic_idx: np.ndarray
    names_core_units: list[str]
    core_names: list[str]
    bank_names: list[str]
    logic_names: list[str]
    unit_layer: dict[str, str] = field(default_factory=dict)
    unit_info: dict[str, UnitInfo] = field(default_factory=dict)
    blocks: dict[str, Any] = field(default_factory=dict)

    @property
    def n_cores(self) -> int:
        return len(self.core_names)

    @property
    def n_banks(self) -> int:
        return len(self.bank_names)

    @property
    def n_logic(self) -> int:
        return len(self.logic_names)

    @property
    def trace_names(self) -> list[str]:
        """Units of the temperature and power traces: core units, logic cores, banks."""
        return self.names_core_units + self.logic_names + self.bank_names

    @property
    def trace_idx(self) -> np.ndarray:
        """Power indices of :attr:`trace_names`."""
        return np.concatenate((self.core_idx, self.logic_idx, self.bank_idx))

    @property
    def whole_cores(self) -> bool:
        """Each core is one power unit, in core order: the unit maps are identities."""
        nc = self.n_cores
        return bool(
            np.array_equal(self.core_of_unit, np.arange(nc))
            and np.array_equal(self.unit_starts, np.arange(nc))
            and (self.unit_frac == 1.0).all()
        )

    def area(self, names: Sequence[str]) -> np.ndarray:
        """Areas (m^2) of the named blocks."""
        return np.array([self.blocks[n].area for n in names])

    @classmethod
    def from_stacks(
        cls, stacks: Sequence[Stack], power_names: Sequence[Sequence[str]]
    ) -> UnitIndex:
        """The index of ``stacks`` whose power vectors list ``power_names`` (one list per
        stack, concatenated in stack order).

        Raises:
            InputError: no cores, core or bank indices that are not 0..n-1.
        """
        core_units: list[tuple[int, int, str, float]] = []  # core, power idx, name, area
        banks: dict[int, int] = {}
        logic: dict[int, int] = {}
        unit_info: dict[str, UnitInfo] = {}
        blocks: dict[str, Any] = {}
        unit_layer: dict[str, str] = {}
        multi = len(stacks) > 1
        offset = 0
        for stack, names in zip(stacks, power_names, strict=True):
            info = stack_info(stack)
            by_name = {u.name: u for u in info.units}
            for layer in stack.layers:
                for b in layer.floorplan:
                    blocks[b.name] = b
                    unit_layer[b.name] = f"{stack.name}.{layer.name}" if multi else layer.name
            for i, name in enumerate(names):
                u = by_name.get(name)
                if u is None:
                    continue
                unit_info[name] = u
                gi = offset + i
                if u.kind in ("core", "core_unit") and u.core is not None:
                    core_units.append((u.core, gi, name, blocks[name].area))
                elif u.kind == "bank" and u.bank is not None:
                    banks[u.bank] = gi
                elif u.kind == "logic":
                    logic[_index_from_name(name)] = gi
            offset += len(names)
        if not core_units:
            raise InputError("architecture: the stack has no cores")
        core_units.sort(key=lambda r: (r[0], r[1]))
        cores = sorted({r[0] for r in core_units})
        if cores != list(range(len(cores))):
            raise InputError("architecture: core indices are not 0..n-1")
        core_of_unit = np.array([r[0] for r in core_units], dtype=np.int64)
        area = np.array([r[3] for r in core_units])
        core_area = np.bincount(core_of_unit, weights=area)
        starts = np.flatnonzero(np.r_[True, core_of_unit[1:] != core_of_unit[:-1]])
        bank_ids = sorted(banks)
        if bank_ids != list(range(len(bank_ids))):
            raise InputError("architecture: bank indices are not 0..n-1")
        logic_ids = sorted(logic)
        return cls(
            core_idx=np.array([r[1] for r in core_units], dtype=np.int64),
            core_of_unit=core_of_unit,
            unit_frac=area / core_area[core_of_unit],
            unit_starts=starts,
            core_area=core_area,
            bank_idx=np.array([banks[b] for b in bank_ids], dtype=np.int64),
            logic_idx=np.array([logic[i] for i in logic_ids], dtype=np.int64),
            names_core_units=[r[2] for r in core_units],
            core_names=[f"C_{c}" for c in cores],
            bank_names=[f"B_{b}" for b in bank_ids],
            logic_names=[f"LC_{i}" for i in logic_ids],
            unit_layer=unit_layer,
            unit_info=unit_info,
            blocks=blocks,
        )

    def positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Core centres (m), core layer, bank centres (m), bank layer, bank group."""
        core_xy = np.zeros((self.n_cores, 2))
        core_layer = np.zeros(self.n_cores, dtype=np.int64)
        layers_seen: list[str] = []
        for c in range(self.n_cores):
            names = [
                n for n, k in zip(self.names_core_units, self.core_of_unit, strict=True) if k == c
            ]
            bl = [self.blocks[n] for n in names]
            x0, y0 = min(b.x for b in bl), min(b.y for b in bl)
            x1, y1 = max(b.right for b in bl), max(b.top for b in bl)
            core_xy[c] = ((x0 + x1) / 2, (y0 + y1) / 2)
            layer = self.unit_info[names[0]].layer
            if layer not in layers_seen:
                layers_seen.append(layer)
            core_layer[c] = layers_seen.index(layer)
        bank_xy = np.zeros((self.n_banks, 2))
        bank_layer = np.zeros(self.n_banks, dtype=np.int64)
        bank_group = np.zeros(self.n_banks, dtype=np.int64)
        for b, name in enumerate(self.bank_names):
            blk = self.blocks[name]
            bank_xy[b] = (blk.x + blk.width / 2, blk.y + blk.height / 2)
            info = self.unit_info[name]
            bank_layer[b] = info.bank_layer or 0
            if info.channel is not None:
                bank_group[b] = info.channel
            elif info.vault is not None:
                bank_group[b] = info.vault
        return core_xy, core_layer, bank_xy, bank_layer, bank_group
