"""Policies: each built-in's decisions on a hand-set view, the control object, the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comet.errors import InputError
from comet.policies import registry
from comet.policies.base import Control, EpochView, Policy, WaitingJob
from comet.policies.dram import LowPower
from comet.policies.dvfs import (
    Constant,
    MaxFrequency,
    Ondemand,
    PowerPID,
    ThermalSafePower,
    Throttle,
    frequency_for_power,
    predict_power,
)
from comet.policies.mapping import CoolestFirst, FirstUnused, Spread
from comet.policies.migration import HotToCold, Rotate
from comet.sim.engine import Simulation
from tests.loop_helpers import tiny


@pytest.fixture
def sim() -> Simulation:
    """A freshly built tiny simulation (4 cores, 8 banks), its one job waiting."""
    built = Simulation(tiny(workload={"jobs": [{"profile": "compute", "threads": 1}]}))
    built.build()
    built.queue.waiting = list(built.queue.jobs)
    return built


def _view(sim: Simulation, **arrays: Any) -> EpochView:
    sim.closed.fill_view()
    v = sim.view
    for name, value in arrays.items():
        if name == "peak_temperature":
            v.peak_temperature = float(value)
        else:
            np.copyto(v.buffer(name), value)
    return v


def _apply(sim: Simulation) -> np.ndarray:
    sim.actuators.apply_frequencies()
    return sim.actuators.freq / 1e9


def _start(sim: Simulation, cores: list[int]) -> None:
    """Place the waiting job's threads (job of len(cores) threads) on cores."""
    job = sim.queue.waiting[0]
    job.n_threads = len(cores)
    sim.actuators.map_job(job.id, cores)


# ------------------------------------------------------------------------------ DVFS


def test_constant_and_max(sim: Simulation) -> None:
    _start(sim, [0])
    Constant(frequency="2GHz", idle_frequency="1.5GHz").step(_view(sim), sim.control)
    assert _apply(sim) == pytest.approx([2.0, 1.5, 1.5, 1.5])
    MaxFrequency().step(_view(sim), sim.control)
    assert _apply(sim) == pytest.approx([4.0] * 4)


def test_ondemand_follows_utilization_like_comet(sim: Simulation) -> None:
    _start(sim, [0, 1, 2])
    sim.actuators.freq[:] = [2e9, 3e9, 2.3e9, 4e9]
    pol = Ondemand()
    v = _view(sim, utilization=[0.9, 0.5, 0.1, 0.0], peak_temperature=60.0)
    pol.step(v, sim.control)
    # > 0.7 -> f_max, in between -> unchanged, < 0.3 -> 0.8 f rounded down, idle -> f_min
    assert _apply(sim) == pytest.approx([4.0, 3.0, 1.8, 1.0])


def test_ondemand_dtm_hysteresis(sim: Simulation) -> None:
    _start(sim, [0, 1, 2, 3])
    sim.actuators.freq[:] = 4e9
    pol = Ondemand()
    busy = np.full(4, 0.95)
    for peak, expect in ((79.9, 4.0), (80.5, 1.0), (79.0, 1.0), (77.9, 4.0)):
        pol.step(_view(sim, utilization=busy, peak_temperature=peak), sim.control)
        assert _apply(sim) == pytest.approx([expect] * 4), peak
    with pytest.raises(ValueError):
        Ondemand(dtm_critical=70, dtm_recovered=75)


def test_throttle_steps_down_and_recovers(sim: Simulation) -> None:
    _start(sim, [0, 1])
    sim.actuators.freq[:] = 4e9
    pol = Throttle(threshold=80, hysteresis=3, guard=1, step="0.2GHz", down_steps=2)
    pol.setup(sim.info)
    hot = np.array([79.5, 60.0, 60.0, 60.0])
    pol.step(_view(sim, core_temperature=hot), sim.control)
    assert _apply(sim) == pytest.approx([3.6, 4.0, 4.0, 4.0])
    pol.step(_view(sim, core_temperature=hot), sim.control)
    assert _apply(sim)[0] == pytest.approx(3.2)
    mid = np.array([78.0, 60.0, 60.0, 60.0])  # inside the hysteresis band: hold
    pol.step(_view(sim, core_temperature=mid), sim.control)
    assert _apply(sim)[0] == pytest.approx(3.2)
    cool = np.array([70.0, 60.0, 60.0, 60.0])
    for expect in (3.4, 3.6, 3.8, 4.0):
        pol.step(_view(sim, core_temperature=cool), sim.control)
        assert _apply(sim)[0] == pytest.approx(expect)
    assert np.isinf(pol.cap).all()


def test_caps_compose_with_the_governor(sim: Simulation) -> None:
    _start(sim, [0, 1])
    gov, cap = MaxFrequency(), Throttle(threshold=50, step="1GHz", down_steps=1, scope="chip")
    cap.setup(sim.info)
    sim.actuators.freq_caps = np.full((2, 4), np.inf)
    v = _view(sim, core_temperature=[70.0, 40.0, 40.0, 40.0])
    sim.control._policy_index = 0
    gov.step(v, sim.control)
    sim.control._policy_index = 1
    cap.step(v, sim.control)
    assert _apply(sim) == pytest.approx([3.0] * 4)  # chip scope: all capped, min(target, cap)


def test_predicted_power_and_frequency_for_power(sim: Simulation) -> None:
    _start(sim, [0])
    sim.actuators.freq[:] = 2e9
    sim.actuators.volt[:] = sim.op.voltage(sim.actuators.freq)
    act = np.array([1.0, 0.0, 0.0, 0.0])
    c = sim.info.c_eff
    dyn = c * sim.actuators.volt**2 * sim.actuators.freq * act
    a = sim.actuators
    v = _view(sim, activity=act, core_power=dyn + 0.5, voltage=a.volt, frequency=a.freq)
    pred = predict_power(v, sim.info)
    i2 = int(np.searchsorted(sim.info.f_levels, 2e9))
    assert pred[0, i2] == pytest.approx(dyn[0] + 0.5)  # reproduces the last epoch
    assert (np.diff(pred[0]) > 0).all()
    f = frequency_for_power(v, sim.info, np.array([pred[0, i2] + 1e-9, 0.0, 1e9, 1e9]))
    assert f[0] == pytest.approx(2e9) and f[1] == sim.info.f_min and f[2] == sim.info.f_max


def test_influence_matrix(sim: Simulation) -> None:
    B = sim.influence_matrix()
    assert B.shape == (4, 4 + 8)
    assert (B > 0).all()
    assert (np.argmax(B[:, :4], axis=1) == np.arange(4)).all()  # a core heats itself most
    assert sim.influence_matrix() is B  # cached


def test_tsp_budget_keeps_steady_state_at_t_crit(sim: Simulation) -> None:
    _start(sim, [0, 1])
    v = _view(sim, bank_power=np.full(8, 0.1), core_power=np.full(4, 0.3))
    pol = ThermalSafePower(t_crit=70.0)
    pol.step(v, sim.control)
    B = sim.influence_matrix()
    active = np.array([True, True, False, False])
    p = np.where(active, pol.power, 0.3)
    t_ss = sim.info.ambient_degC + B[:, :4] @ p + B[:, 4:] @ np.full(8, 0.1)
    assert t_ss.max() == pytest.approx(70.0, abs=1e-6)
    caps = sim.actuators.freq_caps[sim.control._policy_index]
    assert np.isinf(caps[2:]).all() and np.isfinite(caps[:2]).all()


def test_pid_budget_shrinks_when_hot(sim: Simulation) -> None:
    _start(sim, [0, 1, 2, 3])
    sim.actuators.freq[:] = 4e9
    sim.actuators.volt[:] = sim.op.voltage(sim.actuators.freq)
    act = np.ones(4)
    power = sim.info.c_eff * sim.actuators.volt**2 * sim.actuators.freq + 0.7
    budgets = []
    for t in (65.0, 79.0, 85.0, 95.0):
        pol = PowerPID(target=80, sustainable_power=20.0)
        v = _view(sim, core_temperature=np.full(4, t), activity=act, core_power=power)
        pol.step(v, sim.control)
        budgets.append(pol.budget)
    assert np.isnan(budgets[0])  # below switch_on (70 C): no control
    assert budgets[1] > budgets[2] > budgets[3]
    assert _apply(sim).max() < 4.0  # 95 C: capped
    pol = PowerPID(target=80)
    pol.step(_view(sim, core_temperature=np.full(4, 82.0), activity=act), sim.control)
    assert pol.sustainable is not None and pol.sustainable > 0  # from the influence matrix
    with pytest.raises(ValueError):
        PowerPID(target=80, switch_on=85)


# ------------------------------------------------------------------------------ DRAM


def test_lowpower_hysteresis(sim: Simulation) -> None:
    pol = LowPower()
    temps = np.array([60, 68.5, 66, 64, 70, 60, 60, 60], dtype=float)
    sim.dram.bank_mode[:] = [0, 0, 1, 1, 1, 0, 0, 0]
    pol.step(_view(sim, bank_temperature=temps), sim.control)
    # normal -> low above 68; low stays until below 65
    assert sim.dram.bank_mode.tolist() == [0, 1, 1, 0, 1, 0, 0, 0]


# ------------------------------------------------------------------------------ mapping


def test_first_unused_and_fifo(sim: Simulation) -> None:
    sim.actuators.thread_of_core[1] = 99  # pretend core 1 is busy
    sim.queue.waiting[0].n_threads = 2
    FirstUnused(preferred_cores=[3]).step(_view(sim), sim.control)
    placed = sim.actuators.thread_of_core.tolist()
    assert placed[3] >= 0 and placed[0] >= 0
    assert sim.actuators.thread_of_core[2] == -1
    assert not sim.queue.waiting


def test_mapping_waits_when_cores_are_missing(sim: Simulation) -> None:
    sim.queue.waiting[0].n_threads = 5
    FirstUnused().step(_view(sim), sim.control)
    assert sim.queue.waiting and (sim.actuators.thread_of_core == -1).all()


def test_coolest_first_and_spread(sim: Simulation) -> None:
    sim.queue.waiting[0].n_threads = 2
    v = _view(sim, core_temperature=[70.0, 50.0, 65.0, 45.0])
    CoolestFirst().step(v, sim.control)
    assert sorted(np.flatnonzero(sim.actuators.thread_of_core >= 0).tolist()) == [1, 3]
    # spread: core 0 busy -> the farthest core from it is the diagonal one
    free = np.array([1, 2, 3])
    pick = Spread().choose(v, free, np.array([0]), 1)
    d = sim.info.core_distance()
    assert pick == [int(free[np.argmax(d[0, free])])]
    assert Spread().choose(v, np.arange(4), np.array([], dtype=int), 2)[0] == 0


# ------------------------------------------------------------------------------ migration


def test_rotate_and_hot_to_cold(sim: Simulation) -> None:
    _start(sim, [0, 1])
    t0, t1 = int(sim.actuators.thread_of_core[0]), int(sim.actuators.thread_of_core[1])
    Rotate().step(_view(sim), sim.control)
    assert sim.actuators.thread_of_core.tolist() == [-1, t0, t1, -1]
    Rotate(active_only=True).step(_view(sim), sim.control)
    assert sim.actuators.thread_of_core.tolist() == [-1, t1, t0, -1]
    temps = np.array([50.0, 80.0, 60.0, 40.0])
    HotToCold(threshold=70, delta=5).step(_view(sim, core_temperature=temps), sim.control)
    # hottest (core 1) -> coldest free
    assert sim.actuators.thread_of_core.tolist() == [-1, -1, t0, t1]
    HotToCold(threshold=90).step(_view(sim, core_temperature=temps), sim.control)
    assert sim.actuators.thread_of_core.tolist() == [-1, -1, t0, t1]  # below threshold: nothing


def test_control_rejects_impossible_requests(sim: Simulation) -> None:
    _start(sim, [0, 1])
    c: Control = sim.control
    t0 = int(sim.actuators.thread_of_core[0])
    with pytest.raises(ValueError, match="busy"):
        c.migrate(t0, 1)
    with pytest.raises(ValueError, match="out of range"):
        c.set_frequency(7, 1e9)
    with pytest.raises(ValueError, match="not running"):
        c.migrate(42, 3)
    with pytest.raises(ValueError, match="exactly the running threads"):
        c.set_placement(np.array([t0, t0, -1, -1]))
    with pytest.raises(ValueError, match="bank mode"):
        c.set_bank_mode(0, 2)
    with pytest.raises(ValueError, match="positive"):
        c.set_frequencies(-1.0)
    with pytest.raises(ValueError, match="not waiting"):
        c.map(5, [2])
    with pytest.raises(ValueError):
        c.thread_of_core[0] = 3  # read-only
    v = _view(sim)
    with pytest.raises(ValueError):
        v.core_temperature[0] = 1.0  # the view is read-only


def test_waiting_jobs_in_view(sim: Simulation) -> None:
    v = _view(sim)
    assert v.waiting_jobs == (WaitingJob(0, sim.queue.jobs[0].name, "compute", 1, 0.0),)


# ------------------------------------------------------------------------------ registry


def test_builtins_are_registered() -> None:
    names = set(registry.available())
    assert {
        "constant",
        "max",
        "ondemand",
        "throttle",
        "pid",
        "tsp",
        "rotate",
        "hot-to-cold",
        "first-unused",
        "coolest-first",
        "spread",
        "lowpower",
    } <= names
    assert isinstance(registry.create_policy("first_unused"), FirstUnused)  # CoMeT spelling


def test_registry_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown policy 'nope'"):
        registry.create_policy("nope")
    with pytest.raises(InputError, match="unknown parameter 'treshold'"):
        registry.create_policy("throttle", {"treshold": 3})
    with pytest.raises(InputError, match="policy 'ondemand': need"):
        registry.create_policy("ondemand", {"up_threshold": 0.1, "down_threshold": 0.5})
    f = tmp_path / "p.py"
    f.write_text("class NoStep:\n    pass\n\nclass Boom:\n    def __init__(self):\n        1/0\n")
    with pytest.raises(InputError, match="no step"):
        registry.create_policy("p.py:NoStep", base_dir=tmp_path)
    with pytest.raises(InputError, match=r"ZeroDivisionError: division by zero \(at .*p\.py:6\)"):
        registry.create_policy("p.py:Boom", base_dir=tmp_path)


def test_file_plugin_and_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "mine.py"
    f.write_text(
        "from comet.policies.base import Policy\n"
        "class Mine(Policy):\n"
        "    def __init__(self, level=1):\n"
        "        self.level = level\n"
        "    def step(self, view, control):\n"
        "        pass\n"
    )
    pol: Any = registry.create_policy("mine.py:Mine", {"level": 3}, tmp_path)
    assert isinstance(pol, Policy) and pol.level == 3

    class EP:
        name, value = "my-ep", "tests.test_policies:_EntryPolicy"

        def load(self) -> type:
            return _EntryPolicy

    monkeypatch.setattr(registry, "entry_points", lambda group: [EP()])
    assert isinstance(registry.create_policy("my-ep"), _EntryPolicy)
    assert registry.available()["my-ep"] == EP.value


class _EntryPolicy:
    def step(self, view: EpochView, control: Control) -> None:
        pass


def test_example_plugin_loads() -> None:
    root = Path(__file__).resolve().parents[1] / "examples"
    pol: Any = registry.create_policy(
        "plugins/my_policy.py:LinearDerating", {"start": 60, "stop": 70}, root
    )
    assert pol.start == 60
