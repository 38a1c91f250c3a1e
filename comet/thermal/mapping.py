"""Block <-> grid-cell maps of HotSpot's grid model (``set_bgmap``, ``xlate_temp_g2b``).

Grid rows are numbered from the top: row 0 holds the cells of largest y ("north"), as in
HotSpot's grid dumps. A map is kept as a sparse matrix of cell occupancies: entry (u, c) is the
fraction of cell c covered by block u.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from comet.floorplan.model import Floorplan
from comet.thermal.hotspot_config import MAP_MODES

_SNAP = 1e-6


def _tolerant_floor(x: float) -> int:
    r = round(x)
    return int(r) if abs(x - r) < _SNAP else math.floor(x)


def _tolerant_ceil(x: float) -> int:
    r = round(x)
    return int(r) if abs(x - r) < _SNAP else math.ceil(x)


@dataclass(frozen=True)
class BlockGridMap:
    """Occupancy map of one floorplan on a ``rows`` x ``cols`` grid.

    Attributes:
        occupancy: sparse (n_blocks, rows*cols): fraction of each cell covered by each block.
        power_share: sparse (rows*cols, n_blocks): fraction of each block's power put in each
            cell (overlap area / block area); columns sum to 1 for blocks inside the die.
        ranges: per block the cell ranges ``(i1, i2, j1, j2)`` it touches.
    """

    rows: int
    cols: int
    occupancy: sp.csr_matrix
    power_share: sp.csr_matrix
    ranges: tuple[tuple[int, int, int, int], ...]

    def to_blocks(self, cells: np.ndarray, mode: str) -> np.ndarray:
        """Block values from a cell field (rows*cols,) with HotSpot's map mode.

        ``avg``/``min``/``max`` over every cell the block touches, unweighted; ``center`` the
        mean of the (up to) four cells at the block's centre.
        """
        if mode not in MAP_MODES:
            raise ValueError(f"unknown grid map mode {mode!r}")
        grid = cells.reshape(self.rows, self.cols)
        out = np.empty(len(self.ranges))
        for u, (i1, i2, j1, j2) in enumerate(self.ranges):
            if mode == "avg":
                out[u] = grid[i1:i2, j1:j2].mean()
            elif mode == "min":
                out[u] = grid[i1:i2, j1:j2].min()
            elif mode == "max":
                out[u] = grid[i1:i2, j1:j2].max()
            else:
                ci1, cj1 = (i1 + i2) // 2, (j1 + j2) // 2
                ci2 = ci1 - 1 if (i2 - i1) % 2 == 0 else ci1
                cj2 = cj1 - 1 if (j2 - j1) % 2 == 0 else cj1
                out[u] = (grid[ci1, cj1] + grid[ci2, cj1] + grid[ci1, cj2] + grid[ci2, cj2]) / 4
        return out

    def averaging_matrix(self, mode: str) -> sp.csr_matrix | None:
        """A sparse (n_blocks, rows*cols) matrix for the linear modes (avg, center), else None."""
        if mode not in ("avg", "center"):
            return None
        rows_idx: list[int] = []
        cols_idx: list[int] = []
        vals: list[float] = []
        for u, (i1, i2, j1, j2) in enumerate(self.ranges):
            if mode == "avg":
                cells = [i * self.cols + j for i in range(i1, i2) for j in range(j1, j2)]
            else:
                ci1, cj1 = (i1 + i2) // 2, (j1 + j2) // 2
                ci2 = ci1 - 1 if (i2 - i1) % 2 == 0 else ci1
                cj2 = cj1 - 1 if (j2 - j1) % 2 == 0 else cj1
                cells = [ci1 * self.cols + cj1, ci2 * self.cols + cj1]
                cells += [ci1 * self.cols + cj2, ci2 * self.cols + cj2]
            w = 1.0 / len(cells)
            for c in cells:
                rows_idx.append(u)
                cols_idx.append(c)
                vals.append(w)
        m = sp.csr_matrix(
            (vals, (rows_idx, cols_idx)), shape=(len(self.ranges), self.rows * self.cols)
        )
        m.sum_duplicates()
        return m


def block_grid_map(floorplan: Floorplan, width: float, height: float, rows: int, cols: int):
    """The occupancy map of ``floorplan`` on a grid over a ``width`` x ``height`` (m) die."""
    cw, ch = width / cols, height / rows
    cell_area = cw * ch
    occ_r: list[int] = []
    occ_c: list[int] = []
    occ_v: list[float] = []
    share_v: list[float] = []
    ranges: list[tuple[int, int, int, int]] = []
    for u, b in enumerate(floorplan.blocks):
        i1 = rows - _tolerant_ceil(b.top / ch)
        i2 = rows - _tolerant_floor(b.y / ch)
        j1 = _tolerant_floor(b.x / cw)
        j2 = _tolerant_ceil(b.right / cw)
        i1, j1 = max(i1, 0), max(j1, 0)
        i2, j2 = min(i2, rows), min(j2, cols)
        ranges.append((i1, i2, j1, j2))
        for i in range(i1, i2):
            # cell i spans y in [(rows-1-i)*ch, (rows-i)*ch]
            y0, y1 = (rows - 1 - i) * ch, (rows - i) * ch
            oh = min(y1, b.top) - max(y0, b.y)
            if abs(oh - ch) < _SNAP * ch:
                oh = ch
            elif abs(oh) < _SNAP * ch:
                oh = 0.0
            for j in range(j1, j2):
                x0, x1 = j * cw, (j + 1) * cw
                ow = min(x1, b.right) - max(x0, b.x)
                if abs(ow - cw) < _SNAP * cw:
                    ow = cw
                elif abs(ow) < _SNAP * cw:
                    ow = 0.0
                overlap = max(ow, 0.0) * max(oh, 0.0)
                occ_r.append(u)
                occ_c.append(i * cols + j)
                occ_v.append(overlap / cell_area)
                share_v.append(overlap / b.area)
    n = len(floorplan.blocks)
    occupancy = sp.csr_matrix((occ_v, (occ_r, occ_c)), shape=(n, rows * cols))
    power_share = sp.csr_matrix((share_v, (occ_c, occ_r)), shape=(rows * cols, n))
    return BlockGridMap(rows, cols, occupancy, power_share, tuple(ranges))
