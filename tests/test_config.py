"""Run config: quantities, validation errors (file: key: what), --set overrides, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from comet.config import (
    MEMORY_DEFAULTS,
    apply_overrides,
    load_config,
    parse_duration,
    parse_quantity,
)
from comet.errors import InputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5.0),
        ("1ms", 1e-3),
        ("10us", 1e-5),
        ("100ns", 1e-7),
        ("2.5 s", 2.5),
        (0.25, 0.25),
        ("1e-3", 1e-3),
        ("2min", 120.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5x", "ms", "", "1 2 s", True, None, "nan s"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_quantities_of_each_dimension() -> None:
    assert parse_quantity("3.6GHz", "frequency") == pytest.approx(3.6e9)
    assert parse_quantity("3600 MHz", "frequency") == pytest.approx(3.6e9)
    assert parse_quantity("20.55nJ", "energy") == pytest.approx(20.55e-9)
    assert parse_quantity("272mW", "power") == pytest.approx(0.272)
    assert parse_quantity("1nF", "capacitance") == pytest.approx(1e-9)
    assert parse_quantity("85C", "temperature") == 85.0
    assert parse_quantity("358.15K", "temperature") == pytest.approx(85.0)
    assert parse_quantity(80, "temperature") == 80.0
    with pytest.raises(ValueError, match="unknown energy unit"):
        parse_quantity("3W", "energy")


def test_defaults_and_sections() -> None:
    cfg = load_config({})
    assert cfg.sim.epoch == 1e-3
    assert cfg.cores.f_min == 1e9 and cfg.cores.f_max == 4e9 and cfg.cores.f_step == 1e8
    assert cfg.cores.voltage.v0 == 0.6 and cfg.cores.voltage.slope == 0.8
    assert cfg.memory.latency_lowpower == pytest.approx(600e-9)
    assert cfg.memory.lowpower_dynamic == 0.1 and cfg.memory.lowpower_leakage == 0.01
    assert [s.name for s in cfg.policies.mapping] == ["first-unused"]
    assert cfg.policies.dvfs == [] and cfg.policies.dram == []


@pytest.mark.parametrize("kind", ["ddr", "3dmem", "2.5d", "3d"])
def test_memory_defaults_follow_comet(kind: str) -> None:
    mem = load_config({"architecture": {"kind": kind}}).memory.resolved(kind)
    assert mem.latency == MEMORY_DEFAULTS[kind]["latency"]
    assert mem.e_read == MEMORY_DEFAULTS[kind]["e_read"]
    expected_ns = {"ddr": 45, "3dmem": 29, "2.5d": 20, "3d": 15}[kind]
    assert mem.latency == pytest.approx(expected_ns * 1e-9)


def test_comet_spellings_are_aliases() -> None:
    assert load_config({"architecture": {"kind": "2_5D"}}).architecture.kind == "2.5d"
    assert load_config({"architecture": {"kind": "3Dmem"}}).architecture.kind == "3dmem"


def test_explicit_memory_values_win() -> None:
    mem = load_config({"memory": {"latency": "50ns"}}).memory.resolved("3d")
    assert mem.latency == pytest.approx(50e-9)


def test_policy_forms() -> None:
    cfg = load_config(
        {
            "policies": {
                "dvfs": ["ondemand", {"name": "throttle", "every": "5ms", "threshold": 75}],
                "dram": "lowpower",
                "migration": "off",
                "plugins": ["x.py:Y"],
            }
        }
    )
    order = [(k, s.name) for k, s in cfg.policies.ordered()]
    assert order == [
        ("mapping", "first-unused"),
        ("dvfs", "ondemand"),
        ("dvfs", "throttle"),
        ("dram", "lowpower"),
        ("plugins", "x.py:Y"),
    ]
    throttle = cfg.policies.dvfs[1]
    assert throttle.params == {"threshold": 75}
    assert throttle.epochs(1e-3) == 5
    assert cfg.policies.migration == []


def _err(data: dict[str, object], path: Path | None = None) -> str:
    if path is not None:
        import tomllib  # noqa: F401  (the file is written by the caller)

        with pytest.raises(InputError) as info:
            load_config(path)
    else:
        with pytest.raises(InputError) as info:
            load_config(data)
    return str(info.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"simm": {}}, "simm: unknown key"),
        ({"sim": {"duration": "5x"}}, "sim.duration: '5x': unknown time unit"),
        ({"sim": {"epoch": "2s", "duration": "1s"}}, "sim.epoch: 2 s is longer"),
        ({"sim": {"init": "hot"}}, "sim.init:"),
        ({"sim": {"solver": "magic"}}, "sim.solver: must be"),
        ({"cores": {"f_min": "5GHz"}}, "cores.f_min:"),
        ({"cores": {"f_init": "5GHz"}}, "cores.f_init:"),
        ({"cores": {"c_eff": "-1nF"}}, "cores.c_eff: must not be negative"),
        ({"architecture": {"kind": "4d"}}, "architecture.kind: unknown configuration"),
        ({"architecture": {"grid": "32"}}, "architecture.grid:"),
        ({"thermal": {"foo": 1}}, "thermal: 'foo' is not a HotSpot configuration key"),
        ({"workload": {"jobs": [{"threads": 0}]}}, "workload.jobs.0.threads:"),
        ({"workload": {"arrival": "poisson"}}, "workload.count:"),
        ({"workload": {"arrival": "explicit"}}, "workload.times:"),
        ({"policies": {"dvfs": {"every": 1}}}, "policies.dvfs.0.name"),
        ({"policies": {"dvfs": {"name": "x", "every": 0}}}, "policies.dvfs.0.every"),
        ({"memory": {"distribution": "random"}}, "memory.distribution: must be"),
        ({"name": "a b"}, "name:"),
        ({"cores": {"voltage": {"model": "table", "points": [[1, 0.8]]}}}, "points:"),
    ],
)
def test_validation_errors_name_the_key(data: dict[str, object], expected: str) -> None:
    assert expected in _err(data)


def test_error_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "run.toml"
    p.write_text('[sim]\nduration = "forever"\n')
    msg = _err({}, p)
    assert msg.startswith(f"{p}: sim.duration:")


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    p = tmp_path / "run.toml"
    p.write_text('name = "x"\n[sim\nduration = 1\n')
    msg = _err({}, p)
    assert msg.startswith(f"{p}:2: not valid TOML")


def test_missing_file() -> None:
    with pytest.raises(InputError, match="run config not found"):
        load_config("/nonexistent/run.toml")


def test_overrides() -> None:
    data: dict[str, object] = {"sim": {"duration": "1s"}, "workload": {"jobs": [{"threads": 1}]}}
    apply_overrides(
        data,
        [
            "sim.duration=5s",
            "sim.flush_every=7",
            "workload.jobs.0.threads=4",
            "policies.dvfs=ondemand",
            'cores.voltage={model = "linear", v0 = 0.7}',
            "sim.stop_when_done=true",
        ],
    )
    cfg = load_config(data)
    assert cfg.sim.duration == 5.0 and cfg.sim.flush_every == 7
    assert cfg.workload.jobs[0].threads == 4
    assert [s.name for s in cfg.policies.dvfs] == ["ondemand"]
    assert cfg.cores.voltage.v0 == 0.7
    assert cfg.sim.stop_when_done is True


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("sim.duration", "expected key=value"),
        ("=3", "empty key"),
        ("sim.duration.x=1", "is a value, not a table"),
        ("workload.jobs.5.threads=1", "not an index"),
    ],
)
def test_bad_overrides(override: str, expected: str) -> None:
    data = {"sim": {"duration": "1s"}, "workload": {"jobs": [{"threads": 1}]}}
    with pytest.raises(InputError, match=expected):
        apply_overrides(data, [override])


def test_override_then_validate_reports_key(tmp_path: Path) -> None:
    p = tmp_path / "run.toml"
    p.write_text('name = "x"\n')
    with pytest.raises(InputError, match="sim.duration"):
        load_config(p, ["sim.duration=soon"])


def test_to_dict_round_trips() -> None:
    cfg = load_config({"sim": {"duration": "50ms"}, "policies": {"dvfs": "ondemand"}})
    again = load_config(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()


def test_relative_paths_resolve_against_the_config(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "run.toml"
    p.parent.mkdir()
    p.write_text('name = "x"\n')
    assert load_config(p).base_dir == p.parent.resolve()
