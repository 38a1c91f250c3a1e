"""Issue 11: every input checked before work starts, bounded resources, faults survived.

By class, in order of harm: user data kept (floorplan manifest, run directory lock, file
permissions); values that would give garbage refused at load; resource limits; bytes that are
not UTF-8; plugins and templates; output paths and damaged run directories. The full-disk and
concurrent-run tests are at the end.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from comet.cli import main
from comet.config import load_config
from comet.errors import InputError
from comet.fileio import file_mode, read_text, write_atomic
from comet.sim.results import NonFiniteResult, Run, RunWriter, dumps_toml, lock_held
from tests.loop_helpers import tiny

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _one_clean_line(code: int, err: str) -> None:
    """exit status 2, at most 3 lines on stderr, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 3, err
    assert lines[-1].startswith(("comet: error: ", "Error: ")), err  # ours, or click's usage


def _config(tmp_path: Path, **sections: Any) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(dumps_toml(tiny(**sections)))
    return p


# ============================================================================ 1. user data


def test_floorplan_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    out = tmp_path / "fp"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = _cli("floorplan", "3d", "-o", str(out), "--no-picture")
    _one_clean_line(code, err)
    assert "not empty" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_floorplan_overwrite_removes_only_its_own_files(tmp_path: Path) -> None:
    out = tmp_path / "fp"
    code, _, err = _cli("floorplan", "3d", "--banks", "4x4x4", "-o", str(out), "--no-picture")
    assert code == 0, err
    big = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    (out / "notes.txt").write_text("mine")
    (out / "package" / "my-edit.txt").write_text("mine too")
    code, _, err = _cli(
        "floorplan", "3d", "--banks", "4x4x1", "-o", str(out), "--no-picture", "--overwrite"
    )
    assert code == 0, err
    now = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert "notes.txt" in now and "package/my-edit.txt" in now  # the user's files stay
    manifest = json.loads((out / ".comet-floorplan.json").read_text())["files"]
    assert set(manifest) == now - {"notes.txt", "package/my-edit.txt", ".comet-floorplan.json"}
    stale = (big - {".comet-floorplan.json"}) - set(manifest)
    assert stale and not any((out / s).exists() for s in stale)  # dram layers 2-4 gone
    assert not [p for p in out.iterdir() if p.name.startswith(".comet-floorplan-")]


def test_floorplan_overwrite_never_replaces_a_user_file(tmp_path: Path) -> None:
    out = tmp_path / "fp"
    (out / "package").mkdir(parents=True)
    (out / "package" / "stack.lcf").write_text("my own lcf")
    code, _, err = _cli("floorplan", "3d", "-o", str(out), "--no-picture", "--overwrite")
    _one_clean_line(code, err)
    assert "stack.lcf" in err and "not written by comet floorplan" in err
    assert (out / "package" / "stack.lcf").read_text() == "my own lcf"


def test_live_run_directory_is_locked(tmp_path: Path) -> None:
    live = RunWriter(tmp_path / "r")
    live.open(temperature=["C_0"])
    live.append(1e-3, temperature=[50.0])
    assert lock_held(tmp_path / "r") and Run(tmp_path / "r").status == "running"
    with pytest.raises(InputError, match=rf"a live run \(pid {os.getpid()} on .*\) is writing"):
        RunWriter(tmp_path / "r", overwrite=True)
    assert (tmp_path / "r" / "temperature.csv").is_file()  # nothing of the live run deleted
    live.close()
    assert not lock_held(tmp_path / "r") and not (tmp_path / "r" / ".lock").exists()
    RunWriter(tmp_path / "r", overwrite=True).close()  # a finished run may be replaced


def test_written_files_have_the_traces_permissions(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == file_mode()
    with RunWriter(tmp_path / "r") as w:
        w.write_config({"name": "r"})
        w.open(temperature=["C_0"])
        w.append(1e-3, temperature=[50.0])
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "r").iterdir() if p.is_file()
    }
    assert modes["summary.json"] == modes["temperature.csv"] == modes["config.toml"]
    assert modes["summary.json"] == file_mode()


def test_second_interrupt_during_close_still_writes_the_summary(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "r")
    w.open(temperature=["C_0"])
    w.append(1e-3, temperature=[50.0])
    real = w._write_grid

    def interrupted() -> None:  # Ctrl-C arrives while the writer is closing
        os.kill(os.getpid(), signal.SIGINT)
        real()

    w._write_grid = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        w.close("interrupted", error="interrupted")
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "interrupted"


# ============================================================================ 2. garbage values


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ('thermal.r_convec="nan"', "thermal.r_convec: 'nan' is not a number"),
        ('thermal.t_sink="1km"', "thermal.t_sink: '1km' is not a number"),
        ('thermal.ambient="64x64"', "thermal.ambient: '64x64' is not a number"),
        ("thermal.r_convec=-1", "thermal.r_convec: -1.0 K/W, outside the physical range"),
        ("thermal.r_convec=0", "thermal.r_convec: 0.0 K/W"),
        ("thermal.ambient=-5", "thermal.ambient: -5.0 K, outside"),
        ("thermal.k_chip=1e300", "thermal.k_chip"),
        ("thermal.grid_rows=true", "thermal.grid_rows: True is not an integer"),
        ("cores.c_eff=1e300", "cores.c_eff"),
        ("cores.leakage_scale=inf", "cores.leakage_scale: must be a finite number"),
        ("policies.dvfs=5", "policies.dvfs: 5 is not a policy"),
        ("thresholds_degC=[nan]", "thresholds_degC.0"),
        ("sim.init=1e6", "sim.init"),
        ("sim.init=-300", "sim.init"),
        ("cores.voltage.v0=-1", "cores.voltage.v0"),
        ("seed=-1", "seed: must be greater than or equal to 0"),
    ],
)
def test_bad_values_are_refused_naming_file_and_key(
    tmp_path: Path, override: str, words: str
) -> None:
    cfg = _config(tmp_path)
    with pytest.raises(InputError) as info:
        load_config(cfg, [override])
    assert str(info.value).startswith(f"{cfg}: "), info.value
    assert words in str(info.value)


def test_hex_integers_in_set_stay_strings(tmp_path: Path) -> None:
    code, _, err = _cli(
        "run", str(_config(tmp_path)), "-q", "-o", str(tmp_path / "o"), "--set",
        "architecture.cores=0x4",
    )  # fmt: skip
    _one_clean_line(code, err)
    assert (
        f"{tmp_path / 'run.toml'}: architecture.cores: '0x4'" in err
    )  # the file, not "run config"


def test_negative_or_huge_power_in_a_trace_is_refused(tmp_path: Path) -> None:
    from comet.thermal.traces import read_ptrace

    for bad in ("-3.0", "1e30"):
        p = tmp_path / "p.ptrace"
        p.write_text(f"C_0\tC_1\n1.0\t2.0\n{bad}\t1.0\n")
        with pytest.raises(InputError, match=rf"{p}:3: column 'C_0' is {bad} W"):
            read_ptrace(p)


@pytest.mark.parametrize("coord", ["1e308", "2147483648", "-1e30"])
def test_huge_flp_coordinates_are_refused(tmp_path: Path, coord: str) -> None:
    from comet.floorplan.flp import read_flp

    p = tmp_path / "a.flp"
    p.write_text(f"A 0.001 0.001 0 0\nB 0.001 0.001 {coord} 0\n")
    with pytest.raises(InputError, match=rf"{p}:\d: block '[AB]'.*outside the physical range"):
        read_flp(p)


def test_package_narrower_than_what_it_covers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.flp").write_text("A 0.01 0.01 0 0\n")
    (tmp_path / "p.ptrace").write_text("A\n1.0\n")
    code, _, err = _cli(
        "hotspot", "-f", str(tmp_path / "a.flp"), "-p", str(tmp_path / "p.ptrace"),
        "-o", str(tmp_path / "o.ttrace"), "-s_spreader", "0.5",
    )  # fmt: skip
    _one_clean_line(code, err)
    assert "-s_sink 0.06 m is narrower than -s_spreader (0.5 m)" in err


def test_hotspot_config_physical_ranges(tmp_path: Path) -> None:
    from comet.thermal.hotspot_config import read_config

    p = tmp_path / "h.config"
    p.write_text("-t_chip 0.00015\n-ambient 1e9\n")
    with pytest.raises(InputError, match=rf"{p}:2: -ambient is 1000000000.0 K"):
        read_config(p)


def _leaky_run(tmp_path: Path, body: str) -> Path:
    (tmp_path / "leak.py").write_text(f"import numpy as np\ndef leak(T, V, area):\n{body}\n")
    return _config(tmp_path, cores={"leakage": "leak.py:leak"}, sim={"duration": "6ms"})


def test_non_finite_result_stops_the_run_failed(tmp_path: Path) -> None:
    cfg = _leaky_run(tmp_path, "    return np.full(np.shape(T), np.nan)")
    out = tmp_path / "o"
    code, _, err = _cli("run", str(cfg), "-q", "-o", str(out))
    _one_clean_line(code, err)
    assert "core leakage 'leak.py:leak' returned nan W" in err
    run = Run(out)
    assert run.status == "failed" and "returned nan W" in run.summary["error"]
    assert len(run.temperature) == 0  # no NaN row ever reached a trace


def test_non_finite_temperature_stops_the_run_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A solver that diverges (here: a stepper patched to return NaN from epoch 3)."""
    from comet.thermal.solver import ThermalModel

    real = ThermalModel.power_block_temperatures
    calls = {"n": 0}

    def diverging(self: Any) -> Any:
        calls["n"] += 1
        out = real(self)
        return out * np.nan if calls["n"] > 3 else out

    monkeypatch.setattr(ThermalModel, "power_block_temperatures", diverging)
    out = tmp_path / "o"
    code, _, err = _cli("run", str(_config(tmp_path)), "-q", "-o", str(out))
    _one_clean_line(code, err)
    assert "temperature (deg C) of C_0 is nan" in err and "epoch " in err
    run = Run(out)
    assert run.status == "failed" and "is nan" in run.summary["error"]
    assert np.isfinite(run.temperature.to_numpy()).all()  # the rows before are kept, finite


def test_leakage_function_exiting_fails_the_run_naming_it(tmp_path: Path) -> None:
    cfg = _leaky_run(tmp_path, "    import sys\n    sys.exit(0)")
    out = tmp_path / "o"
    code, _, err = _cli("run", str(cfg), "-q", "-o", str(out))
    _one_clean_line(code, err)
    assert "core leakage 'leak.py:leak' raised: called sys.exit(0)" in err
    assert f"(at {tmp_path / 'leak.py'}:4)" in err
    assert Run(out).status == "failed"


def test_snapshot_volume_with_the_layer_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from comet.limits import check_snapshot_volume

    check_snapshot_volume(100, 12, 64, 64)  # 19.7 MB
    monkeypatch.setenv("COMET_MAX_SNAPSHOT_BYTES", "1000000")
    with pytest.raises(InputError, match="100 snapshots of 12 layers of 64x64: 1.966e"):
        check_snapshot_volume(100, 12, 64, 64)


def test_writer_refuses_non_physical_rows(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "r", flush_every=10)
    w.open(temperature=["C_0", "C_1"], power=["C_0", "C_1"])
    w.append(1e-3, temperature=[50.0, 60.0], power=[1.0, 2.0])
    with pytest.raises(NonFiniteResult, match=r"epoch 2 .*temperature \(deg C\) of C_1 is -300"):
        w.append(2e-3, temperature=[50.0, -300.0], power=[1.0, 2.0])  # refused at its epoch
    with pytest.raises(NonFiniteResult):
        w.close()  # the run is failed
    run = Run(tmp_path / "r")
    assert run.status == "failed" and len(run.temperature) == len(run.power) == 1
    w = RunWriter(tmp_path / "p", flush_every=10)
    w.open(temperature=["C_0", "C_1"], power=["C_0", "C_1"])
    for k in range(1, 4):
        w.append(k * 1e-3, temperature=[50.0, 60.0], power=[1.0, 2.0])
    w.append(4e-3, temperature=[50.0, 60.0], power=[np.inf, 2.0])  # found at the next flush
    with pytest.raises(
        NonFiniteResult, match=r"epoch 4 \(t = 0.004 s\): power \(W\) of C_0 is inf"
    ):
        w.flush()
    with pytest.raises(NonFiniteResult):
        w.close()
    assert len(Run(tmp_path / "p").power) == 3  # the rows before it are kept


# ============================================================================ 3. resource limits


@pytest.mark.parametrize(
    ("override", "env", "figure"),
    [
        ('cores.f_step="1Hz"', "COMET_MAX_OPERATING_POINTS", "3.000e+09 operating points"),
        ('architecture.grid="2147483648x8"', "COMET_MAX_GRID_CELLS", "1.718e+10 grid cells"),
        ("thermal.grid_cols=1000000", "COMET_MAX_GRID_CELLS", "grid cells per layer"),
        ('sim.epoch="1e-30s"', "COMET_MAX_EPOCHS", "2.000e+28 epochs"),
        ('sim.duration="1e308ms"', "COMET_MAX_EPOCHS", "epochs requested"),
        ('sim.snapshot_every="1ms"', "COMET_MAX_SNAPSHOT_BYTES", "bytes of grid snapshots"),
        ("workload.jobs.0.threads=100000000", "COMET_MAX_THREADS", "1.000e+08 threads"),
        (
            "workload.profiles.x={phases=[{instructions=1}], repeat=1000000000}",
            "COMET_MAX_PHASES",
            "1.000e+09 phases",
        ),
    ],
)
def test_resource_requests_are_refused_with_the_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str, env: str, figure: str
) -> None:
    if env == "COMET_MAX_SNAPSHOT_BYTES":
        monkeypatch.setenv(env, "1000")  # 20 snapshots of 8x8 float32 = 5120 bytes
    cfg = _config(tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(InputError) as info:
        load_config(cfg, [override])
    assert time.perf_counter() - t0 < 5  # refused from the figures, nothing allocated
    assert figure in str(info.value) and f"{env}=N" in str(info.value)


def test_unit_counts_are_bounded() -> None:
    from comet.floorplan.generate import generate

    with pytest.raises(InputError, match=r"1.718e\+10 blocks requested.*COMET_MAX_BLOCKS=N"):
        generate("3d", cores="2147483648x8")


def test_limits_are_raised_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(tmp_path)
    with pytest.raises(InputError, match="COMET_MAX_EPOCHS"):
        load_config(cfg, ['sim.epoch="1us"', 'sim.duration="20s"'])  # 2e7 epochs
    monkeypatch.setenv("COMET_MAX_EPOCHS", "30000000")
    assert load_config(cfg, ['sim.epoch="1us"', 'sim.duration="20s"']).sim.epoch == 1e-6
    monkeypatch.setenv("COMET_MAX_EPOCHS", "lots")
    with pytest.raises(InputError, match="COMET_MAX_EPOCHS='lots' is not a positive integer"):
        load_config(cfg)


def test_hotspot_grid_limit_on_the_command_line(tmp_path: Path) -> None:
    from comet.thermal.hotspot_config import read_config

    with pytest.raises(InputError, match="-grid_rows x -grid_cols = 64 x 1000000"):
        read_config(None, [("grid_cols", "1e6")])


# ============================================================================ 4. not UTF-8


def _with_bad_byte(text: str, line: int) -> bytes:
    lines = text.encode().split(b"\n")
    lines[line - 1] += b"  # caf\xe9"
    return b"\n".join(lines)


def test_non_utf8_bytes_name_file_and_line(tmp_path: Path) -> None:
    from comet.floorplan.flp import read_flp
    from comet.floorplan.lcf import read_lcf
    from comet.thermal.hotspot_config import read_config
    from comet.thermal.materials import read_materials
    from comet.thermal.traces import read_ptrace

    cases: list[tuple[str, bytes, Any]] = [
        ("run.toml", _with_bad_byte(dumps_toml(tiny()), 2), load_config),
        (
            "m.txt",
            _with_bad_byte("# materials\n\nsilicon\nsolid\n100\n1.75e6\n", 1),
            read_materials,
        ),
        ("h.config", _with_bad_byte("-t_chip 0.00015\n-k_chip 100\n", 2), read_config),
        ("a.flp", _with_bad_byte("# flp\nA 0.001 0.001 0 0\n", 1), read_flp),
        ("p.ptrace", _with_bad_byte("A\n1.0\n", 1), read_ptrace),
        ("s.lcf", _with_bad_byte("# lcf\n0\nY\nY\n1.75e6\n0.01\n0.00015\na.flp\n", 3), read_lcf),
    ]
    for name, data, reader in cases:
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(InputError) as info:
            reader(p)
        line = data.split(b"\xe9")[0].count(b"\n") + 1
        assert str(info.value).startswith(f"{p}:{line}: byte 0xe9"), (name, str(info.value))
        assert "\n" not in str(info.value)


def test_read_text_reports_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        read_text(tmp_path, "run config")


# ============================================================================ 5. plugins, templates


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("import sys\nsys.exit(3)\n", "importing the file failed: called sys.exit(3) (at "),
        ("raise MemoryError('boom')\n", "importing the file failed: MemoryError: boom"),
        (
            "class P:\n    def __init__(self):\n        raise RuntimeError('no')\n"
            "    def step(self, v, c):\n        pass\n",
            "constructing it failed: RuntimeError: no (at ",
        ),
        (
            "import sys\nclass P:\n    def __init__(self):\n        sys.exit(0)\n",
            "constructing it failed: called sys.exit(0) (at ",
        ),
    ],
)
def test_plugin_failures_at_load_are_one_line(tmp_path: Path, source: str, words: str) -> None:
    (tmp_path / "plug.py").write_text(source)
    cfg = _config(tmp_path, policies={"plugins": ["plug.py:P"]})
    code, _, err = _cli("run", str(cfg), "-q", "-o", str(tmp_path / "o"))
    _one_clean_line(code, err)
    assert words in err and "plug.py" in err
    assert not (tmp_path / "o").exists()  # refused before any work


def test_plugin_exiting_in_step_fails_the_run_naming_it(tmp_path: Path) -> None:
    (tmp_path / "plug.py").write_text(
        "import sys\nclass P:\n    def step(self, view, control):\n"
        "        if view.epoch >= 2:\n            sys.exit(0)\n"
    )
    cfg = _config(tmp_path, policies={"plugins": ["plug.py:P"]})
    code, _, err = _cli("run", str(cfg), "-q", "-o", str(tmp_path / "o"))
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "policy 'plug.py:P' raised at epoch 2" in err
    assert f"called sys.exit(0) (at {tmp_path / 'plug.py'}:5)" in err
    run = Run(tmp_path / "o")
    assert run.status == "failed" and len(run.temperature) == 3  # traces kept


def test_template_render_errors_name_the_template_line(tmp_path: Path) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "stack.lcf.j2").write_text("# lcf\n{{ 1 // 0 }}\n")
    code, _, err = _cli(
        "floorplan", "3d", "-o", str(tmp_path / "o"), "--no-picture", "--template-dir", str(tpl)
    )
    _one_clean_line(code, err)
    assert f"{tpl / 'stack.lcf.j2'}:2: template stack.lcf.j2: rendering failed: ZeroDivision" in err
    (tpl / "stack.lcf.j2").write_text('# lcf\n\n{% include "parts/missing.j2" %}\n')
    code, _, err = _cli(
        "floorplan", "3d", "-o", str(tmp_path / "o"), "--no-picture", "--template-dir", str(tpl)
    )
    _one_clean_line(code, err)
    assert "template parts/missing.j2 not found (included from stack.lcf.j2)" in err
    assert f"{tpl / 'stack.lcf.j2'}:3" in err
    assert not (tmp_path / "o").exists()


# ============================================================================ 6. output paths


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("small")
    cfg = d / "run.toml"
    cfg.write_text(dumps_toml(tiny(sim={"duration": "6ms", "snapshot_every": "2ms"})))
    code, _, err = _cli("run", str(cfg), "-q", "-o", str(d / "run"))
    assert code == 0, err
    return d / "run"


def test_outputs_under_a_regular_file_are_one_line(tmp_path: Path, small_run: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = _config(tmp_path)
    for args in (
        ["run", str(cfg), "-q", "-o", str(blocker / "out")],
        ["floorplan", "3d", "-o", str(blocker / "fp"), "--no-picture"],
        ["floorplan", "3d", "-o", str(blocker), "--no-picture"],
        ["plot", str(small_run), "-o", str(blocker / "plots")],
        ["video", str(small_run), "-o", str(blocker / "v.gif"), "--quiet"],
        ["view", str(small_run), "--screenshot", str(blocker / "s.png")],
    ):
        code, _, err = _cli(*args)
        _one_clean_line(code, err)
        assert str(blocker) in err, (args, err)
    assert blocker.read_text() == "x"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["video", "--dpi", "1e6"], "--dpi 1e+06"),
        (["video", "--fps", "inf"], "--fps inf"),
        (["video", "--tmin", "nan"], "--tmin nan"),
        (["video", "--tmin", "90", "--tmax", "20"], "must be below --tmax"),
        (["view", "--screenshot", "x.png", "--size", "100000x100000"], "too large"),
    ],
)
def test_viewer_options_are_range_checked(
    tmp_path: Path, small_run: Path, args: list[str], words: str
) -> None:
    verb, *rest = args
    rest = [str(tmp_path / r) if r == "x.png" else r for r in rest]
    code, _, err = _cli(verb, str(small_run), *rest)
    if verb == "view" and "PyQt6" in err:
        pytest.skip("no PyQt6")
    _one_clean_line(code, err)
    assert words in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_is_one_line(tmp_path: Path) -> None:  # pragma: no cover - CI is root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = _cli("run", str(_config(tmp_path)), "-q", "-o", str(ro / "out"))
        _one_clean_line(code, err)
        assert str(ro) in err
    finally:
        ro.chmod(0o700)


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_damaged_run_directories_name_the_file(tmp_path: Path, small_run: Path) -> None:
    run = _copy_run(small_run, tmp_path / "grid")
    data = (run / "grid.npz").read_bytes()
    (run / "grid.npz").write_bytes(data[: len(data) // 2])
    for args in (["plot", str(run)], ["video", str(run), "--quiet"]):
        code, _, err = _cli(*args)
        _one_clean_line(code, err)
        assert f"{run / 'grid.npz'}: damaged grid snapshots" in err
    assert not list((run / "plots").glob("*")) if (run / "plots").exists() else True
    run = _copy_run(small_run, tmp_path / "events")
    (run / "events.csv").write_bytes(b'time_s,kind\n"0.001,"x\n\xff\xfe,,,,,,,\n')
    code, _, err = _cli("plot", str(run))
    _one_clean_line(code, err)
    assert f"{run / 'events.csv'}: damaged events file" in err


def test_simulated_enospc_keeps_traces_aligned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback of the tmpfs test: os.write fails with ENOSPC after a byte budget."""
    import comet.sim.results as results

    budget = {"left": 6000}
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        n = len(data)
        if budget["left"] < n:
            raise OSError(errno.ENOSPC, "No space left on device")
        budget["left"] -= n
        return real_write(fd, data)

    monkeypatch.setattr(results.os, "write", write)
    w = RunWriter(tmp_path / "r", flush_every=3)
    units = [f"C_{i}" for i in range(8)]
    w.open(temperature=units, power=units)
    with pytest.raises(InputError, match=r"cannot write: no space left on device \(the file"):
        for k in range(1, 10_000):
            w.append(k * 1e-3, temperature=np.full(8, 50.123456), power=np.full(8, 1.234567))
    with pytest.raises(InputError, match="no space left"):
        w.close("failed", error="disk full")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "failed" and "no space left" in summary["error"]
    _assert_aligned(tmp_path / "r")


def _assert_aligned(run_dir: Path) -> None:
    """Every trace ends with a newline and all traces hold the same rows."""
    rows = []
    for name in ("temperature.csv", "power.csv", "frequency.csv", "bank_mode.csv"):
        p = run_dir / name
        if p.exists():
            data = p.read_bytes()
            assert data.endswith(b"\n"), name
            rows.append(data.count(b"\n"))
    assert rows and len(set(rows)) == 1, rows
    leftovers = [p.name for p in run_dir.rglob("*") if p.name.endswith((".tmp", ".f32"))]
    assert not leftovers


# ============================================================================ real faults


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Any:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the simulated ENOSPC test covers the logic)")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _subprocess_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from comet.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_full_disk_on_a_real_tmpfs(tmp_path: Path, tiny_tmpfs: Path, small_run: Path) -> None:
    cfg = _config(tmp_path, sim={"duration": "2s", "flush_every": 10})
    res = _subprocess_cli("run", str(cfg), "-q", "-o", str(tiny_tmpfs / "run"), cwd=tmp_path)
    _one_clean_line(res.returncode, res.stderr)
    assert "no space left on device" in res.stderr and str(tiny_tmpfs) in res.stderr
    _assert_aligned(tiny_tmpfs / "run")
    summary = tiny_tmpfs / "run" / "summary.json"
    if summary.exists():  # space freed by the roll-back was enough for it
        assert json.loads(summary.read_text())["status"] == "failed"
    # the disk is full now: plot writes nothing half-done
    fd = os.open(tiny_tmpfs / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    res = _subprocess_cli("plot", str(small_run), "-o", str(tiny_tmpfs / "plots"), cwd=tmp_path)
    _one_clean_line(res.returncode, res.stderr)
    left = list((tiny_tmpfs / "plots").iterdir()) if (tiny_tmpfs / "plots").exists() else []
    assert not [p for p in left if p.stat().st_size == 0 or p.name.startswith(".")], left
    res = _subprocess_cli(
        "video", str(small_run), "-o", str(tiny_tmpfs / "v.gif"), "--quiet", cwd=tmp_path
    )
    _one_clean_line(res.returncode, res.stderr)
    assert not [p.name for p in tiny_tmpfs.iterdir() if p.name.startswith(".")]
    try:
        import comet_gui
        import PyQt6.QtWidgets  # noqa: F401
    except ImportError:
        return
    if not Path(comet_gui.__file__).resolve().is_relative_to(ROOT):
        return  # the installed viewer is another tree's (an editable install elsewhere)
    shot = tiny_tmpfs / "s.png"
    res = _subprocess_cli("view", str(small_run), "--screenshot", str(shot), cwd=tmp_path)
    _one_clean_line(res.returncode, res.stderr)
    assert not shot.exists()  # no truncated PNG
    assert not [p.name for p in tiny_tmpfs.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_overwrite_of_a_live_run_by_a_second_process_is_refused(tmp_path: Path) -> None:
    cfg = _config(tmp_path, sim={"duration": "600s", "flush_every": 1})
    out = tmp_path / "live"
    first = subprocess.Popen(
        [sys.executable, "-c", "from comet.cli import main; main()", "run", str(cfg), "-o",
         str(out), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            temp = out / "temperature.csv"
            if temp.is_file() and temp.read_bytes().count(b"\n") > 5:
                break
            if first.poll() is not None:
                pytest.fail(f"the first run stopped: {first.communicate()[1].decode()}")
            time.sleep(0.1)
        else:
            pytest.fail("the first run did not start")
        second = _subprocess_cli("run", str(cfg), "-o", str(out), "-q", "--overwrite", cwd=tmp_path)
        _one_clean_line(second.returncode, second.stderr)
        assert f"a live run (pid {first.pid} on " in second.stderr
        assert first.poll() is None  # the live run is untouched and still going
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        for pipe in (first.stdout, first.stderr):
            if pipe is not None:
                pipe.close()
    assert first.returncode == 130, err.decode()
    run = Run(out)
    assert run.status == "interrupted"
    assert run.summary["epochs"] == len(run.temperature) == len(run.power)  # one run's files
    again = _subprocess_cli("run", str(cfg), "-o", str(out), "-q", "--overwrite", "--set",
                            "sim.duration=5ms", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert Run(out).status == "complete" and len(Run(out).temperature) == 5
