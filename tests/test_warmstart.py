"""Warm starts and saved state: ``sim.init`` from a run directory, a HotSpot node file or a
steady state of a given power; ``sim.warmup``; ``comet run --init-from`` / ``--resume``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from comet.cli import main
from comet.config import load_config
from comet.errors import InputError
from comet.sim.engine import Simulation
from comet.sim.results import Run
from comet.thermal.traces import read_node_dump, write_ptrace

DATA = Path(__file__).parent / "data"


def _cfg(duration: str = "12ms", **sim: Any) -> dict[str, Any]:
    return {
        "name": "ws",
        "seed": 1,
        "sim": {"duration": duration, "epoch": "1ms", **sim},
        "architecture": {"kind": "3d", "cores": "2x2", "banks": "4x4x2", "grid": "8x8"},
        "workload": {"jobs": [{"profile": "memory", "threads": 4, "instructions": 1e12}]},
    }


def _nodes(run_dir: Path) -> np.ndarray:
    with np.load(run_dir / "state.npz") as z:
        return np.concatenate([z[f"nodes_{s}"] for s in range(int(z["n_stacks"]))])


@pytest.mark.parametrize(
    ("solver", "precision"),
    [("structured", "double"), ("structured", "mixed"), ("sparse", "double")],
)
def test_init_from_run_equals_one_run(tmp_path: Path, solver: str, precision: str) -> None:
    """5 ms, then 7 ms from its state == 12 ms in one run (every node, to 1e-9 K): the
    workload's power is stationary here (one phase, fixed frequency), as --init-from carries
    the thermal state and the clock but starts the workload anew."""
    opts = {"solver": solver, "precision": precision}
    whole = Simulation(_cfg("12ms", **opts)).run(tmp_path / "whole")
    Simulation(_cfg("5ms", **opts)).run(tmp_path / "a")
    second = Simulation(_cfg("7ms", init={"run": str(tmp_path / "a")}, **opts)).run(tmp_path / "b")
    assert np.abs(_nodes(tmp_path / "whole") - _nodes(tmp_path / "b")).max() <= 1e-9
    np.testing.assert_allclose(second.temperature.index, whole.temperature.index[5:], atol=1e-12)
    np.testing.assert_array_equal(second.temperature.to_numpy(), whole.temperature.to_numpy()[5:])
    assert second.summary["start_time_s"] == pytest.approx(0.005)
    assert "run state" in second.summary["init"][0]


def test_cli_init_from_chains_runs(tmp_path: Path) -> None:
    cfg = tmp_path / "ws.toml"
    cfg.write_text(
        'name = "ws"\n[sim]\nduration = "6ms"\n[architecture]\nkind = "3d"\ncores = "2x2"\n'
        'banks = "4x4x2"\ngrid = "8x8"\n[[workload.jobs]]\nprofile = "memory"\nthreads = 4\n'
        "instructions = 1e12\n"
    )
    r = CliRunner()
    assert r.invoke(main, ["run", str(cfg), "-o", str(tmp_path / "a"), "-q"]).exit_code == 0
    out = r.invoke(
        main, ["run", str(cfg), "-o", str(tmp_path / "b"), "-q", "--init-from", str(tmp_path / "a")]
    )
    assert out.exit_code == 0, out.output
    assert "run state" in out.output
    assert Run(tmp_path / "b").temperature.index[0] == pytest.approx(0.007)
    bad = r.invoke(main, ["run", str(cfg), "-o", str(tmp_path / "c"), "--init-from", "nowhere"])
    assert bad.exit_code != 0 and "not found" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_resume_interrupted_run_is_exact(tmp_path: Path) -> None:
    """A run stopped after 5 epochs, resumed, ends as the uninterrupted run: same traces,
    events, frequencies (a DVFS policy acts) and jobs."""
    data = _cfg("12ms", snapshot_every="2ms")
    data["workload"]["jobs"] = [
        {"profile": "compute", "threads": 2, "instructions": 2e7},
        {"profile": "memory", "threads": 2, "instructions": 1e7, "arrival": "3ms"},
    ]
    data["policies"] = {"dvfs": "ondemand"}
    whole = Simulation(copy.deepcopy(data)).run(tmp_path / "whole")
    sim = Simulation(copy.deepcopy(data))

    def stop_after_5(done: int, n: int, t: float) -> None:
        if done >= 5:
            sim.stop_requested = True

    with pytest.raises(KeyboardInterrupt):
        sim.run(tmp_path / "cut", progress=stop_after_5, progress_every=1)
    assert Run(tmp_path / "cut").status == "interrupted"
    assert (tmp_path / "cut" / "state.pkl").is_file()
    out = CliRunner().invoke(main, ["run", "--resume", str(tmp_path / "cut"), "-q"])
    assert out.exit_code == 0, out.output
    resumed = Run(f"{tmp_path / 'cut'}-resumed")
    assert np.abs(_nodes(tmp_path / "whole") - _nodes(resumed.path)).max() <= 1e-9
    np.testing.assert_array_equal(resumed.temperature.to_numpy(), whole.temperature.to_numpy())
    np.testing.assert_array_equal(resumed.frequency.to_numpy(), whole.frequency.to_numpy())
    assert resumed.summary["instructions"] == pytest.approx(whole.summary["instructions"], 1e-12)
    assert resumed.summary["jobs"] == whole.summary["jobs"]
    assert resumed.grid is not None and whole.grid is not None
    np.testing.assert_array_equal(resumed.grid.times_s, whole.grid.times_s)
    kinds = [k for k in resumed.events["kind"] if k != "resume"]
    assert kinds == list(whole.events["kind"])
    done = CliRunner().invoke(main, ["run", "--resume", str(tmp_path / "whole")])
    assert done.exit_code != 0 and "complete" in done.output


def _steady_file_of_processor(tmp_path: Path, kind: str = "steady") -> tuple[Path, Path]:
    """A 3dmem run's processor stack (its stack/ folder) through ``comet hotspot``: the steady
    file of 3 W per core, or (``kind="transient"``) the -all_transient_file after 20 ms of
    it (-o + -all_transient_file, HotSpot's chaining output)."""
    data = _cfg("2ms")
    data["architecture"]["kind"] = "3dmem"
    Simulation(data).run(tmp_path / "r")
    proc = tmp_path / "r" / "stack" / "processor"
    rows = 1 if kind == "steady" else 20
    write_ptrace(proc / "p.ptrace", ["C_0", "C_1", "C_2", "C_3"], np.full((rows, 4), 3.0))
    args = ["-c", "hotspot.config", "-grid_layer_file", "stack.lcf", "-p", "p.ptrace", "-q"]
    if kind == "steady":
        args += ["-steady_file", "p.steady"]
        target = proc / "p.steady"
    else:
        args += ["-sampling_intvl", "0.001", "-o", "p.ttrace", "-all_transient_file", "p.init"]
        target = proc / "p.init"
    import os

    cwd = os.getcwd()
    os.chdir(proc)
    try:
        out = CliRunner().invoke(main, ["hotspot", *args])
    finally:
        os.chdir(cwd)
    assert out.exit_code == 0, out.output
    return target, tmp_path / "r"


@pytest.mark.parametrize("kind", ["steady", "transient"])
def test_hotspot_node_file_starts_a_run_at_its_temperatures(tmp_path: Path, kind: str) -> None:
    steady, _ = _steady_file_of_processor(tmp_path, kind)
    names, values = read_node_dump(steady)
    data = _cfg("1ms", init=str(steady))
    data["architecture"]["kind"] = "3dmem"
    sim = Simulation(data)
    sim.build()
    sim._init_temperatures()
    got_names, got = sim.models[0].dump()
    lookup = dict(zip(names, values, strict=True))
    np.testing.assert_allclose(got, [lookup[n] for n in got_names], atol=1e-9)
    assert "all 19 nodes matched stack 'processor'" in sim.init_info[0]
    assert "no init file, left at ambient" in sim.init_info[1]
    amb = float(sim.thermal_configs[1].ambient)
    np.testing.assert_allclose(sim.models[1].temperature, amb)
    run = Simulation(data).run(tmp_path / "warm")
    t_file = lookup["layer_0_C_0"] - 273.15
    assert abs(run.temperature["C_0"].iloc[0] - t_file) < 0.5  # one epoch from the file
    assert t_file > 45.0 + 1.0  # above the ambient a cold start begins at
    assert any("matched stack 'processor'" in d for d in run.events["detail"])


def test_comets_init_file_is_refused_in_one_line() -> None:
    """CoMeT's own 3Dmem cores.init (stored test data) has the secondary heat path."""
    data = _cfg("1ms", init=str(DATA / "comet_init" / "hotspot" / "3Dmem" / "cores.init"))
    data["architecture"]["kind"] = "3dmem"
    sim = Simulation(data)
    sim.build()
    with pytest.raises(InputError) as err:
        sim._init_temperatures()
    msg = str(err.value)
    assert "does not fit the stack" in msg and "secondary heat path" in msg
    assert "\n" not in msg


def test_mismatching_init_file_is_a_one_line_cli_error(tmp_path: Path) -> None:
    steady, _ = _steady_file_of_processor(tmp_path)
    cfg = tmp_path / "x.toml"
    cfg.write_text(
        f'name = "x"\n[sim]\nduration = "2ms"\ninit = "{steady.as_posix()}"\n'
        '[architecture]\nkind = "3dmem"\ncores = "4x4"\nbanks = "4x4x2"\ngrid = "8x8"\n'
    )
    out = CliRunner().invoke(main, ["run", str(cfg), "-o", str(tmp_path / "o"), "-q"])
    assert out.exit_code != 0
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "does not fit the stack" in lines[0], out.output


def test_steady_of_a_given_power_and_of_the_workload(tmp_path: Path) -> None:
    idle = Simulation(_cfg("1ms", init="steady"))
    idle.build()
    idle._init_temperatures()
    t_idle = idle.stepper.block_temperatures().copy()
    hot = Simulation(_cfg("1ms", init={"steady": "3W"}))
    hot.build()
    hot._init_temperatures()
    t_hot = hot.stepper.block_temperatures().copy()
    assert (t_hot[hot.units.core_idx] > t_idle[idle.units.core_idx] + 1.0).all()
    assert "3 W dynamic per core" in hot.init_info[0]
    # the workload's steady state: near where a long run of it goes
    wl = Simulation(_cfg("1ms", init={"steady": "workload", "estimate": "5ms"}))
    wl.build()
    wl._init_temperatures()
    assert "workload's average power" in wl.init_info[0]
    t_wl = wl.stepper.block_temperatures()[wl.units.core_idx]
    assert (t_wl > t_idle[idle.units.core_idx] + 1.0).all()


def test_warmup_is_not_recorded(tmp_path: Path) -> None:
    cold = Simulation(_cfg("4ms")).run(tmp_path / "cold")
    warm = Simulation(_cfg("4ms", warmup="6ms")).run(tmp_path / "warm")
    long = Simulation(_cfg("10ms")).run(tmp_path / "long")
    assert len(warm.temperature) == 4
    np.testing.assert_allclose(warm.temperature.index, cold.temperature.index)
    # the warm-up ran the same closed loop: the recorded part is the long run's tail
    np.testing.assert_array_equal(warm.temperature.to_numpy(), long.temperature.to_numpy()[6:])
    assert warm.summary["warmup_s"] == pytest.approx(0.006)
    assert warm.summary["instructions"] == pytest.approx(
        long.summary["instructions"] * 0.4, rel=0.05
    )


def test_init_config_errors() -> None:
    base = DATA.parent.parent / "examples" / "3d.toml"
    for value, text in [
        ('{steady="hot"}', "sim.init.steady"),
        ("{}", "exactly one of"),
        ('{run="a", file="b"}', "exactly one of"),
        ('"80 X"', "unknown temperature unit"),
    ]:
        with pytest.raises(InputError, match=text):
            load_config(base, [f"sim.init={value}"])
    with pytest.raises(InputError, match="give 'ambient', 'steady', a temperature, a path"):
        load_config(base, ["sim.init=hot"])
    # missing files and directories: before any work starts (at build)
    for value in ('{run="/nonexistent/run"}', '"/nonexistent/x.init"', '"./nowhere"'):
        sim = Simulation(load_config(base, [f"sim.init={value}"]))
        with pytest.raises(InputError, match="not found"):
            sim.build()


class _Crash:
    """A policy that takes the process down (not an Exception: no PolicyError, no state
    saved at the end) after ``at`` epochs, as a hard kill would."""

    name = "crash"
    armed = True  # a class attribute: not in the pickled state, so the resumed run goes on

    def __init__(self, at: int) -> None:
        self.at = at
        self.n = 0

    def step(self, view: Any, control: Any) -> None:
        self.n += 1
        if self.n == self.at and _Crash.armed:
            _Crash.armed = False
            raise SystemExit("crash")


def test_resume_from_a_periodic_state_after_a_crash(tmp_path: Path) -> None:
    """sim.state_every: a run that dies after epoch 10 with states saved every 4 epochs is
    resumed from epoch 8 (the two extra trace rows are dropped and simulated again)."""
    data = _cfg("12ms", state_every="4ms")
    data["workload"]["jobs"] = [
        {"profile": "phased", "threads": 3, "instructions": 3e7},
    ]
    whole = Simulation(copy.deepcopy(data)).run(tmp_path / "whole")
    with pytest.raises(SystemExit):
        Simulation(copy.deepcopy(data), policies=[_Crash(10)]).run(tmp_path / "cut")
    assert len(Run(tmp_path / "cut").temperature) == 10
    with np.load(tmp_path / "cut" / "state.npz") as z:
        assert int(z["epoch"]) == 8 and str(z["status"]) == "running"
    cfg = load_config(tmp_path / "cut" / "config.toml")
    sim = Simulation(cfg)
    sim.resume(tmp_path / "cut")
    resumed = sim.run(tmp_path / "resumed")
    np.testing.assert_array_equal(resumed.temperature.to_numpy(), whole.temperature.to_numpy())
    assert np.abs(_nodes(tmp_path / "whole") - _nodes(tmp_path / "resumed")).max() <= 1e-9
    assert resumed.summary["jobs"] == whole.summary["jobs"]


def test_comets_init_file_starts_a_replay_on_comets_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CoMeT's 3Dmem processor stack (its cores.lcf and cores_hotspot.config, run as CoMeT
    runs it: -model_secondary 1 -model_type grid) takes CoMeT's cores.init: every node matches
    and the replay starts at its temperatures."""
    from comet.sim.engine import replay

    case = DATA / "comet_init"
    monkeypatch.chdir(case)  # CoMeT's LCF names its floorplans relative to its run directory
    names, values = read_node_dump("hotspot/3Dmem/cores.init")
    trace = tmp_path / "p.ptrace"
    write_ptrace(trace, ["C_0", "C_1", "C_2", "C_3"], np.full((3, 4), 2.0))
    run = replay(
        trace,
        tmp_path / "r",
        lcf="hotspot/3Dmem/cores.lcf",
        hotspot_config="hotspot/3Dmem/cores_hotspot.config",
        thermal={"model_secondary": 1, "model_type": "grid"},
        interval=1e-3,
        init="hotspot/3Dmem/cores.init",
    )
    detail = " ".join(run.events["detail"])
    assert f"all {len(names)} nodes matched" in detail
    cold = replay(
        trace,
        tmp_path / "cold",
        lcf="hotspot/3Dmem/cores.lcf",
        hotspot_config="hotspot/3Dmem/cores_hotspot.config",
        thermal={"model_secondary": 1, "model_type": "grid"},
        interval=1e-3,
    )
    lookup = dict(zip(names, values, strict=True))
    for c in range(4):
        t_file = lookup[f"layer_3_C_{c}"] - 273.15  # about 68 C
        first = run.temperature[f"C_{c}"].iloc[0]
        assert abs(first - t_file) < 2.0  # 1 ms at 2 W per core from the file's state
        assert first > cold.temperature[f"C_{c}"].iloc[0] + 15.0  # not a cold start
