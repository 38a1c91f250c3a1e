"""Core and DRAM power, leakage curves, operating points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from comet.errors import InputError
from comet.power import dram
from comet.power.core import core_activity, dynamic_power
from comet.power.leakage import (
    comet_core_leakage,
    comet_dram_leakage,
    comet_logic_leakage,
    hotspot_leakage,
    logistic,
    resolve_leakage,
)
from comet.power.vf import OperatingPoints, linear_voltage


def test_default_operating_points_are_comets() -> None:
    op = OperatingPoints()
    assert len(op) == 31
    assert op.levels[0] == 1e9 and op.levels[-1] == 4e9
    assert np.diff(op.levels) == pytest.approx(np.full(30, 1e8))
    assert op.voltage(1e9) == pytest.approx(0.8)
    assert op.voltage(4e9) == pytest.approx(1.4)
    assert op.voltage(2.5e9) == pytest.approx(0.6 + 0.8 * 2.5 / 4)
    # rounding down, clipping below f_min
    assert op.snap(np.array([2.36e9, 0.5e9, 9e9])) == pytest.approx([2.3e9, 1e9, 4e9])
    assert linear_voltage(2e9, 4e9) == pytest.approx(1.0)


def test_table_voltages() -> None:
    op = OperatingPoints(1e9, 2e9, 0.5e9, table=[(1.0, 0.9), (2.0, 1.1)])
    assert op.levels == pytest.approx([1e9, 1.5e9, 2e9])
    assert op.voltages == pytest.approx([0.9, 1.0, 1.1])
    with pytest.raises(ValueError):
        OperatingPoints(2e9, 1e9)


def test_dynamic_power_is_c_v2_f_a() -> None:
    v, f, a = np.array([0.8, 1.4]), np.array([1e9, 4e9]), np.array([1.0, 0.5])
    p = dynamic_power(1e-9, v, f, a)
    assert p == pytest.approx(1e-9 * v**2 * f * a)
    op = OperatingPoints()
    powers = dynamic_power(1e-9, op.voltages, op.levels, np.ones(len(op)))
    assert (np.diff(powers) > 0).all()  # higher frequency -> higher power


def test_activity_mixes_busy_and_idle() -> None:
    act = core_activity(np.array([0.5e-3, 0.0]), np.array([1e-3, 0.0]), 1e-3, 0.1)
    assert act == pytest.approx([0.5, 0.1])


def test_comet_leakage_fits() -> None:
    t = np.array([298.0, 353.0])
    # the values CoMeT's temperature.c notes next to its DRAM fit
    assert comet_dram_leakage(t, t, t) == pytest.approx([0.09922325617, 0.2156328354], rel=1e-3)
    temps = np.linspace(300, 380, 9)
    for fit in (comet_core_leakage, comet_dram_leakage, comet_logic_leakage):
        vals = fit(temps, np.full(9, 1.2), np.ones(9))
        assert (np.diff(vals) > 0).all()
    # core leakage scales with V / 1.2
    low = comet_core_leakage(np.array([330.0]), np.array([0.6]), np.ones(1))
    high = comet_core_leakage(np.array([330.0]), np.array([1.2]), np.ones(1))
    assert low == pytest.approx(high / 2)
    assert logistic(np.array([373.2385]), 10.0, 0.0, 373.2385, 5.0) == pytest.approx(0.005)


def test_hotspot_leakage() -> None:
    p = hotspot_leakage(np.array([383.15, 383.15 + 1 / 0.036]), np.ones(2), np.array([1e-6, 1e-6]))
    assert p == pytest.approx([1.5e4 * 1e-6, 1.5e4 * 1e-6 * np.e])


def test_resolve_leakage(tmp_path: Path) -> None:
    t = np.array([330.0])
    assert resolve_leakage("comet", "dram")(t, t, t) == comet_dram_leakage(t, t, t)
    assert resolve_leakage("none", "core")(t, t, t) == 0.0
    assert resolve_leakage("hotspot", "core") is hotspot_leakage
    f = tmp_path / "leak.py"
    f.write_text("def flat(T, V, A):\n    return 0 * T + 0.5\nNOT_CALLABLE = 3\n")
    assert resolve_leakage("leak.py:flat", "core", tmp_path)(t, t, t) == 0.5
    assert resolve_leakage("comet.power.leakage:no_leakage", "core")(t, t, t) == 0.0
    for spec, msg in (
        ("leak.py:missing", "has no 'missing'"),
        ("leak.py:NOT_CALLABLE", "not callable"),
        ("nope.py:f", "file not found"),
        ("no_such_module_xyz:f", "cannot import"),
        ("justaname", "expected module:name"),
    ):
        with pytest.raises(InputError, match=msg):
            resolve_leakage(spec, "core", tmp_path)


def test_refresh_doubles_above_85() -> None:
    rate = dram.refresh_rate(np.array([84.9, 85.0, 85.1, 120.0]))
    assert rate == pytest.approx([1, 1, 2, 2])
    p1 = dram.refresh_power(3.55e-9, 1.0, 7.8e-6, 1.0)
    p2 = dram.refresh_power(3.55e-9, 1.0, 7.8e-6, 2.0)
    assert p1 == pytest.approx(3.55e-9 / 7.8e-6)
    assert p2 == pytest.approx(2 * p1)
    assert dram.refresh_busy(160e-9, 7.8e-6, 2.0) == pytest.approx(2 * 160 / 7800)


def test_bank_power_and_low_power_mode() -> None:
    reads, writes = np.array([1000.0, 1000.0]), np.array([500.0, 500.0])
    lp = np.array([False, True])
    p_ref = np.array([1e-3, 1e-3])
    leak = np.array([0.1, 0.1])
    p = dram.bank_power(reads, writes, 1e-3, 20e-9, 30e-9, lp, 0.1, 0.01, p_ref, leak, 0.01)
    dyn = (1000 * 20e-9 + 500 * 30e-9) / 1e-3 + 0.01
    assert p[0] == pytest.approx(dyn + 1e-3 + 0.1)
    assert p[1] == pytest.approx(0.1 * dyn + 1e-3 + 0.01 * 0.1)
