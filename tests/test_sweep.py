"""Sweeps for real: local processes and a Dask LocalCluster, resuming, failures, SIGKILL,
Ctrl-C, killed workers, and comet report."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from comet import __version__
from comet.cli import main
from comet.sim.results import Run, dumps_toml
from comet.sweep import compare, load
from comet.sweep.plan import load_sweep
from comet.sweep.runner import run_sweep
from tests.loop_helpers import tiny

ROOT = Path(__file__).resolve().parents[1]
TRACES = ("temperature.csv", "power.csv", "frequency.csv", "bank_mode.csv", "events.csv")

BOOM = '''
class Boom:
    """Raises in its first step when fail is true."""

    name = "boom"

    def __init__(self, fail=False):
        self.fail = fail

    def step(self, view, control):
        if self.fail:
            raise RuntimeError("boom on purpose")
'''


def _sweep_file(tmp_path: Path, body: str, duration: str = "6ms", **sections: Any) -> Path:
    """A sweep file over the tiny 3d stack (8x8 grid) with an open Poisson workload."""
    base = tiny(
        sim={"duration": duration, "flush_every": 5},
        workload={
            "arrival": "poisson",
            "interval": "2ms",
            "count": 4,
            "mix": ["compute", "memory"],
            "instructions": 2e6,
        },
        **sections,
    )
    # top-level keys (repeat = ...) go before the tables of the base
    lines = body.splitlines(keepends=True)
    cut = next((i for i, line in enumerate(lines) if line.startswith("[")), len(lines))
    p = tmp_path / "sweep.toml"
    p.write_text("".join(lines[:cut]) + dumps_toml(base) + "\n" + "".join(lines[cut:]))
    return p


def _summaries(out: Path) -> dict[str, dict[str, Any]]:
    return {
        d.name: json.loads((d / "summary.json").read_text())
        for d in sorted((out / "runs").iterdir())
        if (d / "summary.json").exists()
    }


def _mtimes(out: Path) -> dict[str, int]:
    return {
        d.name: (d / "summary.json").stat().st_mtime_ns
        for d in (out / "runs").iterdir()
        if (d / "summary.json").exists()
    }


def test_local_sweep_runs_resumes_and_stamps(tmp_path: Path) -> None:
    p = _sweep_file(tmp_path, 'repeat = 2\n[matrix]\n"policies.dvfs" = ["ondemand", "throttle"]\n')
    plan = load_sweep(p)
    out = tmp_path / "out"
    res = run_sweep(plan, out, jobs=2, quiet=True)
    assert res.count("complete") == 4 and res.ran == 4 and not res.errors
    sums = _summaries(out)
    assert set(sums) == {r.id for r in plan.runs}
    for r in plan.runs:
        s = sums[r.id]
        assert s["status"] == "complete" and s["run_id"] == r.id
        assert s["comet_version"] == __version__
        assert s["sweep"]["params"] == r.params and s["sweep"]["seed"] == r.seed
        run = Run(out / "runs" / r.id)  # an ordinary run directory
        assert run.config["seed"] == r.seed and len(run.temperature) == 6
    index = json.loads((out / "index.json").read_text())
    assert index["counts"]["complete"] == 4 and index["varied"] == ["policies.dvfs"]
    assert not list(out.glob(".stop-*"))
    # the same command again: nothing recomputed
    before = _mtimes(out)
    res = run_sweep(plan, out, jobs=2, quiet=True)
    assert res.ran == 0 and res.count("complete") == 4
    assert _mtimes(out) == before
    # the different seeds of the Poisson arrivals give different runs
    arrivals = {r.seed: Run(out / "runs" / r.id).events for r in plan.runs}
    first = [ev[ev["kind"] == "arrival"].index.tolist() for ev in arrivals.values()]
    assert first[0] != first[1]


def test_a_failed_run_records_its_error_and_the_others_finish(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text(BOOM)
    p = _sweep_file(
        tmp_path,
        '[matrix]\n"policies.plugins" = [[{name = "boom.py:Boom", fail = true}], '
        '[{name = "boom.py:Boom", fail = false}]]\n"seed" = [1, 2]\n',
    )
    plan = load_sweep(p)
    out = tmp_path / "out"
    res = run_sweep(plan, out, jobs=2, quiet=True)
    assert res.count("failed") == 2 and res.count("complete") == 2
    sums = _summaries(out)
    failed = [s for s in sums.values() if s["status"] == "failed"]
    assert all("boom on purpose" in s["error"] for s in failed)
    assert all(s["run_id"] in res.errors for s in failed)
    # resuming skips the failed ones; --retry-failed runs them again (and they fail again)
    before = _mtimes(out)
    assert run_sweep(plan, out, jobs=2, quiet=True).ran == 0
    res = run_sweep(plan, out, jobs=2, quiet=True, retry_failed=True)
    assert res.ran == 2 and res.count("failed") == 2
    after = _mtimes(out)
    for rid, s in sums.items():
        assert (after[rid] == before[rid]) == (s["status"] == "complete")
    # the CLI says so with exit status 1
    r = CliRunner().invoke(main, ["sweep", str(p), "-o", str(out), "-q"])
    assert r.exit_code == 1 and "2/4 complete, 2 failed" in r.output


def test_a_build_error_is_a_failed_run_not_a_crash(tmp_path: Path) -> None:
    # a missing init file passes the up-front checks (the config is valid) and fails in
    # Simulation.build() (an unknown profile no longer does: the config load refuses it)
    p = _sweep_file(tmp_path, '[matrix]\n"sim.init" = ["ambient", "nosuch.init"]\n')
    plan = load_sweep(p)
    out = tmp_path / "out"
    res = run_sweep(plan, out, jobs=1, quiet=True)
    states = sorted(res.states.values())
    assert states == ["complete", "failed"], res.errors
    (rid,) = res.errors
    s = json.loads((out / "runs" / rid / "summary.json").read_text())
    assert s["status"] == "failed" and s["run_id"] == rid and s["error"]


def _traces(out: Path, rid: str) -> dict[str, bytes]:
    d = out / "runs" / rid
    return {f: (d / f).read_bytes() for f in (*TRACES, "config.toml") if (d / f).exists()}


def test_traces_identical_between_jobs_1_jobs_2_and_dask(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    p = _sweep_file(
        tmp_path,
        'repeat = 2\n[matrix]\n"policies.dvfs" = ["ondemand", "tsp"]\n',
        policies={"mapping": "coolest-first", "dram": "lowpower"},
    )
    plan = load_sweep(p)
    run_sweep(plan, tmp_path / "j1", jobs=1, quiet=True)
    run_sweep(plan, tmp_path / "j2", jobs=2, quiet=True)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        res = run_sweep(plan, tmp_path / "dask", scheduler=client, quiet=True)
    assert res.count("complete") == len(plan)
    for r in plan.runs:
        one = _traces(tmp_path / "j1", r.id)
        assert set(one) >= {"temperature.csv", "events.csv", "config.toml"}
        assert one == _traces(tmp_path / "j2", r.id)
        assert one == _traces(tmp_path / "dask", r.id)


@pytest.mark.slow
def test_dask_lost_worker_is_rescheduled(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    p = _sweep_file(tmp_path, '[matrix]\n"seed" = [1, 2, 3, 4]\n', duration="1.5s")
    plan = load_sweep(p)
    out = tmp_path / "out"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        import threading

        killed: list[int] = []

        def kill_one() -> None:  # kill the worker process running the first run to start
            pid = _wait_running_pid(out, timeout=120)
            if pid is not None and pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        t = threading.Thread(target=kill_one)
        t.start()
        res = run_sweep(plan, out, scheduler=client, quiet=True)
        t.join()
    assert killed, "no run was seen running"
    assert res.count("complete") == 4, res.errors
    for s in _summaries(out).values():  # the killed run was rescheduled and ran whole
        assert s["status"] == "complete" and s["epochs"] == 1500


def _wait_running_pid(out: Path, timeout: float) -> int | None:
    """The pid in the .running mark of a run that has written a few epochs."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for mark in (out / "runs").glob("*/.running") if (out / "runs").exists() else []:
            try:
                info = json.loads(mark.read_text())
                lines = (mark.parent / "temperature.csv").read_bytes().count(b"\n")
            except (OSError, ValueError):
                continue
            if lines > 50:
                return int(info["pid"])
        time.sleep(0.05)
    return None


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from comet.cli import main; main()", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_sigkill_of_the_whole_sweep_then_resume(tmp_path: Path) -> None:
    p = _sweep_file(tmp_path, '[matrix]\n"seed" = [1, 2, 3, 4, 5, 6]\n', duration="400ms")
    plan = load_sweep(p)
    out = tmp_path / "out"
    log = tmp_path / "first.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            _cli("sweep", str(p), "-o", str(out), "--jobs", "2", "-q"),
            env=_env(),
            start_new_session=True,  # its own process group, workers included
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        try:
            end = time.monotonic() + 120
            while time.monotonic() < end and len(_done(out)) < 2:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.05)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    done_before = _done(out)
    assert 2 <= len(done_before) < len(plan)
    before = {rid: _mtimes(out)[rid] for rid in done_before}
    r = subprocess.run(
        _cli("sweep", str(p), "-o", str(out), "--jobs", "2", "-q"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(plan) - len(done_before)} submitted now" in r.stdout
    assert _done(out) == {x.id for x in plan.runs}
    after = _mtimes(out)
    assert {rid: after[rid] for rid in done_before} == before  # not recomputed
    for x in plan.runs:  # each complete once: full traces, no leftovers of the killed attempt
        run = Run(out / "runs" / x.id)
        assert run.summary["epochs"] == 400 and len(run.temperature) == 400
        assert not (out / "runs" / x.id / ".running").exists()


def _done(out: Path) -> set[str]:
    return (
        {rid for rid, s in _summaries(out).items() if s["status"] == "complete"}
        if (out / "runs").exists()
        else set()
    )


@pytest.mark.slow
def test_killed_local_worker_is_resubmitted(tmp_path: Path) -> None:
    p = _sweep_file(tmp_path, '[matrix]\n"seed" = [1, 2, 3]\n', duration="600ms")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _cli("sweep", str(p), "-o", str(out), "--jobs", "2", "-q"),
        env=_env(),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pid = _wait_running_pid(out, timeout=120)
        assert pid is not None and pid != proc.pid
        os.kill(pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    assert "3/3 complete" in output
    index = json.loads((out / "index.json").read_text())
    assert sum(e["attempts"] for e in index["runs"]) >= 1
    for s in _summaries(out).values():
        assert s["status"] == "complete" and s["epochs"] == 600


@pytest.mark.slow
def test_ctrl_c_stops_at_an_epoch_boundary_and_resumes(tmp_path: Path) -> None:
    p = _sweep_file(tmp_path, '[matrix]\n"seed" = [1, 2, 3, 4]\n', duration="1.5s")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _cli("sweep", str(p), "-o", str(out), "--jobs", "2", "-q"),
        env=_env(),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert _wait_running_pid(out, timeout=120) is not None
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, output
    sums = _summaries(out)
    stopped = [rid for rid, s in sums.items() if s["status"] == "interrupted"]
    assert stopped, sums
    epochs = []
    for rid in stopped:  # traces and summary agree row for row
        run = Run(out / "runs" / rid)
        assert run.summary["epochs"] == len(run.temperature) < 1500
        epochs.append(run.summary["epochs"])
    assert max(epochs) > 50  # the run seen running was stopped mid-way
    # SIGINT to the driver alone (no terminal): the stop file reaches the workers
    proc = subprocess.Popen(
        _cli("sweep", str(p), "-o", str(out), "--jobs", "2", "-q"),
        env=_env(),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(1.0)
        assert _wait_running_pid(out, timeout=120) is not None
        os.kill(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, output
    r = CliRunner().invoke(main, ["sweep", str(p), "-o", str(out), "-q", "--jobs", "2"])
    assert r.exit_code == 0, r.output
    assert all(s["status"] == "complete" for s in _summaries(out).values())


def test_dry_run_and_report(tmp_path: Path) -> None:
    p = _sweep_file(tmp_path, 'repeat = 3\n[matrix]\n"policies.dvfs" = ["ondemand", "throttle"]\n')
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", str(p), "-o", str(out), "--dry-run"])
    assert r.exit_code == 0 and "6 to run, 0 to skip" in r.output
    assert not out.exists()
    plan = load_sweep(p)
    run_sweep(plan, out, jobs=2, quiet=True)
    r = CliRunner().invoke(main, ["sweep", str(p), "-o", str(out), "--dry-run"])
    assert "0 to run, 6 to skip" in r.output
    df = load(out)
    assert len(df) == 6 and (df["status"] == "complete").all()
    for col in (
        "policies.dvfs",
        "repeat",
        "seed",
        "peak_core_degC",
        "mean_dram_degC",
        "time_above_80C_s",
        "energy_J",
        "instructions",
        "mean_response_s",
        "dtm_count",
        "migrations",
    ):
        assert col in df.columns, col
    s = Run(out / "runs" / plan.runs[0].id).summary
    peak = max(v for k, v in s["peak_degC"].items() if k.startswith("C_"))
    assert df.loc[df["id"] == plan.runs[0].id, "peak_core_degC"].item() == pytest.approx(peak)
    # mean and t-interval over the three repeats of each policy
    table = compare(df, ["policies.dvfs"], ["energy_J"])
    x = df.loc[df["policies.dvfs"] == "throttle", "energy_J"].to_numpy()
    half = 4.302652729911275 * x.std(ddof=1) / math.sqrt(3)  # t_{0.975, 2}
    row = table.loc["throttle"]
    assert row[("energy_J", "mean")] == pytest.approx(x.mean())
    assert row[("energy_J", "ci_high")] - row[("energy_J", "mean")] == pytest.approx(half)
    assert row[("runs", "")] == 3
    # the CLI prints the table and the comparison and writes CSV and plots
    rep = tmp_path / "rep"
    r = CliRunner().invoke(
        main,
        ["report", str(out), "--by", "policies.dvfs", "-o", str(rep)]
        + ["--metric", "peak_core_degC", "--metric", "energy_J"],
    )
    assert r.exit_code == 0, r.output
    assert "comparison" in r.output and "throttle" in r.output and "±" in r.output
    assert sorted(p.name for p in rep.glob("*.png")) == ["energy_J.png", "peak_core_degC.png"]
    assert pd.read_csv(rep / "runs.csv").shape[0] == 6
    assert "energy_J_mean" in pd.read_csv(rep / "comparison.csv").columns
    assert (rep / "peak_core_degC.png").stat().st_size > 1000
    r = CliRunner().invoke(main, ["report", str(out), "--by", "policies.dvfz"])
    assert r.exit_code == 2 and "--by policies.dvfz: not a column" in r.output


def test_report_on_a_partial_sweep(tmp_path: Path) -> None:
    p = _sweep_file(tmp_path, '[matrix]\n"seed" = [1, 2, 3]\n')
    plan = load_sweep(p)
    out = tmp_path / "out"
    run_sweep(plan, out, jobs=1, quiet=True)
    # one run killed mid-way (summary gone, a cut last line), one never started
    killed, never = plan.runs[1].id, plan.runs[2].id
    (out / "runs" / killed / "summary.json").unlink()
    t = out / "runs" / killed / "temperature.csv"
    t.write_bytes(t.read_bytes()[:-7])
    import shutil

    shutil.rmtree(out / "runs" / never)
    df = load(out).set_index("id")
    assert df.loc[plan.runs[0].id, "status"] == "complete"
    assert df.loc[killed, "status"] == "incomplete" and df.loc[killed, "peak_core_degC"] > 20
    assert df.loc[never, "status"] == "pending" and math.isnan(df.loc[never, "energy_J"])
    r = CliRunner().invoke(main, ["report", str(out), "--no-plots"])
    assert r.exit_code == 0, r.output and "1 complete" in r.output
    # resuming finishes exactly the two
    assert run_sweep(plan, out, jobs=1, quiet=True).ran == 2
    assert (load(out)["status"] == "complete").all()
    # any directory of run directories: the parameters come from the stamped summaries
    loose = tmp_path / "loose"
    shutil.copytree(out / "runs", loose)
    df = load(loose)
    assert sorted(df["seed"]) == [1, 2, 3] and (df["status"] == "complete").all()


def test_refuses_a_directory_that_is_not_a_sweep(tmp_path: Path) -> None:
    p = _sweep_file(tmp_path, '[matrix]\n"seed" = [1]\n')
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    r = CliRunner().invoke(main, ["sweep", str(p), "-o", str(tmp_path / "mine")])
    assert r.exit_code == 2 and "not a sweep directory" in r.output
    r = CliRunner().invoke(main, ["sweep", str(tmp_path / "nope.toml")])
    assert r.exit_code == 2 and "sweep file not found" in r.output


@pytest.mark.slow
def test_cli_on_a_dask_scheduler_and_workers_started_like_the_readme(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    p = _sweep_file(tmp_path, '[matrix]\n"seed" = [1, 2, 3]\n')
    info = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    common = {"env": _env(), "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    sched = subprocess.Popen(
        [*dask, "--scheduler-file", str(info), "--port", "0", "--dashboard-address", ":0"],
        start_new_session=True,
        **common,
    )
    worker = None
    try:
        end = time.monotonic() + 60
        while not info.exists() and time.monotonic() < end:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--no-dashboard",
            ],
            start_new_session=True,
            **common,
        )
        out = tmp_path / "out"
        r = subprocess.run(
            _cli("sweep", str(p), "-o", str(out), "--scheduler", address, "-q"),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "3/3 complete" in r.stdout
        states = {s["status"] for s in _summaries(out).values()}
        assert states == {"complete"}
    finally:
        for proc in (worker, sched):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
    r = CliRunner().invoke(
        main, ["sweep", str(p), "-o", str(tmp_path / "x"), "--scheduler", "tcp://127.0.0.1:1", "-q"]
    )
    assert r.exit_code == 2 and "cannot reach a Dask scheduler" in r.output


SUICIDE = '''
import os
import signal


class Suicide:
    """Kills its own process (the worker) in its 50th step when die is true."""

    name = "suicide"

    def __init__(self, die=False):
        self.die = die
        self.steps = 0

    def step(self, view, control):
        self.steps += 1
        if self.die and self.steps == 50:
            os.kill(os.getpid(), signal.SIGKILL)
'''


@pytest.mark.slow
def test_a_run_that_keeps_killing_its_worker_is_failed_after_3_attempts(tmp_path: Path) -> None:
    (tmp_path / "suicide.py").write_text(SUICIDE)
    p = _sweep_file(
        tmp_path,
        '[zip]\n"policies.plugins" = [[{name = "suicide.py:Suicide", die = true}], '
        '[{name = "suicide.py:Suicide", die = false}]]\n"sim.duration" = ["100ms", "1s"]\n',
    )
    plan = load_sweep(p)
    out = tmp_path / "out"
    # two workers: the good run is running each time the bad one kills its worker; the pool
    # then stops it (SIGTERM: interrupted at an epoch boundary), which is not its fault
    res = run_sweep(plan, out, jobs=2, quiet=True)
    bad, good = plan.runs
    assert res.states == {bad.id: "failed", good.id: "complete"}
    s = json.loads((out / "runs" / bad.id / "summary.json").read_text())
    assert s["status"] == "failed" and "worker lost 3 time(s)" in s["error"]
    assert s["run_id"] == bad.id
    index = {e["id"]: e for e in json.loads((out / "index.json").read_text())["runs"]}
    assert index[bad.id]["attempts"] == 3 and index[bad.id]["status"] == "failed"
    assert index[good.id]["attempts"] == 0
    assert Run(out / "runs" / good.id).summary["epochs"] == 1000
