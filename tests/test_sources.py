"""Every default of the power and performance models has an entry in comet.sources, and every
entry states the default the code really has."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from comet.config import MEMORY_DEFAULTS, CoresConfig, MemoryConfig, PhaseSpec, VoltageConfig
from comet.power import leakage
from comet.sources import SOURCES, markdown_table

BY_KEY = {s.key: s for s in SOURCES}
PROFILES = Path(__file__).parent.parent / "comet" / "perf" / "data" / "profiles.toml"


def _check(key: str, actual: object) -> None:
    assert key in BY_KEY, f"default {key} has no source in comet/sources.py"
    want = BY_KEY[key].value
    if isinstance(actual, float):
        assert want == pytest.approx(actual, rel=1e-12), key
    else:
        assert want == actual, key


def test_keys_are_unique() -> None:
    assert len(BY_KEY) == len(SOURCES)


def test_cores_defaults_have_sources() -> None:
    cores = CoresConfig()
    for name in CoresConfig.model_fields:
        if name != "voltage":
            _check(f"cores.{name}", getattr(cores, name))
    volt = VoltageConfig()
    for name in ("model", "v0", "slope"):
        _check(f"cores.voltage.{name}", getattr(volt, name))


def test_memory_defaults_have_sources() -> None:
    mem = MemoryConfig()
    per_kind = {k for d in MEMORY_DEFAULTS.values() for k in d}
    for name in MemoryConfig.model_fields:
        if name in per_kind:
            assert getattr(mem, name) is None
            continue
        _check(f"memory.{name}", getattr(mem, name))
    for kind, values in MEMORY_DEFAULTS.items():
        for name, value in values.items():
            _check(f"memory.{kind}.{name}", value)


def test_phase_and_profile_defaults_have_sources() -> None:
    phase = PhaseSpec(instructions=1.0)
    for name in ("cpi", "mpki", "read_fraction", "mlp", "activity"):
        _check(f"phase.{name}", getattr(phase, name))
    data = tomllib.loads(PROFILES.read_text())["profiles"]
    for name, prof in data.items():
        if name == "phased":
            assert "profile.phased" in BY_KEY
            continue
        for ph in prof["phases"]:
            for key, value in ph.items():
                if key == "instructions":
                    continue  # the length of a profile, rescaled by every job
                if key == "sleep":
                    _check(f"profile.{name}.sleep", 0.05 if value == "50ms" else value)
                    continue
                _check(f"profile.{name}.{key}", float(value))


def test_hotspot_leakage_constants() -> None:
    _check("leakage.hotspot", (leakage.HOTSPOT_ALPHA, leakage.HOTSPOT_BETA, leakage.HOTSPOT_T0))


def test_readme_table_is_current() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert markdown_table() in readme, "paste comet.sources.markdown_table() into README"
