"""The run directory: RunWriter -> files -> Run (round trips, partial runs, statuses, errors)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import viz_fixtures as vf

from comet.errors import InputError
from comet.floorplan.model import Block, Floorplan, Layer, Stack
from comet.sim.results import (
    Run,
    RunWriter,
    dumps_toml,
    layer_kind,
    layers_from_stack,
    list_units,
    open_run,
)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return open_run(vf.make_run(tmp_path / "r", epochs=40, grid_every=10))


def test_traces_round_trip(run: Run) -> None:
    assert run.status == "complete"
    assert list(run.temperature.columns) == vf.UNITS
    assert run.temperature.index.name == "time_s"
    assert len(run.temperature) == 40
    np.testing.assert_allclose(run.times, np.arange(1, 41) * vf.EPOCH_S, rtol=1e-9)
    for unit in ("C_3", "B_7", "C_0"):
        t = run.times[17]
        assert run.temperature[unit].iloc[17] == pytest.approx(
            vf.expected_temperature(unit, t), abs=1e-3
        )
    assert run.power["C_3"].iloc[0] == pytest.approx(12.0)
    assert list(run.frequency.columns) == vf.CORES
    assert list(run.bank_mode.columns) == vf.BANKS[:8]
    assert run.bank_mode["B_7"].iloc[-1] == 1.0 and run.bank_mode["B_7"].iloc[0] == 0.0


def test_events_layers_grid_config(run: Run) -> None:
    ev = run.events
    assert list(ev.columns) == ["kind", "target", "value", "detail"]
    assert len(ev) == 1 and ev["target"].iloc[0] == "C_3" and ev["kind"].iloc[0] == "dvfs"
    # the DVFS event happens in the first epoch the hot core exceeds 90 deg C
    t_ev = float(ev.index[0])
    assert run.temperature["C_3"].loc[t_ev] > 90.0
    assert run.temperature["C_3"][run.times < t_ev - 1e-9].max() <= 90.0
    assert [la.name for la in run.layers] == ["core", "tim0", "dram0", "dram1"]
    assert [la.kind for la in run.layers] == ["core", "tim", "dram", "dram"]
    assert run.layers[0].width == pytest.approx(4e-3)
    assert run.unit_layer["B_9"] == "dram1"
    assert run.layer_units("core") == vf.CORES
    assert run.grid is not None
    assert run.grid.temperature_degC.shape == (4, 4, 16, 16)
    assert run.grid.layer_names == ["core", "tim0", "dram0", "dram1"]
    np.testing.assert_allclose(run.grid.times_s, [0.01, 0.02, 0.03, 0.04])
    assert run.grid.index_at(0.025) == 1
    assert run.config["thresholds_degC"] == [80.0, 90.0]
    assert run.thresholds_degC == [80.0, 90.0]
    assert [la.name for la in run.thermal_layers] == ["core", "tim0", "dram0", "dram1"]


def test_summary_matches_traces(run: Run) -> None:
    s = run.summary
    assert s["status"] == "complete" and s["name"] == "synthetic" and s["error"] is None
    assert s["epochs"] == 40
    assert s["duration_s"] == pytest.approx(0.04)
    assert s["instructions"] == 1_000_000
    for unit in vf.UNITS:
        assert s["peak_degC"][unit] == pytest.approx(run.temperature[unit].max(), abs=1e-3)
        assert s["mean_degC"][unit] == pytest.approx(run.temperature[unit].mean(), abs=1e-3)
    assert s["peak_layer_degC"]["core"] == pytest.approx(s["peak_degC"]["C_3"])
    assert s["peak_layer_degC"]["dram0"] == pytest.approx(s["peak_degC"]["B_7"])
    # time above: count epochs whose hottest unit is above the threshold
    hottest = run.temperature.max(axis=1)
    assert s["time_above_s"]["80"] == pytest.approx((hottest > 80).sum() * vf.EPOCH_S)
    assert s["time_above_s"]["85"] == pytest.approx((hottest > 85).sum() * vf.EPOCH_S)
    energy = (run.power.sum(axis=1) * vf.EPOCH_S).sum()
    assert s["energy_J"]["total"] == pytest.approx(energy)
    assert s["energy_J"]["C_3"] == pytest.approx(12.0 * 0.04)
    assert s["wall_time_s"] >= 0
    # no temporary or marker files are left behind
    leftovers = [p.name for p in run.path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_partial_run_is_readable(tmp_path: Path) -> None:
    path = vf.make_run(tmp_path / "killed", epochs=30, complete=False)
    # simulate a row cut in the middle by a hard kill
    with open(path / "temperature.csv", "a") as fh:
        fh.write("0.031,46.1,47")
    run = Run(path)
    assert run.status == "unknown"
    assert not (path / "summary.json").exists()
    assert len(run.temperature) == 30  # the cut row is dropped
    assert run.temperature.notna().all().all()
    s = run.summary
    assert s["status"] == "unknown"
    assert s["epochs"] == 30
    assert s["peak_degC"]["C_3"] == pytest.approx(run.temperature["C_3"].max())


def test_running_status_and_flush(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "live", flush_every=3)
    w.write_layers(vf.layers())
    w.open(temperature=["C_0", "C_1"])
    w.append(0.001, temperature=[50.0, 51.0])
    run = Run(tmp_path / "live")
    assert run.status == "running"
    assert run.temperature.empty  # not flushed yet
    w.append(0.002, temperature={"C_0": 52.0})  # C_1 left empty
    w.append(0.003, temperature=[53.0, 54.0])
    run = run.reload()
    assert len(run.temperature) == 3
    assert np.isnan(run.temperature["C_1"].iloc[1])
    assert run.summary["mean_degC"]["C_1"] == pytest.approx((51.0 + 54.0) / 2)
    w.close()
    assert Run(tmp_path / "live").status == "complete"


def test_failed_and_interrupted(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), RunWriter(tmp_path / "f") as w:
        w.open(temperature=["C_0"])
        w.append(0.001, temperature=[50.0])
        raise RuntimeError("policy exploded")
    run = Run(tmp_path / "f")
    assert run.status == "failed"
    assert "policy exploded" in run.summary["error"]
    assert len(run.temperature) == 1
    with pytest.raises(KeyboardInterrupt), RunWriter(tmp_path / "i") as w:
        w.open(temperature=["C_0"])
        raise KeyboardInterrupt
    assert Run(tmp_path / "i").status == "interrupted"


def test_writer_errors(tmp_path: Path) -> None:
    vf.make_run(tmp_path / "r", epochs=3)
    with pytest.raises(InputError, match="already exists"):
        RunWriter(tmp_path / "r")
    RunWriter(tmp_path / "r", overwrite=True).close()  # allowed with overwrite
    other = tmp_path / "notarun"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a comet run"):
        RunWriter(other, overwrite=True)
    assert (other / "precious.txt").exists()

    w = RunWriter(tmp_path / "w")
    with pytest.raises(RuntimeError, match="open"):
        w.append(0.001, temperature=[1.0])
    w.open(temperature=["C_0", "C_1"])
    with pytest.raises(InputError, match="2 columns"):
        w.append(0.001, temperature=[1.0])
    w.append(0.001, temperature=[1.0, 2.0])
    with pytest.raises(InputError, match="does not increase"):
        w.append(0.001, temperature=[1.0, 2.0])
    with pytest.raises(InputError, match="not a column"):
        w.append(0.002, temperature={"C_9": 1.0})
    with pytest.raises(InputError, match="not declared"):
        w.append(0.003, temperature=[1.0, 2.0], power=[1.0])
    with pytest.raises(InputError, match="duplicate"):
        RunWriter(tmp_path / "d").open(temperature=["C_0", "C_0"])
    w.close()


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such run directory"):
        Run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a comet run directory"):
        Run(tmp_path / "empty")
    path = vf.make_run(tmp_path / "r", epochs=3)
    (path / "layers.json").write_text("[{]")
    run = Run(path)
    with pytest.raises(InputError, match="layers.json:1: bad JSON"):
        _ = run.layers
    (path / "layers.json").write_text(json.dumps([{"index": 0}]))
    with pytest.raises(InputError, match="bad layer entry"):
        _ = Run(path).layers
    with pytest.raises(InputError, match="no layer 'nope'"):
        vf.make_run(tmp_path / "r2", epochs=3)
        Run(tmp_path / "r2").layer("nope")


def test_grid_shape_errors(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "g")
    with pytest.raises(InputError, match="layers, rows, cols"):
        w.grid(0.001, np.zeros((4, 4)))
    w.grid(0.001, np.zeros((2, 4, 4)), ["a", "b"])
    with pytest.raises(InputError, match="shape"):
        w.grid(0.002, np.zeros((2, 4, 5)))
    w.close()


def test_layer_kinds_and_stack() -> None:
    assert layer_kind("core") == "core"
    assert layer_kind("tim1") == "tim"
    assert layer_kind("dram3") == "dram"
    assert layer_kind("layer5", ["B_0", "B_1"]) == "dram"
    assert layer_kind("layer5", ["LC_0"]) == "logic"
    assert layer_kind("l", ["C_0"]) == "core"
    assert layer_kind("l", ["X0", "X1"]) == "filler"
    assert layer_kind("l", ["I_0"]) == "interposer"
    assert layer_kind("l", ["foo"]) == "other"
    fp = Floorplan((Block("C_0", 1e-3, 1e-3, 0, 0), Block("C_1", 1e-3, 1e-3, 1e-3, 0)))
    tim = Floorplan((Block("TIM0", 2e-3, 1e-3, 0, 0),))
    stack = Stack((Layer("core", fp, 1e-4, 100, 1.75e6, True, True), Layer("t", tim, 2e-5, 4, 4e6)))
    layers = layers_from_stack(stack)
    assert [(la.name, la.index, la.kind) for la in layers] == [("core", 0, "core"), ("t", 1, "tim")]
    assert layers[0].width == pytest.approx(2e-3) and layers[0].height == pytest.approx(1e-3)


def test_toml_round_trip() -> None:
    data = {
        "name": "demo run",
        "epoch_s": 1e-3,
        "cores": 16,
        "flag": True,
        "list": [1, 2.5, "x"],
        "thermal": {"model": "grid", "rows": 64, "nested": {"k": 1}},
        "policy": [{"name": "dvfs", "threshold": 80.0}, {"name": "migrate"}],
    }
    assert tomllib.loads(dumps_toml(data)) == data


def test_writer_accepts_a_stack_and_stack_files(tmp_path: Path) -> None:
    fp = Floorplan((Block("C_0", 1e-3, 1e-3, 0, 0),))
    stack = Stack((Layer("core", fp, 1e-4, 100, 1.75e6, True, True),))
    src = tmp_path / "x.flp"
    src.write_text("C_0 0.001 0.001 0 0\n")
    with RunWriter(tmp_path / "s") as w:
        w.write_layers(stack)
        w.write_stack_files({"core.flp": src})
        w.write_config("name = 's'\n")
        w.open(temperature=["C_0"], power=["C_0"])
        w.append(0.5, temperature=[60.0], power=[2.0])
        w.append(1.5, temperature=[70.0], power=[4.0])
    run = Run(tmp_path / "s")
    assert (run.path / "stack" / "core.flp").read_text().startswith("C_0")
    assert run.config == {"name": "s"}
    # epochs of unequal length: the first covers (0, 0.5], the second (0.5, 1.5]
    assert run.summary["mean_degC"]["C_0"] == pytest.approx((60 * 0.5 + 70 * 1.0) / 1.5)
    assert run.summary["energy_J"]["C_0"] == pytest.approx(2 * 0.5 + 4 * 1.0)
    assert run.summary["peak_layer_degC"] == {"core": 70.0}


def test_list_units_natural_order() -> None:
    assert list_units(["C_10", "C_2", "B_1", "C_1"]) == ["B_1", "C_1", "C_2", "C_10"]


# ----------------------------------------------------------------------------- HotSpot outputs

REF = Path(__file__).parent / "data" / "reference"


def test_run_from_hotspot_block_ev6(tmp_path: Path) -> None:
    from comet.sim.hotspot_import import run_from_hotspot
    from comet.thermal.traces import read_ttrace

    ev6 = REF / "ev6"
    path = run_from_hotspot(
        ev6 / "expected" / "block.ttrace",
        ev6 / "ev6.flp",
        tmp_path / "gcc",
        ptrace=ev6 / "gcc.ptrace",
        config=ev6 / "hotspot.config",
    )
    run = Run(path)
    names, temps = read_ttrace(ev6 / "expected" / "block.ttrace")
    assert run.status == "complete"
    assert list(run.temperature.columns) == names
    # 100 rows of 10 ms (sampling_intvl of the config), time = end of each step
    np.testing.assert_allclose(run.times, np.arange(1, 101) * 0.01)
    np.testing.assert_allclose(run.temperature.to_numpy(), temps - 273.15, atol=1e-4)
    assert run.power["IntReg_0"].iloc[0] > 0
    assert [(la.name, la.kind) for la in run.layers] == [("chip", "core")]
    assert {b.name for b in run.layers[0].blocks} == set(names)
    assert run.summary["peak_degC"]["IntReg_0"] == pytest.approx(
        temps[:, names.index("IntReg_0")].max() - 273.15
    )
    assert (run.path / "stack" / "ev6.flp").exists()
    assert run.config["source"] == "hotspot"


def test_run_from_hotspot_lcf_stack_with_grid(tmp_path: Path) -> None:
    from comet.sim.hotspot_import import run_from_hotspot

    s3 = REF / "stack3d"
    grids = np.full((2, 3, 4, 4), 330.0)
    grids[1, 0, 0, 0] = 350.0
    path = run_from_hotspot(
        s3 / "expected" / "grid64.ttrace",
        s3 / "stack.lcf",
        tmp_path / "s3",
        config=s3 / "hotspot.config",
        grid_temperatures=(np.array([0.5, 1.0]), grids),
    )
    run = Run(path)
    assert len(run.times) == 1000 and run.times[-1] == pytest.approx(1.0)
    assert run.power.empty
    assert [la.name for la in run.layers][:3] == ["core", "tim0", "dram0"]
    assert run.unit_layer["d2bank_1_1"] == "dram2"
    assert run.layer("dram3").kind == "dram"
    assert run.grid is not None and run.grid.layer_names == ["core", "tim0", "dram0"]
    assert run.grid.temperature_degC[1, 0, 0, 0] == pytest.approx(350.0 - 273.15)
    assert sorted(p.name for p in (run.path / "stack").glob("*.flp"))[:2] == [
        "core.flp",
        "dram0.flp",
    ]


def test_run_from_hotspot_errors(tmp_path: Path) -> None:
    from comet.sim.hotspot_import import run_from_hotspot

    ev6, s3 = REF / "ev6", REF / "stack3d"
    with pytest.raises(InputError, match="not blocks of ev6.flp"):
        run_from_hotspot(s3 / "expected" / "grid64.ttrace", ev6 / "ev6.flp", tmp_path / "a")
    short = tmp_path / "short.ptrace"
    lines = (ev6 / "gcc.ptrace").read_text().splitlines()
    short.write_text("\n".join(lines[:5]) + "\n")
    with pytest.raises(InputError, match="4 rows"):
        run_from_hotspot(
            ev6 / "expected" / "block.ttrace", ev6 / "ev6.flp", tmp_path / "b", ptrace=short
        )
    with pytest.raises(InputError, match="sampling_intvl must be positive"):
        run_from_hotspot(
            ev6 / "expected" / "block.ttrace", ev6 / "ev6.flp", tmp_path / "c", sampling_intvl=0
        )
    bad = tmp_path / "bad.config"
    bad.write_text("-sampling_intvl fast\n")
    with pytest.raises(InputError, match="bad.config:1: sampling_intvl 'fast'"):
        run_from_hotspot(
            ev6 / "expected" / "block.ttrace", ev6 / "ev6.flp", tmp_path / "d", config=bad
        )


def _savetxt(block: np.ndarray, precision: list[int]) -> str:
    """What the trace files held before :func:`format_rows`: numpy's ``savetxt``, nan emptied."""
    import io

    buf = io.StringIO()
    np.savetxt(buf, block, fmt=[f"%.{p}g" for p in precision], delimiter=",")
    return buf.getvalue().replace("nan", "")


def test_format_rows_is_savetxt() -> None:
    from comet.sim.csv_format import format_rows

    rng = np.random.default_rng(5)
    n = 40_000
    values = np.concatenate(
        [
            10.0 ** rng.uniform(-12, 12, n) * rng.choice([-1.0, 1.0], n),  # any magnitude
            10.0 ** rng.uniform(-320, 308, 2_000),  # extremes, subnormals: Python's formatting
            np.round(rng.uniform(0, 100, n), 4),  # exactly 6 digits and fewer
            np.round(rng.uniform(0, 100, n), 6) + 5e-7,  # near the rounding boundaries
            rng.integers(1, 10**10, 5_000) * 0.5,  # exact ties (round half to even)
            np.arange(1.0, 2.0, 1 / 1024),  # exact binary fractions
            10.0 ** np.arange(-30, 31),  # powers of ten and their neighbours
            np.nextafter(10.0 ** np.arange(-30, 31), 0.0),
            np.nextafter(10.0 ** np.arange(-30, 31), np.inf),
            [0.0, -0.0, np.inf, -np.inf, np.nan, 99999.95, 999999.5, 9999995.0, 0.5, 1e-5, 1e-4],
        ]
    )
    values = values[: values.size // 50 * 50].reshape(-1, 50)
    times = np.arange(1, values.shape[0] + 1) * 1e-3
    for p in (6, 9, 3, 1, 12):
        block = np.column_stack([times, values])
        precision = [9] + [p] * 50
        assert format_rows(block, np.array(precision)) == _savetxt(block, precision), p
    assert format_rows(np.zeros((0, 3)), np.array([9, 6, 6])) == ""
    assert format_rows(np.array([[1e-3, 0, 1]]), np.array([9, 6, 6])) == "0.001,0,1\n"
    with pytest.raises(ValueError, match="one precision per column"):
        format_rows(np.zeros((2, 3)), np.array([6, 6]))


def test_trace_buffer_grows_and_flushes(tmp_path: Path) -> None:
    """Rows wait in a block (grown past 1024 rows here) until flush_every rows are in."""
    w = RunWriter(tmp_path / "big", flush_every=3000, allow_nan=True)
    w.open(temperature=["C_0", "C_1"], power=["C_0", "C_1"])
    for k in range(1, 2501):
        w.append(k * 1e-3, temperature=[50.0 + k * 1e-4, np.nan], power={"C_0": 1.5})
    path = tmp_path / "big" / "temperature.csv"
    assert path.read_text().splitlines() == ["time_s,C_0_degC,C_1_degC"]  # not flushed yet
    w.close()
    text = path.read_text().splitlines()
    assert len(text) == 2501 and text[1] == "0.001,50.0001," and text[-1] == "2.5,50.25,"
    power = (tmp_path / "big" / "power.csv").read_text().splitlines()
    assert power[-1] == "2.5,1.5,"
    assert Run(tmp_path / "big").summary["energy_J"]["C_0"] == pytest.approx(1.5 * 2.5)
