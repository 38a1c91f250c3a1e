"""Named materials of the generated stacks: conductivity and volumetric heat capacity (SI).

Every layer and every filler block of a generated stack names one of these materials; the
``.lcf`` and ``.flp`` files carry the numbers (HotSpot's resistivity and volumetric heat capacity),
and ``stack.toml`` records the name.

Values and where they come from:

* ``silicon`` -- k = 100 W/(m K), c = 1.75e6 J/(m^3 K): HotSpot 7's built-in ``k_chip`` and
  ``p_chip``, also CoMeT's silicon (resistivity 0.01 m K/W).
* ``tim`` -- k = 4 W/(m K), c = 4e6 J/(m^3 K): HotSpot's built-in thermal interface material
  (``k_interface``, ``p_interface``), also CoMeT's TIM (resistivity 0.25 m K/W).
* ``copper`` -- k = 400 W/(m K), c = 3.55e6 J/(m^3 K): HotSpot's built-in spreader and sink.
* ``aluminium`` -- k = 237 W/(m K), c = 2.422e6 J/(m^3 K): HotSpot's example materials file
  (pure aluminium, room temperature; Incropera & DeWitt, *Fundamentals of Heat and Mass
  Transfer*, Table A.1: k = 237, rho = 2702 kg/m^3, c_p = 903 J/(kg K) -> 2.44e6).
* ``mold_compound`` -- k = 0.9 W/(m K), c = 1.7e6 J/(m^3 K): a silica-filled epoxy molding
  compound (EMC), the encapsulant that fills the space between and around dies in molded
  2.5D packages. Standard silica-filled EMCs have k = 0.6-1.0 W/(m K) (highly filled "high-k"
  grades reach 2-3), density 1.9-2.0 g/cm^3 and specific heat 0.8-1.0 J/(g K), hence
  c = rho c_p ~ 1.95e3 kg/m^3 x 0.88e3 J/(kg K) ~ 1.7e6 J/(m^3 K).
* ``underfill`` -- k = 0.5 W/(m K), c = 1.7e6 J/(m^3 K): a capillary underfill (silica-filled
  epoxy) as used under flip-chip dies and between micro-bumped dies: k = 0.4-0.7 W/(m K),
  density ~1.7 g/cm^3, specific heat ~1.0 J/(g K).
* ``air`` -- k = 0.0263 W/(m K), c = 1.17e3 J/(m^3 K): dry air at 300 K and 1 atm (Incropera &
  DeWitt, Table A.4: k = 26.3e-3 W/(m K), rho = 1.161 kg/m^3, c_p = 1007 J/(kg K)); an open gap
  with conduction only (no convection inside the package).
* ``comet_air`` -- k = 1/0.13 = 7.69 W/(m K), c = 2.875e6 J/(m^3 K): the filler CoMeT calls
  "air" (resistivity 0.13 m K/W). It conducts ~300 times better than air; kept only to reproduce
  CoMeT's 2.5D numbers. Not physical air.

Aliases (``si``, ``emc``, ``mold``, ``aluminum``, ...) are accepted wherever a name is.
"""

from __future__ import annotations

from dataclasses import dataclass

from comet.errors import InputError


@dataclass(frozen=True, slots=True)
class Material:
    """A solid material.

    Attributes:
        name: the canonical name (``silicon``, ``mold_compound``...).
        conductivity: k (W/(m K)).
        heat_capacity: volumetric heat capacity rho c_p (J/(m^3 K)).
        description: what it stands for, for people reading ``stack.toml``.
    """

    name: str
    conductivity: float
    heat_capacity: float
    description: str = ""

    @property
    def resistivity(self) -> float:
        """Thermal resistivity 1/k (m K / W), the form HotSpot's files use."""
        return 1.0 / self.conductivity


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material("silicon", 100.0, 1.75e6, "bulk silicon (HotSpot's k_chip, p_chip)"),
        Material("tim", 4.0, 4.0e6, "thermal interface material (HotSpot's k/p_interface)"),
        Material("copper", 400.0, 3.55e6, "copper (HotSpot's spreader and sink)"),
        Material("aluminium", 237.0, 2.422e6, "aluminium (DIMM heat spreaders)"),
        Material("mold_compound", 0.9, 1.7e6, "silica-filled epoxy molding compound"),
        Material("underfill", 0.5, 1.7e6, "capillary underfill (silica-filled epoxy)"),
        Material("air", 0.0263, 1.17e3, "still air at 300 K (conduction only)"),
        Material("comet_air", 1.0 / 0.13, 2.875e6, "CoMeT's 'air' filler (not physical air)"),
    )
}

ALIASES: dict[str, str] = {
    "si": "silicon",
    "interface": "tim",
    "cu": "copper",
    "aluminum": "aluminium",
    "al": "aluminium",
    "mold": "mold_compound",
    "mould": "mold_compound",
    "mold-compound": "mold_compound",
    "emc": "mold_compound",
    "air_gap": "air",
    "air-gap": "air",
    "comet-air": "comet_air",
}


def get_material(name: str, *, parameter: str = "material") -> Material:
    """The material called ``name`` (case-insensitive, aliases accepted).

    Raises:
        InputError: naming ``parameter`` when the material is unknown.
    """
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    try:
        return MATERIALS[key]
    except KeyError:
        known = ", ".join(sorted(MATERIALS))
        raise InputError(
            f"{parameter}: unknown material {name!r}", hint=f"choose one of {known}"
        ) from None
