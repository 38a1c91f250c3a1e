"""Best rational approximation of exp(x) on (-inf, 0] (Caratheodory-Fejer method).

``exp(x) ~ r(x) = r_inf + sum_k c_k / (x - z_k)`` with ``n`` poles in complex-conjugate pairs. The
error is uniform over the whole negative real axis and falls like 9.28903^-n (Trefethen,
Weideman and Schmelzer, "Talbot quadratures and rational approximations", BIT 46, 2006), so
``exp(-h A) v`` for a symmetric-definite system is obtained to that accuracy for ANY step h with
n/2 shifted linear solves. The coefficients are computed here from the method (an SVD of a
Hankel matrix of Chebyshev coefficients), not tabulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class RationalExp:
    """``r(x) = r_inf + sum_k residues[k] / (x - poles[k])``, upper-half-plane poles only.

    The full sum runs over ``poles`` and their conjugates; for real x it equals
    ``r_inf + 2 Re sum_k residues[k] / (x - poles[k])``. ``r_inf`` is chosen so that r(0) = 1
    exactly (steady states are preserved to round-off).
    """

    poles: np.ndarray
    residues: np.ndarray
    r_inf: float
    degree: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)[..., None]
        return self.r_inf + 2.0 * np.real(self.residues / (x - self.poles)).sum(-1)


@lru_cache(maxsize=8)
def cf_exp(degree: int = 12) -> RationalExp:
    """The type (degree, degree) CF approximation of exp on (-inf, 0]; ``degree`` even, 2..16."""
    if degree % 2 or not 2 <= degree <= 16:
        raise ValueError("degree must be even, 2..16")
    n = degree
    K = 75  # Chebyshev coefficients kept
    nf = 1024  # FFT points
    w = np.exp(2j * np.pi * np.arange(nf) / nf)
    t = w.real
    scale = 9.0
    with np.errstate(divide="ignore", over="ignore"):
        F = np.exp(scale * (t - 1.0) / (t + 1.0 + 1e-16))
    c = np.real(np.fft.fft(F)) / nf
    f = np.polyval(c[K::-1], w)
    hankel = np.array([[c[1 + i + j] if i + j < K else 0.0 for j in range(K)] for i in range(K)])
    U, S, Vt = np.linalg.svd(hankel)
    s = S[n]
    u = U[::-1, n]
    v = Vt[n, :]
    pad = np.zeros(nf - K)
    b = np.fft.fft(np.concatenate([u, pad])) / np.fft.fft(np.concatenate([v, pad]))
    rt = f - s * w**K * b
    roots = np.roots(v)
    qk = roots[np.abs(roots) > 1.0]
    qc = np.poly(qk)
    pt = rt * np.polyval(qc, w)
    ptc = np.real(np.fft.fft(pt) / nf)[n::-1]
    ck = np.empty(n, dtype=complex)
    for k in range(n):
        q = qk[k]
        others = np.poly(np.delete(qk, k))
        ck[k] = np.polyval(ptc, q) / np.polyval(others, q)
    zk = scale * (qk - 1.0) ** 2 / (qk + 1.0) ** 2
    ck = 4.0 * ck * zk / (qk**2 - 1.0)
    upper = zk.imag > 0
    poles, residues = zk[upper], ck[upper]
    order = np.argsort(poles.real)
    poles, residues = poles[order], residues[order]
    # r(0) = r_inf - 2 Re sum(c/z) = 1 exactly
    r_inf = 1.0 + 2.0 * float(np.real(residues / poles).sum())
    return RationalExp(poles, residues, r_inf, n)
