"""Fast solver for grid networks whose layers are uniform (HotSpot's grid model).

Method
------
Write the grid network as ``G = G0 + (edge and package links)``. ``G0`` (lateral links inside
each layer, vertical links between layers, sink-to-ambient) is diagonalized in the plane by the
2-D DCT-II: a uniform layer with no flow across the die boundary is a Neumann Laplacian whose
eigenvectors are cosines. In the DCT basis each plane mode (p, q) leaves an independent L x L
system across the layers; its generalized eigen-decomposition ``K_pq v = lam C v`` is computed
once (batched ``eigh``). So ``(h G0 + z C)^-1`` is a DCT, a diagonal scaling and an inverse DCT.

What ``G0`` lacks, the links of the die-edge cells of the spreader and sink (and secondary-path
layers) to the package nodes, touches only the perimeter lines of a few layers (m ~ 4 x 64 x 2
unknowns). It is added back exactly with the Woodbury identity: a dense m x m "capacitance"
matrix per shift, assembled in O(n^3) per line pair from the separable DCT basis, and the package
nodes are eliminated by a Schur complement.

Transient steps use the CF rational approximation of exp (:mod:`comet.thermal.rational`): all
shifts ``z_j`` share one forward and one inverse transform per step, since the shifted operators
are diagonal in the same per-mode eigenbasis. Cost per step: two 2-D DCTs of the state, two
batched L x L products, and per shift O(R C L) work on the edge layers plus an m x m product.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from comet.thermal.kernels import Kernels, kernels
from comet.thermal.network import GridStructure, ThermalNetwork
from comet.thermal.package import E, N, S, W
from comet.thermal.rational import cf_exp


def _sfft() -> Any:
    """scipy.fft, imported when a plane is too large for the matrix-product transforms."""
    import scipy.fft

    return scipy.fft


class _OneBlasThread:
    """Run a block with one BLAS thread (many small products: several times faster than two).

    Talks to the BLAS library controllers directly (~10 us per switch), not through
    ``threadpool_limits``, which re-scans the loaded libraries on every use. Nested uses cost
    nothing: only the outermost switches, so a caller that steps many times (the epoch loop)
    can hold it around the whole loop.
    """

    def __init__(self) -> None:
        self._libs: list[Any] | None = None  # found on first use (threadpoolctl scans ~20 ms)
        self._saved: list[int] = []
        self._depth = 0  # the BLAS thread count is process-wide, so is this count
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            if self._libs is None:
                from threadpoolctl import ThreadpoolController

                self._libs = ThreadpoolController().select(user_api="blas").lib_controllers
            if self._depth == 0:
                self._saved = [lib.num_threads for lib in self._libs]
                for lib in self._libs:
                    lib.set_num_threads(1)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._libs is not None:
                for lib, n in zip(self._libs, self._saved, strict=True):
                    lib.set_num_threads(n)


#: The process-wide guard; :func:`one_blas_thread` is its public name.
_ONE_THREAD = _OneBlasThread()


def one_blas_thread() -> _OneBlasThread:
    """Context manager: one BLAS thread inside (nested uses are free). Hold it around an epoch
    loop so each structured step does not switch the thread count twice."""
    return _ONE_THREAD


#: Planes up to this size are transformed by matrix products (faster than FFTs when small).
MATMUL_DCT_LIMIT = 40

#: One-off transforms (set-up, steady, rebuilding the state) use matrix products up to this
#: plane size, so that short runs need not import scipy.fft (~50 ms).
MATMUL_DCT_ONCE_LIMIT = 128

#: Edge systems up to this size (4 lines x (rows + cols) per edge layer) keep Z dense.
DENSE_EDGE_LIMIT = 320


def dct_basis(n: int) -> np.ndarray:
    """Orthonormal DCT-II basis, ``B[i, p] = phi_p(i)`` (columns are eigenvectors)."""
    i = np.arange(n)[:, None]
    p = np.arange(n)[None, :]
    B = np.cos(np.pi * p * (2 * i + 1) / (2 * n)) * np.sqrt(2.0 / n)
    B[:, 0] = np.sqrt(1.0 / n)
    return B


@dataclass(frozen=True)
class _Line:
    layer: int
    side: int
    start: int  # offset in the edge vector
    length: int
    node: int
    g: float


class _EdgeOperator:
    """``Z = W (I + Q W)^-1`` for a batch of shifts, applied through its structure.

    Edge vectors live in the per-line cosine basis. There, with ``W = h diag(d) - Kl low``
    (``Kl`` touches only mode 0 of each line), ``A0 = I + h Q diag(d)`` splits into a
    north/south part that is block-diagonal per x mode, an east/west part block-diagonal per
    y mode, and dense couplings between them; it is solved by a Schur complement on the
    east/west part, and the rank-P package term by a small Woodbury correction. ``Z`` is
    complex symmetric, so ``x Z = (Z x^T)^T``.
    """

    def __init__(self, st: Structured, J: int, dtype: Any) -> None:
        nH, nV, R, Cc, P = len(st.hlines), len(st.vlines), st.R, st.Cc, st.P
        self.st = st
        self.Pinv = np.empty((J, Cc, nH, nH), dtype=dtype)
        self.Qm = np.empty((J, nH * Cc, nV * R), dtype=dtype)
        self.Rm = np.empty((J, nV * R, nH * Cc), dtype=dtype)
        self.Sc_inv = np.empty((J, nV * R, nV * R), dtype=dtype)
        self.YU = np.empty((J, st.m, P), dtype=dtype)
        self.Cw = np.empty((J, P, P), dtype=dtype)
        self.low = np.empty((J, P, st.m), dtype=dtype)
        self.hd = np.empty((J, st.m))
        self.Zd: np.ndarray | None = None

    def build(
        self, j: int, h: float, blocks: tuple[np.ndarray, ...], U: np.ndarray, low: np.ndarray
    ) -> None:
        """Shift j: ``blocks`` of Q (:meth:`Structured.edge_blocks`), ``U = Q Kl``."""
        st = self.st
        QHH, QVV, QHV = blocks
        hdH, hdV = h * st.dH, h * st.dV  # (nH,), (nV,)
        nH, nV = len(hdH), len(hdV)
        eyeH, eyeV = np.eye(nH), np.eye(nV)
        Pq = eyeH[None] + QHH * hdH[None, None, :]  # (Cc, nH, nH)
        Sp = eyeV[None] + QVV * hdV[None, None, :]  # (R, nV, nV)
        Pinv = np.linalg.inv(Pq)
        Qm = (QHV * hdV[None, None, :, None]).reshape(nH * st.Cc, nV * st.R)
        Rm = (QHV.transpose(2, 3, 0, 1) * hdH[None, None, :, None]).reshape(nV * st.R, nH * st.Cc)
        # P^-1 Qm, per x mode q: (C, nH, nH) @ (C, nH, nV*R)
        PinvQm = np.matmul(Pinv, Qm.reshape(nH, st.Cc, -1).transpose(1, 0, 2))
        PinvQm = PinvQm.transpose(1, 0, 2).reshape(nH * st.Cc, -1)
        Sc = -(Rm @ PinvQm)
        # add the block-diagonal S: entries ((b, p), (b', p)) = Sp[p, b, b']
        Sc4 = Sc.reshape(nV, st.R, nV, st.R)
        pidx = np.arange(st.R)
        Sc4[:, pidx, :, pidx] += Sp
        self.Pinv[j], self.Qm[j], self.Rm[j] = Pinv, Qm, Rm
        self.Sc_inv[j] = np.linalg.inv(Sc)
        self.hd[j] = h * st.d
        # package term: I + Q W = A0 - U low with U = Q Kl
        YU = self._a0_solve(j, U)  # (m, P)
        self.YU[j] = YU
        self.Cw[j] = np.linalg.inv(np.eye(st.P) - low @ YU)
        self.low[j] = low

    @staticmethod
    def _p_solve(Pinv: np.ndarray, eH: np.ndarray) -> np.ndarray:
        """Apply the north/south block inverse: ``eH`` (nH, Cc, k) -> (nH, Cc, k)."""
        return np.einsum("qab,bqk->aqk", Pinv, eH)

    def _a0_solve(self, j: int, e: np.ndarray) -> np.ndarray:
        """``A0^-1 e`` for shift j; ``e`` (m, k) in the line-cosine basis."""
        st = self.st
        k = e.shape[1]
        eH = e[st.hidx.reshape(-1)].reshape(len(st.hlines), st.Cc, k)
        eV = e[st.vidx.reshape(-1)]
        t = self._p_solve(self.Pinv[j], eH).reshape(-1, k)
        yV = self.Sc_inv[j] @ (eV - self.Rm[j] @ t)
        yH = t - self._p_solve(
            self.Pinv[j], (self.Qm[j] @ yV).reshape(len(st.hlines), st.Cc, k)
        ).reshape(-1, k)
        y = np.empty((st.m, k), dtype=np.result_type(e, self.Sc_inv))
        y[st.hidx.reshape(-1)] = yH
        y[st.vidx.reshape(-1)] = yV
        return y

    def apply_one(self, j: int, e: np.ndarray) -> np.ndarray:
        """``Z_j e`` for ``e`` (m, k)."""
        y = self._a0_solve(j, e)
        x = y + self.YU[j] @ (self.Cw[j] @ (self.low[j] @ y))
        return self.hd[j][:, None] * x - self.st.K_link @ (self.low[j] @ x)

    def densify_if_small(self) -> None:
        """Keep ``Z`` as dense matrices when the edge system is small: one batched product per
        step then costs less than the structured solve's several small ones."""
        if self.st.m <= DENSE_EDGE_LIMIT:
            eye = np.eye(self.st.m)
            self.Zd = np.stack([self.apply_one(j, eye) for j in range(self.Pinv.shape[0])])

    def apply(self, e: np.ndarray) -> np.ndarray:
        """``Z_j e_j`` for every shift: ``e`` (J, m) -> (J, m), batched."""
        if self.Zd is not None:
            return np.matmul(self.Zd, e[:, :, None])[:, :, 0]
        st = self.st
        J = e.shape[0]
        nH = len(st.hlines)
        eH = e[:, st.hidx.reshape(-1)].reshape(J, nH, st.Cc)
        eV = e[:, st.vidx.reshape(-1)]
        t = np.einsum("jqab,jbq->jaq", self.Pinv, eH).reshape(J, -1)
        yV = np.matmul(self.Sc_inv, (eV - np.matmul(self.Rm, t[:, :, None])[:, :, 0])[:, :, None])
        yV = yV[:, :, 0]
        w = np.matmul(self.Qm, yV[:, :, None])[:, :, 0].reshape(J, nH, st.Cc)
        yH = t - np.einsum("jqab,jbq->jaq", self.Pinv, w).reshape(J, -1)
        y = np.empty((J, st.m), dtype=yV.dtype)
        y[:, st.hidx.reshape(-1)] = yH
        y[:, st.vidx.reshape(-1)] = yV
        ly = np.matmul(self.low, y[:, :, None])
        x = y + np.matmul(self.YU, np.matmul(self.Cw, ly))[:, :, 0]
        lx = np.matmul(self.low, x[:, :, None])[:, :, 0]
        return self.hd * x - lx @ st.K_link.T


class _Shifts:
    """Precomputed operators to apply ``(h G + z_j C)^-1`` for a batch of shifts z_j.

    With ``inv_j = 1/(h lam + z_j)`` (the separable part in eigen coordinates), the Woodbury
    operator ``Z_j = W_j (I + Q_j W_j)^-1`` (:class:`_EdgeOperator`) and the package Schur
    complement folded into ``A_j``, ``B_j``, ``D_j``, a solve of ``M_j x = b`` is:
    ``e0 = gather(b inv)``, ``v = A bp - Z e0``, ``x = (b + scatter(v)) inv``,
    ``xp = D bp + B e0`` (edge vectors in the per-line cosine basis).
    ``VI[j, e] = V[:, edge_layer_e, :] * inv_j`` serves both gather and scatter.
    """

    def __init__(self, st: Structured, h: float, zs: np.ndarray) -> None:
        zs = np.asarray(zs)
        dtype = complex if np.iscomplexobj(zs) else float
        J, m, P = len(zs), st.m, st.P
        self.inv = 1.0 / (h * st.lam[None, :, :] + zs[:, None, None])  # (J, n_modes, L)
        self.VI = st.V[None, :, st.edge_layers, :].transpose(0, 2, 1, 3) * self.inv[:, None, :, :]
        # (n_modes, 2*J*ne, L) real: rows [Re VI; Im VI] for batched real products per mode
        vi = self.VI.transpose(2, 0, 1, 3).reshape(st.nm, J * len(st.edge_layers), st.L)
        # (n_modes, J*ne, L) real and imaginary parts, row j*ne + e: for the compiled kernels
        self.VI_re = np.ascontiguousarray(vi.real)
        self.VI_im = np.ascontiguousarray(vi.imag)
        self.A = np.empty((J, m, P), dtype=dtype)
        self.B = np.empty((J, P, m), dtype=dtype)
        self.D = np.empty((J, P, P), dtype=dtype)
        self.Z = _EdgeOperator(st, J, dtype)
        if m:
            # The shifts are independent: build them on two threads (LAPACK releases the GIL).
            with ThreadPoolExecutor(max_workers=min(2, J)) as pool:
                list(pool.map(lambda j: self._build(st, h, zs[j].item(), j), range(J)))
            self.Z.densify_if_small()
        else:
            for j, z in enumerate(zs):
                self.D[j] = np.linalg.inv(h * st.Gpp + z * np.diag(st.Cp))

    def _build(self, st: Structured, h: float, z: complex, j: int) -> None:
        Kl = st.K_link
        Mpp_inv = np.linalg.inv(h * st.Gpp + z * np.diag(st.Cp))
        kp = h * (Kl @ Mpp_inv)  # (m, P)
        low = h * h * (Mpp_inv @ Kl.T)  # W = h diag(d) - Kl @ low
        blocks = st.edge_blocks(self.inv[j])
        # The package links touch only mode 0 of each line, so only those columns of Q count.
        Q0 = st.edge_mode0_columns(blocks)  # (m, n_lines)
        m0 = st.mode0
        self.Z.build(j, h, blocks, Q0 @ Kl[m0], low)
        Qkp = Q0 @ kp[m0]  # (m, P)
        hKt = Mpp_inv @ (h * Kl.T)  # (P, m)
        hKtQ = hKt[:, m0] @ Q0.T  # (P, m); Q symmetric
        ZQkp = self.Z.apply_one(j, Qkp)
        self.A[j] = kp - ZQkp
        self.B[j] = hKt - self.Z.apply_one(j, hKtQ.T).T  # Z symmetric
        self.D[j] = Mpp_inv + hKt @ Qkp - hKtQ @ ZQkp


class Structured:
    """Steady and transient solves for a uniform-layer grid network (see the module doc)."""

    name = "structured"

    def __init__(self, network: ThermalNetwork, degree: int = 8, precision: str = "double") -> None:
        #: transient steps: "double", or "mixed" (float32 storage of the streamed matrices)
        self.precision = precision
        s = network.grid
        if s is None:
            raise ValueError("structured solver needs a grid network")
        self.s: GridStructure = s
        R, Cc, L = s.rows, s.cols, s.n_layers
        self.R, self.Cc, self.L = R, Cc, L
        self.nm = R * Cc
        self.ng = L * self.nm
        self.Phi = dct_basis(R)
        self.Psi = dct_basis(Cc)
        mu_r = 2.0 - 2.0 * np.cos(np.pi * np.arange(R) / R)
        mu_c = 2.0 - 2.0 * np.cos(np.pi * np.arange(Cc) / Cc)
        # per-mode L x L conductance matrices (n_modes, L, L)
        lat = s.gy[None, None, :] * mu_r[:, None, None] + s.gx[None, None, :] * mu_c[None, :, None]
        lat = lat.reshape(self.nm, L)
        diag = lat + s.g_amb[None, :]
        vert = np.zeros(L)
        vert[:-1] += s.gz
        vert[1:] += s.gz
        K = np.zeros((self.nm, L, L))
        idx = np.arange(L)
        K[:, idx, idx] = diag + vert[None, :]
        K[:, idx[:-1], idx[1:]] = -s.gz[None, :]
        K[:, idx[1:], idx[:-1]] = -s.gz[None, :]
        dscale = 1.0 / np.sqrt(s.cap)
        lam, Qm = np.linalg.eigh(K * dscale[None, :, None] * dscale[None, None, :])
        self.lam = lam  # (n_modes, L)
        self.V = Qm * dscale[None, :, None]  # (n_modes, L, L): K V = C V diag(lam)
        self.Vt = np.ascontiguousarray(self.V.transpose(0, 2, 1))
        # edge lines and package
        pkg = s.package
        self.P = pkg.n_nodes
        self.Cp = pkg.capacitance
        lines: list[_Line] = []
        pos = 0
        for e in s.edges:
            length = Cc if e.side in (N, S) else R
            lines.append(_Line(e.layer, e.side, pos, length, e.node, e.g))
            pos += length
        self.lines = lines
        self.m = pos
        self.d = (
            np.concatenate([np.full(ln.length, ln.g) for ln in lines]) if lines else np.zeros(0)
        )
        # Edge vectors are kept in the per-line cosine basis: a link that is uniform along a
        # line touches only that line's mode 0 (coefficient g * sqrt(length)).
        K_link = np.zeros((self.m, self.P))
        link_sum = np.zeros(self.P)
        for ln in lines:
            K_link[ln.start, ln.node] = ln.g * np.sqrt(ln.length)
            link_sum[ln.node] += ln.g * ln.length
        self.K_link = K_link
        Gpp = np.diag(pkg.ambient_conductance + link_sum)
        for a, b, g in pkg.links:
            Gpp[a, a] += g
            Gpp[b, b] += g
            Gpp[a, b] -= g
            Gpp[b, a] -= g
        self.Gpp = Gpp
        self.edge_layers = sorted({ln.layer for ln in lines})
        expected = [(layer, side) for layer in self.edge_layers for side in (W, E, N, S)]
        if [(ln.layer, ln.side) for ln in lines] != expected:
            raise ValueError("edge links must come per layer in W, E, N, S order")
        self.hlines = [i for i, ln in enumerate(lines) if ln.side in (N, S)]
        self.vlines = [i for i, ln in enumerate(lines) if ln.side in (W, E)]
        self.hidx = np.array([lines[i].start + np.arange(Cc) for i in self.hlines], dtype=int)
        self.vidx = np.array([lines[i].start + np.arange(R) for i in self.vlines], dtype=int)
        self.mode0 = np.array([ln.start for ln in lines], dtype=int)  # mode 0 of each line
        self.dH = np.array([lines[i].g for i in self.hlines])
        self.dV = np.array([lines[i].g for i in self.vlines])
        self._psi_we = np.ascontiguousarray(self.Psi[[0, -1], :])  # (2, C)
        self._phi_ns = np.ascontiguousarray(self.Phi[[0, -1], :])  # (2, R)
        self.edge_slot = {layer: i for i, layer in enumerate(self.edge_layers)}
        self.C = network.C
        self.rational = cf_exp(degree)
        self._steady: _Shifts | None = None
        self._layer_cache: dict[tuple[int, ...], np.ndarray] = {}

    # ---------------------------------------------------------------- transforms
    def to_modes(self, x_grid: np.ndarray) -> np.ndarray:
        """Grid vector (L*R*C,) or (L*R*C, k) -> mode coefficients (n_modes, L[, k])."""
        extra = x_grid.shape[1:]
        cube = x_grid.reshape(self.L, self.R, self.Cc, *extra)
        if max(self.R, self.Cc) <= MATMUL_DCT_ONCE_LIMIT:
            hat = np.einsum("ip,lij...,jq->lpq...", self.Phi, cube, self.Psi, optimize=True)
        else:
            hat = _sfft().dctn(cube, type=2, norm="ortho", axes=(1, 2))
        return np.moveaxis(hat.reshape(self.L, self.nm, *extra), 0, 1)

    def from_modes(self, hat: np.ndarray) -> np.ndarray:
        """Mode coefficients (n_modes, L) -> grid vector (L*R*C,)."""
        cube = np.ascontiguousarray(hat.T).reshape(self.L, self.R, self.Cc)
        if max(self.R, self.Cc) <= MATMUL_DCT_ONCE_LIMIT:
            return np.matmul(np.matmul(self.Phi, cube), self.Psi.T).reshape(-1)
        return _sfft().idctn(cube, type=2, norm="ortho", axes=(1, 2)).reshape(-1)

    def _lines_from_fields(self, fields: np.ndarray) -> np.ndarray:
        """Edge-line cosine coefficients (J, m) of mode-space fields (J, n_el, n_modes).

        Lines are stored per edge layer as [W (R), E (R), N (C), S (C)]; a line's values are
        given by their coefficients in the line's own DCT basis.
        """
        J, ne = fields.shape[0], len(self.edge_layers)
        cube = fields.reshape(J, ne, self.R, self.Cc)
        we = np.matmul(cube, self._psi_we.T)  # (J, ne, R, 2): sum_q hat[p,q] psi_q(j_edge)
        ns = np.matmul(self._phi_ns, cube)  # (J, ne, 2, C)
        out = np.concatenate(
            [we.transpose(0, 1, 3, 2).reshape(J, ne, -1), ns.reshape(J, ne, -1)], axis=2
        )
        return out.reshape(J, self.m)

    def _fields_from_lines(self, v: np.ndarray) -> np.ndarray:
        """Mode-space fields (J, n_el, n_modes) of ``E v_j`` (v: (J, m) line coefficients)."""
        J, ne, R, Cc = v.shape[0], len(self.edge_layers), self.R, self.Cc
        per = v.reshape(J, ne, 2 * R + 2 * Cc)
        g_we = per[:, :, : 2 * R].reshape(J, ne, 2, R)
        g_ns = per[:, :, 2 * R :].reshape(J, ne, 2, Cc)
        out = np.matmul(g_we.transpose(0, 1, 3, 2), self._psi_we)
        out += np.matmul(self._phi_ns.T, g_ns)
        return out.reshape(J, ne, self.nm)

    def edge_blocks(self, inv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Blocks of ``Q = E^T (h G0 + z C)^-1 E`` in the line-cosine basis.

        ``inv = 1/(h lam + z)`` (n_modes, L). Returns ``QHH`` (C, nH, nH): north/south line
        pairs, diagonal in the x mode; ``QVV`` (R, nV, nV): east/west pairs, diagonal in the
        y mode; ``QHV`` (nH, C, nV, R): the dense couplings between them.
        """
        Mll: dict[tuple[int, int], np.ndarray] = {}
        for layer_a in self.edge_layers:
            for layer_b in self.edge_layers:
                if (layer_b, layer_a) in Mll:
                    Mll[(layer_a, layer_b)] = Mll[(layer_b, layer_a)]
                    continue
                Mll[(layer_a, layer_b)] = np.einsum(
                    "nk,nk,nk->n", self.V[:, layer_a, :], self.V[:, layer_b, :], inv
                ).reshape(self.R, self.Cc)
        Phi, Psi = self.Phi, self.Psi
        row = {N: Phi[0], S: Phi[-1]}
        col = {W: Psi[0], E: Psi[-1]}
        hl = [self.lines[i] for i in self.hlines]
        vl = [self.lines[i] for i in self.vlines]
        QHH = np.empty((self.Cc, len(hl), len(hl)), dtype=inv.dtype)
        for a, la in enumerate(hl):
            for b, lb in enumerate(hl):
                QHH[:, a, b] = (row[la.side] * row[lb.side]) @ Mll[(la.layer, lb.layer)]
        QVV = np.empty((self.R, len(vl), len(vl)), dtype=inv.dtype)
        for a, la in enumerate(vl):
            for b, lb in enumerate(vl):
                QVV[:, a, b] = Mll[(la.layer, lb.layer)] @ (col[la.side] * col[lb.side])
        QHV = np.empty((len(hl), self.Cc, len(vl), self.R), dtype=inv.dtype)
        for a, la in enumerate(hl):
            for b, lb in enumerate(vl):
                M = Mll[(la.layer, lb.layer)]  # (R, C)
                QHV[a, :, b, :] = (M * row[la.side][:, None] * col[lb.side][None, :]).T
        return QHH, QVV, QHV

    def edge_mode0_columns(self, blocks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Columns of ``Q`` at mode 0 of every line (m, n_lines), in line order."""
        QHH, QVV, QHV = blocks
        out = np.zeros((self.m, len(self.lines)), dtype=QHH.dtype)
        for b, li in enumerate(self.hlines):
            for a in range(len(self.hlines)):
                out[self.hidx[a, 0], li] = QHH[0, a, b]
            for a in range(len(self.vlines)):
                out[self.vidx[a], li] = QHV[b, 0, a, :]
        for b, li in enumerate(self.vlines):
            for a in range(len(self.vlines)):
                out[self.vidx[a, 0], li] = QVV[0, a, b]
            for a in range(len(self.hlines)):
                out[self.hidx[a], li] = QHV[a, :, b, 0]
        return out

    def dense_edge_matrix(self, blocks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """The full ``Q`` (m, m) in the line-cosine basis, from :meth:`edge_blocks`."""
        QHH, QVV, QHV = blocks
        Q = np.zeros((self.m, self.m), dtype=QHH.dtype)
        for a in range(len(self.hlines)):
            for b in range(len(self.hlines)):
                Q[self.hidx[a], self.hidx[b]] = QHH[:, a, b]
            for b in range(len(self.vlines)):
                Q[np.ix_(self.hidx[a], self.vidx[b])] = QHV[a, :, b, :]
                Q[np.ix_(self.vidx[b], self.hidx[a])] = QHV[a, :, b, :].T
        for a in range(len(self.vlines)):
            for b in range(len(self.vlines)):
                Q[self.vidx[a], self.vidx[b]] = QVV[:, a, b]
        return Q

    def to_eigen(self, x_grid: np.ndarray) -> np.ndarray:
        """Grid vector (L*R*C,) -> per-mode eigen coordinates (n_modes, L): ``V^T DCT(x)``.

        For a state use ``C * T``: then ``T = from_eigen(eta)`` (since ``V^T C V = I``).
        """
        return self._eig(self.to_modes(x_grid))

    def from_eigen(self, eta: np.ndarray) -> np.ndarray:
        """Eigen coordinates (n_modes, L) -> the grid vector (L*R*C,)."""
        return self.from_modes(np.einsum("nlk,nk->nl", self.V, eta))

    def _layer_rows(self, layers: list[int]) -> np.ndarray:
        """Cached ``V[:, layers, :]`` (n_modes, k, L), used by both transforms."""
        key = tuple(layers)
        hit = self._layer_cache.get(key)
        if hit is None:
            hit = np.ascontiguousarray(self.V[:, layers, :])
            self._layer_cache[key] = hit
        return hit

    def _dct_planes(self, cube: np.ndarray) -> np.ndarray:
        """Orthonormal 2-D DCT-II of planes (k, R, C) -> (k, R, C)."""
        if max(self.R, self.Cc) <= MATMUL_DCT_LIMIT:
            return np.matmul(np.matmul(self.Phi.T, cube), self.Psi)
        return _sfft().dctn(cube, type=2, norm="ortho", axes=(1, 2))

    def _idct_planes(self, cube: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_dct_planes`."""
        if max(self.R, self.Cc) <= MATMUL_DCT_LIMIT:
            return np.matmul(np.matmul(self.Phi, cube), self.Psi.T)
        return _sfft().idctn(cube, type=2, norm="ortho", axes=(1, 2))

    def layers_from_eigen(self, layers: list[int], eta: np.ndarray) -> np.ndarray:
        """Cell values (len(layers), R*C) of ``layers`` of the state with coordinates ``eta``."""
        V_l = self._layer_rows(layers)
        hat = np.matmul(V_l, eta[:, :, None])[:, :, 0].T
        cube = np.ascontiguousarray(hat).reshape(len(layers), self.R, self.Cc)
        return self._idct_planes(cube).reshape(len(layers), -1)

    # ---------------------------------------------------------------- solves
    def _eig(self, hat: np.ndarray) -> np.ndarray:
        """Mode coefficients (n_modes, L[, k]) -> eigen coordinates V^T hat."""
        if hat.ndim == 2:
            return np.einsum("nkl,nl->nk", self.Vt, hat)
        return np.matmul(self.Vt, hat)

    def steady(self, f: np.ndarray) -> np.ndarray:
        """``G^-1 f`` (K) through the same operators with h = 1, z = 0."""
        if self._steady is None:
            with _ONE_THREAD:
                self._steady = _Shifts(self, 1.0, np.zeros(1))
        sh = self._steady
        b = self._eig(self.to_modes(f[: self.ng]))  # (n_modes, L)
        bp = f[self.ng :]
        x_eig = b * sh.inv[0]
        if self.m:
            e0 = self._lines_from_fields(np.einsum("enk,nk->en", sh.VI[0], b)[None])[0]
            v = sh.A[0] @ bp - sh.Z.apply(e0[None])[0]
            fields = self._fields_from_lines(v[None])[0]  # (n_el, n_modes)
            x_eig = x_eig + np.einsum("en,enk->nk", fields, sh.VI[0])
            xp = sh.D[0] @ bp + sh.B[0] @ e0
        else:
            xp = sh.D[0] @ bp
        hat = np.einsum("nlk,nk->nl", self.V, x_eig)
        return np.concatenate([self.from_modes(hat), xp])

    def propagator(self, h: float, work: float | None = None) -> StructuredPropagator:
        """The step of ``h`` seconds; ``work`` (steps x modes x layers of the run, None:
        unknown) picks numpy or compiled per-mode passes (:mod:`comet.thermal.kernels`)."""
        with _ONE_THREAD:
            return StructuredPropagator(self, h, work)


class StructuredPropagator:
    """One step ``T+ = r_inf T - 2 Re sum_j M_j^-1 (a_j C T + b_j f)``, all shifts at once.

    ``a_j = c_j`` and ``b_j = h c_j / z_j`` (CF residues c_j, poles z_j). The separable part
    collapses to two real per-mode factors (``alpha``, ``beta``: the exact exponential of G0);
    the edge correction is carried per shift on the edge layers only, through the per-mode
    matrices ``VI`` used to gather and to scatter. The per-mode passes are compiled
    (:mod:`comet.thermal.kernels_numba`) unless :meth:`use_kernels` picks the numpy ones (short
    runs: :meth:`comet.thermal.solver.ThermalModel.prepare`); scratch arrays are kept between
    steps.
    """

    def __init__(self, st: Structured, h: float, work: float | None = None) -> None:
        self.st = st
        self.h = h
        #: the per-mode passes, for a run of ``work`` = steps x modes x layers (None: long)
        self.kernels: Kernels = kernels(work)
        rat = st.rational
        self.r_inf = rat.r_inf
        a = rat.residues
        b = h * rat.residues / rat.poles
        self.sh = sh = _Shifts(st, h, rat.poles)
        self.a = a
        self.b = b
        self._a_ri = np.ascontiguousarray(np.stack([a.real, a.imag], axis=1))  # (J, 2)
        self._b_ri = np.ascontiguousarray(np.stack([b.real, b.imag], axis=1))
        # -2 Re sum_j coef_j inv_j, so that the separable update is alpha*eta + beta*ef
        self.alpha = np.ascontiguousarray(
            self.r_inf - 2.0 * np.real(np.einsum("j,jnk->nk", a, sh.inv))
        )
        self.beta = np.ascontiguousarray(-2.0 * np.real(np.einsum("j,jnk->nk", b, sh.inv)))
        # the large per-mode matrices the step streams through, in the storage precision
        store = np.float32 if st.precision == "mixed" else np.float64
        self._VI_re = sh.VI_re.astype(store, copy=False)
        self._VI_im = sh.VI_im.astype(store, copy=False)
        self._Zd = (
            None if sh.Z.Zd is None else sh.Z.Zd.astype(np.result_type(store, 1j), copy=False)
        )
        self._rows: dict[tuple[int, ...], np.ndarray] = {}
        J, nm, L = len(a), st.nm, st.L
        self._ef = np.empty((nm, L))
        self._lines_re = np.empty((J, st.m))
        self._lines_im = np.empty((J, st.m))
        self._no_hat = np.empty((0, nm))
        self._no_rows = np.empty((nm, 0, L), dtype=store)

    def advance(self, T: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Physical state in (K), physical state out; ``f`` the heat input (W) per node."""
        st = self.st
        ng = st.ng
        with _ONE_THREAD:
            eta = st.to_eigen(st.C[:ng] * T[:ng])
            ef = st.to_eigen(f[:ng])
            eta, Tp, _ = self._advance(eta, T[ng:], ef, f[ng:], self._no_hat, self._no_rows)
            return np.concatenate([st.from_eigen(eta), Tp])

    def advance_layers(
        self,
        eta: np.ndarray,
        Tp: np.ndarray,
        ef_base: np.ndarray,
        fp: np.ndarray,
        layers: list[int],
        power: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step on the modal state, with the heat input of some layers given per cell.

        ``eta`` (n_modes, L) are the grid's eigen coordinates and ``Tp`` the package
        temperatures (K); ``ef_base`` and ``fp`` the constant heat input (W; grid part in eigen
        coordinates, e.g. the ambient), and ``power`` (len(layers), R*C) the cell power (W) of
        ``layers``. Returns the new ``eta`` and ``Tp`` and the cell temperatures (K) of the same
        layers after the step, (len(layers), R*C).
        """
        st = self.st
        with _ONE_THREAD:
            cube = np.asarray(power, dtype=float).reshape(len(layers), st.R, st.Cc)
            hat = st._dct_planes(cube).reshape(len(layers), st.nm)
            eta, Tp, hat_T = self.advance_dct(eta, Tp, ef_base, fp, layers, hat)
            cube_T = st._idct_planes(hat_T.reshape(len(layers), st.R, st.Cc))
            return eta, Tp, cube_T.reshape(len(layers), -1)

    def advance_dct(
        self,
        eta: np.ndarray,
        Tp: np.ndarray,
        ef_base: np.ndarray,
        fp: np.ndarray,
        layers: list[int],
        hat_power: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`advance_layers` with the layers' cell power given by its 2-D DCT
        (len(layers), R*C); returns the DCT of their cell temperatures (K) likewise."""
        with _ONE_THREAD:
            hat = np.ascontiguousarray(hat_power, dtype=float)
            return self._advance(eta, Tp, ef_base, fp, hat, self._layer_rows(layers))

    def warm_up(self, layers: list[int]) -> None:
        """One step on zeros (no state changes), so that the compiled kernels are loaded from
        numba's cache now (set-up) and not in the first step of a run (~0.1-0.3 s)."""
        st = self.st
        if not self.kernels.compiled:
            return
        with _ONE_THREAD:
            zeros = np.zeros((st.nm, st.L))
            self._advance(
                zeros, np.zeros(st.P), zeros, np.zeros(st.P), np.zeros((len(layers), st.nm)),
                self._layer_rows(layers),
            )  # fmt: skip

    def use_kernels(self, work: float | None) -> None:
        """Pick the per-mode passes for a run of ``work`` = steps x modes x layers: numpy for
        short runs (no numba import), compiled otherwise (None: unknown, taken as long)."""
        self.kernels = kernels(work)

    def _layer_rows(self, layers: list[int]) -> np.ndarray:
        """``V[:, layers, :]`` in the storage precision (cached)."""
        key = tuple(layers)
        rows = self._rows.get(key)
        if rows is None:
            rows = self.st._layer_rows(layers).astype(self._VI_re.dtype, copy=False)
            self._rows[key] = rows
        return rows

    def _advance(
        self,
        eta: np.ndarray,
        Tp: np.ndarray,
        ef_base: np.ndarray,
        fp: np.ndarray,
        hat_power: np.ndarray,
        rows: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The step; heat input ``ef_base`` plus the layers ``rows`` (``V[:, layers, :]``) with
        power DCT ``hat_power``; returns the new state and those layers' temperature DCT."""
        st, sh = self.st, self.sh
        eta = np.ascontiguousarray(eta, dtype=float)
        ef_base = np.ascontiguousarray(ef_base, dtype=float)
        self.kernels.modal_inputs(
            hat_power, ef_base, rows, eta, self._VI_re, self._VI_im, self._a_ri, self._b_ri,
            st._psi_we, st._phi_ns, self._ef, self._lines_re, self._lines_im,
        )  # fmt: skip
        CTp = st.Cp * Tp
        bp = self.a[:, None] * CTp[None, :] + self.b[:, None] * fp[None, :]  # (J, P)
        xp = np.einsum("jpq,jq->jp", sh.D, bp)
        if st.m:
            e0 = self._lines_re + 1j * self._lines_im  # (J, m) edge lines, cosine basis
            v = np.matmul(sh.A, bp[:, :, None])[:, :, 0]
            if self._Zd is not None:  # dense Z (small edge systems), maybe in complex64
                v -= np.matmul(self._Zd, e0.astype(self._Zd.dtype)[:, :, None])[:, :, 0]
            else:
                v -= sh.Z.apply(e0)
            v_re, v_im = np.ascontiguousarray(v.real), np.ascontiguousarray(v.imag)
            xp += np.matmul(sh.B, e0[:, :, None])[:, :, 0]
        else:
            v_re, v_im = self._lines_re, self._lines_im  # empty: no edge layers
        eta_new = np.empty_like(eta)
        hat_T = np.empty((rows.shape[1], st.nm))
        self.kernels.modal_update(
            eta, self._ef, self.alpha, self.beta, self._VI_re, self._VI_im, v_re, v_im,
            st._psi_we, st._phi_ns, rows, eta_new, hat_T,
        )  # fmt: skip
        return eta_new, self.r_inf * Tp - 2.0 * xp.real.sum(axis=0), hat_T
