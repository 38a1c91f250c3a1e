"""``comet run`` and ``comet replay`` through click's runner, and a real SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from comet.cli import main
from comet.sim.results import Run, dumps_toml
from tests.loop_helpers import tiny

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, **sections: object) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(dumps_toml(tiny(**sections)))
    return p


def test_run_writes_the_directory_and_a_summary(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main,
        [
            "run",
            str(cfg),
            "-o",
            str(out),
            "-q",
            "--set",
            "sim.duration=8ms",
            "--set",
            "policies.dvfs=ondemand",
        ],
    )
    assert res.exit_code == 0, res.output
    for label in ("status", "complete", "peak core", "energy", "instructions", "jobs done"):
        assert label in res.output
    run = Run(out)
    assert run.summary["epochs"] == 8
    assert run.config["policies"]["dvfs"][0]["name"] == "ondemand"  # the resolved config
    # the loop's own speed leaves out the set-up, so it is the higher of the two
    assert run.summary["loop_epochs_per_s"] >= run.summary["epochs_per_s"] > 0
    assert "epochs/s in the loop" in res.output


def test_run_default_directory_and_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(cfg), "-q", "--set", "sim.duration=3ms"]).exit_code == 0
    assert (tmp_path / "runs" / "tiny" / "summary.json").is_file()
    again = runner.invoke(main, ["run", str(cfg), "-q", "--set", "sim.duration=3ms"])
    assert again.exit_code == 2 and "already exists" in again.output
    forced = runner.invoke(
        main, ["run", str(cfg), "-q", "--overwrite", "--set", "sim.duration=3ms"]
    )
    assert forced.exit_code == 0


def test_policy_option_adds_a_plugin(tmp_path: Path) -> None:
    plugin = ROOT / "examples" / "plugins" / "my_policy.py"
    cfg = _config(tmp_path, sim={"duration": "4ms", "init": 90})
    res = CliRunner().invoke(
        main,
        ["run", str(cfg), "-o", str(tmp_path / "o"), "-q", "--policy", f"{plugin}:LinearDerating"],
    )
    assert res.exit_code == 0, res.output
    run = Run(tmp_path / "o")
    assert run.frequency.iloc[-1].max() == pytest.approx(1.0)  # at 90 C: derated to f_min
    assert "derating" in set(run.events["kind"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "sim.duration=soon"], "sim.duration:"),
        (["--set", "policies.dvfs=warp"], "unknown policy 'warp'"),
        (["--set", "architecture.cores=0x2"], "architecture.cores:"),
        (["--set", "nonsense"], "expected key=value"),
    ],
)
def test_run_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    cfg = _config(tmp_path)
    res = CliRunner().invoke(main, ["run", str(cfg), "-q", "-o", str(tmp_path / "o"), *args])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert res.output.strip().count("\n") == 0


def test_missing_config_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["run", str(tmp_path / "none.toml")])
    assert res.exit_code == 2 and "run config not found" in res.output


def test_raising_plugin_exits_1_and_keeps_traces(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "class Bad:\n"
        "    def step(self, view, control):\n"
        "        if view.epoch == 2:\n"
        "            raise ValueError('no good')\n"
    )
    cfg = _config(tmp_path, policies={"plugins": ["bad.py:Bad"]})
    res = CliRunner().invoke(main, ["run", str(cfg), "-q", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "policy 'bad.py:Bad' raised at epoch 2" in res.output and "no good" in res.output
    run = Run(tmp_path / "o")
    assert run.status == "failed" and len(run.temperature) == 3


def test_help() -> None:
    for verb in ("run", "replay"):
        res = CliRunner().invoke(main, [verb, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output


def test_replay_cli(tmp_path: Path) -> None:
    trace = tmp_path / "p.ptrace"
    trace.write_text("C_0 C_1 C_2 C_3\n" + "2 2 2 2\n" * 5)
    out = tmp_path / "rep"
    res = CliRunner().invoke(
        main,
        [
            "replay",
            str(trace),
            "--kind",
            "3d",
            "--param",
            "grid_rows=8",
            "--param",
            "grid_cols=8",
            "--interval",
            "2ms",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    run = Run(out)
    assert len(run.temperature) == 5
    assert run.temperature.index[-1] == pytest.approx(0.01)
    assert (run.temperature.diff().iloc[1:] > 0).all().all()  # heating up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one stack"),
        (["--kind", "3d", "--flp", "{flp}"], "give exactly one stack"),
        (["--param", "cores=2x2", "--lcf", "{flp}"], "--param needs --kind"),
        (["--kind", "3d", "--interval", "soon"], "--interval"),
        (["--kind", "9d"], "unknown configuration"),
    ],
)
def test_replay_errors(tmp_path: Path, args: list[str], message: str) -> None:
    trace = tmp_path / "p.ptrace"
    trace.write_text("C_0\n1\n")
    flp = tmp_path / "a.flp"
    flp.write_text("C_0 0.001 0.001 0 0\n")
    argv = ["replay", str(trace), *[a.format(flp=flp) for a in args]]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2 and message in res.output


def test_replay_of_a_hotspot_floorplan(tmp_path: Path) -> None:
    ref = ROOT / "tests" / "data" / "reference" / "ev6"
    out = tmp_path / "gcc"
    res = CliRunner().invoke(
        main,
        [
            "replay",
            str(ref / "gcc.ptrace"),
            "--flp",
            str(ref / "ev6.flp"),
            "-c",
            str(ref / "hotspot.config"),
            "--materials",
            str(ref / "example.materials"),
            "--interval",
            "1ms",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    run = Run(out)
    assert run.temperature.shape[1] == 30  # the ev6 units
    assert (run.path / "stack" / "ev6.flp").is_file()


def test_replay_through_the_stack_of_a_run(tmp_path: Path) -> None:
    cfg = _config(tmp_path, sim={"duration": "4ms"})
    closed = tmp_path / "closed"
    assert CliRunner().invoke(main, ["run", str(cfg), "-o", str(closed), "-q"]).exit_code == 0
    trace = tmp_path / "p.ptrace"
    trace.write_text("C_0 C_1\n3 3\n3 3\n")
    res = CliRunner().invoke(
        main,
        ["replay", str(trace), "--stack", str(closed / "stack"), "-o", str(tmp_path / "r"), "-q"],
    )
    assert res.exit_code == 0, res.output
    assert list(Run(tmp_path / "r").temperature.columns) == ["C_0", "C_1"]


@pytest.mark.slow
def test_sigterm_leaves_partial_traces_and_an_interrupted_summary(tmp_path: Path) -> None:
    cfg = _config(tmp_path, sim={"duration": "600s", "flush_every": 1})
    out = tmp_path / "long"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from comet.cli import main; main()",
            "run",
            str(cfg),
            "-o",
            str(out),
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.time() + 120
        temp = out / "temperature.csv"
        while time.time() < deadline:
            if temp.is_file() and temp.read_text().count("\n") > 20:
                break
            if proc.poll() is not None:  # it died: show why
                pytest.fail(f"the run stopped early: {proc.communicate()[1].decode()}")
            time.sleep(0.2)
        else:
            pytest.fail("the run did not start")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == 130, err.decode()
    run = Run(out)
    assert run.status == "interrupted"
    assert run.summary["error"] == "interrupted"
    assert len(run.temperature) >= 20
    assert run.summary["epochs"] == len(run.temperature)
