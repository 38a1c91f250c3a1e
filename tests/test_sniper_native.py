"""The Sniper bridge and the McPAT fit against the real tools, where they are built beside the
project (``/work/native/READY-sniper``: ``SNIPER_ROOT=...`` and the recorded ``.sift`` traces;
``READY-mcpat``: ``COMET_MCPAT=...``; or ``$SNIPER_ROOT``, ``$COMET_SNIPER_TRACES`` (comma
separated) and ``$COMET_MCPAT``). Skipped when absent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from comet.perf.protocol import EpochInputs, PerfSystem
from comet.perf.sniper import SniperPerformance
from comet.perf.workloads import Job

pytestmark = pytest.mark.native

NATIVE = Path(os.environ.get("COMET_NATIVE_DIR", "/work/native"))


def _ready(name: str) -> dict[str, str]:
    path = NATIVE / name
    out: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                out[key.strip()] = value.strip()
        out["_text"] = path.read_text()
    return out


def _sniper() -> tuple[str, list[str]]:
    info = _ready("READY-sniper")
    root = os.environ.get("SNIPER_ROOT") or info.get("SNIPER_ROOT")
    env_traces = os.environ.get("COMET_SNIPER_TRACES")
    if env_traces:
        traces = env_traces.split(",")
    else:
        traces = sorted(set(re.findall(r"(/\S+?\.sift)\b", info.get("_text", ""))))
    traces = [t for t in traces if Path(t).is_file()]
    if not root or not (Path(root) / "run-sniper").is_file() or len(traces) < 2:
        pytest.skip("Sniper or its recorded traces not built beside the project")
    return root, traces


def _pick(traces: list[str], word: str) -> str:
    hits = [t for t in traces if word in Path(t).name]
    return hits[0] if hits else traces[0]


def _system(tmp_path: Path, n: int, epoch: float) -> PerfSystem:
    return PerfSystem(
        n_cores=n,
        n_banks=16,
        core_names=tuple(f"C_{i}" for i in range(n)),
        bank_names=tuple(f"B_{i}" for i in range(16)),
        epoch_s=epoch,
        f_levels_hz=np.array([1e9, 2e9, 3e9, 4e9]),
        f_init_hz=2e9,
        n_epochs=100,
        base_dir=tmp_path,
        run_dir=tmp_path / "run",
    )


def _sniper_stats(root: str, results: Path, a: str, b: str) -> dict:
    """Sniper's own statistics between two of comet's snapshots, read by Sniper's tools."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1] + '/tools'); import sniper_lib; "
        "r = sniper_lib.get_results(resultsdir=sys.argv[2], partial=(sys.argv[3], sys.argv[4]));"
        "k = ('performance_model.instruction_count', 'performance_model.elapsed_time');"
        "json.dump({x: r['results'][x] for x in k}, sys.stdout)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, root, str(results), a, b],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_real_sniper_lockstep_frequencies_and_migration(tmp_path):
    root, traces = _sniper()
    compute, memory = _pick(traces, "compute"), _pick(traces, "memory")
    epoch = 0.5e-3
    model = SniperPerformance(sniper_root=root, stats_every=1, epoch_timeout=900)
    model.start(_system(tmp_path, 2, epoch))
    model.admit(Job(0, "compute", "trace", 0.0, np.zeros((1, 7)), 1, trace=compute))
    model.admit(Job(1, "memory", "trace", 0.0, np.zeros((1, 7)), 1, trace=memory))
    plan = [
        ((2.0e9, 2.0e9), (0, 1)),
        ((4.0e9, 1.0e9), (0, 1)),
        ((1.0e9, 3.0e9), (0, 1)),
        ((3.0e9, 2.0e9), (1, 0)),  # swap: memory on core 0, compute on core 1
        ((3.0e9, 2.0e9), (1, 0)),
        ((2.0e9, 4.0e9), (1, 0)),
    ]
    ipns, seen = [], []
    busy_sum, active_sum = np.zeros(2), np.zeros(2)
    try:
        for freqs, placement in plan:
            inp = EpochInputs(
                dt=epoch, freq_hz=np.array(freqs), thread_of_core=np.array(placement),
                lost_s=np.zeros(2), t_mem_s=np.zeros(2), bank_latency_s=np.zeros(16),
            )  # fmt: skip
            model.step(inp)
            np.testing.assert_allclose(model.sniper_freq_hz, freqs)  # in force in Sniper
            c = model.counters
            # the CPI stack adds up to the time not idle, over the run (Sniper books some
            # stalls when they end, so one epoch may hold part of the previous one's)
            busy_sum += c.compute_time + c.memory_time + c.lost_time + c.sleep_time
            rec = model.last_record["cores"]
            active_sum += (np.array(rec["elapsed_fs"]) - np.array(rec["idle_fs"])) * 1e-15
            core_c = placement.index(0)
            ipns.append(c.instructions[core_c] / (epoch * 1e9))
            seen.append(list(model.placement))
            print(freqs, placement, c.instructions, model.placement,
                  {k: v.round(7).tolist() for k, v in c.cpi.items() if v.any()})  # fmt: skip
    finally:
        model.close()
    print("timing", model.timing_summary)
    print("busy", busy_sum, "active", active_sum)
    np.testing.assert_allclose(busy_sum, active_sum, rtol=0.1)
    # the compute-bound trace's instructions per ns follow its core's frequency
    f_compute = [f[p.index(0)] for f, p in plan]
    ratio = np.array(ipns) / (np.array(f_compute) / 1e9)
    assert ratio[1:].std() / ratio[1:].mean() < 0.2, (ipns, f_compute)
    assert seen[-1][:2] == [1, 0]  # migration happened (Sniper's own thread->core hook)
    # Sniper's own statistics of epoch 3 (comet-2 .. comet-3 snapshots) agree with the bridge
    out = tmp_path / "run" / "sniper"
    log = (out / "sniper.log").read_text(errors="replace")
    assert "to 4000 MHz" in log and "to 1000 MHz" in log
    stats = _sniper_stats(root, out, "comet-2", "comet-3")
    instr = stats["performance_model.instruction_count"]
    assert instr[0] > 0 and instr[1] > 0
    # epoch 3: compute on core 0 at 1 GHz vs epoch 2 at 4 GHz
    stats2 = _sniper_stats(root, out, "comet-1", "comet-2")
    r = stats2["performance_model.instruction_count"][0] / instr[0]
    assert 2.5 < r < 5.0, r


@pytest.mark.slow
def test_real_mcpat_samples(tmp_path):
    root, traces = _sniper()
    mcpat = os.environ.get("COMET_MCPAT") or _ready("READY-mcpat").get("COMET_MCPAT")
    if not mcpat or not Path(mcpat).is_file():
        pytest.skip("McPAT not built beside the project")
    from comet.power.mcpat import mcpat_samples, run_sniper_point

    run = run_sniper_point(
        Path(root) / "run-sniper", tmp_path / "f2000", traces[:2], 2e9, 1.0, 0.5e-3
    )
    samples, raw = mcpat_samples(run, root, mcpat, voltage=1.0)
    assert len(samples) == 2
    for s in samples:
        assert s.p_dyn_w > 0 and s.rates["instructions"] > 0 and s.rates["cycles"] > 0
        print(s.f_hz, s.v, s.p_dyn_w, {k: f"{v:.3g}" for k, v in s.rates.items()})


def test_real_sniper_live_program(tmp_path):
    root, traces = _sniper()
    prog = Path(traces[0]).with_suffix("")  # the compiled program next to its trace
    if not os.access(prog, os.X_OK):
        pytest.skip(f"no program {prog} next to the trace")
    if not list((Path(root) / "frontend").glob("**/dr-frontend*")) and not list(
        (Path(root) / "frontend").glob("**/libdr-frontend*")
    ):
        pytest.skip("Sniper's DynamoRIO frontend not built")
    epoch = 0.2e-3
    model = SniperPerformance(sniper_root=root, epoch_timeout=900)
    model.start(_system(tmp_path, 1, epoch))
    model.admit(Job(0, "live", "cmd", 0.0, np.zeros((1, 7)), 1, command=[str(prog), "100000"]))
    instr = []
    try:
        for f in (2e9, 4e9, 1e9):
            inp = EpochInputs(
                dt=epoch, freq_hz=np.array([f]), thread_of_core=np.array([0]),
                lost_s=np.zeros(1), t_mem_s=np.zeros(1), bank_latency_s=np.zeros(16),
            )  # fmt: skip
            model.step(inp)
            np.testing.assert_allclose(model.sniper_freq_hz, [f])
            instr.append(model.counters.instructions[0])
    finally:
        model.close()
    print("live instructions per epoch", instr)
    assert instr[1] > instr[2] > 0
