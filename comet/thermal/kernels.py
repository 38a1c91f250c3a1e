"""The per-mode passes of the structured transient step: numpy versions and the compiled ones.

:func:`modal_inputs` and :func:`modal_update` (documented in
:mod:`comet.thermal.kernels_numba`) exist twice: compiled with numba there, and as a few
batched numpy products here, computing the same values. The compiled ones are faster per step
(2-3x on a 64x64 grid) but importing numba and loading its cache costs more than a short
run (``comet hotspot`` on a 100-row trace) spends stepping. :func:`kernels` picks
one for a run of a given length; the compiled module is imported only when it is chosen.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: Below this much work (steps x plane modes x layers) a run uses the numpy kernels, unless numba
#: is loaded already. Measured on ev6 64x64 (4 layers, 4096 modes) on the shared 2-core machine:
#: the numpy passes cost ~5 ms more per step, importing numba and loading the kernels ~1 s of
#: CPU (whole ``comet hotspot`` process, 100 rows: 1.1-1.35 s CPU numpy, 1.7-1.9 s compiled), so
#: the compiled ones pay after ~200 steps, ~3e6 mode-layer steps.
COMPILED_MIN_WORK = 3e6


class Kernels(NamedTuple):
    """The two per-mode passes of a structured step (same signatures in both versions)."""

    modal_inputs: Callable[..., None]
    modal_update: Callable[..., None]
    compiled: bool


def _lines(cube: np.ndarray, psi_we: np.ndarray, phi_ns: np.ndarray) -> np.ndarray:
    """Per-line cosine coefficients (J, ne * (2R + 2C)) of fields ``cube`` (J, ne, R, C)."""
    J, ne = cube.shape[:2]
    we = np.matmul(cube, psi_we.T)  # (J, ne, R, 2)
    ns = np.matmul(phi_ns, cube)  # (J, ne, 2, C)
    out = np.concatenate(
        [we.transpose(0, 1, 3, 2).reshape(J, ne, -1), ns.reshape(J, ne, -1)], axis=2
    )
    return out.reshape(J, -1)


def _fields(v: np.ndarray, ne: int, psi_we: np.ndarray, phi_ns: np.ndarray) -> np.ndarray:
    """Mode-space fields (J, ne, R*C) of border-line values ``v`` (J, ne * (2R + 2C))."""
    J = v.shape[0]
    C, R = psi_we.shape[1], phi_ns.shape[1]
    per = v.reshape(J, ne, 2 * R + 2 * C)
    g_we = per[:, :, : 2 * R].reshape(J, ne, 2, R)
    g_ns = per[:, :, 2 * R :].reshape(J, ne, 2, C)
    out = np.matmul(g_we.transpose(0, 1, 3, 2), psi_we)
    out += np.matmul(phi_ns.T, g_ns)
    return out.reshape(J, ne, R * C)


def modal_inputs_np(
    hat_power: np.ndarray,
    ef_base: np.ndarray,
    V_power: np.ndarray,
    eta: np.ndarray,
    VI_re: np.ndarray,
    VI_im: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    psi_we: np.ndarray,
    phi_ns: np.ndarray,
    ef_out: np.ndarray,
    lines_re: np.ndarray,
    lines_im: np.ndarray,
) -> None:
    """numpy version of :func:`comet.thermal.kernels_numba.modal_inputs`."""
    nm, L = eta.shape
    J = a.shape[0]
    C, R = psi_we.shape[1], phi_ns.shape[1]
    per = 2 * R + 2 * C
    ne = lines_re.shape[1] // per if per > 0 else 0
    ef_out[:] = ef_base
    if V_power.shape[1]:
        ef_out += np.matmul(V_power.transpose(0, 2, 1), hat_power.T[:, :, None])[:, :, 0]
    if ne == 0:
        return
    x = np.stack([eta, ef_out], axis=2)  # (nm, L, 2): [eta | ef]
    yr = np.matmul(VI_re, x)  # (nm, J ne, 2): VI_re . [eta | ef]
    yi = np.matmul(VI_im, x)
    ar, ai = np.repeat(a[:, 0], ne), np.repeat(a[:, 1], ne)  # row r = j ne + e
    br, bi = np.repeat(b[:, 0], ne), np.repeat(b[:, 1], ne)
    F = np.empty((2, nm, J * ne))
    F[0] = yr[:, :, 0] * ar - yi[:, :, 0] * ai + yr[:, :, 1] * br - yi[:, :, 1] * bi
    F[1] = yi[:, :, 0] * ar + yr[:, :, 0] * ai + yi[:, :, 1] * br + yr[:, :, 1] * bi
    cube = np.ascontiguousarray(F.transpose(0, 2, 1)).reshape(2 * J, ne, R, C)
    lines = _lines(cube, psi_we, phi_ns).reshape(2, J, -1)
    lines_re[:] = lines[0]
    lines_im[:] = lines[1]


def modal_update_np(
    eta: np.ndarray,
    ef: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    VI_re: np.ndarray,
    VI_im: np.ndarray,
    v_re: np.ndarray,
    v_im: np.ndarray,
    psi_we: np.ndarray,
    phi_ns: np.ndarray,
    V_out: np.ndarray,
    eta_out: np.ndarray,
    hat_out: np.ndarray,
) -> None:
    """numpy version of :func:`comet.thermal.kernels_numba.modal_update`."""
    nm, L = eta.shape
    J = v_re.shape[0]
    C, R = psi_we.shape[1], phi_ns.shape[1]
    per = 2 * R + 2 * C
    ne = v_re.shape[1] // per if per > 0 else 0
    new = alpha * eta + beta * ef
    if ne:
        g_re = _fields(v_re, ne, psi_we, phi_ns).reshape(J * ne, nm).T  # (nm, J ne)
        g_im = _fields(v_im, ne, psi_we, phi_ns).reshape(J * ne, nm).T
        corr = np.matmul(g_re[:, None, :], VI_re)[:, 0, :]
        corr -= np.matmul(g_im[:, None, :], VI_im)[:, 0, :]
        new -= 2.0 * corr
    eta_out[:] = new
    if V_out.shape[1]:
        hat_out[:] = np.matmul(V_out, new[:, :, None])[:, :, 0].T


_NUMPY = Kernels(modal_inputs_np, modal_update_np, compiled=False)
_compiled: Kernels | None = None


def compiled_kernels() -> Kernels:
    """The numba kernels (imports numba and loads or compiles them on first use)."""
    global _compiled
    if _compiled is None:
        from comet.thermal import kernels_numba as kn

        _compiled = Kernels(kn.modal_inputs, kn.modal_update, compiled=True)
    return _compiled


def numpy_kernels() -> Kernels:
    return _NUMPY


def kernels(work: float | None) -> Kernels:
    """Kernels for a run of ``work`` = steps x plane modes x layers (None: unknown, long).

    When numba is loaded already (the closed loop's performance model uses it) the compiled
    kernels cost only their cache load and are always taken."""
    if work is not None and work < COMPILED_MIN_WORK and "numba" not in sys.modules:
        return _NUMPY
    return compiled_kernels()
