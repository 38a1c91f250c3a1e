"""Probes of candidate fast steps for per-cell-material networks (issue 10), on the 2.5d stack.

The measurements behind the choice of method (see the issue 10 notes in
``benchmarks/results/closed_loop.md``). Each probe builds the 16-core 2.5d stack at ``--grid``
(``--kind chiplets``: the chiplet example's package). The chosen method is the back end
:mod:`comet.thermal.reduced`; ``reduced`` and ``breakeven`` measure it.

* ``spectrum``: how many modes of ``G v = lam C v`` a 1 ms step cannot drop (dense eigh; 16x16
  only, ~1.5 min): a modal reduction keeps every mode with ``exp(-lam h)`` above the tolerance.
* ``rom``: a block-input rational Krylov reduced model (inputs: block powers, ambient term,
  initial state; shifts 0 and log-spaced to ``--smax``; C-orthonormal basis by block rational
  Arnoldi with deflation; exact reduced exponential) against the exact step: block temperature
  error over ``--steps`` 1 ms steps of random power changed every 10 ms.
* ``reduced``: the back end (:class:`comet.thermal.reduced.ReducedOrder`) against the exact
  sparse step (CF degree 12, ~1e-12): block and node temperature error over ``--steps`` 1 ms
  steps of random power changed every 10 ms (half the blocks at 0-3 W), its order, shifts,
  estimated error and build time, and the time of a reduced step (one BLAS thread).
* ``breakeven``: the sparse step's set-up and per-step time against the basis build: how
  many steps a run must take for the reduced step to pay (``REDUCED_MIN_WORK``).
* ``cocg``: the 4 complex shifted solves of the CF step by COCG with the exact per-column
  vertical (tridiagonal) block preconditioner, warm-started from the previous step: iterations
  and error against the sparse LU step.

    python benchmarks/percell_methods.py spectrum --grid 16
    python benchmarks/percell_methods.py rom --grid 16 --shifts 6 --steps 300
    python benchmarks/percell_methods.py cocg --grid 16 --steps 40 --tol 1e-13
    python benchmarks/percell_methods.py reduced --grid 32 --steps 1000 [--kind chiplets]
    python benchmarks/percell_methods.py breakeven --grid 16
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from comet.floorplan.generate import generate, thermal_config
from comet.thermal.rational import cf_exp
from comet.thermal.solver import ThermalModel

H = 1e-3  # s, the epoch


def _stack(grid: int, kind: str = "2.5d") -> Any:
    if kind == "chiplets":  # examples/chiplets.toml's package
        (stack,) = generate(
            "chiplets",
            grid_rows=grid,
            grid_cols=grid,
            chiplets="2x1",
            cores="2x2",
            dram_stacks="1x2",
            banks="4x4x4",
            filler="mold_compound",
        )
    else:
        (stack,) = generate(
            "2.5d", grid_rows=grid, grid_cols=grid, cores="4x4", core_size="1.707mm", banks="4x4x8"
        )
    return stack


def _model(grid: int, degree: int = 8, kind: str = "2.5d", solver: str = "sparse") -> ThermalModel:
    stack = _stack(grid, kind)
    return ThermalModel.from_stack(stack, thermal_config(stack), solver=solver, degree=degree)


def _random_powers(n: int, steps: int) -> Any:
    rng = np.random.default_rng(0)
    p = np.zeros(n)
    for k in range(steps):
        if k % 10 == 0:
            p = rng.uniform(0, 3, n) * (rng.random(n) < 0.5)
        yield p


def reduced(grid: int, steps: int, kind: str) -> None:
    from comet.thermal.structured import one_blas_thread

    exact = _model(grid, degree=12, kind=kind)
    fast = _model(grid, kind=kind, solver="reduced")
    for m in (exact, fast):
        m.set_temperature(m.config.init_temp)
    t = time.perf_counter()
    fast.prepare(H)
    build = time.perf_counter() - t
    info = fast.backend.info  # type: ignore[attr-defined]
    worst_b = worst_n = 0.0
    spent = 0.0
    with one_blas_thread():
        for p in _random_powers(len(fast.power_names), steps):
            exact.advance(p, H)
            t = time.perf_counter()
            fast.advance(p, H)
            tb = fast.power_block_temperatures()
            spent += time.perf_counter() - t
            worst_b = max(worst_b, float(np.abs(tb - exact.power_block_temperatures()).max()))
    worst_n = float(np.abs(fast.temperature - exact.temperature).max())
    rise = float(exact.power_block_temperatures().max() - exact.config.init_temp)
    rounds = [(n, r, f"{e:.1g}") for n, r, e, _ in info.rounds]
    print(f"{kind} {grid}x{grid}: {fast.n_nodes} nodes, {len(fast.power_names)} blocks; "
          f"order {info.order}, {len(info.shifts)} shifts, estimated error {info.indicator:.2g}, "
          f"build {build:.1f} s; rounds (shifts, order, estimate) {rounds}")  # fmt: skip
    print(f"  over {steps} steps of 1 ms: max block error {worst_b:.3g} K, node error at the end "
          f"{worst_n:.3g} K (peak rise {rise:.1f} K); reduced step + block temperatures "
          f"{spent / steps * 1e3:.3f} ms")  # fmt: skip


def breakeven(grid: int, kind: str) -> None:
    from comet.thermal.structured import one_blas_thread

    sparse = _model(grid, kind=kind)
    sparse.set_temperature(sparse.config.init_temp)
    t = time.perf_counter()
    sparse.prepare(H)
    s_setup = time.perf_counter() - t
    p = np.ones(len(sparse.power_names))
    n = 20
    with one_blas_thread():
        t = time.perf_counter()
        for _ in range(n):
            sparse.advance(p, H)
            sparse.power_block_temperatures()
        s_step = (time.perf_counter() - t) / n
    fast = _model(grid, kind=kind, solver="reduced")
    fast.set_temperature(fast.config.init_temp)
    t = time.perf_counter()
    fast.prepare(H)
    r_setup = time.perf_counter() - t
    with one_blas_thread():
        t = time.perf_counter()
        for _ in range(200):
            fast.advance(p, H)
            fast.power_block_temperatures()
        r_step = (time.perf_counter() - t) / 200
    n_even = (r_setup - s_setup) / max(s_step - r_step, 1e-12)
    print(f"{kind} {grid}x{grid} ({sparse.n_nodes} nodes): sparse set-up {s_setup:.1f} s, "
          f"step {s_step * 1e3:.1f} ms; reduced set-up {r_setup:.1f} s, step "
          f"{r_step * 1e3:.3f} ms; the reduced step pays from {n_even:.0f} steps")  # fmt: skip


def spectrum(grid: int) -> None:
    import scipy.linalg as sla

    m = _model(grid)
    net = m.network
    s = 1.0 / np.sqrt(net.C)
    t = time.perf_counter()
    lam = sla.eigh(net.G.toarray() * s[:, None] * s[None, :], eigvals_only=True)
    print(f"{m.n_nodes} nodes, eigh {time.perf_counter() - t:.0f} s")
    for cut in (1e2, 1e3, 1e4, 2e4, 5e4, 1e5):
        print(f"  modes with lam < {cut:g}/s (exp(-lam h) > {np.exp(-cut * H):.1e}): "
              f"{int((lam < cut).sum())}")  # fmt: skip


def rom(grid: int, n_shifts: int, smax: float, steps: int) -> None:
    import scipy.sparse.linalg as spla

    m = _model(grid, degree=12)
    net = m.network
    G, C, B = net.G.tocsc(), net.C, net.power_matrix.toarray()
    m.set_temperature(m.config.init_temp)
    # inputs of the basis: the block powers, the ambient term and the initial state
    inputs = np.column_stack([B, net.g_amb * net.ambient, C * m.temperature])
    shifts = [0.0, *np.logspace(0, np.log10(smax), n_shifts - 1)]
    sc = np.sqrt(C)
    # block rational Arnoldi: each shift's solves, C-orthogonalized against the basis so far
    # (twice), then their new directions (singular values above 1e-8 of the block's size)
    W = np.zeros((len(C), 0))
    for z in shifts:
        lu = spla.splu((G + z * sp.diags(C)).tocsc(), permc_spec="MMD_AT_PLUS_A")
        Y = lu.solve(inputs)
        size = float(np.linalg.norm(Y * sc[:, None], axis=0).max())
        for _ in range(2):
            Y -= W @ (W.T @ (C[:, None] * Y))
        U, S, _ = np.linalg.svd(Y * sc[:, None], full_matrices=False)
        W = np.hstack([W, U[:, 1e-8 * size < S] / sc[:, None]])
    Gr = W.T @ (G @ W)
    lam, Z = np.linalg.eigh((Gr + Gr.T) / 2)
    Wz = W @ Z
    Br, ar = Wz.T @ B, Wz.T @ (net.g_amb * net.ambient)
    d = np.exp(-H * lam)
    f = (1 - d) / lam
    avg = m._avg_matrix
    nc = net.grid.n_cells  # type: ignore[union-attr]
    layers = [li for li, _ in m._power_rows]

    def blocks(T: np.ndarray) -> np.ndarray:
        return np.asarray(avg @ np.concatenate([T[li * nc : (li + 1) * nc] for li in layers]))

    eta = Wz.T @ (C * m.temperature)
    rng = np.random.default_rng(0)
    nb = B.shape[1]
    worst = 0.0
    p = np.zeros(nb)
    for k in range(steps):
        if k % 10 == 0:
            p = rng.uniform(0, 3, nb) * (rng.random(nb) < 0.5)
        m.advance(p, H)
        eta = d * eta + f * (Br @ p + ar)
        worst = max(worst, float(np.abs(blocks(m.temperature) - blocks(Wz @ eta)).max()))
    print(f"{m.n_nodes} nodes, {nb} blocks, reduced order {W.shape[1]} ({n_shifts} shifts): "
          f"max block error {worst:.3g} K over {steps} steps")  # fmt: skip


def cocg(grid: int, steps: int, tol: float) -> None:
    m = _model(grid)
    net = m.network
    G, C = net.G.tocsr(), net.C
    s = net.grid
    assert s is not None
    L, nc = s.n_layers, s.n_cells
    ng = L * nc
    rat = cf_exp(8)
    zs, J = rat.poles, len(rat.poles)
    diag = G.diagonal()
    off = np.array(
        [
            G[li * nc : (li + 1) * nc, (li + 1) * nc : (li + 2) * nc].diagonal()
            for li in range(L - 1)
        ]
    )
    Dg = (H * diag[None, :ng] + zs[:, None] * C[None, :ng]).reshape(J, L, nc)
    Bo = H * off
    cp = np.empty((J, L - 1, nc), complex)
    den = np.empty((J, L, nc), complex)
    den[:, 0] = Dg[:, 0]
    for li in range(L - 1):  # Thomas factorization per column and shift
        cp[:, li] = Bo[li] / den[:, li]
        den[:, li + 1] = Dg[:, li + 1] - Bo[li] * cp[:, li]
    dp = H * diag[ng:][None, :] + zs[:, None] * C[ng:][None, :]

    def prec(R: np.ndarray) -> np.ndarray:
        X = np.empty_like(R)
        Rg, Xg = R[:, :ng].reshape(J, L, nc), X[:, :ng].reshape(J, L, nc)
        y = Rg[:, 0] / den[:, 0]
        Xg[:, 0] = y
        for li in range(1, L):
            y = (Rg[:, li] - Bo[li - 1] * y) / den[:, li]
            Xg[:, li] = y
        for li in range(L - 2, -1, -1):
            Xg[:, li] -= cp[:, li] * Xg[:, li + 1]
        X[:, ng:] = R[:, ng:] / dp
        return X

    def A(X: np.ndarray) -> np.ndarray:
        return np.asarray(H * (G @ X.T).T + zs[:, None] * C[None, :] * X)

    def solve(Bm: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, int]:
        X = X.copy()
        R = Bm - A(X)
        Z = prec(R)
        P = Z.copy()
        rz = np.sum(R * Z, axis=1)
        bn = np.linalg.norm(Bm, axis=1)
        for it in range(300):
            if (np.linalg.norm(R, axis=1) <= tol * bn).all():
                return X, it
            AP = A(P)
            al = rz / np.sum(P * AP, axis=1)
            X += al[:, None] * P
            R -= al[:, None] * AP
            Z = prec(R)
            rz2 = np.sum(R * Z, axis=1)
            P = Z + (rz2 / rz)[:, None] * P
            rz = rz2
        return X, 300

    a, b = rat.residues, H * rat.residues / zs
    m.set_temperature(m.config.init_temp)
    T = m.temperature.copy()
    Y = np.zeros((J, len(C)), complex)
    rng = np.random.default_rng(0)
    its: list[int] = []
    worst, spent = 0.0, 0.0
    p: Any = None
    for k in range(steps):
        if k % 10 == 0:
            p = rng.uniform(0, 3, len(m.power_names)) * (rng.random(len(m.power_names)) < 0.5)
        f = net.rhs(p)
        t = time.perf_counter()
        Y, it = solve(a[:, None] * (C * T)[None, :] + b[:, None] * f[None, :], Y)
        T = rat.r_inf * T - 2 * np.real(Y.sum(0))
        spent += time.perf_counter() - t
        its.append(it)
        m.advance(p, H)
        worst = max(worst, float(np.abs(m.temperature - T).max()))
    ms = spent / steps * 1e3
    print(f"{m.n_nodes} nodes: iterations first {its[0]}, mean {np.mean(its):.1f}; "
          f"max error vs sparse LU {worst:.2g} K; {ms:.0f} ms/step (numpy)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=["spectrum", "rom", "cocg", "reduced", "breakeven"])
    parser.add_argument("--kind", default="2.5d", choices=["2.5d", "chiplets"])
    parser.add_argument("--grid", type=int, default=16)
    parser.add_argument("--shifts", type=int, default=6)
    parser.add_argument("--smax", type=float, default=3e4)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--tol", type=float, default=1e-13)
    args = parser.parse_args()
    if args.probe == "spectrum":
        spectrum(args.grid)
    elif args.probe == "rom":
        rom(args.grid, args.shifts, args.smax, args.steps)
    elif args.probe == "reduced":
        reduced(args.grid, args.steps, args.kind)
    elif args.probe == "breakeven":
        breakeven(args.grid, args.kind)
    else:
        cocg(args.grid, args.steps, args.tol)


if __name__ == "__main__":
    main()
