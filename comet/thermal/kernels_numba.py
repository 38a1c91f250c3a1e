"""Compiled per-mode loops of the structured transient step (numba); imported on demand.

The structured back end (:mod:`comet.thermal.structured`) keeps the grid state as eigen
coordinates ``eta`` (n_modes, L): per plane mode ``n`` an independent L-vector. A time step
then does a little work per mode: the exact separable update, the gather of the edge-layer
fields that feed the Woodbury edge correction, the scatter of that correction back, and the
transforms of the power layers in and out. As numpy calls these are many small batched products
whose call overhead and temporaries cost more than the arithmetic; here each is one pass over
the modes that keeps a mode's L values in registers or L1.

Arrays are C-contiguous float64 (complex values split into real and imaginary parts), so one
compiled specialisation serves every model. ``cache=True`` keeps the machine code beside this
file (or in numba's user cache), so the ~2 s compilation happens once per installation.
Importing numba and loading that cache costs ~0.2-0.3 s, so :mod:`comet.thermal.kernels` loads
this module only for runs long enough to pay for it; its numpy versions compute the same.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _mode_on_lines(
    n: int, psi_we: np.ndarray, phi_ns: np.ndarray
) -> tuple[int, int, float, float, float, float]:  # pragma: no cover - compiled
    """Plane mode ``n = p*C + q``: its indices and its values on the W, E (``psi_we``) and N, S
    (``phi_ns``) border lines, i.e. what links the mode to the per-line cosine coefficients."""
    C = psi_we.shape[1]
    p = n // C
    q = n - p * C
    return p, q, psi_we[0, q], psi_we[1, q], phi_ns[0, p], phi_ns[1, p]


@njit(cache=True, fastmath=True)
def modal_inputs(
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
) -> None:  # pragma: no cover - compiled
    """Heat input in eigen coordinates, and the edge lines of every shift's edge-layer fields.

    ``ef_out[n] = ef_base[n] + V_power[n]^T hat_power[:, n]`` (W, eigen coordinates of the heat
    input: constant part plus the power layers' cell power, given by its 2-D DCT ``hat_power``
    (n_power_layers, n_modes)). For shift ``j`` and edge layer ``e`` the field is
    ``f[j, e, n] = a_j (VI[n, j*ne+e] . eta[n]) + b_j (VI[n, j*ne+e] . ef[n])``, with ``VI`` the
    edge-layer rows of ``V`` times the shift's ``1/(h lam + z_j)``; its values on the four
    border lines of the layer go to ``lines[j]`` in the per-line cosine basis, per edge layer
    ``[W (R), E (R), N (C), S (C)]`` (``psi_we`` = rows 0 and C-1 of the column DCT basis,
    ``phi_ns`` = rows 0 and R-1 of the row DCT basis; mode ``n = p*C + q``). ``a`` and ``b``
    are (J, 2) arrays of (real, imaginary) parts.
    """
    nm, L = eta.shape
    n_power = V_power.shape[1]
    J = a.shape[0]
    C = psi_we.shape[1]
    R = phi_ns.shape[1]
    per = 2 * R + 2 * C
    ne = lines_re.shape[1] // per if per > 0 else 0
    lines_re[:, :] = 0.0
    lines_im[:, :] = 0.0
    for n in range(nm):
        p, q, w0, w1, s0, s1 = _mode_on_lines(n, psi_we, phi_ns)
        for k in range(L):
            ef_out[n, k] = ef_base[n, k]
        for m in range(n_power):
            h = hat_power[m, n]
            for k in range(L):
                ef_out[n, k] += h * V_power[n, m, k]
        r = 0
        for j in range(J):
            for e in range(ne):
                re_eta = 0.0
                im_eta = 0.0
                re_ef = 0.0
                im_ef = 0.0
                for k in range(L):
                    vr = VI_re[n, r, k]
                    vi = VI_im[n, r, k]
                    re_eta += vr * eta[n, k]
                    im_eta += vi * eta[n, k]
                    re_ef += vr * ef_out[n, k]
                    im_ef += vi * ef_out[n, k]
                fr = a[j, 0] * re_eta - a[j, 1] * im_eta + b[j, 0] * re_ef - b[j, 1] * im_ef
                fi = a[j, 0] * im_eta + a[j, 1] * re_eta + b[j, 0] * im_ef + b[j, 1] * re_ef
                base = e * per
                lines_re[j, base + p] += fr * w0
                lines_im[j, base + p] += fi * w0
                lines_re[j, base + R + p] += fr * w1
                lines_im[j, base + R + p] += fi * w1
                lines_re[j, base + 2 * R + q] += fr * s0
                lines_im[j, base + 2 * R + q] += fi * s0
                lines_re[j, base + 2 * R + C + q] += fr * s1
                lines_im[j, base + 2 * R + C + q] += fi * s1
                r += 1


@njit(cache=True, fastmath=True)
def modal_update(
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
) -> None:  # pragma: no cover - compiled
    """The new state and the 2-D DCT of some layers' temperatures after the step.

    ``eta_out[n] = alpha[n] eta[n] + beta[n] ef[n] - 2 Re sum_{j,e} g[j, e, n] VI[n, j*ne+e]``:
    the separable exact step plus the edge correction, where ``g`` is the field on edge layer
    ``e`` of the border-line values ``v[j]`` (same line layout as :func:`modal_inputs`). Then
    ``hat_out[m, n] = V_out[n, m] . eta_out[n]`` (K, DCT coefficients of layer m's cells).
    ``eta_out`` may be ``eta`` itself (each mode is read before it is written).
    """
    nm, L = eta.shape
    n_out = V_out.shape[1]
    J = v_re.shape[0]
    C = psi_we.shape[1]
    R = phi_ns.shape[1]
    per = 2 * R + 2 * C
    ne = v_re.shape[1] // per if per > 0 else 0
    for n in range(nm):
        p, q, w0, w1, s0, s1 = _mode_on_lines(n, psi_we, phi_ns)
        for k in range(L):
            eta_out[n, k] = alpha[n, k] * eta[n, k] + beta[n, k] * ef[n, k]
        r = 0
        for j in range(J):
            for e in range(ne):
                base = e * per
                gr = v_re[j, base + p] * w0 + v_re[j, base + R + p] * w1
                gr += s0 * v_re[j, base + 2 * R + q] + s1 * v_re[j, base + 2 * R + C + q]
                gi = v_im[j, base + p] * w0 + v_im[j, base + R + p] * w1
                gi += s0 * v_im[j, base + 2 * R + q] + s1 * v_im[j, base + 2 * R + C + q]
                cr = 2.0 * gr
                ci = 2.0 * gi
                for k in range(L):
                    eta_out[n, k] -= cr * VI_re[n, r, k] - ci * VI_im[n, r, k]
                r += 1
        for m in range(n_out):
            s = 0.0
            for k in range(L):
                s += V_out[n, m, k] * eta_out[n, k]
            hat_out[m, n] = s
