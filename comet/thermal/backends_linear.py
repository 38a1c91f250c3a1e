"""Linear-algebra back ends of the thermal solver: steady solves and exact-in-time propagators.

A back end turns a :class:`~comet.thermal.network.ThermalNetwork` into

* ``steady(f)``: ``G^-1 f`` (K) for a heat input ``f`` (W), factorized once;
* ``propagator(h)``: an object whose ``advance(T, f)`` returns the state after ``h`` seconds of
  constant input ``f`` from state ``T``: ``T(h) = T_ss + exp(-h C^-1 G)(T - T_ss)``.

Back ends:

* :class:`DenseEigen` -- the generalized eigen-decomposition ``G V = C V diag(lam)`` of a small
  network (block model, coarse grids); exact exponential.
* :class:`SparseRational` -- any network; the exponential by the CF rational approximation
  (:mod:`comet.thermal.rational`) with one sparse complex LU per pole.
* :class:`comet.thermal.structured.Structured` -- grid networks with uniform layers; transforms in
  the plane, tiny systems across layers, a low-rank correction for the die edges.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp

from comet.thermal.network import ThermalNetwork
from comet.thermal.rational import RationalExp, cf_exp


class Propagator(Protocol):
    """Advances a state by a fixed step ``h`` (s) at constant heat input."""

    h: float

    def advance(self, T: np.ndarray, f: np.ndarray) -> np.ndarray: ...


class LinearBackend(Protocol):
    name: str

    def steady(self, f: np.ndarray) -> np.ndarray: ...

    def propagator(self, h: float) -> Propagator: ...


#: SuperLU column ordering for the (structurally symmetric) thermal matrices.
ORDERING = "MMD_AT_PLUS_A"


class DenseEigen:
    """Exact modal solution for small networks (n up to a few thousand nodes)."""

    name = "dense"

    def __init__(self, network: ThermalNetwork) -> None:
        import scipy.linalg as sla  # here: the structured path does without it (start-up)

        G = network.G.toarray()
        C = network.C
        s = 1.0 / np.sqrt(C)
        lam, Q = sla.eigh(G * s[:, None] * s[None, :])
        self.lam = lam
        self.V = Q * s[:, None]  # G V = C V diag(lam), V^T C V = I
        self.VtC = self.V.T * C[None, :]
        self._steady = (self.V / lam[None, :]) @ self.V.T

    def steady(self, f: np.ndarray) -> np.ndarray:
        return np.asarray(self._steady @ f)

    def propagator(self, h: float) -> _DensePropagator:
        return _DensePropagator(self, h)


class _DensePropagator:
    def __init__(self, eig: DenseEigen, h: float) -> None:
        decay = np.exp(-h * eig.lam)
        self.h = h
        self.E = (eig.V * decay[None, :]) @ eig.VtC
        self.F = (eig.V * ((1.0 - decay) / eig.lam)[None, :]) @ eig.V.T

    def advance(self, T: np.ndarray, f: np.ndarray) -> np.ndarray:
        return np.asarray(self.E @ T + self.F @ f)


class SparseRational:
    """General sparse networks: ``exp`` by CF rational approximation, sparse LU per pole."""

    name = "sparse"

    def __init__(self, network: ThermalNetwork, degree: int = 8) -> None:
        import scipy.sparse.linalg as spla  # here: the structured path does without it

        self.G = network.G.tocsc()
        self.C = network.C
        self.rational = cf_exp(degree)
        # G and h G + z C are structurally symmetric: a minimum-degree ordering of A + A^T
        # keeps the fill several times lower than SuperLU's default COLAMD on layered grids.
        self._lu = spla.splu(self.G, permc_spec=ORDERING)

    def steady(self, f: np.ndarray) -> np.ndarray:
        return np.asarray(self._lu.solve(f))

    def propagator(self, h: float) -> _RationalPropagator:
        import scipy.sparse.linalg as spla

        rat = self.rational
        Cm = sp.diags(self.C)
        solves = [
            spla.splu((h * self.G + z * Cm).tocsc().astype(complex), permc_spec=ORDERING)
            for z in rat.poles
        ]
        return _RationalPropagator(h, rat, self.C, [s.solve for s in solves])


class _RationalPropagator:
    """``T+ = r_inf T - 2 Re sum_j M_j^-1 (c_j C T + h c_j / z_j f)``, ``M_j = h G + z_j C``."""

    def __init__(self, h: float, rational: RationalExp, C: np.ndarray, solves: list) -> None:
        self.h = h
        self.rational = rational
        self.C = C
        self.solves = solves
        self.a = rational.residues
        self.b = h * rational.residues / rational.poles

    def advance(self, T: np.ndarray, f: np.ndarray) -> np.ndarray:
        CT = self.C * T
        out = self.rational.r_inf * T
        for a, b, solve in zip(self.a, self.b, self.solves, strict=True):
            out -= 2.0 * np.real(solve(a * CT + b * f))
        return out
