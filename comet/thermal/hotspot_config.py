"""HotSpot 7's thermal configuration: every key, its default and its meaning (SI units, Kelvin).

:class:`ThermalConfig` holds the effective values. Reading and writing HotSpot config files
(``-name value`` lines, case-insensitive names, command line overriding the file) and materials
files lives in this module too (see :func:`read_config`, :func:`write_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

#: HotSpot's lumped-vs-distributed capacitance fitting factor, applied to every capacitance.
C_FACTOR = 0.333

#: Secondary-path material constants of HotSpot (``temperature.h``): k in W/(m K), c in J/(m^3 K).
K_SUB, C_SUB = 2.0, 1.6e6
K_SOLDER, C_SOLDER = 1.0 / 0.06, 2.1e6
K_PCB, C_PCB = 1.0 / 0.333, 1.32e6
K_C4, C_C4 = 1.0 / 0.8, 1.65e6
K_METAL, C_METAL = 400.0, 3.55e6

MAP_MODES = ("avg", "min", "max", "center")
MODEL_TYPES = ("block", "grid")


@dataclass(frozen=True)
class ThermalConfig:
    """Effective HotSpot thermal configuration (names and defaults of HotSpot 7).

    Lengths in m, conductivities W/(m K), volumetric heat capacities J/(m^3 K), temperatures K,
    resistances K/W, capacitances J/K, times s. ``None`` stands for HotSpot's ``(null)``.
    """

    t_chip: float = 0.15e-3  # die thickness (no LCF)
    k_chip: float = 100.0
    p_chip: float = 1.75e6
    thermal_threshold: float = 81.8 + 273.15  # used only for init clipping with dtm_used
    c_convec: float = 140.4  # lumped convection capacitance (J/K)
    r_convec: float = 0.1  # lumped sink-to-air resistance (K/W)
    s_sink: float = 0.06
    t_sink: float = 6.9e-3
    k_sink: float = 400.0
    p_sink: float = 3.55e6
    s_spreader: float = 0.03
    t_spreader: float = 1e-3
    k_spreader: float = 400.0
    p_spreader: float = 3.55e6
    t_interface: float = 20e-6
    k_interface: float = 4.0
    p_interface: float = 4.0e6
    model_secondary: int = 0
    r_convec_sec: float = 1.0
    c_convec_sec: float = 140.4
    n_metal: int = 8
    t_metal: float = 10e-6
    t_c4: float = 1e-4
    s_c4: float = 20e-6
    n_c4: int = 400
    s_sub: float = 0.021
    t_sub: float = 1e-3
    s_solder: float = 0.021
    t_solder: float = 0.00094
    s_pcb: float = 0.1
    t_pcb: float = 0.002
    ambient: float = 318.15
    init_file: str | None = None
    init_temp: float = 333.15
    steady_file: str | None = None
    sampling_intvl: float = 3.333e-6
    base_proc_freq: float = 3e9
    dtm_used: int = 0
    model_type: str = "block"
    leakage_used: int = 0
    leakage_mode: int = 0
    package_model_used: int = 0
    package_config_file: str | None = None
    block_omit_lateral: int = 0
    grid_rows: int = 64
    grid_cols: int = 64
    grid_layer_file: str | None = None
    grid_steady_file: str | None = None
    grid_transient_file: str | None = None
    grid_map_mode: str = "center"
    detailed_3D_used: int = 0  # noqa: N815  (HotSpot's own spelling)
    material_chip: str | None = None
    material_sink: str | None = None
    material_spreader: str | None = None
    material_interface: str | None = None

    def with_values(self, **values: Any) -> ThermalConfig:
        """A copy with some keys changed (no validation; see :func:`validate_config`)."""
        return replace(self, **values)

    @classmethod
    def keys(cls) -> list[str]:
        """All key names, in HotSpot's dump order."""
        return [f.name for f in fields(cls)]
