"""Block power in and block temperatures out, straight in the 2-D DCT domain of the grid.

HotSpot's block <-> grid maps are separable per block: a block puts its power into the cells it
overlaps in proportion to the overlap area, ``share(i, j) = ry(i) * rx(j)`` (row overlap times
column overlap), and its ``avg`` temperature is the plain mean over the rectangle of cells it
touches, again a row weight times a column weight. With the orthonormal DCT bases ``Phi`` (rows)
and ``Psi`` (columns), the DCT of the power field of layer k is then

    Hat_k = sum_b p_b (Phi^T ry_b) (Psi^T rx_b)^T = Ay_k diag(p_k) Ax_k^T,

and a block's average is ``(Phi^T wy_b)^T Hat_k (Psi^T wx_b)``. Both are a few small matrix
products per layer instead of a sparse product over every cell plus a 2-D transform, which
matters in the epoch loop. :meth:`SeparableMaps.from_matrices` checks the separability of every
block numerically and returns None when a map is not separable (the caller then keeps the
cell-level path).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Relative tolerance of the rank-1 check of a block's cell weights.
SEPARABLE_RTOL = 1e-12


def _rank_one(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(wy, wx)`` with ``weights == outer(wy, wx)`` for an (R, C) array, or None."""
    total = weights.sum()
    if total == 0.0:
        return np.zeros(weights.shape[0]), np.zeros(weights.shape[1])
    wy = weights.sum(axis=1)
    wx = weights.sum(axis=0) / total
    scale = max(np.abs(weights).max(), 1e-300)
    if np.abs(np.outer(wy, wx) - weights).max() > SEPARABLE_RTOL * scale:
        return None
    return wy, wx


class SeparableMaps:
    """Power (W) of the blocks -> DCT of the power layers' cell power, and DCT of those layers'
    cell temperatures -> block temperatures (K), for blocks whose maps are separable."""

    def __init__(
        self,
        power_y: np.ndarray,
        power_x: np.ndarray,
        power_index: np.ndarray,
        avg_y: np.ndarray,
        avg_x: np.ndarray,
        block_slot: np.ndarray,
    ) -> None:
        # (n_layers, R, nb): Phi^T ry_b per slot; (n_layers, nb, C): (Psi^T rx_b)^T
        self.power_y = power_y
        self.power_x = power_x
        # (n_layers, nb) index into [p, 0]: the block power of each slot (n_power = empty slot)
        self.power_index = power_index
        # (n_layers, nb, R) and (n_layers, nb, C): Phi^T wy_b and Psi^T wx_b per slot
        self.avg_y = avg_y
        self.avg_x = avg_x
        # (n_power,) flat slot of each block in power_names order
        self.block_slot = block_slot
        self._p_ext = np.zeros(len(block_slot) + 1)
        self.n_layers, self.R, self.nb = power_y.shape
        self.C = power_x.shape[2]

    @classmethod
    def from_matrices(
        cls,
        power_share: sp.spmatrix,
        average: sp.spmatrix,
        n_layers: int,
        Phi: np.ndarray,
        Psi: np.ndarray,
    ) -> SeparableMaps | None:
        """Build from the cell-level maps, or None if a block's map is not separable.

        ``power_share`` (n_layers*R*C, n_power): cell power per block power, the power layers'
        planes stacked; ``average`` (n_power, n_layers*R*C): block temperature per cell
        temperature. A block must live in one layer.
        """
        R, C = Phi.shape[0], Psi.shape[0]
        nc = R * C
        share = sp.csc_matrix(power_share)
        avg = sp.csr_matrix(average)
        n_power = share.shape[1]
        layer_of = np.full(n_power, -1)
        factors: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for b in range(n_power):
            col = share[:, b].toarray().ravel()
            row = avg[b, :].toarray().ravel()
            used = {int(i) // nc for i in np.flatnonzero(col)} | {
                int(i) // nc for i in np.flatnonzero(row)
            }
            if len(used) > 1:
                return None
            k = used.pop() if used else 0
            layer_of[b] = k
            pw = _rank_one(col[k * nc : (k + 1) * nc].reshape(R, C))
            aw = _rank_one(row[k * nc : (k + 1) * nc].reshape(R, C))
            if pw is None or aw is None:
                return None
            factors.append((pw[0], pw[1], aw[0], aw[1]))
        counts = np.bincount(layer_of, minlength=n_layers)
        nb = max(int(counts.max()) if n_power else 0, 1)
        power_y = np.zeros((n_layers, R, nb))
        power_x = np.zeros((n_layers, nb, C))
        avg_y = np.zeros((n_layers, nb, R))
        avg_x = np.zeros((n_layers, nb, C))
        power_index = np.full((n_layers, nb), n_power)
        block_slot = np.empty(n_power, dtype=int)
        filled = np.zeros(n_layers, dtype=int)
        for b, (py, px, ay, ax) in enumerate(factors):
            k = layer_of[b]
            s = filled[k]
            filled[k] += 1
            power_y[k, :, s] = Phi.T @ py
            power_x[k, s, :] = Psi.T @ px
            avg_y[k, s, :] = Phi.T @ ay
            avg_x[k, s, :] = Psi.T @ ax
            power_index[k, s] = b
            block_slot[b] = k * nb + s
        return cls(power_y, power_x, power_index, avg_y, avg_x, block_slot)

    def power_dct(self, power: np.ndarray) -> np.ndarray:
        """Block power (W, power_names order) -> DCT of the layers' cell power (n_layers, R*C)."""
        self._p_ext[:-1] = power
        p = self._p_ext[self.power_index]  # (n_layers, nb)
        hat = np.matmul(self.power_y * p[:, None, :], self.power_x)  # (n_layers, R, C)
        return hat.reshape(self.n_layers, -1)

    def block_values(self, hat: np.ndarray) -> np.ndarray:
        """DCT of the layers' cell values (n_layers, R*C) -> block averages (power_names)."""
        cube = hat.reshape(self.n_layers, self.R, self.C)
        rows = np.matmul(self.avg_y, cube)  # (n_layers, nb, C)
        per_slot = np.einsum("knc,knc->kn", rows, self.avg_x)
        return per_slot.reshape(-1)[self.block_slot]
