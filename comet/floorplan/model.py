"""Geometry of a thermal stack: blocks, floorplans, layers and stacks (SI units, metres).

These are plain data holders; the readers and writers of HotSpot's ``.flp`` and ``.lcf`` files live
in :mod:`comet.floorplan.flp` and :mod:`comet.floorplan.lcf`.

Layer order follows HotSpot's layer configuration files: ``layers[0]`` is the layer *farthest from
the heat sink*; the spreader and the sink (from the thermal configuration) come after the last one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

#: Geometric tolerance HotSpot uses when comparing coordinates (metres).
GEOMETRY_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Block:
    """A rectangular unit of a floorplan.

    Attributes:
        name: unit name (``C_0``, ``B_12``, ``L2_left``...).
        width: extent along x (m).
        height: extent along y (m).
        x: left edge (m).
        y: bottom edge (m).
        heat_capacity: optional own volumetric heat capacity (J/(m^3 K)); HotSpot's 7-field
            lines, used only with ``detailed_3D``.
        resistivity: optional own thermal resistivity (m K / W), likewise.
    """

    name: str
    width: float
    height: float
    x: float
    y: float
    heat_capacity: float | None = None
    resistivity: float | None = None

    @property
    def area(self) -> float:
        """Area (m^2)."""
        return self.width * self.height

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def top(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class Floorplan:
    """An ordered list of blocks; the order is the order of the file and of the power columns."""

    blocks: tuple[Block, ...]
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    def __getitem__(self, index: int) -> Block:
        return self.blocks[index]

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.blocks]

    def index(self, name: str) -> int:
        """Position of the block called ``name`` (case-insensitive, like HotSpot)."""
        lowered = name.lower()
        for i, b in enumerate(self.blocks):
            if b.name.lower() == lowered:
                return i
        raise KeyError(name)

    @property
    def min_x(self) -> float:
        return min(b.x for b in self.blocks)

    @property
    def min_y(self) -> float:
        return min(b.y for b in self.blocks)

    @property
    def width(self) -> float:
        """Width of the bounding box (m)."""
        return max(b.right for b in self.blocks) - self.min_x

    @property
    def height(self) -> float:
        """Height of the bounding box (m)."""
        return max(b.top for b in self.blocks) - self.min_y

    @property
    def area(self) -> float:
        """Sum of the block areas (m^2)."""
        return float(sum(b.area for b in self.blocks))

    def translated(self) -> Floorplan:
        """The same floorplan moved so that its bounding box starts at (0, 0), as HotSpot does."""
        dx, dy = self.min_x, self.min_y
        if dx == 0.0 and dy == 0.0:
            return self
        return Floorplan(
            tuple(replace(b, x=b.x - dx, y=b.y - dy) for b in self.blocks), source=self.source
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, width, height)`` of all blocks as arrays (m)."""
        return (
            np.array([b.x for b in self.blocks]),
            np.array([b.y for b in self.blocks]),
            np.array([b.width for b in self.blocks]),
            np.array([b.height for b in self.blocks]),
        )


@dataclass(frozen=True)
class Layer:
    """One layer of a stack.

    Attributes:
        name: a label (``core``, ``tim0``, ``dram3``...), also used for plots.
        floorplan: the blocks of the layer; all layers of a stack share one footprint.
        thickness: (m).
        conductivity: k (W/(m K)).
        heat_capacity: volumetric heat capacity (J/(m^3 K)).
        lateral: whether heat flows laterally inside the layer (LCF ``Y``/``N``).
        has_power: whether the layer's blocks dissipate power (appear in the power trace).
        material: the material name when the layer was given by one (LCF material form).
    """

    name: str
    floorplan: Floorplan
    thickness: float
    conductivity: float
    heat_capacity: float
    lateral: bool = True
    has_power: bool = False
    material: str | None = None

    @property
    def resistivity(self) -> float:
        """Thermal resistivity (m K / W), the form HotSpot's LCF uses."""
        return 1.0 / self.conductivity


@dataclass(frozen=True)
class Stack:
    """Layers from the one farthest from the heat sink (index 0) to the one on the spreader.

    The spreader, the sink and the convection to ambient are described by the thermal
    configuration (:class:`comet.thermal.hotspot_config.ThermalConfig`), as in HotSpot.
    ``name`` labels the stack (e.g. ``processor`` or ``memory`` for the two packages of ``ddr``).
    """

    layers: tuple[Layer, ...]
    name: str = "stack"
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def width(self) -> float:
        return self.layers[0].floorplan.width

    @property
    def height(self) -> float:
        return self.layers[0].floorplan.height

    @property
    def power_layers(self) -> list[int]:
        """Indices of the layers that dissipate power, in stack order."""
        return [i for i, layer in enumerate(self.layers) if layer.has_power]

    def power_block_names(self) -> list[str]:
        """Names of the power blocks, grouped by power layer in layer order (the ptrace order)."""
        return [b.name for i in self.power_layers for b in self.layers[i].floorplan]


def footprints_match(floorplans: Sequence[Floorplan], tol: float = GEOMETRY_TOLERANCE) -> bool:
    """True if all floorplans have the same width and height within ``tol`` (m)."""
    if not floorplans:
        return True
    w0, h0 = floorplans[0].width, floorplans[0].height
    return all(abs(f.width - w0) <= tol and abs(f.height - h0) <= tol for f in floorplans)
