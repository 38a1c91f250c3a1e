"""The structured solver's building blocks against their dense definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from comet.floorplan.flp import read_flp
from comet.thermal.hotspot_config import read_config
from comet.thermal.materials import read_materials
from comet.thermal.solver import ThermalModel
from comet.thermal.structured import Structured, _Shifts, dct_basis

EV6 = Path(__file__).parent / "data" / "reference" / "ev6"


@pytest.fixture(scope="module")
def st() -> Structured:
    cfg = read_config(
        EV6 / "hotspot.config",
        [("model_type", "grid"), ("grid_rows", "6"), ("grid_cols", "9")],
        read_materials(EV6 / "example.materials"),
    )
    model = ThermalModel.from_floorplan(read_flp(EV6 / "ev6.flp"), cfg, solver="structured")
    assert isinstance(model.backend, Structured)
    return model.backend


def test_dct_basis_is_orthonormal_and_diagonalizes_the_neumann_laplacian() -> None:
    n = 7
    B = dct_basis(n)
    assert np.allclose(B.T @ B, np.eye(n))
    lap = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    lap[0, 0] = lap[-1, -1] = 1
    mu = 2 - 2 * np.cos(np.pi * np.arange(n) / n)
    assert np.allclose(B.T @ lap @ B, np.diag(mu), atol=1e-12)


def test_edge_matrix_is_the_restriction_of_the_separable_inverse(st: Structured) -> None:
    """Q = E^T (h G0 + z C)^-1 E, in the line-cosine basis, by brute force."""
    h, z = 1e-3, 3.0 + 2.0j
    inv = 1.0 / (h * st.lam + z)
    Q = st.dense_edge_matrix(st.edge_blocks(inv))
    assert np.allclose(Q, Q.T)  # complex symmetric
    # brute force: each line-cosine basis vector as a grid vector, solved through modes
    cols = []
    for k in range(st.m):
        e = np.zeros(st.m, dtype=complex)
        e[k] = 1.0
        fields = st._fields_from_lines(e[None])[0]  # (n_el, n_modes) mode-space fields
        x = np.zeros((st.nm, st.L), dtype=complex)
        for slot, layer in enumerate(st.edge_layers):
            x += st.V[:, layer, :] * fields[slot][:, None]  # V^T (E e) in eigen coordinates
        cols.append(_gather(st, x * inv))
    brute = np.array(cols).T
    assert np.allclose(Q, brute, atol=1e-12 * np.abs(Q).max())


def _gather(st: Structured, y_eig: np.ndarray) -> np.ndarray:
    fields = np.stack([np.einsum("nk,nk->n", st.V[:, layer, :], y_eig) for layer in st.edge_layers])
    return st._lines_from_fields(fields[None])[0]


def test_structured_edge_operator_equals_the_dense_woodbury_matrix(st: Structured) -> None:
    h = 2e-3
    zs = st.rational.poles
    sh = _Shifts(st, h, zs)
    rng = np.random.default_rng(0)
    e = rng.normal(size=(len(zs), st.m)) + 1j * rng.normal(size=(len(zs), st.m))
    assert sh.Z.Zd is not None  # small edge system: kept dense
    dense = sh.Z.apply(e)
    sh.Z.Zd = None  # the structured (Schur complement) path
    got = sh.Z.apply(e)
    assert np.allclose(got, dense, rtol=1e-10, atol=1e-13 * np.abs(dense).max())
    Kl = st.K_link
    for j, z in enumerate(zs):
        Q = st.dense_edge_matrix(st.edge_blocks(sh.inv[j]))
        Mpp_inv = np.linalg.inv(h * st.Gpp + z * np.diag(st.Cp))
        Wm = np.diag(h * st.d) - h * h * Kl @ Mpp_inv @ Kl.T
        Z = Wm @ np.linalg.inv(np.eye(st.m) + Q @ Wm)
        assert np.allclose(Z, Z.T, atol=1e-10 * np.abs(Z).max())
        assert np.allclose(got[j], Z @ e[j], rtol=1e-9, atol=1e-12 * np.abs(Z @ e[j]).max())


def test_mixed_precision_stays_within_a_hundred_microkelvin_of_double() -> None:
    """float32 storage of the streamed matrices (the closed loop's default) vs float64."""
    cfg = read_config(
        EV6 / "hotspot.config",
        [("model_type", "grid"), ("grid_rows", "16"), ("grid_cols", "16")],
        read_materials(EV6 / "example.materials"),
    )
    flp = read_flp(EV6 / "ev6.flp")
    dbl = ThermalModel.from_floorplan(flp, cfg, solver="structured", precision="double")
    mix = ThermalModel.from_floorplan(flp, cfg, solver="structured", precision="mixed")
    rng = np.random.default_rng(1)
    p = rng.random(len(dbl.power_names)) * 3
    for k in range(300):
        q = p * (1 + np.sin(k / 20))
        dbl.advance(q, 1e-3)
        mix.advance(q, 1e-3)
    rise = dbl.power_block_temperatures().max() - cfg.ambient
    assert rise > 1.0  # the comparison means something
    diff = np.abs(mix.power_block_temperatures() - dbl.power_block_temperatures()).max()
    assert 0 < diff < 1e-4
    assert np.abs(mix.temperature - dbl.temperature).max() < 1e-4
