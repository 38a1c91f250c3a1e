"""Interval performance model, workloads and access distributions."""

from __future__ import annotations

import numpy as np
import pytest

from comet.config import ProfileSpec, WorkloadConfig
from comet.errors import InputError
from comet.perf.distribution import AccessDistribution
from comet.perf.interval import IntervalModel, bank_latency, time_per_instruction
from comet.perf.workloads import (
    Job,
    ThreadTable,
    build_jobs,
    builtin_profiles,
    phase_table,
)


def _job(profile: str, instructions: float | None = None, threads: int = 1) -> Job:
    prof = builtin_profiles()[profile]
    return Job(0, profile, profile, 0.0, phase_table(prof, instructions), threads)


def _runtime(profile: str, f_hz: float, t_mem: float = 45e-9, dt: float = 1e-3) -> float:
    """Time (s) a one-thread job of ``profile`` takes at a fixed frequency."""
    table = ThreadTable()
    table.add_job(_job(profile, 2e7))
    model = IntervalModel(1)
    thread_of_core = np.array([0])
    f, tm, lost = np.array([f_hz]), np.array([t_mem]), np.zeros(1)
    for k in range(100_000):
        done = model.step(dt, f, tm, lost, thread_of_core, table)
        if done:
            return k * dt + done[0][2]
    raise AssertionError("did not finish")


def test_time_per_instruction_formula() -> None:
    tau = time_per_instruction(1.0, 2e9, 0.01, 50e-9, 2.0)
    assert tau == pytest.approx(0.5e-9 + 0.01 * 50e-9 / 2.0)


def test_compute_bound_runtime_scales_with_one_over_f() -> None:
    t2, t4 = _runtime("compute", 2e9), _runtime("compute", 4e9)
    assert t2 / t4 == pytest.approx(2.0, rel=0.03)


def test_memory_bound_runtime_changes_little_with_frequency() -> None:
    compute = _runtime("compute", 1e9) / _runtime("compute", 4e9)
    memory = _runtime("memory", 1e9) / _runtime("memory", 4e9)
    assert compute == pytest.approx(4.0, rel=0.03)
    assert memory < 1.5  # 4x the frequency buys less than 1.5x
    # and a slower memory makes it more memory-bound
    assert _runtime("memory", 4e9, 90e-9) > 1.8 * _runtime("memory", 4e9, 15e-9)


def test_one_epoch_matches_the_formula() -> None:
    table = ThreadTable()
    table.add_job(_job("mixed", 1e12))
    model = IntervalModel(2, stall_activity=0.25)
    f = np.array([3e9, 1e9])
    t_mem = np.array([30e-9, 30e-9])
    model.step(1e-3, f, t_mem, np.zeros(2), np.array([0, -1]), table)
    (ph,) = builtin_profiles()["mixed"].phases  # the formula with the profile's own values
    cpi, mpi, mlp = ph.cpi, ph.mpki / 1e3, ph.mlp
    tau = cpi / 3e9 + mpi * 30e-9 / mlp
    assert model.instructions[0] == pytest.approx(1e-3 / tau)
    assert model.instructions[1] == 0.0  # idle core
    assert model.compute_time[0] + model.memory_time[0] == pytest.approx(1e-3)
    assert model.reads[0] + model.writes[0] == pytest.approx(model.instructions[0] * mpi)
    assert model.reads[0] / (model.reads[0] + model.writes[0]) == pytest.approx(ph.read_fraction)
    util = model.utilization(1e-3)
    assert util[0] == pytest.approx((cpi / 3e9) / tau)
    stack = model.cpi_stack(f)
    assert stack["compute"][0] == pytest.approx(cpi)
    assert stack["memory"][0] == pytest.approx(mpi * 30e-9 / mlp * 3e9)
    assert np.isnan(stack["compute"][1])
    # activity: computing at the phase's activity, stalls at 0.25 of it
    expect = ph.activity * (model.compute_time[0] + 0.25 * model.memory_time[0])
    assert model.active_time[0] == pytest.approx(expect)


def test_lost_time_costs_instructions() -> None:
    out = []
    for lost in (0.0, 2e-4):
        table = ThreadTable()
        table.add_job(_job("compute", 1e12))
        model = IntervalModel(1)
        model.step(1e-3, np.array([2e9]), np.array([15e-9]), np.array([lost]), np.array([0]), table)
        out.append(model.instructions[0])
    assert out[1] / out[0] == pytest.approx(0.8)


def test_phases_are_crossed_inside_an_epoch_and_instructions_conserved() -> None:
    prof = builtin_profiles()["phased"]
    job = Job(0, "p", "phased", 0.0, phase_table(prof, 2e6), 1)  # tiny phases
    table = ThreadTable()
    table.add_job(job)
    model = IntervalModel(1)
    done = model.step(1e-3, np.array([4e9]), np.array([15e-9]), np.zeros(1), np.array([0]), table)
    assert done and done[0][0] == 0
    assert table.done[0]
    assert table.executed[0] == pytest.approx(2e6)
    assert 0 < done[0][2] < 1e-3


def test_sleep_phase_holds_the_core_without_work() -> None:
    table = ThreadTable()
    table.add_job(_job("idle"))
    model = IntervalModel(1)
    for _ in range(49):
        assert not model.step(
            1e-3, np.array([4e9]), np.array([15e-9]), np.zeros(1), np.array([0]), table
        )
        assert model.instructions[0] == 0 and model.sleep_time[0] == pytest.approx(1e-3)
        assert model.active_time[0] == 0
    done = model.step(1e-3, np.array([4e9]), np.array([15e-9]), np.zeros(1), np.array([0]), table)
    assert done and done[0][2] == pytest.approx(1e-3)


def test_bank_latency_modes_and_refresh() -> None:
    lp = np.array([False, True, False])
    busy = np.array([0.0, 0.0, 0.04])
    lat = bank_latency(15e-9, 600e-9, lp, busy, 160e-9)
    assert lat[0] == pytest.approx(15e-9)
    assert lat[1] == pytest.approx(600e-9)
    assert lat[2] > lat[0]
    assert lat[2] == pytest.approx(15e-9 / 0.96 + 0.04 * 80e-9)


# ------------------------------------------------------------------------------ workloads


def test_builtin_profiles_are_documented() -> None:
    profiles = builtin_profiles()
    assert {"compute", "memory", "mixed", "phased", "idle"} <= set(profiles)
    assert all(p.description for p in profiles.values())
    assert profiles["memory"].phases[0].mpki > 10 * profiles["compute"].phases[0].mpki


def test_instructions_rescale_and_repeat() -> None:
    prof = builtin_profiles()["phased"]
    table = phase_table(prof, 1e9)
    assert table.shape[0] == 2 * prof.repeat
    assert table[:, 0].sum() == pytest.approx(1e9)
    with pytest.raises(InputError, match="only sleep"):
        phase_table(builtin_profiles()["idle"], 1e9)


def _workload(**kw: object) -> WorkloadConfig:
    return WorkloadConfig.model_validate(kw)


def test_fixed_jobs_sorted_by_arrival() -> None:
    w = _workload(
        jobs=[
            {"profile": "memory", "arrival": "5ms", "threads": 2},
            {"profile": "compute-bound", "arrival": 0, "count": 2},
        ]
    )
    jobs = build_jobs(w, builtin_profiles(), np.random.default_rng(0))
    assert [j.arrival_s for j in jobs] == [0.0, 0.0, 5e-3]
    assert [j.profile for j in jobs] == ["compute", "compute", "memory"]
    assert jobs[2].n_threads == 2
    assert [j.id for j in jobs] == [0, 1, 2]


def test_open_system_arrivals() -> None:
    profiles = builtin_profiles()
    uni = build_jobs(
        _workload(arrival="uniform", interval="10ms", count=4, mix=["compute", "memory"]),
        profiles,
        np.random.default_rng(0),
    )
    assert [j.arrival_s for j in uni] == pytest.approx([0, 0.01, 0.02, 0.03])
    assert [j.profile for j in uni] == ["compute", "memory", "compute", "memory"]
    exp = build_jobs(
        _workload(arrival="explicit", times=["3ms", "1ms"]), profiles, np.random.default_rng(0)
    )
    assert [j.arrival_s for j in exp] == pytest.approx([1e-3, 3e-3])

    def poisson(seed: int) -> list[float]:
        w = _workload(arrival="poisson", interval="10ms", count=200)
        return [j.arrival_s for j in build_jobs(w, profiles, np.random.default_rng(seed))]

    a, b, c = poisson(1), poisson(1), poisson(2)
    assert a == b and a != c
    gaps = np.diff(a)
    assert a[0] == 0.0
    assert gaps.mean() == pytest.approx(0.01, rel=0.2)
    assert gaps.std() == pytest.approx(0.01, rel=0.3)  # exponential: std = mean


def test_random_mix_is_seeded() -> None:
    w = _workload(arrival="uniform", count=30, mix=["compute", "memory"], mix_order="random")
    p = builtin_profiles()
    a = [j.profile for j in build_jobs(w, p, np.random.default_rng(3))]
    b = [j.profile for j in build_jobs(w, p, np.random.default_rng(3))]
    assert a == b and set(a) == {"compute", "memory"}


def test_unknown_profile() -> None:
    w = _workload(jobs=[{"profile": "gcc"}])
    with pytest.raises(InputError, match="unknown profile 'gcc'"):
        build_jobs(w, builtin_profiles(), np.random.default_rng(0))


def test_inline_and_file_profiles(tmp_path: object) -> None:
    from pathlib import Path

    from comet.perf.workloads import load_profiles

    d = Path(str(tmp_path))
    (d / "p.toml").write_text(
        '[profiles.mine]\ndescription = "x"\n[[profiles.mine.phases]]\ninstructions = 10\n'
    )
    w = _workload(
        profile_files=["p.toml"],
        profiles={"inline": ProfileSpec.model_validate({"phases": [{"sleep": "1ms"}]})},
    )
    profiles = load_profiles(w, d)
    assert {"mine", "inline", "compute"} <= set(profiles)
    (d / "bad.toml").write_text("[profiles.bad]\n[[profiles.bad.phases]]\ncpi = 1\n")
    with pytest.raises(InputError, match="profiles.bad.phases"):
        load_profiles(_workload(profile_files=["bad.toml"]), d)


# ------------------------------------------------------------------------------ distributions


def _dist(kind: str, **kw: object) -> AccessDistribution:
    # 2 layers of 2x2 vaults: banks 0-3 layer 0, 4-7 layer 1, vault = position
    group = [0, 1, 2, 3, 0, 1, 2, 3]
    xy = np.array([[0, 0], [1, 0], [0, 1], [1, 1]] * 2, dtype=float)
    cores = np.array([[0, 0], [1, 1]], dtype=float)
    return AccessDistribution(kind, group, xy, cores, rng=np.random.default_rng(0), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["uniform", "interleaved", "hotset", "local"])
def test_rows_are_distributions(kind: str) -> None:
    d = _dist(kind)
    for t in range(3):
        for c in range(2):
            row = d.row(t, c)
            assert row.shape == (8,)
            assert row.sum() == pytest.approx(1.0)
            assert (row >= 0).all()


def test_interleaving_over_ways() -> None:
    assert np.allclose(_dist("interleaved").row(5, 0), _dist("uniform").row(5, 0))
    d = _dist("interleaved", ways=2)
    r0, r1 = d.row(0, 0), d.row(1, 0)
    assert np.count_nonzero(r0) == 4 and np.count_nonzero(r1) == 4  # 2 vaults x 2 layers
    assert not np.allclose(r0, r1)


def test_hotset_and_local() -> None:
    d = _dist("hotset", hot_banks=[3], hot_share=0.9)
    row = d.row(0, 0)
    assert row[3] == pytest.approx(0.9 + 0.1 / 8)
    loc = _dist("local", local_share=0.8)
    assert loc.depends_on_core
    r0, r1 = loc.row(0, 0), loc.row(0, 1)
    assert r0[[0, 4]].sum() == pytest.approx(0.8 + 0.2 * 2 / 8)  # vault 0 under core 0
    assert r1[[3, 7]].sum() == pytest.approx(0.8 + 0.2 * 2 / 8)  # vault 3 under core 1
    with pytest.raises(ValueError, match="hot_banks"):
        _dist("hotset", hot_banks=[9])
