"""A reduced-order transient step for any grid network: per-cell materials (2.5d, chiplets,
``-detailed_3D``) at the speed of uniform stacks.

The network ``C dT/dt = -G T + b_amb + B p`` is linear and time-invariant, its input lives in a
few hundred block powers, and the loop reads a few hundred block temperatures. A basis ``V``
(``n x r``, ``r`` a few hundred to a few thousand) of the states the inputs can reach is built
once by rational Krylov: at real shifts ``s_k`` (0 and log-spaced up to a few times the
inverse step), the solves ``(G + s_k C)^-1 [B, b_amb, C T0]`` are C-orthogonalized into it
(block rational Arnoldi with deflation). The Galerkin projection keeps the symmetry: the reduced
pencil is diagonalized, ``V^T C V = I``, ``V^T G V = diag(lam)``, and a step of ``h`` with
constant power is exact for the reduced system::

    z+ = exp(-h lam) z + (1 - exp(-h lam)) / lam * (V^T B p + V^T b_amb)
    block temperatures = (A V) z               (A: the block averages of the power layers)

i.e. two (r x blocks) products and a diagonal scaling per step, whatever the materials.

Accuracy. The reduced response interpolates the network's at every shift (Galerkin with
``(G + s_k C)^-1 B`` in the basis), steady states are exact (shift 0: ``G^-1 B`` and
``G^-1 b_amb`` are in the basis; ambient, uniform and steady initial states lie in it), and the
error between shifts is controlled by the residual of the reduced solution in the full
equations: for a real ``s >= 0`` the residual ``R(s) = [B, b_amb] - (G + sC) V (lam + s)^-1 V^T
[B, b_amb]`` bounds the frequency-domain error, ``||E(s)||_C <= ||C^-1/2 R(s)|| / (lam_1 +
s)`` (``G + sC >= (lam_1 + s) C``). Shifts are added greedily where the estimated relative error
is largest until it is below ``tolerance`` on the whole range (:attr:`ReducedOrder.indicator`
keeps the final value). The time-domain error against the exact step is measured in
``tests/test_percell_thermal.py`` and ``benchmarks/percell_methods.py``.

Set-up: one real sparse LU and one multi-right-hand-side solve per shift (~3 s per shift on a
32x32 2.5d network of 22.5k nodes), the orthogonalization, and a dense eigen-decomposition of
order r.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from comet.errors import InputError
from comet.thermal.network import ThermalNetwork

#: SuperLU column ordering for the (structurally symmetric) thermal matrices.
ORDERING = "MMD_AT_PLUS_A"

#: default bound on the estimated relative frequency-domain error of the reduced model
TOLERANCE = 1e-7
#: at most this many shifts (solves of the full network) in a basis
MAX_SHIFTS = 24
#: directions of a shift's solves kept above this relative size (deflation)
DEFLATION = 1e-9
#: candidate shifts of the error estimate (log-spaced), and random input combinations it uses
CANDIDATES = 40
SKETCH = 4
#: the highest shift, in units of the inverse step (1/h): the modes above it relax within a
#: step and respond quasi-statically
SHIFT_RANGE = 50.0
#: runs whose steps x LU fill of G stay below this (when the caller says how many steps,
#: ``ThermalModel.prepare``) take the exact sparse step instead: a basis costs about as much as
#: that many sparse steps. Measured break-even (``benchmarks/percell_methods.py breakeven``):
#: 2.5d 16x16 (fill 0.93 M) 512 steps, chiplets 16x16 (fill 0.50 M) 1196 steps: 4.8-5.9e8.
REDUCED_MIN_WORK = 5e8


#: shifts added per round after the first
SHIFTS_PER_ROUND = 3

#: bases kept per process for reuse (a sweep's runs of one package build it once per worker):
#: key -> (W, Z, lam, info); the oldest is dropped beyond :data:`CACHE_SIZE`
_CACHE: OrderedDict[str, tuple[np.ndarray, np.ndarray, np.ndarray, BuildInfo]] = OrderedDict()
CACHE_SIZE = 1


def initial_shifts(smax: float) -> list[float]:
    """The first round's shifts (1/s): 0 (exact steady states), a log-spaced cover of the slow
    range and a denser one of the fast range, where the network's many local modes sit and a
    step's response changes fastest (the shifts the error estimate asks for first on 2.5d and
    chiplet networks lie between 0.07 and 1 x ``smax``)."""
    slow = np.geomspace(smax * 2e-5, smax * 0.03, 5)
    fast = np.geomspace(smax * 0.07, smax, 8)
    return [0.0, *map(float, slow), *map(float, fast)]


#: states farther than this (K, max over nodes) from the basis make it rebuild
STATE_TOLERANCE = 1e-6


@dataclass
class BuildInfo:
    """What a basis build did: order, shifts, estimated error, time."""

    order: int
    shifts: list[float]
    indicator: float
    seconds: float
    #: per round: shifts so far, order, estimated error, seconds since the start
    rounds: list[tuple[int, int, float, float]]
    #: taken from this process's earlier build (``seconds`` is then the time to take it)
    reused: bool = False


class ReducedOrder:
    """The reduced-order back end: exact steady solves, reduced transient steps."""

    name = "reduced"

    def __init__(
        self,
        network: ThermalNetwork,
        *,
        tolerance: float = TOLERANCE,
        max_shifts: int = MAX_SHIFTS,
    ) -> None:
        import scipy.sparse.linalg as spla  # here: the structured path does without it

        if not 0 < tolerance < 1:
            raise InputError(f"reduced-order tolerance {tolerance!r} must be in (0, 1)")
        self.network = network
        self.G = network.G.tocsc()
        self.C = np.asarray(network.C, dtype=float)
        self.tolerance = tolerance
        self.max_shifts = max_shifts
        self._lu0 = spla.splu(self.G, permc_spec=ORDERING)
        self.B = network.power_matrix.toarray()
        self.b_amb = network.g_amb * network.ambient
        # the basis V = W Z: W (n x r) C-orthonormal, Z (r x r) the eigenvectors of W^T G W;
        # V^T C V = I, V^T G V = diag(lam). V itself is never formed (n r^2 flops).
        self.W: np.ndarray | None = None
        self.Z: np.ndarray | None = None
        self.lam = np.zeros(0)
        self.Br = np.zeros((0, self.B.shape[1]))  # V^T B
        self.ar = np.zeros(0)  # V^T b_amb
        #: the power blocks the basis takes power in (None: all), the columns of Br
        self.inputs: np.ndarray | None = None
        self.info: BuildInfo | None = None
        #: the step (s) the basis was built for
        self.h = 0.0

    @property
    def fill(self) -> int:
        """Entries of the sparse LU factors of G (the shifted systems have the same pattern)."""
        return int(self._lu0.L.nnz + self._lu0.U.nnz)

    def pays(self, steps: int) -> bool:
        """Whether a run of ``steps`` steps repays building a basis (:data:`REDUCED_MIN_WORK`)."""
        return steps * self.fill >= REDUCED_MIN_WORK

    # ------------------------------------------------------------------ exact parts
    def steady(self, f: np.ndarray) -> np.ndarray:
        return np.asarray(self._lu0.solve(f))

    # ------------------------------------------------------------------ the basis
    def _key(self, h: float, inputs: np.ndarray | None) -> str:
        """What a basis depends on: the network, the powered blocks, the step and settings."""
        d = hashlib.sha256()
        for a in (self.G.data, self.G.indices, self.G.indptr, self.C, self.B, self.b_amb):
            d.update(np.ascontiguousarray(a).tobytes())
        d.update(b"all" if inputs is None else inputs.tobytes())
        d.update(repr((h, self.tolerance, self.max_shifts, DEFLATION, SHIFT_RANGE)).encode())
        return d.hexdigest()

    def build(
        self,
        h: float,
        state: np.ndarray,
        powered: np.ndarray | None = None,
        *,
        reuse: bool = True,
    ) -> BuildInfo:
        """Build the basis for steps of about ``h`` seconds from the initial ``state`` (K),
        for power in the blocks where ``powered`` is True (None: every block). With ``reuse``,
        a basis this process built for the same network, blocks and step is taken when it
        holds ``state`` (ambient, uniform and steady states always are)."""
        t0 = time.perf_counter()
        self.inputs = None if powered is None else np.flatnonzero(powered).astype(np.int64)
        B = self.B if self.inputs is None else self.B[:, self.inputs]
        key = self._key(h, self.inputs)
        if reuse and key in _CACHE:
            W, Z, lam, info = _CACHE[key]
            self._set_basis(W, Z, lam, B, h)
            if self.project(state)[1] <= STATE_TOLERANCE:
                _CACHE.move_to_end(key)
                self.info = replace(info, seconds=time.perf_counter() - t0, reused=True)
                return self.info
        info = self._build(h, state, B)
        assert self.W is not None and self.Z is not None
        _CACHE[key] = (self.W, self.Z, self.lam, info)
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
        return info

    def _set_basis(
        self, W: np.ndarray, Z: np.ndarray, lam: np.ndarray, B: np.ndarray, h: float
    ) -> None:
        self.W, self.Z, self.lam = W, Z, lam
        self.Br = Z.T @ np.asarray(B.T @ W).T  # the powered blocks' columns only
        self.ar = Z.T @ (W.T @ self.b_amb)
        self.h = h

    def _build(self, h: float, state: np.ndarray, B: np.ndarray) -> BuildInfo:
        import scipy.sparse.linalg as spla

        t0 = time.perf_counter()
        G, C = self.G, self.C
        n = len(C)
        inputs = np.column_stack([B, self.b_amb, C * state])
        basis = _Basis(C, min(n, inputs.shape[1] * (len(initial_shifts(1.0)) + 3)))
        smax = SHIFT_RANGE / h
        lam1 = self._lambda_min()
        grid = np.concatenate([[0.0], np.geomspace(max(lam1, 1e-3), smax, CANDIDATES)])
        rng = np.random.default_rng(12345)
        # sketch of the block-power and ambient inputs for the error estimate
        sketch = inputs[:, :-1] @ rng.standard_normal((inputs.shape[1] - 1, SKETCH))
        shifts: list[float] = []
        rounds: list[tuple[int, int, float, float]] = []
        # first round: 0 (exact steady states) and a log-spaced cover of the range; then the
        # shifts where the estimated error is largest, a few per round
        chosen = initial_shifts(smax)
        basis.add(state[:, None], G)  # the initial state itself (the shift at infinity)
        while True:
            for z in chosen:
                shifts.append(float(z))
                lu = spla.splu((G + z * sp.diags(C)).tocsc(), permc_spec=ORDERING)
                basis.add(lu.solve(inputs), G)
                del lu
            lam, Z = np.linalg.eigh(basis.reduced_G())
            est = self._estimate(basis.W, Z, lam, lam1, sketch, grid)
            indicator = float(est.max())
            rounds.append((len(shifts), basis.r, indicator, time.perf_counter() - t0))
            if indicator <= self.tolerance or len(shifts) >= self.max_shifts or basis.r >= n:
                break
            if len(rounds) > 1 and indicator > 0.5 * rounds[-2][2]:
                break  # stalled: new shifts add no directions above the deflation level
            # the next shifts: the largest local maxima of the estimated error, not yet used
            peaks = [
                i
                for i in range(len(grid))
                if est[i] > self.tolerance
                and (i == 0 or est[i] >= est[i - 1])
                and (i == len(grid) - 1 or est[i] >= est[i + 1])
                and float(grid[i]) not in shifts
            ]
            peaks.sort(key=lambda i: -est[i])
            chosen = [float(grid[i]) for i in peaks[:SHIFTS_PER_ROUND]]
            if not chosen:
                break
        self._set_basis(basis.W, Z, lam, B, h)
        self.info = BuildInfo(basis.r, shifts, indicator, time.perf_counter() - t0, rounds)
        return self.info

    def _lambda_min(self) -> float:
        """The slowest rate of the network (1/s), by inverse iteration with the steady LU."""
        C = self.C
        x = np.ones(len(C))
        lam = 0.0
        for _ in range(30):
            y = self._lu0.solve(C * x)
            lam_new = float(x @ (C * x)) / float(y @ (C * x))
            x = y / np.sqrt(float(y @ (C * y)))
            if lam and abs(lam_new - lam) < 1e-6 * lam:
                break
            lam = lam_new
        return lam_new

    def _estimate(
        self,
        W: np.ndarray,
        Z: np.ndarray,
        lam: np.ndarray,
        lam1: float,
        sketch: np.ndarray,
        grid: np.ndarray,
    ) -> np.ndarray:
        """Estimated relative error (C-norm) of the reduced solves at the shifts of ``grid``:
        ``||C^-1/2 R(s)|| / ((lam_1 + s) ||x_r(s)||_C)`` on a random sketch of the inputs."""
        G, C = self.G, self.C
        isc = 1.0 / np.sqrt(C)
        b = Z.T @ (W.T @ sketch)  # the sketch in the reduced eigenbasis
        out = np.empty(len(grid))
        for i, s in enumerate(grid):
            y = Z @ (b / (lam + s)[:, None])  # reduced solution, W coordinates
            x = W @ y
            R = (sketch - np.asarray(G @ x) - s * (C[:, None] * x)) * isc[:, None]
            out[i] = np.linalg.norm(R) / ((lam1 + s) * max(float(np.linalg.norm(y)), 1e-300))
        return out

    # ------------------------------------------------------------------ states
    @property
    def order(self) -> int:
        return len(self.lam)

    def project(self, T: np.ndarray) -> tuple[np.ndarray, float]:
        """Reduced coordinates of the state ``T`` and its distance (K, max) from the basis."""
        assert self.W is not None and self.Z is not None
        z = self.Z.T @ (self.W.T @ (self.C * T))
        return z, float(np.max(np.abs(self.lift(z) - T)))

    def lift(self, z: np.ndarray) -> np.ndarray:
        """The node temperatures (K) of the reduced state ``z``."""
        assert self.W is not None and self.Z is not None
        return np.asarray(self.W @ (self.Z @ z))

    def output_map(self, A: sp.spmatrix, rows: np.ndarray) -> np.ndarray:
        """``A V[rows]``: the outputs ``A T[rows]`` (block averages of the power layers) as a
        map of the reduced state; the sparse ``A`` is applied first (blocks x r x r flops)."""
        assert self.W is not None and self.Z is not None
        return np.ascontiguousarray(np.asarray(A @ self.W[rows]) @ self.Z)

    def propagator(self, h: float) -> ReducedPropagator:
        if self.W is None:
            raise InputError("the reduced model has no basis yet", hint="call build(h, state)")
        return ReducedPropagator(self, h)


class _Basis:
    """A C-orthonormal basis grown block by block (block rational Arnoldi with deflation),
    and its reduced conductance matrix ``W^T G W``, kept up to date."""

    def __init__(self, C: np.ndarray, capacity: int) -> None:
        self.C = C
        self._W = np.empty((len(C), capacity))
        self._Gr = np.empty((capacity, capacity))
        self.r = 0

    @property
    def W(self) -> np.ndarray:
        return self._W[:, : self.r]

    def reduced_G(self) -> np.ndarray:
        Gr = self._Gr[: self.r, : self.r]
        return (Gr + Gr.T) * 0.5

    def add(self, Y: np.ndarray, G: sp.spmatrix) -> int:
        """Add the new directions of ``Y`` (columns: solves of one shift); returns how many."""
        C = self.C
        Y = Y / np.maximum(np.sqrt(np.einsum("ij,ij->j", Y, C[:, None] * Y)), 1e-300)
        W = self.W
        Y -= W @ (W.T @ (C[:, None] * Y))
        # the directions above DEFLATION of the (unit) columns: singular values from the R of
        # a QR of the C^1/2-scaled block (exact, Q never formed), directions Y V / S; then
        # once more against the basis, and orthonormal among themselves (CholQR), which
        # also repairs the ~eps/S loss of orthogonality of the smallest kept ones
        sc = np.sqrt(C)
        Ys = Y * sc[:, None]
        _, S, Vt = np.linalg.svd(np.linalg.qr(Ys, mode="r"))
        keep = S > DEFLATION
        U = (Ys @ (Vt[keep].T / S[keep][None, :])) / sc[:, None]
        U -= W @ (W.T @ (C[:, None] * U))
        L = np.linalg.cholesky(U.T @ (C[:, None] * U))
        U = np.linalg.solve(L, U.T).T
        k = U.shape[1]
        if self.r + k > self._W.shape[1]:
            self._grow(self.r + k)
        r0, r1 = self.r, self.r + k
        self._W[:, r0:r1] = U
        GU = np.asarray(G @ U)
        self._Gr[:r1, r0:r1] = self._W[:, :r1].T @ GU
        self._Gr[r0:r1, :r0] = self._Gr[:r0, r0:r1].T
        self.r = r1
        return k

    def _grow(self, need: int) -> None:
        cap = max(need, int(self._W.shape[1] * 1.5))
        W = np.empty((self._W.shape[0], cap))
        W[:, : self.r] = self._W[:, : self.r]
        Gr = np.empty((cap, cap))
        Gr[: self.r, : self.r] = self._Gr[: self.r, : self.r]
        self._W, self._Gr = W, Gr


class ReducedPropagator:
    """The exact step of the reduced system: ``z+ = d z + g (Br p + ar)``."""

    def __init__(self, rom: ReducedOrder, h: float) -> None:
        self.h = h
        self.rom = rom
        lam = rom.lam
        self.d = np.exp(-h * lam)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.g = np.where(lam > 0, -np.expm1(-h * lam) / np.where(lam > 0, lam, 1.0), h)
        self.gBr = np.ascontiguousarray(self.g[:, None] * rom.Br)
        self.gar = self.g * rom.ar
        self._buf = np.empty(len(lam))
        self._inputs = rom.inputs
        self._p = np.empty(rom.Br.shape[1])

    def step(self, z: np.ndarray, p: np.ndarray) -> np.ndarray:
        """The reduced state after one step of block power ``p`` (W, every block; those
        outside the basis's inputs must be 0); ``z`` is updated."""
        if self._inputs is not None:
            p = np.take(p, self._inputs, out=self._p)
        np.matmul(self.gBr, p, out=self._buf)
        z *= self.d
        z += self._buf
        z += self.gar
        return z

    def advance(self, T: np.ndarray, f: np.ndarray) -> np.ndarray:
        """The generic :class:`~comet.thermal.backends_linear.Propagator` form (full state in
        and out, heat input ``f``): projects, steps the reduced system, lifts."""
        rom = self.rom
        assert rom.W is not None and rom.Z is not None
        z, _ = rom.project(T)
        z = self.d * z + self.g * (rom.Z.T @ (rom.W.T @ f))  # f outside the inputs: projected
        return rom.lift(z)
