"""Sweep files -> runs: expansion, stable ids, derived seeds, and errors before any run."""

from __future__ import annotations

from pathlib import Path

import pytest

from comet.errors import InputError
from comet.sim.results import dumps_toml
from comet.sweep.plan import derive_seed, load_sweep, plan_from_dict, run_id, set_dotted
from tests.loop_helpers import tiny


def _write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _base(tmp_path: Path) -> Path:
    p = tmp_path / "base.toml"
    p.write_text(dumps_toml(tiny()))
    return p


def test_matrix_zip_and_repeat_expand_in_order(tmp_path: Path) -> None:
    _base(tmp_path)
    p = _write(
        tmp_path,
        """
base = "base.toml"
repeat = 2
[sim]
duration = "5ms"
[matrix]
"policies.dvfs" = ["ondemand", "throttle", "tsp"]
[zip]
"cores.f_max" = ["4GHz", "3GHz"]
"cores.f_init" = ["4GHz", "3GHz"]
""",
    )
    plan = load_sweep(p)
    assert len(plan) == 3 * 2 * 2
    assert plan.varied == ["policies.dvfs", "cores.f_max", "cores.f_init"]
    first = plan.runs[0]
    assert first.params == {
        "policies.dvfs": "ondemand",
        "cores.f_max": "4GHz",
        "cores.f_init": "4GHz",
    }
    assert [r.repeat for r in plan.runs[:4]] == [0, 1, 0, 1]
    assert plan.runs[2].params["cores.f_max"] == "3GHz"
    cfg = plan.runs[2].run_config()
    assert cfg.cores.f_max == 3e9 and cfg.sim.duration == pytest.approx(5e-3)
    assert cfg.policies.dvfs[0].name == "ondemand"
    # seeds derived from the config's seed (1), one per repeat, the same for every combination
    assert {r.seed for r in plan.runs if r.repeat == 0} == {derive_seed(1, 0)}
    assert derive_seed(1, 0) != derive_seed(1, 1)
    assert len({r.id for r in plan.runs}) == len(plan)
    assert all(r.config["name"] == f"tiny-{r.id}" for r in plan.runs)


def test_ids_are_stable_and_depend_only_on_the_resolved_config(tmp_path: Path) -> None:
    _base(tmp_path)
    a = load_sweep(
        _write(tmp_path, 'base = "base.toml"\n[matrix]\n"sim.duration" = ["5ms", "8ms"]\n')
    )
    # the same configs written differently: units, nested matrix table, inline base keys
    b = load_sweep(
        _write(
            tmp_path,
            'base = "base.toml"\n[matrix.sim]\nduration = [0.008, "5 ms"]\n',
            name="other.toml",
        )
    )
    assert {r.id for r in a.runs} == {r.id for r in b.runs}
    assert a.runs[0].id == run_id(a.runs[0].run_config().to_dict())
    c = load_sweep(
        _write(tmp_path, 'base = "base.toml"\n[matrix]\n"sim.duration" = ["6ms"]\n', "c.toml")
    )
    assert c.runs[0].id not in {r.id for r in a.runs}


def test_inline_base_and_list_index_keys() -> None:
    plan = plan_from_dict({**tiny(), "matrix": {"workload.jobs.0.threads": [1, 2]}})
    assert [r.run_config().workload.jobs[0].threads for r in plan.runs] == [1, 2]
    assert plan.name == "tiny"


def test_set_dotted() -> None:
    d: dict = {"a": {"b": [1, {"c": 2}]}}
    set_dotted(d, "a.b.1.c", 5)
    set_dotted(d, "x.y", "z")
    assert d == {"a": {"b": [1, {"c": 5}]}, "x": {"y": "z"}}
    with pytest.raises(InputError, match="not an index"):
        set_dotted(d, "a.b.7.c", 1)


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ('[matrix]\n"sim.duraton" = ["5ms"]', r"sweep\.toml: matrix\.sim\.duraton: unknown key"),
        ('[matrix]\n"sim.duration" = ["5ms", "5xs"]', r"matrix\.sim\.duration: .*5xs"),
        ('[matrix]\n"architecture.grdi" = ["8x8"]', r"matrix\.architecture\.grdi: .*unknown"),
        ('[matrix]\n"policies.dvfs" = ["ondemnad"]', r"matrix\.policies\.dvfs: .*ondemnad"),
        (
            '[matrix]\n"policies.dvfs" = [{name = "ondemand", up_treshold = 0.5}]',
            r"matrix\.policies\.dvfs: .*up_treshold",
        ),
        (
            '[matrix]\n"workload.jobs.0.profile" = ["memory", "computee"]',
            r"matrix\.workload\.jobs\.0\.profile: .*unknown profile 'computee'",
        ),
        ('[matrix]\n"sim.duration" = "5ms"', r"matrix\.sim\.duration: must be a list"),
        ('[matrix]\n"sim.duration" = []', r"matrix\.sim\.duration: the list of values is empty"),
        ('[zip]\n"sim.duration" = ["5ms", "6ms"]\n"seed" = [1]', r"zip\.seed: has 1 values"),
        ("repeat = 0", r"repeat: must be a whole number"),
        ('[matrix]\n"sim.duration" = ["5ms", 0.005]', r"same resolved config"),
        ('[matrix]\nname = ["a", "b"]', r"matrix\.name: runs are named by their ids"),
        ('[sim]\nduraton = "5ms"', r"sim\.duraton: unknown key .*in the base run config"),
        ("[matrix\n", r"sweep\.toml:2: not valid TOML"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, body: str, pattern: str) -> None:
    _base(tmp_path)
    p = _write(tmp_path, f'base = "base.toml"\n{body}\n')
    with pytest.raises(InputError, match=pattern):
        load_sweep(p)


def test_base_is_relative_to_the_sweep_file(tmp_path: Path) -> None:
    sub = tmp_path / "studies"
    sub.mkdir()
    _base(tmp_path)
    p = _write(sub, 'base = "../base.toml"\n[matrix]\n"seed" = [1, 2]\n')
    assert len(load_sweep(p)) == 2
    p = _write(sub, 'base = "base.toml"\n', "missing.toml")
    with pytest.raises(InputError, match=r"missing\.toml: base: 'base.toml' not found"):
        load_sweep(p)


def test_a_bad_combination_is_reported_with_its_parameters(tmp_path: Path) -> None:
    _base(tmp_path)
    # each value is fine alone; f_min above f_max only together
    p = _write(
        tmp_path,
        'base = "base.toml"\n[matrix]\n"cores.f_min" = ["1GHz", "3.5GHz"]\n'
        '"cores.f_max" = ["4GHz", "3GHz"]\n',
    )
    with pytest.raises(InputError, match=r"run cores\.f_min=3\.5GHz cores\.f_max=3GHz: .*f_min"):
        load_sweep(p)
