"""Calibration against Sniper + McPAT (comet.calibration, benchmarks/calibration.py) without the
tools: stored McPAT-driver outputs of real runs (tests/data/calibration/, trimmed to the
counters the calibration reads) and the shipped record benchmarks/results/calibration.csv."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from comet.calibration import (
    COLUMNS,
    METRICS,
    fit_core,
    fit_phase,
    measured,
    predict,
    read_table,
    table_rows,
    write_table,
)
from comet.config import PhaseSpec, ProfileSpec
from comet.errors import InputError
from comet.perf.interval import IntervalModel
from comet.perf.workloads import Job, ThreadTable, phase_table
from comet.power.leakage import comet_core_leakage

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "calibration"
RECORD = ROOT / "benchmarks" / "results" / "calibration.csv"
F, V, T_MEM = 3.6e9, 1.32, 45e-9


def _raw(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def _script():
    spec = importlib.util.spec_from_file_location(
        "calibration_script", ROOT / "benchmarks" / "calibration.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["calibration_script"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["chase-1c", "stream-1c", "stream-4c"])
def test_measured_reads_the_driver_output(name: str) -> None:
    raw = _raw(name)
    m = measured(raw)
    n = len(raw["cores"])
    st = raw["stats"]
    instr = sum(st["performance_model.instruction_count"]) / n
    assert m.instructions == pytest.approx(instr)
    assert m.ipc == pytest.approx(instr / (raw["seconds"] * raw["cores"][0]["f_hz"]))
    total = sum(st["dram.reads"]) + sum(st["dram.writes"])
    assert m.dram_apki == pytest.approx(1e3 * total / n / instr)
    assert m.dram_bps == pytest.approx(total / n * 64 / raw["seconds"])
    # comet's bank_stats patch: the per-bank counters add up to the controller's
    assert sum(m.bank_accesses) == pytest.approx(total / n)
    assert m.bank_bps_max >= m.dram_bps / len(m.bank_accesses)
    assert m.dyn_w == pytest.approx(sum(c["core_w"] + c["l2_w"] for c in raw["cores"]) / n)
    assert m.temperature_k == 330


def test_the_programs_do_what_their_sources_say() -> None:
    """The chase (mixed.c with no work) takes one dependent DRAM miss per loop step of 6
    instructions and stalls on DRAM almost all the time; the triad reads 2 lines and writes
    back 1 per 8 elements (3 of every 4 DRAM accesses are reads)."""
    chase = measured(_raw("chase-1c"))
    assert chase.dram_apki == pytest.approx(1e3 / 6, rel=0.01)
    assert chase.read_fraction == pytest.approx(1.0, abs=0.01)
    assert chase.dram_stall_s / chase.seconds > 0.95
    stream = measured(_raw("stream-1c"))
    assert stream.read_fraction == pytest.approx(0.75, abs=0.03)
    # a bandwidth-bound kernel: near the 7.6 GB/s of gainestown's one controller
    assert 5e9 < stream.dram_bps < 7.6e9
    four = measured(_raw("stream-4c"))
    # four copies share that controller: each gets about a quarter
    assert 4 * four.dram_bps < 7.6e9
    assert four.ipc < stream.ipc


def test_measured_errors() -> None:
    raw = _raw("chase-1c")
    del raw["stats"]["dram.reads"]
    with pytest.raises(InputError, match="dram.reads"):
        measured(raw)
    raw = _raw("chase-1c")
    raw["cores"][0]["v"] = None
    with pytest.raises(InputError, match="voltage"):
        measured(raw)
    assert measured(raw, v=1.32).v == 1.32


def test_predict_is_what_the_interval_model_counts() -> None:
    """One busy epoch of IntervalModel on the phase gives the same IPC, DRAM accesses and
    activity as predict()."""
    phase = {"cpi": 0.9, "mpki": 12.0, "read_fraction": 0.6, "mlp": 1.7, "activity": 0.8}
    p = predict(phase, F, V, T_MEM, 1e-9, 0.3, 330.0)
    table = ThreadTable()
    prof = ProfileSpec(phases=[PhaseSpec(instructions=1e12, **phase)])
    table.add_job(Job(0, "p", "p", 0.0, phase_table(prof), 1))
    model = IntervalModel(1, stall_activity=0.3)
    dt = 1e-3
    model.step(dt, np.array([F]), np.array([T_MEM]), np.zeros(1), np.array([0]), table)
    assert model.instructions[0] / (dt * F) == pytest.approx(p.ipc, rel=1e-9)
    assert model.active_time[0] / dt == pytest.approx(p.activity, rel=1e-9)
    acc = model.reads[0] + model.writes[0]
    assert acc * 64 / dt == pytest.approx(p.dram_bps, rel=1e-9)
    assert model.reads[0] / acc == pytest.approx(0.6)
    assert p.dyn_w == pytest.approx(1e-9 * V * V * F * p.activity)
    assert p.leak_w == pytest.approx(
        float(comet_core_leakage(np.array(330.0), np.array(V), np.array(0.0)))
    )


@pytest.mark.parametrize("name", ["chase-1c", "stream-1c", "stream-4c", "compute-1c", "mixed-1c"])
def test_fitted_phase_reproduces_the_measurement(name: str) -> None:
    m = measured(_raw(name))
    ph = fit_phase(m, T_MEM)
    p = predict(ph, m.f_hz, m.v, T_MEM, 1e-9, 0.25, 330.0)
    assert p.ipc == pytest.approx(m.ipc, rel=1e-9)
    assert p.mpki == pytest.approx(m.dram_apki, rel=1e-9)
    assert p.dram_bps == pytest.approx(m.dram_bps, rel=1e-9)
    if m.dram_reads + m.dram_writes:
        assert p.read_fraction == pytest.approx(m.read_fraction)


def test_fit_core_recovers_known_parameters() -> None:
    """Measurements made by the analytic core itself (c_eff 0.8 nF, stall 0.3, activities
    1 / 0.6 / 0.9) are fitted back exactly."""
    from comet.calibration import Measured

    phases = [
        {"cpi": 1.0, "mpki": 0.0, "read_fraction": 0.7, "mlp": 1.0, "activity": 1.0},
        {"cpi": 0.4, "mpki": 150.0, "read_fraction": 1.0, "mlp": 0.7, "activity": 0.6},
        {"cpi": 0.5, "mpki": 120.0, "read_fraction": 0.75, "mlp": 5.0, "activity": 0.9},
    ]
    ms = []
    for ph in phases:
        p = predict(ph, F, V, T_MEM, 0.8e-9, 0.3, 330.0)
        ms.append(Measured(1e-3, F, V, 1e6, 0.0, 0.0, 0.0, 0.0, p.dyn_w, 1.0))
    unit = [{**ph, "activity": 1.0} for ph in phases]
    c_eff, stall, acts = fit_core(ms, unit, T_MEM)
    # with activities in the data the split c_eff / activity is the normalisation max = 1
    assert max(acts) == pytest.approx(1.0)
    for m, ph, a in zip(ms, unit, acts, strict=True):
        p = predict({**ph, "activity": a}, F, V, T_MEM, c_eff, stall, 330.0)
        assert p.dyn_w == pytest.approx(m.dyn_w, rel=1e-6)
    # programs of activity 1: the parameters themselves
    ms1 = []
    for ph in unit:
        p = predict(ph, F, V, T_MEM, 0.8e-9, 0.3, 330.0)
        ms1.append(Measured(1e-3, F, V, 1e6, 0.0, 0.0, 0.0, 0.0, p.dyn_w, 1.0))
    c1, s1, a1 = fit_core(ms1, unit, T_MEM)
    assert c1 == pytest.approx(0.8e-9, rel=1e-6)
    assert s1 == pytest.approx(0.3, rel=1e-6)
    assert a1 == pytest.approx([1.0, 1.0, 1.0], rel=1e-6)
    # one program: c_eff alone, at a given stall activity
    with pytest.raises(ValueError, match="two programs"):
        fit_core(ms1[1:2], unit[1:2], T_MEM)
    c3, s3, a3 = fit_core(ms1[1:2], unit[1:2], T_MEM, stall_activity=0.3)
    assert (c3, s3) == pytest.approx((0.8e-9, 0.3), rel=1e-6)
    assert list(a3) == pytest.approx([1.0], rel=1e-6)


def test_table_round_trip(tmp_path: Path) -> None:
    m = measured(_raw("stream-1c"))
    b = predict({"cpi": 1.0, "mpki": 40.0, "read_fraction": 0.67, "mlp": 1.2, "activity": 0.7},
                F, V, T_MEM, 1e-9, 0.25, 330.0)  # fmt: skip
    c = predict(fit_phase(m, T_MEM), F, V, T_MEM, 1e-9, 0.25, 330.0)
    rows = table_rows("memory", "stream", m, b, c, cores=1)
    assert [r["metric"] for r in rows] == [x[0] for x in METRICS]
    by = {r["metric"]: r for r in rows}
    assert by["power"]["sniper_mcpat"] == pytest.approx(m.dyn_w + b.leak_w)
    assert by["dram_bandwidth"]["builtin_ratio"] == pytest.approx(b.dram_bps / m.dram_bps)
    assert by["ipc"]["calibrated_ratio"] == pytest.approx(1.0)
    assert math.isnan(by["l3_mpki"]["comet_builtin"])
    out = tmp_path / "t.csv"
    write_table(rows, out, ["made by a test", "command: x"])
    header, back = read_table(out)
    assert header == ["made by a test", "command: x"]
    assert len(back) == len(rows) and set(back[0]) == set(COLUMNS)
    for a, r in zip(back, rows, strict=True):
        assert a["metric"] == r["metric"] and a["cores"] == 1
        for k in COLUMNS[5:]:
            if math.isnan(r[k]):
                assert math.isnan(a[k])
            else:
                assert a[k] == pytest.approx(r[k], rel=1e-3)


def test_shipped_record_is_complete_and_consistent() -> None:
    header, rows = read_table(RECORD)
    text = "\n".join(header)
    for word in (
        "comet commit",
        "Sniper 8.1",
        "McPAT (version 1.3",
        "command: python benchmarks/calibration.py",
        "3.6 GHz",
    ):
        assert word in text
    pairs = {(r["profile"], r["program"], r["cores"]) for r in rows}
    assert ("idle", "(no thread)", 2) in pairs
    assert {
        ("compute", "compute"),
        ("mixed", "mixed"),
        ("memory", "stream"),
        ("memory", "chase"),
    } <= {p[:2] for p in pairs}
    for pair in pairs:
        mine = {r["metric"]: r for r in rows if (r["profile"], r["program"], r["cores"]) == pair}
        if pair[0] == "idle":  # a core without a thread: its power only
            assert set(mine) == {"power", "dynamic", "leakage", "mcpat_leakage"}
        else:
            assert set(mine) == {x[0] for x in METRICS}
        assert mine["power"]["sniper_mcpat"] == pytest.approx(
            mine["dynamic"]["sniper_mcpat"] + mine["leakage"]["sniper_mcpat"], rel=1e-3
        )
    # the calibrated model reproduces the runs it was fitted to (the 4-core ones)
    for r in rows:
        fitted = r["cores"] == 4 and r["metric"] in (
            "ipc",
            "dynamic",
            "dram_apki",
            "dram_bandwidth",
        )
        if fitted and not math.isnan(r["calibrated_ratio"]):
            assert r["calibrated_ratio"] == pytest.approx(1.0, rel=2e-3), r


def test_script_reports_a_missing_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    mod = _script()
    monkeypatch.delenv("SNIPER_ROOT", raising=False)
    monkeypatch.setattr(mod, "NATIVE", tmp_path)  # no READY-* files
    assert mod.main(["--out", str(tmp_path / "x.csv")]) == 2
    assert "Sniper not found" in capsys.readouterr().err
    assert mod.main(["--sniper-root", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "no run-sniper there" in capsys.readouterr().err
    fake = tmp_path / "sniper"
    for f in ("run-sniper", "record-trace", "tools/mcpat.py"):
        (fake / f).parent.mkdir(parents=True, exist_ok=True)
        (fake / f).write_text("")
    monkeypatch.delenv("COMET_MCPAT", raising=False)
    assert mod.main(["--sniper-root", str(fake), "--out", str(tmp_path / "x.csv")]) == 2
    assert "McPAT not found" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_fitted_profiles_load_as_comet_profiles() -> None:
    from comet.config import WorkloadConfig
    from comet.perf.workloads import load_profiles

    path = RECORD.with_suffix(".profiles.toml")
    profiles = load_profiles(WorkloadConfig(profile_files=[str(path)]), ROOT)
    for name in ("compute", "mixed", "stream", "chase"):
        (phase,) = profiles[name].phases
        assert 0 < phase.activity <= 1 and phase.cpi > 0


def test_shipped_defaults_are_the_recorded_fit() -> None:
    """cores.c_eff / stall_activity and the built-in profiles are the fit of the record
    (benchmarks/results/calibration.*), rounded."""
    import re
    import tomllib

    from comet.config import CoresConfig
    from comet.perf.workloads import builtin_profiles

    header, _ = read_table(RECORD)
    line = next(h for h in header if h.startswith("comet calibrated"))
    c_eff, stall = (
        float(x) for x in re.findall(r"c_eff ([0-9.e+-]+) F, stall_activity ([0-9.e+-]+)", line)[0]
    )
    cores = CoresConfig()
    assert cores.c_eff == pytest.approx(c_eff, rel=0.01)
    assert cores.stall_activity == pytest.approx(stall, abs=0.005)
    idle = float(re.findall(r"calibrated idle_activity ([0-9.e+-]+)", line)[0])
    assert cores.idle_activity == pytest.approx(idle, abs=0.005)
    fitted = tomllib.loads(RECORD.with_suffix(".profiles.toml").read_text())["profiles"]
    builtin = builtin_profiles()
    for name, program in (
        ("compute", "compute"),
        ("mixed", "mixed"),
        ("memory", "stream"),
        ("chase", "chase"),
    ):
        (phase,) = builtin[name].phases
        (want,) = fitted[program]["phases"]
        for key in ("cpi", "mpki", "read_fraction", "mlp", "activity"):
            if name == "compute" and key in ("read_fraction", "mlp"):
                continue  # no DRAM traffic: the values do not matter
            assert getattr(phase, key) == pytest.approx(want[key], rel=0.02, abs=1e-9), (name, key)


def test_idle_core_power() -> None:
    """A core without a thread beside one running compute: McPAT gives it dynamic power
    (clock network), which fit_idle turns into cores.idle_activity."""
    from comet.calibration import fit_idle, idle_rows

    raw = _raw("idle-beside-compute")
    assert raw["stats"]["performance_model.instruction_count"][1] == 0
    busy, idle = raw["cores"]
    assert 0 < idle["core_w"] < busy["core_w"]
    a = fit_idle(idle["core_w"], F, V, 0.62e-9)
    assert 0 < a < 1
    assert 0.62e-9 * V * V * F * a == pytest.approx(idle["core_w"])
    rows = {r["metric"]: r for r in idle_rows(idle["core_w"], idle["core_leak_w"], F, V, 330.0,
                                                (1e-9, 0.0), (0.62e-9, a), cores=2)}  # fmt: skip
    assert rows["dynamic"]["comet_builtin"] == 0.0
    assert rows["dynamic"]["calibrated_ratio"] == pytest.approx(1.0)
    assert rows["power"]["sniper_mcpat"] == pytest.approx(
        idle["core_w"] + rows["leakage"]["sniper_mcpat"]
    )
