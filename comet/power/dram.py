"""DRAM power per bank and per logic core.

Per bank and epoch (W)::

    P = (reads * E_rd + writes * E_wr) / dt * s_dyn  +  P_background * s_dyn
        + P_refresh * rate  +  P_leak(T) * s_leak

CoMeT (``scripts/memTherm_core.py:480-498`` of marg-tools/CoMeT@5a9d040): access energies per
configuration (``config/gainestown_*.cfg:67-69``), refresh power
``rows_per_refresh * E_refresh / t_REFI`` (one 64 Mb bank row per refresh command every
7.8 us: ``memTherm_core.py:32``), no background power (``memTherm_core.py:33``), leakage from
the logistic DRAM fit inside its HotSpot (``temperature.c:1301``). A bank in low-power mode
scales dynamic energy by ``s_dyn = 0.1`` and leakage by ``s_leak = 0.01`` (CoMeT's
``perf_model/dram/lowpower``, ``config/base.cfg:241-242``). comet adds the JEDEC extended
temperature range: above 85 C the refresh rate doubles (``rate = 2``), which costs power here
and bandwidth/latency in :func:`comet.perf.interval.bank_latency`. Logic cores of 3dmem and
2.5d draw a constant power (CoMeT: 0.272 W, ``config/gainestown_*.cfg:71``) plus their
leakage.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bank_power", "refresh_busy", "refresh_power", "refresh_rate"]


def refresh_rate(
    t_degc: np.ndarray, double_above_degc: float = 85.0, out: np.ndarray | None = None
) -> np.ndarray:
    """Refresh-rate multiplier per bank: 1, or 2 above ``double_above_degc`` (JEDEC)."""
    result = np.where(np.asarray(t_degc) > double_above_degc, 2.0, 1.0)
    if out is None:
        return result
    np.copyto(out, result)
    return out


def refresh_power(
    e_refresh_j: float, rows_per_refresh: float, t_refi_s: float, rate: np.ndarray | float
) -> np.ndarray:
    """Average refresh power (W) per bank: ``rows * E_refresh / t_REFI * rate``."""
    return np.asarray(rate, dtype=float) * (rows_per_refresh * e_refresh_j / t_refi_s)


def refresh_busy(t_rfc_s: float, t_refi_s: float, rate: np.ndarray | float) -> np.ndarray:
    """Fraction of time a bank is blocked by refresh: ``t_RFC / t_REFI * rate``."""
    return np.asarray(rate, dtype=float) * (t_rfc_s / t_refi_s)


def bank_power(
    reads: np.ndarray,
    writes: np.ndarray,
    dt: float,
    e_read_j: float,
    e_write_j: float,
    lowpower: np.ndarray,
    lowpower_dynamic: float,
    background_w: float,
    p_refresh_w: np.ndarray,
    p_leak_w: np.ndarray,
    lowpower_leakage: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Power (W) of each bank over an epoch of ``dt`` s (see the module docstring).

    Args:
        reads, writes: accesses of the epoch per bank.
        dt: epoch length (s).
        e_read_j, e_write_j: energy per access (J).
        lowpower: bool per bank (low-power mode).
        lowpower_dynamic, lowpower_leakage: scale factors in low-power mode.
        background_w: background power per bank (W).
        p_refresh_w: refresh power per bank (W, rate included).
        p_leak_w: leakage per bank in normal mode (W).
        out: optional output array.
    """
    s_dyn = np.where(lowpower, lowpower_dynamic, 1.0)
    s_leak = np.where(lowpower, lowpower_leakage, 1.0)
    dyn = (np.asarray(reads) * e_read_j + np.asarray(writes) * e_write_j) / dt + background_w
    result = dyn * s_dyn + p_refresh_w + p_leak_w * s_leak
    if out is None:
        return np.asarray(result)
    np.copyto(out, result)
    return out
