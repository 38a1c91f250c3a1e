"""The reduced-order back end (:mod:`comet.thermal.reduced`) on networks with per-cell materials:
a real reduction (order below the node count), accuracy against the exact sparse step, exact
steady states, initial states inside the basis, a state set from outside, saved states, the
short-run choice of the sparse step, and the closed loop on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from comet.floorplan.generate import generate, thermal_config
from comet.sim.engine import Simulation
from comet.thermal.reduced import REDUCED_MIN_WORK, ReducedOrder
from comet.thermal.solver import ThermalModel
from tests.loop_helpers import tiny

H = 1e-3


def _stack_cfg(grid: int = 12) -> tuple[Any, Any]:
    (stack,) = generate("2.5d", cores="2x2", banks="2x2x2", grid_rows=grid, grid_cols=grid)
    return stack, thermal_config(stack)


def _pair(grid: int = 12) -> tuple[ThermalModel, ThermalModel]:
    """The 2.5d stack (2x2 cores, 2x2x2 banks, fillers) on the reduced and the exact step."""
    stack, cfg = _stack_cfg(grid)
    fast = ThermalModel.from_stack(stack, cfg)  # auto: per-cell materials -> reduced
    exact = ThermalModel.from_stack(stack, cfg, solver="sparse", degree=12)
    return fast, exact


@pytest.fixture(scope="module")
def built() -> tuple[ThermalModel, ThermalModel]:
    fast, exact = _pair()
    fast.prepare(H)
    return fast, exact


def test_auto_picks_the_reduced_model_and_reduces(built: Any) -> None:
    fast, _ = built
    assert isinstance(fast.backend, ReducedOrder)
    info = fast.backend.info
    assert info is not None and 0 < info.order < fast.n_nodes
    assert info.shifts[0] == 0.0 and info.indicator <= fast.backend.tolerance


def test_follows_the_exact_step(built: Any) -> None:
    fast, exact = built
    fast.set_temperature(fast.config.init_temp)
    exact.set_temperature(exact.config.init_temp)
    rng = np.random.default_rng(3)
    n = len(fast.power_names)
    worst = 0.0
    p = np.zeros(n)
    for k in range(400):
        if k % 10 == 0:
            p = rng.uniform(0.0, 3.0, n) * (rng.random(n) < 0.6)
        fast.advance(p, H)
        exact.advance(p, H)
        worst = max(
            worst,
            float(np.abs(fast.power_block_temperatures() - exact.power_block_temperatures()).max()),
        )
    assert exact.power_block_temperatures().max() - exact.config.init_temp > 1.0
    assert worst <= 1e-4
    assert np.abs(fast.temperature - exact.temperature).max() <= 1e-4


def test_steady_states_are_exact_and_lie_in_the_basis(built: Any) -> None:
    fast, exact = built
    p = np.linspace(0.2, 2.0, len(fast.power_names))
    T = fast.steady(p, leakage=False)
    np.testing.assert_allclose(T, exact.steady(p, leakage=False), atol=1e-9)
    for state in (T, np.full(fast.n_nodes, fast.config.ambient)):
        _, dist = fast.backend.project(state)
        assert dist < 1e-8
    # started at a steady state of constant power, the reduced model stays there
    fast.temperature = T.copy()
    for _ in range(20):
        fast.advance(p, H)
    assert np.abs(fast.temperature - T).max() < 1e-7


def test_a_state_outside_the_basis_rebuilds_it(built: Any) -> None:
    fast, exact = built
    order0 = fast.backend.info.order
    rng = np.random.default_rng(5)
    state = fast.config.ambient + rng.uniform(0.0, 20.0, fast.n_nodes)  # a noisy state
    fast.temperature = state.copy()
    exact.temperature = state.copy()
    p = np.full(len(fast.power_names), 1.0)
    for _ in range(50):
        fast.advance(p, H)
        exact.advance(p, H)
    assert fast.backend.info.order != order0 or fast.backend.project(state)[1] < 1e-6
    assert np.abs(fast.temperature - exact.temperature).max() <= 1e-4


def test_saved_state_round_trip(built: Any) -> None:
    fast, _ = built
    fast.set_temperature(fast.config.init_temp)
    p = np.full(len(fast.power_names), 1.5)
    for _ in range(5):
        fast.advance(p, H)
    saved = fast.save_state()
    assert saved[0] == "reduced"
    fast.advance(p * 2, H)
    after = fast.power_block_temperatures().copy()
    fast.restore_state(saved)
    fast.advance(p * 2, H)
    np.testing.assert_array_equal(fast.power_block_temperatures(), after)


def test_short_runs_take_the_exact_sparse_step() -> None:
    fast, _ = _pair()
    rom = fast.backend
    enough = int(np.ceil(REDUCED_MIN_WORK / rom.fill))
    assert rom.pays(enough) and not rom.pays(enough - 1)
    fast.prepare(H, enough - 1)
    assert fast.backend.name == "sparse"
    explicit = ThermalModel.from_stack(*_stack_cfg(6), solver="reduced")
    explicit.prepare(H, 5)  # an explicit choice is kept, however short the run
    assert explicit.backend.name == "reduced"


def test_closed_loop_on_the_reduced_step_matches_the_sparse_one() -> None:
    cfg = tiny(
        sim={"duration": "400ms", "snapshot_every": "20ms"},
        architecture={"kind": "2.5d", "cores": "2x2", "banks": "2x2x2", "grid": "12x12"},
    )
    runs = {}
    for solver in ("reduced", "sparse"):
        c = dict(cfg)
        c["sim"] = {**cfg["sim"], "solver": solver}
        sim = Simulation(c)
        runs[solver] = sim.run(in_memory=True)
        names = {m.backend.name for m in sim.models}
        assert names == {solver}
    a, b = runs["reduced"].temperature, runs["sparse"].temperature
    assert a.shape == b.shape and len(a) == 400
    assert float(np.abs(a.to_numpy() - b.to_numpy()).max()) <= 1e-4
    # grid snapshots: the reduced states lifted in batches (comet.sim.loop.SNAPSHOT_BATCH)
    ra, rb = runs["reduced"], runs["sparse"]
    np.testing.assert_allclose(ra.grid_times, rb.grid_times)
    assert len(ra.grid_times) == 20 and ra.grids.shape == rb.grids.shape
    assert float(np.abs(ra.grids - rb.grids).max()) <= 1e-3


def test_powered_blocks_hint_and_power_elsewhere() -> None:
    fast, exact = _pair()
    names = fast.power_names
    mask = np.array([n.startswith(("C_", "B_", "LC_")) for n in names])
    assert 0 < mask.sum() < len(names)  # fillers never carry power
    fast.set_powered(mask)
    fast.prepare(H)
    assert fast.backend.inputs is not None and len(fast.backend.inputs) == mask.sum()
    p = np.where(mask, 1.5, 0.0)
    for _ in range(30):
        fast.advance(p, H)
        exact.advance(p, H)
    assert np.abs(fast.power_block_temperatures() - exact.power_block_temperatures()).max() < 1e-4
    q = p.copy()
    q[np.flatnonzero(~mask)[0]] = 2.0  # power where none was announced: a basis for all blocks
    for _ in range(30):
        fast.advance(q, H)
        exact.advance(q, H)
    assert fast.backend.inputs is None
    assert np.abs(fast.power_block_temperatures() - exact.power_block_temperatures()).max() < 1e-4


def test_a_second_model_of_the_same_network_reuses_the_basis() -> None:
    fast, _ = _pair()
    fast.set_temperature(fast.config.init_temp)
    fast.prepare(H)  # built, or taken from an earlier test's build of this network
    again, exact = _pair()
    again.set_temperature(again.config.init_temp)
    again.prepare(H)
    info = again.backend.info
    assert info.reused and info.order == fast.backend.info.order
    exact.set_temperature(exact.config.init_temp)
    p = np.full(len(again.power_names), 1.0)
    for _ in range(20):
        again.advance(p, H)
        exact.advance(p, H)
    assert np.abs(again.power_block_temperatures() - exact.power_block_temperatures()).max() < 1e-4
    # a state the cached basis does not hold gets a basis of its own
    other, _ = _pair()
    other.temperature = other.config.ambient + np.linspace(0.0, 30.0, other.n_nodes)
    other.prepare(H)
    assert not other.backend.info.reused
