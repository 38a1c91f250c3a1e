"""HotSpot 7's thermal configuration: every key, its default and its meaning (SI units, Kelvin).

:class:`ThermalConfig` holds the effective values. Reading and writing HotSpot config files
(``-name value`` lines, case-insensitive names, command line overriding the file) and materials
files lives in this module too (see :func:`read_config`, :func:`write_config`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from os import PathLike
from typing import TYPE_CHECKING, Any, NamedTuple

from comet.errors import InputError
from comet.thermal.materials import lookup_material

if TYPE_CHECKING:  # pragma: no cover
    from comet.thermal.materials import Material

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


# --------------------------------------------------------------------------------------------
# Reading and writing HotSpot config files (``-name value`` lines)
# --------------------------------------------------------------------------------------------


class ConfigWarning(UserWarning):
    """Something in a HotSpot config that HotSpot accepts silently but is probably a mistake."""


class UnknownConfigKeyWarning(ConfigWarning):
    """A ``-name value`` entry whose name HotSpot does not know (HotSpot ignores it silently)."""


#: Keys handled by the command line (``hotspot.c:global_config_from_strs``); HotSpot's ``-d`` dump
#: writes them, and a config file containing them is accepted (they are ignored there).
COMMAND_LINE_KEYS = (
    "f",
    "p",
    "o",
    "c",
    "d",
    "detailed_3d",
    "use_microchannels",
    "materials_file",
)

#: Keys HotSpot knows but that do not change the thermal configuration of ``hotspot`` (the
#: floorplanner's, the microchannel model's, the package model's) - accepted silently.
HOTSPOT_IGNORED_KEYS = frozenset(
    k.lower()
    for k in (
        # floorplanner (hotfloorplan)
        "wrap_l2", "l2_label", "model_rim", "rim_thickness", "compact_ratio", "n_orients",
        "P0", "Davg", "Kmoves", "Rcool", "Rreject", "Nmax", "lambdaA", "lambdaT", "lambdaW",
        # microchannels (only with -use_microchannels 1) and the example configs' switch
        "use_microfluidic_cooling", "pumping_pressure", "pump_internal_res",
        "inlet_temperature", "coolant_material", "coolant_capac", "coolant_res", "coolant_visc",
        "wall_material", "wall_capac", "wall_res", "htc", "network_file",
        # package model (package.config keys may also be given directly)
        "sink_type", "fin_height", "fin_width", "channel_width", "pin_height", "pin_diam",
        "pin_dist", "fan_radius", "motor_radius", "rpm", "flow_type", "natural_convec",
    )
)  # fmt: skip

#: ``material_<part>`` key -> (conductivity key, heat capacity key) it sets.
MATERIAL_KEYS = {
    "material_chip": ("k_chip", "p_chip"),
    "material_sink": ("k_sink", "p_sink"),
    "material_spreader": ("k_spreader", "p_spreader"),
    "material_interface": ("k_interface", "p_interface"),
}

#: Keys naming files; ``(null)`` stands for "no file".
NULL = "(null)"

_FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(ThermalConfig)}
_BY_LOWER: dict[str, str] = {name.lower(): name for name in _FIELD_TYPES}


class ConfigPair(NamedTuple):
    """One ``-name value`` entry: name without the dash, value, 1-based line (None: CLI)."""

    name: str
    value: str
    line: int | None = None


def parse_config_pairs(text: str, path: str | PathLike[str] | None = None) -> list[ConfigPair]:
    """Parse the text of a HotSpot config file into ``(name, value, line)`` entries.

    Lines are ``-name value`` (the first two whitespace-separated tokens; anything after them is
    ignored, like HotSpot); blank lines and lines whose first token starts with ``#`` are skipped.
    Names are returned without the dash, as written.

    Raises:
        InputError: a line whose first token does not start with ``-`` or that has no value.
    """
    where = None if path is None else str(path)
    pairs: list[ConfigPair] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if not tokens[0].startswith("-") or len(tokens[0]) < 2:
            raise InputError(
                f"expected '-name value', found {tokens[0]!r}",
                path=where,
                line=lineno,
                hint="config lines are '-name value'; comments start with '#'",
            )
        if len(tokens) < 2:
            raise InputError(
                f"{tokens[0]} has no value",
                path=where,
                line=lineno,
                hint="config lines are '-name value' (use (null) for no file)",
            )
        pairs.append(ConfigPair(tokens[0][1:], tokens[1], lineno))
    return pairs


def read_config_pairs(path: str | PathLike[str]) -> list[ConfigPair]:
    """Read a HotSpot config file into ``(name, value, line)`` entries (see
    :func:`parse_config_pairs`)."""
    from comet.fileio import read_text

    return parse_config_pairs(read_text(path, "config file"), path)


def _convert(name: str, value: str, where: str | None, line: int | None) -> Any:
    kind = _FIELD_TYPES[name]
    if kind == "float":
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"-{name}: {value!r} is not a number", path=where, line=line) from None
        if not math.isfinite(number):
            raise InputError(
                f"-{name} is {value}", path=where, line=line, hint="use a finite number"
            )
        return number
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            pass
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise InputError(f"-{name}: {value!r} is not an integer", path=where, line=line)
    if kind == "str | None":
        return None if value == NULL else value
    if name in ("model_type", "grid_map_mode"):
        return value.lower()  # HotSpot compares them case-insensitively
    return value


_POSITIVE_KEYS = (
    "t_chip", "s_sink", "t_sink", "s_spreader", "t_spreader", "t_interface",
    "t_metal", "n_metal", "t_c4", "s_c4", "n_c4", "s_sub", "t_sub", "s_solder", "t_solder",
    "s_pcb", "t_pcb", "r_convec_sec", "c_convec_sec", "sampling_intvl", "base_proc_freq",
    "k_chip", "k_sink", "k_spreader", "k_interface",
)  # fmt: skip
_NON_NEGATIVE_KEYS = (
    "thermal_threshold", "c_convec", "r_convec", "ambient",
    "p_chip", "p_sink", "p_spreader", "p_interface",
)  # fmt: skip


#: Physical ranges comet enforces beyond HotSpot's own checks (a value outside is a unit
#: mistake and gives NaN or absurd temperatures): key prefix or key -> (low, high, unit); the low
#: bound is exclusive. Lengths: 0.1 nm (an atom) .. 10 m, a hundred times HotSpot's largest
#: package part (s_pcb = 0.1 m). Conductivities: 1e-4 (a hundredth of aerogel's 0.01) .. 1e5
#: W/(m K), 50x diamond's 2000. Volumetric heat capacities: 1 .. 1e8 J/(m^3 K) (air 1.2e3, water
#: 4.2e6). Ambient: above 0 K and below silicon's melting point, 1687 K. Convection
#: resistances: 1 uK/W .. 1 MK/W.
PHYSICAL_RANGES: dict[str, tuple[float, float, str]] = {
    "t_": (1e-10, 10.0, "m"),
    "s_": (1e-10, 10.0, "m"),
    "k_": (1e-4, 1e5, "W/(m K)"),
    "p_": (1.0, 1e8, "J/(m^3 K)"),
    "ambient": (0.0, 1687.0, "K"),
    "init_temp": (0.0, 1687.0, "K"),
    "r_convec": (1e-6, 1e6, "K/W"),
    "r_convec_sec": (1e-6, 1e6, "K/W"),
    "c_convec": (-1.0, 1e9, "J/K"),
    "c_convec_sec": (-1.0, 1e9, "J/K"),
    "n_metal": (0.0, 1000.0, "layers"),
    "sampling_intvl": (0.0, 1e6, "s"),
    "base_proc_freq": (0.0, 1e12, "Hz"),
    "n_c4": (0.0, 1e8, "bumps"),
}


def _range_of(key: str) -> tuple[float, float, str] | None:
    if key in PHYSICAL_RANGES:
        return PHYSICAL_RANGES[key]
    if key[:2] in ("t_", "s_", "k_", "p_") and key[:2] in PHYSICAL_RANGES:
        return PHYSICAL_RANGES[key[:2]]
    return None


def check_physical(
    config: ThermalConfig,
    origins: Mapping[str, tuple[str | None, int | None]] | None = None,
) -> None:
    """Physical ranges (:data:`PHYSICAL_RANGES`, exclusive low bound) and the grid size limit
    (:data:`comet.limits.GRID_CELLS`).

    Raises:
        InputError: ``file:line: -key is <value> (hint)`` for the first value out of range.
    """
    from comet.limits import GRID_CELLS

    orig = origins or {}
    for key in _FIELD_TYPES:
        bounds = _range_of(key)
        if bounds is None or key == "thermal_threshold":
            continue
        value = getattr(config, key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        low, high, unit = bounds
        if not (low < value <= high):
            raise InputError(
                f"-{key} is {value!r} {unit}, outside the physical range",
                hint=f"give a value > {low:g} and <= {high:g} {unit}; SI units, Kelvin",
                **_origin(orig, key),
            )
    cells = config.grid_rows * config.grid_cols
    where = _origin(orig, "grid_cols") if "grid_cols" in orig else _origin(orig, "grid_rows")
    GRID_CELLS.check(cells, f"-grid_rows x -grid_cols = {config.grid_rows} x {config.grid_cols}",
                     **where)  # fmt: skip


#: integer keys that count something (a boolean there is a mistake, not a flag)
_COUNT_KEYS = frozenset({"grid_rows", "grid_cols", "n_metal", "n_c4", "leakage_mode"})


def check_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Type-check and range-check thermal keys given as data (a run config's ``[thermal]``).

    Floats take numbers (not strings, not booleans), finite; integers take whole numbers;
    ``model_type`` and ``grid_map_mode`` their names; file keys a string. The result is
    checked with :func:`check_physical` and HotSpot's positivity rules.

    Returns:
        The values converted to the field types.

    Raises:
        InputError: ``<key>: what is wrong (hint)`` for the first bad value (no path: the caller
            adds the file).
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        kind = _FIELD_TYPES.get(key)
        if kind is None:
            raise InputError(f"{key}: not a HotSpot configuration key")
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"{key}: {value!r} is not a number", hint="SI units, Kelvin")
            if not math.isfinite(value):
                raise InputError(f"{key}: {value!r} is not finite", hint="give a finite number")
            out[key] = float(value)
        elif kind == "int":
            if isinstance(value, bool) and key not in _COUNT_KEYS:  # flags: true/false
                value = int(value)
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InputError(f"{key}: {value!r} is not an integer")
            out[key] = value
        elif kind == "str | None":
            if value is not None and not isinstance(value, str):
                raise InputError(f"{key}: {value!r} is not a file name")
            out[key] = None if value in (None, NULL) else value
        else:
            if not isinstance(value, str):
                raise InputError(f"{key}: {value!r} is not a name")
            out[key] = value.lower() if key in ("model_type", "grid_map_mode") else value
    config = ThermalConfig().with_values(**out)
    origins = {key: (None, None) for key in out}
    try:
        check_physical(config, origins)
        for key in _POSITIVE_KEYS:
            if key in out and not getattr(config, key) > 0:
                raise InputError(f"-{key} is {out[key]!r}", hint="it must be > 0 (SI units)")
        for key in _NON_NEGATIVE_KEYS:
            if key in out and not getattr(config, key) >= 0:
                raise InputError(f"-{key} is {out[key]!r}", hint="it must be >= 0 (SI, Kelvin)")
        if config.model_type not in MODEL_TYPES:
            raise InputError(f"-model_type is {config.model_type!r}", hint="'block' or 'grid'")
        if config.grid_map_mode not in MAP_MODES:
            raise InputError(
                f"-grid_map_mode is {config.grid_map_mode!r}", hint="avg, min, max or center"
            )
        for key in ("grid_rows", "grid_cols"):
            if getattr(config, key) < 1:
                raise InputError(f"-{key} is {getattr(config, key)}", hint="at least 1")
    except InputError as err:
        import re

        text = re.sub(r"^-(\w+) is ", r"\1: ", err.message)
        raise InputError(text, hint=err.hint) from None
    return out


def _origin(origins: Mapping[str, tuple[str | None, int | None]], key: str) -> dict[str, Any]:
    where, line = origins.get(key, (None, None))
    return {"path": where, "line": line}


def validate_config(
    config: ThermalConfig,
    origins: Mapping[str, tuple[str | None, int | None]] | None = None,
) -> None:
    """Check a configuration as HotSpot does (``thermal_config_add_from_strs``), plus k > 0.

    Args:
        config: the configuration.
        origins: key -> (file or "command line", line), to point messages at the entry.

    Raises:
        InputError: dimensions <= 0, negative r_convec/c_convec/ambient/thermal_threshold,
            sampling_intvl or base_proc_freq <= 0, unknown model_type or grid_map_mode,
            grid_rows/grid_cols < 1, the secondary path with the block model.
    """
    orig = origins or {}

    def fail(key: str, what: str, hint: str) -> None:
        raise InputError(f"-{key} {what}", hint=hint, **_origin(orig, key))

    for key in _POSITIVE_KEYS:
        value = getattr(config, key)
        if not value > 0:
            fail(key, f"is {value!r}", "it must be > 0 (SI units)")
    for key in _NON_NEGATIVE_KEYS:
        value = getattr(config, key)
        if not value >= 0:
            fail(key, f"is {value!r}", "it must be >= 0 (SI units, Kelvin)")
    if config.model_type not in MODEL_TYPES:
        fail("model_type", f"is {config.model_type!r}", "use 'block' or 'grid'")
    if config.grid_map_mode not in MAP_MODES:
        fail("grid_map_mode", f"is {config.grid_map_mode!r}", "use 'avg', 'min', 'max' or 'center'")
    for key in ("grid_rows", "grid_cols"):
        if getattr(config, key) < 1:
            fail(key, f"is {getattr(config, key)}", "the grid needs at least 1 row and 1 column")
    check_physical(config, orig)
    if config.model_secondary and config.model_type == "block":
        fail(
            "model_secondary",
            "is on with the block model",
            "the secondary heat path exists only in the grid model: add -model_type grid",
        )


def build_config(
    file_pairs: Iterable[Sequence[Any]] = (),
    cli_pairs: Iterable[Sequence[Any]] = (),
    materials: Mapping[str, Material] | None = None,
    *,
    config_path: str | PathLike[str] | None = None,
    base: ThermalConfig | None = None,
) -> ThermalConfig:
    """The effective configuration from a config file's entries and command-line overrides.

    HotSpot's rules: names are case-insensitive (a leading ``-`` is optional here); command-line
    entries override the file; within one source the first occurrence of a name wins (HotSpot's
    ``str_pairs_remove_duplicates``); ``(null)`` means no file; ``material_*`` keys take k and p
    from the materials file (overriding ``k_*``/``p_*``). Unknown names, which HotSpot ignores
    silently, raise an :class:`UnknownConfigKeyWarning`; keys HotSpot knows but ``hotspot`` does
    not use (floorplanner, microchannel, package-model, command-line keys) are accepted silently.

    Args:
        file_pairs: ``(name, value, line)`` entries of the config file (:func:`read_config_pairs`).
        cli_pairs: ``(name, value)`` or ``(name, value, line)`` command-line entries.
        materials: materials by name, for ``material_*`` keys.
        config_path: the config file, for messages.
        base: the defaults to start from (HotSpot's built-in defaults if None).

    Raises:
        InputError: a bad value, an unknown material, or a configuration HotSpot rejects
            (:func:`validate_config`).
    """
    file_where = None if config_path is None else str(config_path)
    chosen: dict[str, tuple[str, str | None, int | None]] = {}
    for source, pairs in (("command line", cli_pairs), (file_where, file_pairs)):
        for entry in pairs:
            name, value = str(entry[0]), str(entry[1])
            line = entry[2] if len(entry) > 2 else None
            key = name[1:] if name.startswith("-") else name
            lower = key.lower()
            if lower in chosen:
                continue  # earlier entries win: command line over file, first in a file
            known = lower in _BY_LOWER or lower in MATERIAL_KEYS
            if not known and lower not in HOTSPOT_IGNORED_KEYS and lower not in COMMAND_LINE_KEYS:
                at = source if source is not None else "config"
                if line is not None:
                    at = f"{at}:{line}"
                warnings.warn(
                    f"{at}: unknown config key -{key} is ignored (HotSpot ignores it too)",
                    UnknownConfigKeyWarning,
                    stacklevel=2,
                )
            chosen[lower] = (value, source, line)

    values: dict[str, Any] = {}
    origins: dict[str, tuple[str | None, int | None]] = {}
    for lower, (value, source, line) in chosen.items():
        if lower in _BY_LOWER:
            name = _BY_LOWER[lower]
            values[name] = _convert(name, value, source, line)
            origins[name] = (source, line)
    config = (base or ThermalConfig()).with_values(**values)

    for key, (k_key, p_key) in MATERIAL_KEYS.items():
        if key not in chosen:
            continue
        value, source, line = chosen[key]
        if value == NULL:
            config = config.with_values(**{key: None})
            continue
        if materials is None:
            raise InputError(
                f"-{key} {value} needs a materials file",
                path=source,
                line=line,
                hint="add -materials_file <file> on the command line",
            )
        mat = lookup_material(materials, value, what=f"-{key}", path=source, line=line)
        config = config.with_values(
            **{key: value, k_key: mat.conductivity, p_key: mat.heat_capacity}
        )
        origins[k_key] = origins[p_key] = (source, line)
    validate_config(config, origins)
    return config


def read_config(
    path: str | PathLike[str] | None,
    overrides: Iterable[Sequence[Any]] = (),
    materials: Mapping[str, Material] | None = None,
) -> ThermalConfig:
    """Read a HotSpot config file (or none) with command-line style overrides."""
    pairs = [] if path is None else read_config_pairs(path)
    return build_config(pairs, overrides, materials, config_path=path)


def _format_value(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, float):
        return repr(value)
    return str(value)


def config_pairs(config: ThermalConfig) -> list[tuple[str, str]]:
    """``(name, value)`` of every thermal key in HotSpot's dump order, values written exactly.

    The ``material_*`` names are not included: their k and p are (HotSpot's dump does the same).
    """
    return [
        (name, _format_value(getattr(config, name)))
        for name in _FIELD_TYPES
        if name not in MATERIAL_KEYS
    ]


def format_config(config: ThermalConfig, global_pairs: Sequence[tuple[str, str]] = ()) -> str:
    """The text of a ``-name value`` config file (HotSpot's ``-d`` dump format).

    Args:
        config: the configuration.
        global_pairs: command-line-only entries written first, like HotSpot's dump (``f``,
            ``p``, ``o``...); a config file containing them is still valid (they are ignored).
    """
    out = ["# HotSpot thermal configuration written by comet (SI units, Kelvin)"]
    out += [f"-{name}\t{value}" for name, value in global_pairs]
    out += [f"-{name}\t{value}" for name, value in config_pairs(config)]
    for key, (k_key, p_key) in MATERIAL_KEYS.items():
        material = getattr(config, key)
        if material is not None:
            out.append(f"# -{key} {material}  (its k and p are -{k_key} and -{p_key} above)")
    return "\n".join(out) + "\n"


def write_config(
    config: ThermalConfig,
    path: str | PathLike[str],
    global_pairs: Sequence[tuple[str, str]] = (),
) -> None:
    """Write a config file atomically; :func:`read_config` gives back an equal configuration
    (except the ``material_*`` names, written as comments: their values are in ``k_*``/``p_*``).
    """
    from comet.floorplan.flp import atomic_write_text

    atomic_write_text(path, format_config(config, global_pairs))
