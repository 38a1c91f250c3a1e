"""HotSpot's compact thermal RC networks, built once (block model and grid model).

A network is ``C dT/dt = -G T + g_amb * T_amb + B p`` with ``G`` sparse symmetric positive
definite (W/K), ``C`` diagonal (J/K), ``g_amb`` the conductance of every node to ambient (W/K) and
``B`` the sparse map from the power vector ``p`` (W, one entry per power block) to nodes.

The grid network is described by :class:`GridStructure` (per-layer uniform conductances and
capacitances, the die-edge links to the package nodes); ``G`` is assembled from it, and the fast
structured solver (:mod:`comet.thermal.structured`) uses the same description. Formulas and node
order follow HotSpot 7 (``temperature_block.c``, ``temperature_grid.c``); see
``HOTSPOT_NOTES.md`` sections 3-5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from comet.errors import InputError
from comet.floorplan.model import GEOMETRY_TOLERANCE, Floorplan, Stack
from comet.thermal.hotspot_config import (
    C_C4,
    C_FACTOR,
    C_METAL,
    C_PCB,
    C_SOLDER,
    C_SUB,
    K_C4,
    K_METAL,
    K_PCB,
    K_SOLDER,
    K_SUB,
    ThermalConfig,
)
from comet.thermal.mapping import BlockGridMap, block_grid_map
from comet.thermal.package import SIDES, E, N, PackageLinks, S, W, getcap, package_links

#: Conductance standing for HotSpot's "no lateral flow" resistance of 1e100 K/W.
NO_FLOW = 0.0

#: Prefix of each layer role in HotSpot's block-level dumps of the default (non-LCF) layers.
_DUMP_PREFIX = {
    "pcb": "pcb_",
    "solder": "solder_",
    "substrate": "sub_",
    "c4": "c4_",
    "metal": "metal_",
    "chip": "",
    "tim": "iface_",
    "spreader": "hsp_",
    "sink": "hsink_",
}


@dataclass(frozen=True)
class GridLayer:
    """One layer of the grid model with uniform properties.

    Attributes:
        name: layer label.
        role: ``lcf`` (a layer of a stack), ``chip``/``tim`` (HotSpot's default layers),
            ``spreader``, ``sink``, or a secondary-path role (``pcb``, ``solder``,
            ``substrate``, ``c4``, ``metal``).
        conductivity, heat_capacity, thickness: W/(m K), J/(m^3 K), m.
        lateral: heat flows laterally.
        has_power: the layer's blocks dissipate power.
        map_index: the floorplan map used for this layer's power, initial values and dumps.
    """

    name: str
    role: str
    conductivity: float
    heat_capacity: float
    thickness: float
    lateral: bool
    has_power: bool
    map_index: int


@dataclass(frozen=True)
class EdgeLink:
    """Die-edge cells of ``layer`` on ``side`` linked to package node ``node``, ``g`` W/K each."""

    layer: int
    side: int
    node: int
    g: float


@dataclass
class GridStructure:
    """Uniform-per-layer description of a grid network (what the structured solver needs).

    Arrays are per layer (length L) except ``gz`` (L-1, conductance from layer l to l+1 per
    cell). All conductances in W/K per cell, capacitances J/K per cell.
    """

    rows: int
    cols: int
    cell_width: float
    cell_height: float
    layers: list[GridLayer]
    gx: np.ndarray
    gy: np.ndarray
    gz: np.ndarray
    g_amb: np.ndarray
    cap: np.ndarray
    edges: list[EdgeLink]
    package: PackageLinks
    #: Per-cell properties (``detailed_3D``); when set they replace the uniform ones above:
    #: ``cell_gx`` (L, R, C-1) between (i, j) and (i, j+1), ``cell_gy`` (L, R-1, C) between
    #: (i, j) and (i+1, j), ``cell_gz`` (L-1, R, C) between layers, ``cell_cap`` (L, R, C).
    cell_gx: np.ndarray | None = None
    cell_gy: np.ndarray | None = None
    cell_gz: np.ndarray | None = None
    cell_cap: np.ndarray | None = None

    @property
    def uniform(self) -> bool:
        """True when every layer is uniform (the structured solver applies)."""
        return self.cell_gx is None

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_cells(self) -> int:
        return self.rows * self.cols

    @property
    def n_grid_nodes(self) -> int:
        return self.n_layers * self.n_cells

    def edge_cells(self, side: int) -> np.ndarray:
        """Flat cell indices (within a layer) of the die edge on ``side``."""
        r, c = self.rows, self.cols
        if side == N:
            return np.arange(c)
        if side == S:
            return (r - 1) * c + np.arange(c)
        if side == W:
            return np.arange(r) * c
        return np.arange(r) * c + (c - 1)


@dataclass
class ThermalNetwork:
    """An assembled RC network.

    Attributes:
        model_type: ``block`` or ``grid``.
        G: sparse (n, n) conductance matrix (W/K), symmetric positive definite.
        C: (n,) capacitances (J/K).
        g_amb: (n,) conductance to ambient (W/K).
        power_matrix: sparse (n, n_power) map from block power (W) to node power (W).
        power_names: names of the power blocks, in power-vector order.
        ambient: ambient temperature (K).
        layer_names: names of all layers, including spreader and sink (grid model; the block
            model's four layers are ``chip``, ``tim``, ``spreader``, ``sink``).
        floorplans: the floorplans of the layers (block model: one).
        grid: the structure of a grid network (None for the block model).
        maps: block<->grid maps (grid model), indexed by ``GridLayer.map_index``.
        package: the package periphery.
    """

    model_type: str
    G: sp.csr_matrix
    C: np.ndarray
    g_amb: np.ndarray
    power_matrix: sp.csr_matrix
    power_names: list[str]
    ambient: float
    layer_names: list[str]
    floorplans: list[Floorplan]
    package: PackageLinks
    grid: GridStructure | None = None
    maps: list[BlockGridMap] = field(default_factory=list)
    block_layer_floorplan: list[int] = field(default_factory=list)
    dump_prefixes: list[str] = field(default_factory=list)

    @property
    def n_nodes(self) -> int:
        return int(self.C.shape[0])

    def rhs(self, power: np.ndarray) -> np.ndarray:
        """The heat input vector (W): node power plus the ambient terms."""
        return np.asarray(self.power_matrix @ power) + self.g_amb * self.ambient


# ----------------------------------------------------------------------------------------------
# Block model
# ----------------------------------------------------------------------------------------------


def _shared_length(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def block_adjacency(flp: Floorplan) -> list[tuple[int, int, float, bool]]:
    """Pairs of touching blocks ``(i, j, shared length (m), horizontal)``.

    ``horizontal`` means the blocks touch along a vertical edge (side by side in x).
    Corner-only contacts are not neighbours (HotSpot's ``is_horiz_adj``/``is_vert_adj``).
    """
    tol = GEOMETRY_TOLERANCE
    x, y, w, h = flp.arrays()
    out: list[tuple[int, int, float, bool]] = []
    n = len(flp)
    for i in range(n):
        for j in range(i + 1, n):
            if abs(x[i] + w[i] - x[j]) < tol or abs(x[j] + w[j] - x[i]) < tol:
                length = _shared_length(y[i], y[i] + h[i], y[j], y[j] + h[j])
                if length > tol:
                    out.append((i, j, length, True))
                    continue
            if abs(y[i] + h[i] - y[j]) < tol or abs(y[j] + h[j] - y[i]) < tol:
                length = _shared_length(x[i], x[i] + w[i], x[j], x[j] + w[j])
                if length > tol:
                    out.append((i, j, length, False))
    return out


def build_block_network(flp: Floorplan, config: ThermalConfig) -> ThermalNetwork:
    """HotSpot's block model: 4 layers (chip, TIM, spreader, sink) x blocks + 12 package nodes."""
    c = config
    if c.model_secondary:
        raise InputError(
            "model_secondary 1 needs the grid model",
            hint="set -model_type grid or -model_secondary 0",
        )
    flp = flp.translated()
    n = len(flp)
    width, height = flp.width, flp.height
    pkg = package_links(c, width, height)
    x, y, w, h = flp.arrays()
    area = w * h
    layers = [
        ("chip", c.k_chip, c.p_chip, c.t_chip),
        ("tim", c.k_interface, c.p_interface, c.t_interface),
        ("spreader", c.k_spreader, c.p_spreader, c.t_spreader),
        ("sink", c.k_sink, c.p_sink, c.t_sink),
    ]
    n_nodes = 4 * n + pkg.n_nodes
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def link(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> None:
        rows.append(a)
        cols.append(b)
        vals.append(g)

    adjacency = block_adjacency(flp)
    for li, (_name, k, _cv, t) in enumerate(layers):
        if li == 0 and c.block_omit_lateral:
            continue
        for i, j, length, horizontal in adjacency:
            if horizontal:
                r = (w[i] / 2) / (k * length * t) + (w[j] / 2) / (k * length * t)
            else:
                r = (h[i] / 2) / (k * length * t) + (h[j] / 2) / (k * length * t)
            link(np.array([li * n + i]), np.array([li * n + j]), np.array([1.0 / r]))
    idx = np.arange(n)
    link(idx, n + idx, c.k_chip * area / c.t_chip)
    link(n + idx, 2 * n + idx, c.k_interface * area / c.t_interface)
    link(2 * n + idx, 3 * n + idx, c.k_spreader * area / c.t_spreader)
    g_amb = np.zeros(n_nodes)
    g_amb[3 * n + idx] = 1.0 / (c.t_sink / (c.k_sink * area) + c.r_convec * c.s_sink**2 / area)

    tol = GEOMETRY_TOLERANCE
    border = {
        N: np.abs(y + h - height) < tol,
        S: np.abs(y) < tol,
        E: np.abs(x + w - width) < tol,
        W: np.abs(x) < tol,
    }
    base = 4 * n
    for role, li in (("spreader", 2), ("sink", 3)):
        _, k, _, t = layers[li]
        for side in SIDES:
            on = border[side]
            if not on.any():
                continue
            g_half = k * w * t / (h / 2) if side in (N, S) else k * h * t / (w / 2)
            g_total = g_half[on].sum()
            g = g_half[on] / (1.0 + pkg.edge_r[(role, side)] * g_total)
            link(li * n + idx[on], np.full(on.sum(), base + pkg.edge_node[(role, side)]), g)
    for a, b, g in pkg.links:
        link(np.array([base + a]), np.array([base + b]), np.array([g]))
    g_amb[base:] = pkg.ambient_conductance

    G = _assemble(n_nodes, rows, cols, vals, g_amb)
    C = np.empty(n_nodes)
    for li, (_name, _k, cv, t) in enumerate(layers):
        C[li * n : (li + 1) * n] = getcap(cv, t, area)
    C[3 * n : 4 * n] += C_FACTOR * c.c_convec * area / c.s_sink**2
    C[base:] = pkg.capacitance
    power_matrix = sp.csr_matrix((np.ones(n), (idx, idx)), shape=(n_nodes, n))
    return ThermalNetwork(
        model_type="block",
        G=G,
        C=C,
        g_amb=g_amb,
        power_matrix=power_matrix,
        power_names=flp.names,
        ambient=c.ambient,
        layer_names=["chip", "tim", "spreader", "sink"],
        floorplans=[flp],
        package=pkg,
        block_layer_floorplan=[0, 0, 0, 0],
        dump_prefixes=["", "iface_", "hsp_", "hsink_"],
    )


def _assemble(
    n: int,
    rows: list[np.ndarray],
    cols: list[np.ndarray],
    vals: list[np.ndarray],
    g_amb: np.ndarray,
) -> sp.csr_matrix:
    """Symmetric G from a list of links (i, j, g) plus the ambient conductances on the diagonal."""
    r = np.concatenate(rows).astype(np.int64)
    c = np.concatenate(cols).astype(np.int64)
    v = np.concatenate(
        [
            np.broadcast_to(np.asarray(x, float), (len(rr),))
            for x, rr in zip(vals, rows, strict=True)
        ]
    )
    diag = np.bincount(r, weights=v, minlength=n) + np.bincount(c, weights=v, minlength=n) + g_amb
    i = np.concatenate([r, c, np.arange(n)])
    j = np.concatenate([c, r, np.arange(n)])
    data = np.concatenate([-v, -v, diag])
    G = sp.csr_matrix((data, (i, j)), shape=(n, n))
    G.sum_duplicates()
    return G


# ----------------------------------------------------------------------------------------------
# Grid model
# ----------------------------------------------------------------------------------------------


def _secondary_layers(config: ThermalConfig, with_c4_metal: bool) -> list[GridLayer]:
    c = config
    out = [
        GridLayer("pcb", "pcb", K_PCB, C_PCB, c.t_pcb, True, False, 0),
        GridLayer("solder", "solder", K_SOLDER, C_SOLDER, c.t_solder, True, False, 0),
        GridLayer("substrate", "substrate", K_SUB, C_SUB, c.t_sub, True, False, 0),
    ]
    if with_c4_metal:
        out += [
            GridLayer("c4", "c4", K_C4, C_C4, c.t_c4, True, False, 0),
            GridLayer("metal", "metal", K_METAL, C_METAL, c.t_metal, True, False, 0),
        ]
    return out


def grid_layers_default(config: ThermalConfig) -> list[GridLayer]:
    """HotSpot's layers without an LCF: (secondary path), chip, TIM, spreader, sink."""
    c = config
    out = _secondary_layers(c, True) if c.model_secondary else []
    out += [
        GridLayer("chip", "chip", c.k_chip, c.p_chip, c.t_chip, True, True, 0),
        GridLayer("tim", "tim", c.k_interface, c.p_interface, c.t_interface, True, False, 0),
    ]
    return out


def grid_layers_of_stack(stack: Stack, config: ThermalConfig) -> list[GridLayer]:
    """Layers of a stack (LCF), with the secondary-path layers prepended when enabled."""
    out = _secondary_layers(config, False) if config.model_secondary else []
    for i, layer in enumerate(stack.layers):
        out.append(
            GridLayer(
                layer.name,
                "lcf",
                layer.conductivity,
                layer.heat_capacity,
                layer.thickness,
                layer.lateral,
                layer.has_power,
                i,
            )
        )
    return out


def build_grid_network(
    floorplans: list[Floorplan],
    layers: list[GridLayer],
    config: ThermalConfig,
    dump_prefixes: list[str] | None = None,
    *,
    hotspot7_quirks: bool = False,
) -> ThermalNetwork:
    """HotSpot's grid model over ``layers`` (spreader and sink are appended here).

    ``floorplans[k]`` is the floorplan of map index ``k``; all must share one footprint.

    ``hotspot7_quirks`` reproduces two HotSpot 7 behaviours that comet otherwise corrects:

    * its grid solvers link north-south neighbours with ``rx`` and east-west neighbours with
      ``ry`` (``temperature_grid.c:find_res``): the same on square cells, wrong on non-square
      ones (8 K on ev6 at 64x16);
    * with ``-detailed_3D on`` the spreader-to-sink link takes half of the sink cell's ``rz``
      *including its share of the convection resistance* (``find_res_3D``), which puts
      ``r_convec * s_sink^2 / (2 A_die)`` in series under the die (15 K on the 2.5d stack).
      comet uses the sink's conduction resistance there.

    More generally, HotSpot 7's detailed network moves every layer's node from the layer's top
    face to its centre (half-cell vertical links), so its results change with ``-detailed_3D on``
    even when no block carries its own material (4 K on the 2.5d stack, through the 6.9 mm
    sink). comet's ``detailed_3D`` keeps the standard network and only gives cells their blocks'
    materials, so it reduces exactly to the standard model without per-block materials;
    ``hotspot7_quirks`` selects HotSpot 7's detailed network instead.
    """
    c = config
    rows, cols = int(c.grid_rows), int(c.grid_cols)
    if rows < 1 or cols < 1:
        raise InputError(f"grid size {rows}x{cols} is invalid", hint="grid_rows and grid_cols >= 1")
    floorplans = [f.translated() for f in floorplans]
    width, height = floorplans[0].width, floorplans[0].height
    for f in floorplans[1:]:
        if abs(f.width - width) > GEOMETRY_TOLERANCE or abs(f.height - height) > GEOMETRY_TOLERANCE:
            raise InputError(
                f"layer floorplan {f.source or '?'} is {f.width:g} x {f.height:g} m but "
                f"{floorplans[0].source or 'the first layer'} is {width:g} x {height:g} m",
                hint="all layers of a stack must have the same footprint",
            )
    last_map = layers[-1].map_index
    layers = [
        *layers,
        GridLayer(
            "spreader", "spreader", c.k_spreader, c.p_spreader, c.t_spreader, True, False, last_map
        ),
        GridLayer("sink", "sink", c.k_sink, c.p_sink, c.t_sink, True, False, last_map),
    ]
    cw, ch = width / cols, height / rows
    a = cw * ch
    L = len(layers)
    k = np.array([ly.conductivity for ly in layers])
    t = np.array([ly.thickness for ly in layers])
    lateral = np.array([ly.lateral for ly in layers])
    gx = np.where(lateral, k * ch * t / cw, NO_FLOW)
    gy = np.where(lateral, k * cw * t / ch, NO_FLOW)
    if hotspot7_quirks:
        gx, gy = (
            np.where(lateral, k * cw * t / ch, NO_FLOW),
            np.where(lateral, k * ch * t / cw, NO_FLOW),
        )
    rz = t / (k * a)
    rz_sink = rz[-1] + c.r_convec * c.s_sink**2 / a
    gz = 1.0 / rz[:-1]
    g_amb = np.zeros(L)
    g_amb[-1] = 1.0 / rz_sink
    cap = np.array([getcap(ly.heat_capacity, ly.thickness, a) for ly in layers])
    cap[-1] += C_FACTOR * c.c_convec * a / c.s_sink**2
    if c.model_secondary:
        g_amb[0] = 1.0 / (c.r_convec_sec * c.s_pcb**2 / a)
        cap[0] += C_FACTOR * c.c_convec_sec * a / c.s_pcb**2

    pkg = package_links(c, width, height)
    edges: list[EdgeLink] = []
    for li, ly in enumerate(layers):
        if (ly.role, N) not in pkg.edge_r:
            continue
        rx, ry = (
            cw / (ly.conductivity * ch * ly.thickness),
            ch / (ly.conductivity * cw * ly.thickness),
        )
        for side in SIDES:
            r_edge = pkg.edge_r[(ly.role, side)]
            if side in (N, S):
                g = 1.0 / (ry / 2 + cols * r_edge)
            else:
                g = 1.0 / (rx / 2 + rows * r_edge)
            edges.append(EdgeLink(li, side, pkg.edge_node[(ly.role, side)], g))

    structure = GridStructure(rows, cols, cw, ch, layers, gx, gy, gz, g_amb, cap, edges, pkg)
    maps = [block_grid_map(f, width, height, rows, cols) for f in floorplans]
    if c.detailed_3D_used:
        _detailed_cells(structure, floorplans, maps, rz, rz_sink, hotspot7_quirks)
    G, C, g_amb_nodes = assemble_grid(structure)
    power_cols: list[sp.csr_matrix] = []
    names: list[str] = []
    n_cells = rows * cols
    for li, ly in enumerate(layers):
        if not ly.has_power:
            continue
        share = maps[ly.map_index].power_share  # (cells, blocks)
        coo = share.tocoo()
        power_cols.append(
            sp.csr_matrix(
                (coo.data, (coo.row + li * n_cells, coo.col)),
                shape=(G.shape[0], share.shape[1]),
            )
        )
        names += floorplans[ly.map_index].names
    if not power_cols:
        raise InputError("no layer dissipates power", hint="mark at least one layer with power Y")
    power_matrix = sp.hstack(power_cols).tocsr()
    if dump_prefixes is None:
        # HotSpot numbers an LCF layer by its place in the whole layer list: with the
        # secondary heat path prepended (pcb, solder, substrate) the LCF layers start at 3
        dump_prefixes = [
            f"layer_{li}_" if ly.role == "lcf" else _DUMP_PREFIX.get(ly.role, "")
            for li, ly in enumerate(layers)
        ]
    return ThermalNetwork(
        model_type="grid",
        G=G,
        C=C,
        g_amb=g_amb_nodes,
        power_matrix=power_matrix,
        power_names=names,
        ambient=c.ambient,
        layer_names=[ly.name for ly in layers],
        floorplans=floorplans,
        package=pkg,
        grid=structure,
        maps=maps,
        block_layer_floorplan=[ly.map_index for ly in layers],
        dump_prefixes=dump_prefixes,
    )


def assemble_grid(s: GridStructure) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Sparse ``G``, ``C`` and ``g_amb`` of a grid structure (grid nodes first, then package)."""
    R, Cc, L = s.rows, s.cols, s.n_layers
    nc = R * Cc
    cell = np.arange(nc).reshape(R, Cc)
    ew_a, ew_b = cell[:, :-1].ravel(), cell[:, 1:].ravel()
    ns_a, ns_b = cell[:-1, :].ravel(), cell[1:, :].ravel()
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    if not s.uniform:
        return _assemble_cells(s)
    for li in range(L):
        off = li * nc
        if s.gx[li] > 0:
            rows.append(off + ew_a)
            cols.append(off + ew_b)
            vals.append(np.full(ew_a.size, s.gx[li]))
        if s.gy[li] > 0:
            rows.append(off + ns_a)
            cols.append(off + ns_b)
            vals.append(np.full(ns_a.size, s.gy[li]))
        if li < L - 1:
            rows.append(off + np.arange(nc))
            cols.append(off + nc + np.arange(nc))
            vals.append(np.full(nc, s.gz[li]))
    return _finish_grid(s, rows, cols, vals, np.repeat(s.cap, nc))


def _finish_grid(
    s: GridStructure,
    rows: list[np.ndarray],
    cols: list[np.ndarray],
    vals: list[np.ndarray],
    cell_cap: np.ndarray,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Add the die-edge and package links to the cell links and assemble G, C and g_amb."""
    nc, ng = s.n_cells, s.n_grid_nodes
    for e in s.edges:
        cells = s.edge_cells(e.side) + e.layer * nc
        rows.append(cells)
        cols.append(np.full(cells.size, ng + e.node))
        vals.append(np.full(cells.size, e.g))
    for a, b, g in s.package.links:
        rows.append(np.array([ng + a]))
        cols.append(np.array([ng + b]))
        vals.append(np.array([g]))
    g_amb = np.concatenate([np.repeat(s.g_amb, nc), s.package.ambient_conductance])
    G = _assemble(ng + s.package.n_nodes, rows, cols, vals, g_amb)
    C = np.concatenate([cell_cap, s.package.capacitance])
    return G, C, g_amb


#: HotSpot's detailed_3D occupancy above which a cell takes its block's own properties.
OCCUPANCY_THRESHOLD = 0.95


def _detailed_cells(
    s: GridStructure,
    floorplans: list[Floorplan],
    maps: list[BlockGridMap],
    rz_layer: np.ndarray,
    rz_sink: float,
    hotspot7_quirks: bool,
) -> None:
    """Per-cell properties of HotSpot's ``-detailed_3D on`` (``new_blist``/``blist_append``).

    In a stack layer, a cell covered >= 95 % by one block takes that block's resistivity and
    heat capacity (7-field .flp lines; the layer's values otherwise); a cell shared by several
    blocks gets the occupancy-weighted parallel conductance of its blocks and the layer's heat
    capacity. Spreader, sink and secondary-path layers keep the layer values. Lateral links join
    half cells (``r_a/2 + r_b/2``). Vertical links: see ``hotspot7_quirks`` in
    :func:`build_grid_network` (HotSpot 7: half cells, layer 0 full; comet: the upper cell's
    full ``rz`` as in the standard network).
    """
    R, Cc, cw, ch = s.rows, s.cols, s.cell_width, s.cell_height
    L = s.n_layers
    a = cw * ch
    t = np.array([ly.thickness for ly in s.layers])
    k = np.array([ly.conductivity for ly in s.layers])
    # per-cell conductances of the cell itself (x, y, z directions) and capacitance
    gx_cell = np.repeat((k * ch * t / cw)[:, None], R * Cc, axis=1)
    gy_cell = np.repeat((k * cw * t / ch)[:, None], R * Cc, axis=1)
    gz_cell = np.repeat((1.0 / rz_layer)[:, None], R * Cc, axis=1)
    if hotspot7_quirks:
        gz_cell[-1] = 1.0 / rz_sink  # HotSpot 7: the sink's rz with its share of r_convec
    cap_cell = np.repeat(s.cap[:, None], R * Cc, axis=1)
    for li, ly in enumerate(s.layers):
        if ly.role != "lcf":
            continue
        flp = floorplans[ly.map_index]
        occ = maps[ly.map_index].occupancy.tocsr()
        locked = np.zeros(R * Cc, bool)
        seen = np.zeros(R * Cc, bool)
        covered = np.zeros(R * Cc)
        gx = np.zeros(R * Cc)
        gy = np.zeros(R * Cc)
        gz = np.zeros(R * Cc)
        cap = cap_cell[li].copy()
        cap_mix = np.zeros(R * Cc)
        for u, b in enumerate(flp.blocks):
            ku = 1.0 / b.resistivity if b.resistivity is not None else ly.conductivity
            cu = b.heat_capacity if b.heat_capacity is not None else ly.heat_capacity
            gxu = ku * ch * ly.thickness / cw
            gyu = ku * cw * ly.thickness / ch
            gzu = ku * a / ly.thickness
            cap_u = C_FACTOR * cu * ly.thickness * a
            row = occ.getrow(u)
            for cell, o in zip(row.indices, row.data, strict=True):
                covered[cell] += o
                cap_mix[cell] += o * cap_u
                if locked[cell]:
                    continue
                if o >= OCCUPANCY_THRESHOLD:
                    locked[cell] = True
                    gx[cell], gy[cell], gz[cell] = gxu, gyu, gzu
                    cap[cell] = cap_u
                else:
                    gx[cell] += gxu * o
                    gy[cell] += gyu * o
                    gz[cell] += gzu * o
                seen[cell] = True
        if not hotspot7_quirks:
            # comet: the uncovered part of a cell is layer material, and a shared cell's heat
            # capacity is occupancy-weighted (HotSpot drops the former and uses the layer's
            # value for the latter), so that a floorplan without own materials gives exactly
            # the standard model.
            free = np.clip(1.0 - covered, 0.0, 1.0) * ~locked
            gx += free * gx_cell[li]
            gy += free * gy_cell[li]
            gz += free * gz_cell[li]
            mixed = ~locked
            cap[mixed] = cap_mix[mixed] + free[mixed] * cap_cell[li, mixed]
        gx_cell[li, seen] = gx[seen]
        gy_cell[li, seen] = gy[seen]
        gz_cell[li, seen] = gz[seen]
        cap_cell[li] = cap
    lateral = np.array([ly.lateral for ly in s.layers])
    if hotspot7_quirks:
        gx_cell, gy_cell = gy_cell, gx_cell
    rx = (1.0 / gx_cell).reshape(L, R, Cc)
    ry = (1.0 / gy_cell).reshape(L, R, Cc)
    rz = (1.0 / gz_cell).reshape(L, R, Cc)
    s.cell_gx = np.where(lateral[:, None, None], 1.0 / (rx[:, :, :-1] / 2 + rx[:, :, 1:] / 2), 0.0)
    s.cell_gy = np.where(lateral[:, None, None], 1.0 / (ry[:, :-1, :] / 2 + ry[:, 1:, :] / 2), 0.0)
    if hotspot7_quirks:
        # HotSpot 7's detailed links join cell centres, except that layer 0 keeps its full rz
        rz_link = rz[:-1] / 2 + rz[1:] / 2
        rz_link[0] = rz[0] + rz[1] / 2
    else:
        # the standard network: a layer's node sits on its top face, so the link to the layer
        # below is the upper cell's full rz (HotSpot's non-detailed model, per cell)
        rz_link = rz[:-1]
    s.cell_gz = 1.0 / rz_link
    s.cell_cap = cap_cell.reshape(L, R, Cc)


def _assemble_cells(s: GridStructure) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """``G``, ``C``, ``g_amb`` of a grid structure with per-cell properties."""
    assert s.cell_gx is not None and s.cell_gy is not None
    assert s.cell_gz is not None and s.cell_cap is not None
    R, Cc, L = s.rows, s.cols, s.n_layers
    idx = np.arange(s.n_grid_nodes).reshape(L, R, Cc)
    rows = [idx[:, :, :-1].ravel(), idx[:, :-1, :].ravel(), idx[:-1].ravel()]
    cols = [idx[:, :, 1:].ravel(), idx[:, 1:, :].ravel(), idx[1:].ravel()]
    vals = [s.cell_gx.ravel(), s.cell_gy.ravel(), s.cell_gz.ravel()]
    return _finish_grid(s, rows, cols, vals, s.cell_cap.ravel())
