"""Block power in and block temperatures out in the DCT domain, against the cell-level maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from comet.floorplan.flp import read_flp
from comet.thermal.hotspot_config import read_config
from comet.thermal.materials import read_materials
from comet.thermal.modal_maps import SeparableMaps
from comet.thermal.solver import ThermalModel
from comet.thermal.structured import dct_basis
from comet.thermal.traces import read_ptrace

EV6 = Path(__file__).parent / "data" / "reference" / "ev6"


def _model(mode: str, solver: str, rows: int = 12, cols: int = 10) -> ThermalModel:
    cfg = read_config(
        EV6 / "hotspot.config",
        [
            ("model_type", "grid"),
            ("grid_rows", str(rows)),
            ("grid_cols", str(cols)),
            ("grid_map_mode", mode),
        ],
        read_materials(EV6 / "example.materials"),
    )
    return ThermalModel.from_floorplan(read_flp(EV6 / "ev6.flp"), cfg, solver=solver)


@pytest.mark.parametrize("mode", ["avg", "center"])
def test_dct_domain_maps_equal_the_cell_maps(mode: str) -> None:
    model = _model(mode, "structured")
    sep = model._sep
    assert sep is not None  # ev6's rectangles are separable, grid-aligned or not
    R, C = 12, 10
    Phi, Psi = dct_basis(R), dct_basis(C)
    rng = np.random.default_rng(3)
    p = rng.random(len(model.power_names))
    cells = np.asarray(model._pm_pl @ p).reshape(R, C)
    assert np.allclose(sep.power_dct(p).reshape(R, C), Phi.T @ cells @ Psi, atol=1e-14)
    field = 300 + 40 * rng.random((R, C))
    expected = np.asarray(model._avg_matrix @ field.ravel())
    assert np.allclose(sep.block_values((Phi.T @ field @ Psi).ravel()[None]), expected, atol=1e-10)


def test_a_map_that_is_not_separable_is_refused() -> None:
    R, C = 4, 3
    share = np.zeros((R * C, 1))
    share[[0, 1, 3], 0] = 1 / 3  # an L-shaped block: not a product of row and column weights
    avg = sp.csr_matrix(share.T)
    assert (
        SeparableMaps.from_matrices(sp.csr_matrix(share), avg, 1, dct_basis(R), dct_basis(C))
        is None
    )


def test_modal_block_temperatures_equal_the_dense_solver() -> None:
    names, power = read_ptrace(EV6 / "gcc.ptrace")
    fast, ref = _model("avg", "structured"), _model("avg", "dense")
    order = [names.index(n) for n in fast.power_names]
    for row in power[:5, order]:
        fast.advance(row, 1e-3)
        ref.advance(row, 1e-3)
    assert np.abs(fast.power_block_temperatures() - ref.power_block_temperatures()).max() < 1e-6
