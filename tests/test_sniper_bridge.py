"""The Sniper bridge against the stand-in simulator (a real separate process speaking the
protocol), driven epoch by epoch without the engine."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from comet.config import load_config
from comet.errors import InputError
from comet.perf.protocol import CPI_GROUPS, EpochInputs, PerfSystem
from comet.perf.registry import PERF_MODELS
from comet.perf.sniper import SniperError, SniperPerformance, find_run_sniper
from comet.perf.sniper.wire import cpi_component, fill_counters, new_counters
from comet.perf.workloads import Job

STANDIN = [sys.executable, "-m", "comet.perf.sniper.standin"]
DT = 1e-3


def _system(tmp_path: Path, n_cores: int = 2, n_banks: int = 4, run_dir: Path | None = None):
    return PerfSystem(
        n_cores=n_cores,
        n_banks=n_banks,
        core_names=tuple(f"C_{i}" for i in range(n_cores)),
        bank_names=tuple(f"B_{i}" for i in range(n_banks)),
        epoch_s=DT,
        f_levels_hz=np.array([1e9, 2e9, 3e9]),
        f_init_hz=2e9,
        n_epochs=50,
        base_dir=tmp_path,
        run_dir=run_dir,
    )


def _job(i: int, trace: str) -> Job:
    return Job(i, f"job{i}", "x", 0.0, np.zeros((1, 7)), 1, trace=trace)


def _inputs(freqs, placement, n_banks: int = 4) -> EpochInputs:
    n = len(freqs)
    return EpochInputs(
        dt=DT,
        freq_hz=np.array(freqs, dtype=float),
        thread_of_core=np.array(placement),
        lost_s=np.zeros(n),
        t_mem_s=np.zeros(n),
        bank_latency_s=np.zeros(n_banks),
    )


@pytest.fixture
def traces(tmp_path: Path):
    def write(name: str, **spec) -> str:
        (tmp_path / name).write_text(json.dumps(spec))
        return name

    return write


def _started(tmp_path, traces_list, launcher=STANDIN, n_cores=2, **kw):
    model = SniperPerformance(launcher=launcher, epoch_timeout=kw.pop("epoch_timeout", 20), **kw)
    model.start(_system(tmp_path, n_cores=n_cores, run_dir=kw.get("run_dir_sys")))
    ids = [model.admit(_job(i, t)) for i, t in enumerate(traces_list)]
    assert ids == [[i] for i in range(len(traces_list))]
    return model


def test_lockstep_frequencies_take_effect_in_their_epoch(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, ipc=1.0)
    b = traces("b.sift", instructions=1e9, ipc=2.0)
    model = _started(tmp_path, [a, b])
    try:
        plan = [(2e9, 1e9), (2e9, 1e9), (1e9, 3e9), (3e9, 1e9)]
        for fa, fb in plan:
            model.step(_inputs([fa, fb], [0, 1]))
            # the frequencies sent with the epoch are the ones it ran at, on Sniper's side too
            np.testing.assert_allclose(model.counters.instructions, [1.0 * fa * DT, 2.0 * fb * DT])
            np.testing.assert_allclose(model.sniper_freq_hz, [fa, fb])
            np.testing.assert_allclose(model.counters.compute_time, [DT, DT])
        assert model.last_record["time_fs"] == len(plan) * 10**12
    finally:
        model.close()
    assert model.returncode is not None


def test_cpi_stack_memory_time_and_bank_counts(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, ipc=1.0, mpki=10.0, t_mem_ns=50.0)
    model = _started(tmp_path, [a], n_cores=2)
    try:
        model.step(_inputs([2e9, 2e9], [0, -1]))
        c = model.counters
        tau = 1 / 2e9 + 10e-3 * 50e-9
        n = DT / tau
        assert c.instructions[0] == pytest.approx(n, rel=1e-6)
        assert c.memory_time[0] == pytest.approx(n * 10e-3 * 50e-9, rel=1e-5)
        assert c.compute_time[0] + c.memory_time[0] == pytest.approx(DT, rel=1e-5)
        assert c.instructions[1] == 0 and c.compute_time[1] == 0
        assert c.cpi["base"][0] == pytest.approx(c.compute_time[0])
        assert c.cpi["dram"][0] == pytest.approx(c.memory_time[0])
        assert set(c.cpi) <= {k for ks in CPI_GROUPS.values() for k in ks}
        assert c.active_time[0] == pytest.approx(c.compute_time[0] + 0.25 * c.memory_time[0])
        assert c.has_bank_counts
        assert c.bank_reads.sum() + c.bank_writes.sum() == pytest.approx(round(n * 10e-3), abs=1)
        assert c.reads[0] == pytest.approx(c.bank_reads.sum())
        assert c.events["cycles"][0] == pytest.approx(DT * 2e9, rel=1e-5)
    finally:
        model.close()


def test_stock_sniper_has_no_bank_counts(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, mpki=5.0)
    model = _started(tmp_path, [a], launcher=[*STANDIN, "--stock"])
    try:
        model.step(_inputs([2e9, 2e9], [0, -1]))
        assert not model.counters.has_bank_counts
        assert model.counters.reads[0] > 0
        assert not model.counters.bank_reads.any()
    finally:
        model.close()


def test_migration(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, ipc=1.0)
    b = traces("b.sift", instructions=1e9, ipc=2.0)
    model = _started(tmp_path, [a, b])
    try:
        model.step(_inputs([1e9, 3e9], [0, 1]))
        assert model.placement == [0, 1]
        model.step(_inputs([1e9, 3e9], [1, 0]))  # swap
        assert model.placement == [1, 0]
        # thread b (ipc 2) now on core 0 at 1 GHz, thread a (ipc 1) on core 1 at 3 GHz
        np.testing.assert_allclose(model.counters.instructions, [2e6, 3e6])
    finally:
        model.close()


def test_threads_finish_and_sniper_ends(tmp_path, traces):
    a = traces("a.sift", instructions=1.5e6, ipc=1.0)  # 0.75 ms at 2 GHz
    b = traces("b.sift", instructions=5e6, ipc=1.0)  # 2.5 ms at 2 GHz
    model = _started(tmp_path, [a, b])
    try:
        fin = model.step(_inputs([2e9, 2e9], [0, 1]))
        assert len(fin) == 1 and fin[0][:2] == (0, 0)
        assert fin[0][2] == pytest.approx(0.75e-3)
        assert model.counters.instructions[0] == pytest.approx(1.5e6)
        assert model.step(_inputs([2e9, 2e9], [-1, 1])) == []
        fin = model.step(_inputs([2e9, 2e9], [-1, 1]))
        assert [(t, c) for t, c, _ in fin] == [(1, 1)]
        assert fin[0][2] == pytest.approx(0.5e-3)
        # every program ended: Sniper exits cleanly; further epochs are idle
        assert model.returncode == 0
        assert model.step(_inputs([2e9, 2e9], [-1, -1])) == []
        assert not model.counters.instructions.any()
    finally:
        model.close()


def test_sniper_dying_is_a_clear_error(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, die_at_epoch=3, exit_code=7)
    model = _started(tmp_path, [a])
    try:
        model.step(_inputs([2e9, 2e9], [0, -1]))
        model.step(_inputs([2e9, 2e9], [0, -1]))
        with pytest.raises(SniperError, match=r"exited with code 7 in epoch 3.*stand-in dies"):
            model.step(_inputs([2e9, 2e9], [0, -1]))
    finally:
        model.close()


def test_missing_trace_and_failed_start(tmp_path, traces):
    model = SniperPerformance(launcher=STANDIN)
    model.start(_system(tmp_path))
    model.admit(_job(0, "nope.sift"))
    try:
        with pytest.raises(InputError, match="trace not found"):
            model.step(_inputs([2e9, 2e9], [0, -1]))
    finally:
        model.close()
    # a launcher that exits at once: its exit code and output in the message
    model = SniperPerformance(launcher=[sys.executable, "-c", "print('no such config'); exit(5)"])
    model.start(_system(tmp_path))
    model.admit(_job(0, traces("a.sift")))
    try:
        with pytest.raises(SniperError, match="exited with code 5 while starting.*no such config"):
            model.step(_inputs([2e9, 2e9], [0, -1]))
    finally:
        model.close()


def test_hanging_sniper_times_out_and_close_kills_it(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, hang_at_epoch=2)
    model = _started(tmp_path, [a], epoch_timeout=1.0)
    model.step(_inputs([2e9, 2e9], [0, -1]))
    pid = model._proc.pid
    with pytest.raises(SniperError, match="did not answer in epoch 2 within 1 s"):
        model.step(_inputs([2e9, 2e9], [0, -1]))
    out, sock_dir = model.output_dir, model._sock_dir
    model.close()
    model.close()  # idempotent
    assert model.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not Path(sock_dir).exists()
    assert not out.exists()  # the temporary output directory is gone


def test_refused_setting(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, refuse_frequency_above_mhz=2500)
    model = _started(tmp_path, [a])
    try:
        model.step(_inputs([2e9, 2e9], [0, -1]))
        with pytest.raises(SniperError, match="refused in epoch 2.*3000 MHz"):
            model.step(_inputs([3e9, 2e9], [0, -1]))
        with pytest.raises(SniperError, match="broken core"):
            model._reply(_inputs([0.0, 2e9], [0, -1]))
    finally:
        model.close()


def test_run_dir_keeps_output_and_timing(tmp_path, traces):
    a = traces("a.sift", instructions=1e9)
    run_dir = tmp_path / "run"
    model = SniperPerformance(launcher=STANDIN)
    model.start(_system(tmp_path, run_dir=run_dir))
    model.admit(_job(0, a))
    for _ in range(3):
        model.step(_inputs([2e9, 2e9], [0, -1]))
    model.close()
    out = run_dir / "sniper"
    timing = json.loads((out / "bridge_timing.json").read_text())
    assert timing["summary"]["epochs"] == 3 and len(timing["per_epoch"]["wait"]) == 3
    assert "--traces=" in (out / "command.txt").read_text()
    assert "[SNIPER]" in (out / "sniper.log").read_text()
    assert json.loads((out / "standin.stats.json").read_text())["epochs"] == 3


def test_admit_rules(tmp_path, traces):
    model = SniperPerformance(launcher=STANDIN)
    model.start(_system(tmp_path))
    try:
        with pytest.raises(InputError, match="needs a trace or a command"):
            model.admit(Job(0, "j", "x", 0.0, np.zeros((1, 7)), 1))
        with pytest.raises(InputError, match="one thread"):
            model.admit(Job(0, "j", "x", 0.0, np.zeros((1, 7)), 2, trace="a.sift"))
        model.admit(Job(0, "j", "x", 0.0, np.zeros((1, 7)), 1, command=["./prog"]))
        with pytest.raises(InputError, match="runs alone"):
            model.admit(_job(1, "a.sift"))
        cmd = model.command()
        assert cmd[-4:] == ["--sift", "--frontend=dr", "--", "./prog"]
    finally:
        model.close()


def test_registry_and_config(tmp_path, traces):
    model = PERF_MODELS.create("sniper", {"launcher": STANDIN, "epoch_timeout": 5})
    assert isinstance(model, SniperPerformance) and model.epoch_timeout == 5
    with pytest.raises(InputError, match="perf.bogus: unknown parameter"):
        PERF_MODELS.create("sniper", {"bogus": 1})
    base = {"architecture": {"kind": "3d", "cores": "2x1"}}
    sniper_job = {"workload": {"jobs": [{"trace": "a.sift"}]}}
    cfg = load_config({**base, "perf": {"model": "sniper"}, **sniper_job})
    assert cfg.workload.jobs[0].trace == "a.sift"
    with pytest.raises(InputError, match="workload.jobs.0: trace / command jobs need"):
        load_config({**base, **sniper_job})
    with pytest.raises(InputError, match="workload.jobs.0: perf.model = 'sniper' runs SIFT"):
        load_config({**base, "perf": {"model": "sniper"}, "workload": {"jobs": [{}]}})
    with pytest.raises(InputError, match="arrive at 0 with threads = 1"):
        load_config(
            {**base, "perf": {"model": "sniper"},
             "workload": {"jobs": [{"trace": "a.sift", "arrival": "1ms"}]}}
        )  # fmt: skip
    with pytest.raises(InputError, match="not both"):
        load_config({**base, "workload": {"jobs": [{"trace": "a", "command": ["b"]}]}})


def test_find_run_sniper(tmp_path, monkeypatch):
    for var in ("SNIPER_ROOT", "COMET_SNIPER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InputError, match="Sniper not found"):
        find_run_sniper()
    root = tmp_path / "sniper"
    (root / "scripts" / "sim").mkdir(parents=True)
    run = root / "run-sniper"
    run.write_text("#!/bin/sh\n")
    with pytest.raises(InputError, match="not executable"):
        find_run_sniper(root)
    run.chmod(0o755)
    with pytest.raises(InputError, match="no scripts/sim"):
        find_run_sniper(root)
    with pytest.raises(InputError, match="no run-sniper there"):
        find_run_sniper(tmp_path)
    (root / "scripts" / "sim" / "__init__.py").write_text("")
    assert find_run_sniper(root) == run
    monkeypatch.setenv("COMET_SNIPER", str(run))
    assert find_run_sniper() == run


def test_cpi_mapping_and_counter_fill():
    assert cpi_component("cpiBase") == "base"
    assert cpi_component("cpiDataCacheL2_S") == "l2"
    assert cpi_component("cpiDataCachedram-local") == "dram"
    assert cpi_component("cpiInstructionCacheL2") == "ifetch"
    assert cpi_component("cpiSyncDvfsTransition") == "dvfs"
    assert cpi_component("cpiSyncFutex") == "sync"
    assert cpi_component("cpiSerialization") == "other"
    c = new_counters(2, 2)
    fs = 1e15
    msg = {
        "cores": {
            "instructions": [100, 50],
            "cpiBase": [0.5e-6 * fs, 0.1e-6 * fs],
            "cpiDataCacheL1": [0.1e-6 * fs, 0],
            "cpiDataCachedram": [0.2e-6 * fs, 0.6e-6 * fs],
            "cpiSyncDvfsTransition": [0, 0.1e-6 * fs],
            "L3.load-misses": [20, 10],
            "L3.store-misses": [10, 0],
            "L2.load-misses": [1000, 0],  # L3 is the last level: not used
            "branch_predictor.num-correct": [9, 1],
            "branch_predictor.num-incorrect": [1, 0],
        },
        "dram": {"reads": [80], "writes": [20]},
        "bank": None,
    }
    fill_counters(msg, c, stall_activity=0.5, freq_hz=np.array([1e9, 2e9]))
    np.testing.assert_allclose(c.compute_time, [0.6e-6, 0.1e-6])
    np.testing.assert_allclose(c.memory_time, [0.2e-6, 0.6e-6])
    np.testing.assert_allclose(c.lost_time, [0, 0.1e-6])
    np.testing.assert_allclose(c.active_time, [0.7e-6, 0.4e-6])
    np.testing.assert_allclose(c.reads, [60, 20])  # controller reads in demand shares 3:1
    np.testing.assert_allclose(c.writes, [15, 5])
    np.testing.assert_allclose(c.events["branches"], [10, 1])
    np.testing.assert_allclose(c.events["cycles"], [0.8e-6 * 1e9, 0.7e-6 * 2e9])
    assert not c.has_bank_counts


# ---------------------------------------------------------------------------------------------
# comet's Sniper-side script itself, run by a fake run-sniper against fake ``sim`` modules

FAKE_SNIPER = Path(__file__).parent / "fake_sniper"


def test_sniper_side_script_in_a_fake_sniper(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, ipc=1.0)
    b = traces("b.sift", instructions=3.5e6, ipc=2.0)  # 0.875 ms at 2 GHz
    model = SniperPerformance(sniper_root=str(FAKE_SNIPER), stats_every=1, epoch_timeout=30)
    model.start(_system(tmp_path, run_dir=tmp_path / "run"))
    model.admit(_job(0, a))
    model.admit(_job(1, b))
    try:
        fin = model.step(_inputs([3e9, 2e9], [0, 1]))
        assert model.hello["nthreads"] == 2 and model.hello["bank_counts"]
        np.testing.assert_allclose(model.counters.instructions, [3e6, 3.5e6], rtol=1e-6)
        assert [(t, c) for t, c, _ in fin] == [(1, 1)]
        assert fin[0][2] == pytest.approx(0.875e-3, abs=1e-6)
        np.testing.assert_allclose(model.sniper_freq_hz, [3e9, 2e9])
        assert model.counters.has_bank_counts
        assert model.counters.bank_reads.sum() == pytest.approx(
            sum(model.last_record["dram"]["reads"])
        )
        model.step(_inputs([1e9, 2e9], [-1, 0]))  # thread 0 moves to core 1
        assert model.placement[0] == 1
        np.testing.assert_allclose(model.counters.instructions, [0, 2e6], rtol=1e-6)
        np.testing.assert_allclose(model.counters.compute_time, [0, 1e-3], rtol=1e-6)
    finally:
        model.close()
    log = (tmp_path / "run" / "sniper" / "sniper.log").read_text()
    assert "to 3000 MHz" in log and "to 1000 MHz" in log
    assert "stats written: comet-0,comet-1,comet-2" in log  # ended by comet's stop


def test_sniper_side_script_reports_a_refused_placement(tmp_path, traces):
    a = traces("a.sift", instructions=1e9, refuse_affinity=True)
    model = SniperPerformance(sniper_root=str(FAKE_SNIPER), epoch_timeout=30)
    model.start(_system(tmp_path))
    model.admit(_job(0, a))
    try:
        with pytest.raises(SniperError, match="refused in epoch 1.*place thread 0 on core 1"):
            model.step(_inputs([2e9, 2e9], [-1, 0]))
    finally:
        model.close()


def test_fitted_power_from_the_bridge_counters(tmp_path, traces):
    from comet.power.fitted import FittedCorePower, PowerTable, write_table
    from comet.power.protocol import PowerSystem

    table = PowerTable(
        events=["instructions", "cycles", "l1d_accesses"],
        f_hz=np.array([2e9]),
        v=np.array([1.0]),
        c0_w=np.array([0.5]),
        k_j=np.array([[0.3e-9, 0.2e-9, 0.1e-9]]),
        rms_w=np.array([0.0]),
    )
    write_table(table, tmp_path / "t.toml")
    power = FittedCorePower(table=str(tmp_path / "t.toml"))
    power.start(PowerSystem(2, np.array([2e9]), np.array([1.0]), 0.0, 1e-9))
    model = _started(tmp_path, [traces("a.sift", instructions=1e9, ipc=1.5)])
    try:
        model.step(_inputs([2e9, 2e9], [0, -1]))
        out = np.zeros(2)
        power.dynamic(model.counters, np.array([2e9, 2e9]), np.array([1.0, 1.0]), DT, out)
    finally:
        model.close()
    instr, loads = 1.5 * 2e9 * DT, 0.3 * 1.5 * 2e9 * DT  # the stand-in's L1-D loads
    expect0 = 0.5 + (0.3e-9 * instr + 0.2e-9 * 2e9 * DT + 0.1e-9 * loads) / DT
    np.testing.assert_allclose(out, [expect0, 0.5], rtol=1e-6)
