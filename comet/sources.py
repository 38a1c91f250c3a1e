"""Where every default of comet's power and performance models comes from.

One entry per default value: its config key, the value (SI units, as in the code) and its
source. CoMeT references are files of marg-tools/CoMeT at commit 5a9d040 (``file:line``);
"comet's choice" says that no published source backs the value, and why it is what it is.
``tests/test_sources.py`` checks that every entry equals the default in the code and that
every default of ``[cores]``, ``[memory]``, the workload phases and the built-in profiles
has an entry; the README's table is :func:`markdown_table`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SOURCES", "Source", "markdown_table"]

COMET = "CoMeT"
_C = "marg-tools/CoMeT@5a9d040"


@dataclass(frozen=True)
class Source:
    key: str  #: config key (``memory.3d.latency``: the configuration's default)
    value: Any  #: the default, SI units (strings for names)
    source: str


_CAL = "benchmarks/results/calibration.csv"
_SETUP = "4 copies on CoMeT's 2x2 gainestown at 3.6 GHz / 1.32 V, 22 nm"


def _calibrated(program: str, how: str) -> str:
    return f"calibrated against Sniper 8.1 + McPAT 1.3, {program} ({_SETUP}): {how}, see {_CAL}"


_PHASE_HOW = {
    "cpi": "Sniper's cycles outside DRAM stalls per instruction",
    "mpki": "Sniper's DRAM reads + write-backs per kilo-instruction",
    "read_fraction": "Sniper's DRAM reads / accesses",
    "mlp": "mpki x 45 ns / mlp = Sniper's DRAM stall per instruction",
    "activity": "McPAT's dynamic power / the analytic core's at activity 1",
}
#: the calibrated built-in profiles: (profile, program, values)
_PROFILES: tuple[tuple[str, str, dict[str, float]], ...] = (
    (
        "compute",
        "benchmarks/calibration/compute.c",
        {"cpi": 1.09, "mpki": 0.0, "read_fraction": 0.7, "mlp": 1.0, "activity": 0.93},
    ),
    (
        "memory",
        "benchmarks/calibration/stream.c (STREAM triad)",
        {"cpi": 0.49, "mpki": 118.0, "read_fraction": 0.8, "mlp": 1.29, "activity": 1.0},
    ),
    (
        "mixed",
        "benchmarks/calibration/mixed.c",
        {"cpi": 1.03, "mpki": 5.4, "read_fraction": 1.0, "mlp": 0.66, "activity": 0.93},
    ),
    (
        "chase",
        "benchmarks/calibration/mixed.c 64 200000 0 (pointer chase)",
        {"cpi": 0.33, "mpki": 167.0, "read_fraction": 1.0, "mlp": 0.63, "activity": 0.86},
    ),
)


def _profile_source(name: str, program: str, key: str) -> str:
    if name == "compute" and key in ("read_fraction", "mlp"):
        return (
            f"comet's choice (as phase.{key}): no DRAM traffic in Sniper, so the value does "
            f"not matter ({_CAL})"
        )
    return _calibrated(program, _PHASE_HOW[key])


SOURCES: tuple[Source, ...] = (
    # -- cores: operating points
    Source("cores.f_min", 1.0e9, f"{COMET} config/base.cfg:61 (min_frequency = 1.0 GHz)"),
    Source("cores.f_max", 4.0e9, f"{COMET} config/base.cfg:62 (max_frequency = 4.0 GHz)"),
    Source("cores.f_step", 0.1e9, f"{COMET} config/base.cfg:63 (frequency_step_size = 0.1)"),
    Source(
        "cores.f_init",
        None,
        "comet's choice: f_max. CoMeT's studies run at 3.6 GHz (config/gainestown_*.cfg:11), "
        "which examples/comet-default/ sets",
    ),
    Source("cores.voltage.model", "linear", f"{COMET} scripts/energystats.py:17-23"),
    Source(
        "cores.voltage.v0",
        0.6,
        f"{COMET} scripts/energystats.py:23, V = 0.6 + 0.8 f/4 GHz, the DVFS table CoMeT "
        "reports to McPAT for nodes <= 22 nm (technology_node = 22, config/nehalem.cfg:105)",
    ),
    Source("cores.voltage.slope", 0.8, f"{COMET} scripts/energystats.py:23 (as v0)"),
    # -- cores: power
    Source(
        "cores.c_eff",
        0.62e-9,
        _calibrated(
            "compute, mixed, stream, chase",
            "non-negative least squares of McPAT's per-core Runtime Dynamic (core + L2) "
            "over the share of time computing / stalled on DRAM (6.20e-10 F, rounded)",
        ),
    ),
    Source(
        "cores.stall_activity",
        0.23,
        _calibrated("compute, mixed, stream, chase", "fitted with cores.c_eff (0.234, rounded)"),
    ),
    Source(
        "cores.idle_activity",
        0.19,
        "calibrated against Sniper 8.1 + McPAT 1.3, a core without a thread beside one running "
        "benchmarks/calibration/compute.c (CoMeT's gainestown at 3.6 GHz / 1.32 V, 22 nm): "
        "McPAT's Runtime Dynamic of the idle core (0.73 W: McPAT does not clock-gate it, and "
        f"CoMeT feeds that power to HotSpot) / (c_eff V^2 f) = 0.188, rounded, see {_CAL}",
    ),
    Source(
        "cores.leakage",
        "comet",
        f"{COMET} hotspot_tool/temperature.c:686 (calc_core_leakage, logistic fit) times "
        "Vdd/1.2 (scripts/memTherm_core.py:676, temperature.c:806)",
    ),
    Source("cores.leakage_scale", 1.0, "no scaling of the leakage curve"),
    Source(
        "cores.dvfs_latency", 0.0, f"{COMET} config/base.cfg:315 ([dvfs] transition_latency = 0)"
    ),
    Source(
        "cores.migration_latency",
        0.0,
        "comet's choice: migrations are free, as in CoMeT's scheduler (Sniper itself "
        "models the cold caches after a move)",
    ),
    # -- memory: per configuration
    Source("memory.ddr.latency", 45e-9, f"{COMET} config/gainestown_DDR.cfg:40 (latency = 45 ns)"),
    Source(
        "memory.3dmem.latency", 29e-9, f"{COMET} config/gainestown_3Dmem.cfg:40 (latency = 29 ns)"
    ),
    Source(
        "memory.2.5d.latency", 20e-9, f"{COMET} config/gainestown_2_5D.cfg:40 (latency = 20 ns)"
    ),
    Source("memory.3d.latency", 15e-9, f"{COMET} config/gainestown_3D.cfg:40 (latency = 15 ns)"),
    Source(
        "memory.chiplets.latency",
        20e-9,
        f"as 2.5d: DRAM stacks on an interposer beside the cores ({COMET} "
        "config/gainestown_2_5D.cfg:40, 20 ns)",
    ),
    Source(
        "memory.ddr.e_read",
        30e-9,
        f"{COMET} config/gainestown_DDR.cfg:67 (30 nJ; no derivation given: the CACTI-3DD "
        "comment on line 66 belongs to the 20.55 nJ of the stacked configurations)",
    ),
    Source("memory.ddr.e_write", 30e-9, f"{COMET} config/gainestown_DDR.cfg:68 (as e_read)"),
    Source("memory.ddr.e_refresh", 5e-9, f"{COMET} config/gainestown_DDR.cfg:69 (5 nJ)"),
    *(
        Source(
            f"memory.{kind}.{key}",
            value,
            f"{COMET} config/gainestown_{cfg}.cfg:{line} ({value * 1e9:g} nJ; line 66: "
            "'From CACTI3DD, 10, 7.57, 1.855*7 + 7.57 = 20.55')",
        )
        for kind, cfg in (("3dmem", "3Dmem"), ("2.5d", "2_5D"), ("3d", "3D"), ("chiplets", "2_5D"))
        for key, value, line in (
            ("e_read", 20.55e-9, 67),
            ("e_write", 20.55e-9, 68),
            ("e_refresh", 3.55e-9, 69),
        )
    ),
    # -- memory: common
    Source(
        "memory.latency_lowpower",
        600e-9,
        f"{COMET} config/base.cfg:233 (latency_lowpower = 600 ns)",
    ),
    Source(
        "memory.t_refi",
        7.8e-6,
        f"{COMET} config/gainestown_*.cfg:70; JEDEC DDR3 (JESD79-3) tREFI at <= 85 C",
    ),
    Source(
        "memory.rows_per_refresh",
        1.0,
        f"{COMET} scripts/memTherm_core.py:32: 64 Mb banks (cfg:65) of 8 Kb rows, 8 K "
        "refresh commands per window (cfg:72) -> 1 row per command",
    ),
    Source(
        "memory.t_rfc",
        160e-9,
        "JEDEC DDR3 (JESD79-3) tRFC of a 2 Gb device; CoMeT does not model refresh blocking, "
        "the device density is comet's choice",
    ),
    Source(
        "memory.refresh_double_above",
        85.0,
        "JEDEC DDR3 (JESD79-3) extended temperature range: above 85 C the refresh interval "
        "halves (3.9 us)",
    ),
    Source(
        "memory.background", 0.0, f"{COMET} scripts/memTherm_core.py:33 (bank_static_power = 0)"
    ),
    Source(
        "memory.leakage",
        "comet",
        f"{COMET} hotspot_tool/temperature.c:1301 (calc_leakage, 64 Mb bank logistic fit)",
    ),
    Source("memory.leakage_scale", 1.0, "no scaling of the leakage curve"),
    Source("memory.lowpower_dynamic", 0.1, f"{COMET} config/base.cfg:241 (lpm_dynamic_power)"),
    Source("memory.lowpower_leakage", 0.01, f"{COMET} config/base.cfg:242 (lpm_leakage_power)"),
    Source(
        "memory.logic_power",
        0.272,
        f"{COMET} config/gainestown_*.cfg:71 (logic_core_power = 0.272 W)",
    ),
    Source(
        "memory.logic_leakage",
        "comet",
        f"{COMET} hotspot_tool/temperature.c:645 (calc_lc_leakage, logistic fit)",
    ),
    Source(
        "memory.distribution",
        "uniform",
        f"{COMET}: cache-line interleaving over every bank (bank_offset_in_pa = 6, "
        "config/gainestown_*.cfg:64)",
    ),
    Source("memory.ways", None, "comet's choice: interleaved threads use every channel"),
    Source(
        "memory.hot_fraction",
        0.125,
        "comet's choice (a distribution CoMeT does not have): one bank in 8 is hot",
    ),
    Source("memory.hot_share", 0.8, "comet's choice (as hot_fraction): an 80/20 skew"),
    Source("memory.hot_banks", None, "comet's choice: hot banks picked by the seed"),
    Source(
        "memory.local_share",
        0.8,
        "comet's choice (a distribution CoMeT does not have): 80 % to the nearest vault",
    ),
    # -- workload phases (defaults of a phase the user writes)
    Source("phase.cpi", 1.0, "comet's choice: a neutral core CPI of 1"),
    Source("phase.mpki", 0.0, "comet's choice: no DRAM traffic unless given"),
    Source(
        "phase.read_fraction",
        0.67,
        "comet's choice: two reads per write-back, a common rule of thumb, not a measurement",
    ),
    Source("phase.mlp", 1.0, "comet's choice: no overlap of misses unless given"),
    Source("phase.activity", 1.0, "comet's choice: full switching activity while computing"),
    # -- the built-in profiles (comet/perf/data/profiles.toml)
    *(
        Source(f"profile.{name}.{key}", value, _profile_source(name, program, key))
        for name, program, values in _PROFILES
        for key, value in values.items()
    ),
    Source(
        "profile.phased",
        "compute + memory phases",
        "comet's choice: the compute and memory phases above alternating 4 times",
    ),
    Source("profile.idle.sleep", 0.05, "comet's choice: 50 ms holding a core, leakage only"),
    # -- HotSpot's own leakage model (cores.leakage = "hotspot")
    Source(
        "leakage.hotspot",
        (1.5e4, 0.036, 383.15),
        "HotSpot temperature.c calc_leakage (uvahotspot/HotSpot, leak_alpha 1.5e4 W/m^2, "
        "leak_beta 0.036 1/K, leak_Tbase 383.15 K)",
    ),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def markdown_table() -> str:
    """The README's table of defaults and their sources."""
    rows = ["| key | default (SI) | source |", "|---|---|---|"]
    rows += [f"| `{s.key}` | {_fmt(s.value)} | {s.source} |" for s in SOURCES]
    return "\n".join(rows)
