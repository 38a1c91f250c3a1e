"""The fitted per-event core power model: fitting on synthetic data, evaluation by hand."""

from __future__ import annotations

import numpy as np
import pytest

from comet.errors import InputError
from comet.perf.protocol import EpochCounters
from comet.power.fitted import (
    FittedCorePower,
    PowerTable,
    Sample,
    fit_table,
    load_table,
    write_table,
)
from comet.power.protocol import PowerSystem
from comet.power.registry import CORE_POWER_MODELS

EVENTS = ["instructions", "cycles", "l1d_loads+l1d_stores", "branch_mispredictions"]


def _samples(rng, k_true, c0_norm, points, per_point, noise=0.0):
    """Samples of P = c0' V^2 f + V^2 sum_e k'_e rate_e (CMOS scaling of a known model)."""
    out = []
    for f, v in points:
        for _ in range(per_point):
            busy = rng.uniform(0.2, 1.0)
            ipc = rng.uniform(0.3, 2.5)
            rates = {
                "cycles": busy * f,
                "instructions": ipc * busy * f,
                "l1d_loads": rng.uniform(0.1, 0.4) * ipc * busy * f,
                "l1d_stores": rng.uniform(0.05, 0.2) * ipc * busy * f,
                "branch_mispredictions": rng.uniform(1e-3, 1e-2) * ipc * busy * f,
            }
            r = np.array([sum(rates[p] for p in e.split("+")) for e in EVENTS], dtype=float)
            p = v**2 * (c0_norm * f + r @ k_true) * (1 + noise * rng.standard_normal())
            out.append(Sample(f, v, rates, float(p)))
    return out


def test_fit_recovers_a_known_linear_model():
    rng = np.random.default_rng(3)
    k_true = np.array([0.2e-9, 0.15e-9, 0.3e-9, 5e-9])  # J / V^2 per event
    c0_norm = 0.25e-9  # W / (V^2 Hz)
    points = [(1e9, 0.8), (2e9, 1.0), (3e9, 1.2), (4e9, 1.4)]
    # few samples per point: one shared, voltage-normalised fit
    table = fit_table(_samples(rng, k_true, c0_norm, points, 3), EVENTS)
    for i, (f, v) in enumerate(points):
        np.testing.assert_allclose(table.k_j[i], k_true * v**2, rtol=1e-6)
        assert table.c0_w[i] == pytest.approx(c0_norm * f * v**2, rel=1e-6)
        assert table.rms_w[i] < 1e-9
    # many samples at each point (1 % noise): per-point fits, within a few percent
    table = fit_table(_samples(rng, k_true, c0_norm, points, 60, noise=0.01), EVENTS)
    for i, (_f, v) in enumerate(points):
        np.testing.assert_allclose(table.k_j[i][:3], k_true[:3] * v**2, rtol=0.1)
        assert 0 < table.rms_w[i] < 0.05 * table.c0_w[i] + 1.0


def test_fit_rejects_missing_events():
    with pytest.raises(InputError, match="no event 'l1d_stores'"):
        fit_table([Sample(1e9, 1.0, {"instructions": 1.0, "l1d_loads": 1.0}, 1.0)], EVENTS[2:3])
    with pytest.raises(InputError, match="no samples"):
        fit_table([], EVENTS)


def _table():
    return PowerTable(
        events=["instructions", "l1d_accesses"],
        f_hz=np.array([1e9, 3e9]),
        v=np.array([0.8, 1.2]),
        c0_w=np.array([0.5, 2.0]),
        k_j=np.array([[0.2e-9, 0.1e-9], [0.5e-9, 0.2e-9]]),
        rms_w=np.array([0.01, 0.02]),
        meta={"source": "test"},
    )


def test_fitted_core_power_by_hand(tmp_path):
    path = tmp_path / "t.toml"
    write_table(_table(), path)
    model = CORE_POWER_MODELS.create("fitted", {"table": str(path)})
    assert isinstance(model, FittedCorePower) and model.table.meta["source"] == "test"
    model.start(PowerSystem(3, np.array([1e9, 3e9]), np.array([0.8, 1.2]), 0.0, 1e-9))
    c = EpochCounters.zeros(3, 1)
    dt = 1e-3
    c.instructions[:] = [2e6, 1e6, 0.0]
    c.events = {"l1d_accesses": np.array([5e5, 2e5, 0.0])}
    f = np.array([1e9, 3e9, 2e9])
    v = np.array([0.8, 1.2, 1.0])
    out = np.zeros(3)
    model.dynamic(c, f, v, dt, out)
    # points themselves: the table's values
    p0 = 0.5 + 0.2e-9 * 2e6 / dt + 0.1e-9 * 5e5 / dt
    p1 = 2.0 + 0.5e-9 * 1e6 / dt + 0.2e-9 * 2e5 / dt
    # 2 GHz, 1.0 V: normalised values halfway, scaled by V^2 (V^2 f for c0)
    c0n = 0.5 * (0.5 / (0.64 * 1e9) + 2.0 / (1.44 * 3e9))
    p2 = c0n * 1.0 * 2e9
    np.testing.assert_allclose(out, [p0, p1, p2], rtol=1e-12)
    # an idle core without c0
    model2 = FittedCorePower(table=str(path), idle_c0=False)
    model2.start(PowerSystem(3, np.array([1e9]), np.array([1.0]), 0.0, 1e-9))
    c.compute_time[:] = [dt, dt / 2, 0.0]
    model2.dynamic(c, f, v, dt, out)
    np.testing.assert_allclose(out, [p0, p1 - 1.0, 0.0], rtol=1e-12)


def test_missing_event_and_table_errors(tmp_path):
    path = tmp_path / "t.toml"
    write_table(_table(), path)
    model = FittedCorePower(table=str(path))
    model.start(PowerSystem(1, np.array([1e9]), np.array([1.0]), 0.0, 1e-9))
    c = EpochCounters.zeros(1, 1)
    with pytest.raises(InputError, match="no event 'l1d_accesses'"):
        model.dynamic(c, np.array([1e9]), np.array([1.0]), 1e-3, np.zeros(1))
    with pytest.raises(InputError, match="file not found"):
        load_table(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[meta]\nevents = ["a", "b"]\n[[points]]\nf_hz = 1e9\nv = 1.0\nc0_w = 0\nk_j = [1]\n'
    )
    with pytest.raises(InputError, match=r"points.0.k_j: 1 values for 2 events"):
        load_table(bad)


def test_round_trip(tmp_path):
    t = _table()
    write_table(t, tmp_path / "t.toml")
    u = load_table(tmp_path / "t.toml")
    assert u.events == t.events
    for name in ("f_hz", "v", "c0_w", "k_j", "rms_w"):
        np.testing.assert_array_equal(getattr(u, name), getattr(t, name))


def test_interval_markers():
    from comet.power.mcpat import interval_markers

    assert interval_markers(2e-3, 1e-3) == [
        "periodic-0:periodic-1000000000000",
        "periodic-1000000000000:roi-end",
    ]
    assert len(interval_markers(3e-3, 0.5e-3)) == 6


def test_builtin_table_reproduces_its_mcpat_samples():
    """The shipped fit against two of the McPAT runs it was fitted from (2 GHz, 1.0 V;
    values copied from McPAT's output): a compute-bound core and an idle one."""
    model = FittedCorePower()
    assert model.table.events == ["instructions", "cycles", "l1d_accesses", "l2_accesses"]
    assert "McPAT" in model.table.meta["source"]
    model.start(PowerSystem(2, np.array([2e9]), np.array([1.0]), 0.0, 1e-9))
    c = EpochCounters.zeros(2, 1)
    dt = 1e-3
    c.instructions[:] = [1.71e9 * dt, 0.0]
    c.compute_time[:] = [dt, 0.0]
    c.events = {"l1d_accesses": np.array([3.85e7 * dt, 0.0]),
                "l2_accesses": np.array([2.68e6 * dt, 0.0])}  # fmt: skip
    out = np.zeros(2)
    model.dynamic(c, np.array([2e9, 2e9]), np.array([1.0, 1.0]), dt, out)
    np.testing.assert_allclose(out, [2.584, 0.422], rtol=0.05)


def test_fit_power_cli_input_errors(tmp_path):
    from click.testing import CliRunner

    from comet.cli import main

    runner = CliRunner()
    out = tmp_path / "t.toml"
    out.write_text("")
    r = runner.invoke(main, ["fit-power", "-o", str(out), "--mcpat", "x"])
    assert r.exit_code == 2 and "output exists" in r.output
    r = runner.invoke(main, ["fit-power", "-o", str(tmp_path / "u.toml"), "--mcpat", "x"])
    assert r.exit_code == 2 and "give --trace" in r.output
