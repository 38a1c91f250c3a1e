"""HotSpot's package periphery: spreader overhang, sink and (optionally) the secondary path.

Pure functions of the thermal configuration and the die size (``temperature.c:populate_package_R``,
``populate_package_C`` in HotSpot 7). Resistances in K/W, capacitances in J/K, lengths in m.

The overhang of the spreader beyond the die and the sink outside the spreader are each lumped
into four trapezoidal nodes (west, east, north, south). Node order (HotSpot's ``inode_<k>``):
0 SP_W, 1 SP_E, 2 SP_N, 3 SP_S, 4 SINK_C_W, 5 SINK_C_E, 6 SINK_C_N, 7 SINK_C_S, 8 SINK_W,
9 SINK_E, 10 SINK_N, 11 SINK_S; with the secondary path 12-15 SUB_*, 16-19 SOLDER_*,
20-23 PCB_C_*, 24-27 PCB_* (same W, E, N, S order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from comet.errors import InputError
from comet.thermal.hotspot_config import (
    C_FACTOR,
    C_PCB,
    C_SOLDER,
    C_SUB,
    K_PCB,
    K_SOLDER,
    K_SUB,
    ThermalConfig,
)

W, E, N, S = 0, 1, 2, 3
SIDES = (W, E, N, S)
SP, SINK_C, SINK, SUB, SOLDER, PCB_C, PCB = 0, 4, 8, 12, 16, 20, 24


def getr(conductivity: float, length: float, area: float) -> float:
    """Resistance (K/W) of a prism of ``length`` (m) and cross-section ``area`` (m^2)."""
    return length / (conductivity * area)


def getcap(heat_capacity: float, thickness: float, area: float) -> float:
    """Lumped capacitance (J/K) with HotSpot's C_FACTOR, from J/(m^3 K), m and m^2."""
    return C_FACTOR * heat_capacity * thickness * area


@dataclass(frozen=True)
class PackageLinks:
    """The package nodes of one stack.

    Attributes:
        n_nodes: 12, or 28 with the secondary path.
        capacitance: (n_nodes,) J/K.
        ambient_conductance: (n_nodes,) W/K to ambient.
        links: (i, j, g) conductances between package nodes (W/K).
        edge_r: per (layer role, side) the lumped resistance that the die-edge cells of that layer
            share in series (``r_sp1``, ``r_hs1``, ``r_sub1``...), K/W, keyed by
            ``("spreader"|"sink"|"substrate"|"solder"|"pcb", side)``.
        edge_node: the package node each (role, side) connects to.
    """

    n_nodes: int
    capacitance: np.ndarray
    ambient_conductance: np.ndarray
    links: tuple[tuple[int, int, float], ...]
    edge_r: dict[tuple[str, int], float]
    edge_node: dict[tuple[str, int], int]


def _trapezoids(s: float, width: float, height: float) -> tuple[float, float]:
    """Areas (m^2) of the W/E and N/S trapezoids of a square of side ``s`` around the die."""
    return (s + height) * (s - width) / 4.0, (s + width) * (s - height) / 4.0


def package_links(config: ThermalConfig, width: float, height: float) -> PackageLinks:
    """Package periphery of a die of ``width`` x ``height`` (m) under ``config``.

    Raises:
        InputError: a spreader narrower than the die or a sink narrower than the spreader (as
            HotSpot refuses them: the periphery areas would be negative); likewise the
            secondary path's substrate, solder and PCB.
    """
    c = config
    die = max(width, height)
    sizes = [("s_spreader", c.s_spreader, "the die", die), ("s_sink", c.s_sink, "-s_spreader",
             c.s_spreader)]  # fmt: skip
    if c.model_secondary:
        sizes += [("s_sub", c.s_sub, "the die", die), ("s_solder", c.s_solder, "the die", die),
                  ("s_pcb", c.s_pcb, "-s_solder", c.s_solder)]  # fmt: skip
    for key, side, what, other in sizes:
        if side < other:
            raise InputError(
                f"-{key} {side:g} m is narrower than {what} ({other:g} m)",
                hint="each package layer must be at least as wide as the one it covers",
            )
    secondary = bool(c.model_secondary)
    n = 28 if secondary else 12
    cap = np.zeros(n)
    g_amb = np.zeros(n)
    links: list[tuple[int, int, float]] = []
    edge_r: dict[tuple[str, int], float] = {}
    edge_node: dict[tuple[str, int], int] = {}

    s_sp, t_sp, k_sp = c.s_spreader, c.t_spreader, c.k_spreader
    s_s, t_s, k_s = c.s_sink, c.t_sink, c.k_sink
    a_x, a_y = _trapezoids(s_sp, width, height)
    a_o = (s_s * s_s - s_sp * s_sp) / 4.0

    r_sp1 = {
        "x": getr(k_sp, (s_sp - width) / 4.0, (s_sp + 3 * height) / 4.0 * t_sp),
        "y": getr(k_sp, (s_sp - height) / 4.0, (s_sp + 3 * width) / 4.0 * t_sp),
    }
    r_hs1 = {
        "x": getr(k_s, (s_sp - width) / 4.0, (s_sp + 3 * height) / 4.0 * t_s),
        "y": getr(k_s, (s_sp - height) / 4.0, (s_sp + 3 * width) / 4.0 * t_s),
    }
    r_hs2 = {
        "x": getr(k_s, (s_sp - width) / 4.0, (3 * s_sp + height) / 4.0 * t_s),
        "y": getr(k_s, (s_sp - height) / 4.0, (3 * s_sp + width) / 4.0 * t_s),
    }
    r_hs = getr(k_s, (s_s - s_sp) / 4.0, (s_s + 3 * s_sp) / 4.0 * t_s)
    area = {"x": a_x, "y": a_y}
    r_amb_per = c.r_convec * s_s * s_s / a_o
    for side in SIDES:
        d = "x" if side in (W, E) else "y"
        a = area[d]
        r_sp_per = getr(k_sp, t_sp, a)
        r_hs_c_per = getr(k_s, t_s, a)
        r_amb_c_per = c.r_convec * s_s * s_s / a
        links.append((SP + side, SINK_C + side, 1.0 / r_sp_per))
        links.append((SINK_C + side, SINK + side, 1.0 / (r_hs2[d] + r_hs)))
        g_amb[SINK_C + side] = 1.0 / (r_hs_c_per + r_amb_c_per)
        g_amb[SINK + side] = 1.0 / (getr(k_s, t_s, a_o) + r_amb_per)
        cap[SP + side] = getcap(c.p_spreader, t_sp, a)
        cap[SINK_C + side] = getcap(c.p_sink, t_s, a) + C_FACTOR * c.c_convec * a / (s_s * s_s)
        cap[SINK + side] = getcap(c.p_sink, t_s, a_o) + C_FACTOR * c.c_convec * a_o / (s_s * s_s)
        edge_r[("spreader", side)] = r_sp1[d]
        edge_node[("spreader", side)] = SP + side
        edge_r[("sink", side)] = r_hs1[d]
        edge_node[("sink", side)] = SINK_C + side

    if secondary:
        s_sub, t_sub = c.s_sub, c.t_sub
        s_so, t_so = c.s_solder, c.t_solder
        s_pcb, t_pcb = c.s_pcb, c.t_pcb
        sub_a = dict(zip("xy", _trapezoids(s_sub, width, height), strict=True))
        so_a = dict(zip("xy", _trapezoids(s_so, width, height), strict=True))
        a_pcb_o = (s_pcb * s_pcb - s_so * s_so) / 4.0
        r_pcb = getr(K_PCB, (s_pcb - s_so) / 4.0, (s_pcb + 3 * s_so) / 4.0 * t_pcb)
        for side in SIDES:
            d = "x" if side in (W, E) else "y"
            along, across = (width, height) if d == "x" else (height, width)
            edge_r[("substrate", side)] = getr(
                K_SUB, (s_sub - along) / 4.0, (s_sub + 3 * across) / 4.0 * t_sub
            )
            edge_node[("substrate", side)] = SUB + side
            edge_r[("solder", side)] = getr(
                K_SOLDER, (s_so - along) / 4.0, (s_so + 3 * across) / 4.0 * t_so
            )
            edge_node[("solder", side)] = SOLDER + side
            edge_r[("pcb", side)] = getr(
                K_PCB, (s_so - along) / 4.0, (s_so + 3 * across) / 4.0 * t_pcb
            )
            edge_node[("pcb", side)] = PCB_C + side
            r_pcb2 = getr(K_PCB, (s_so - along) / 4.0, (3 * s_so + across) / 4.0 * t_pcb)
            r_solder_per = getr(K_SOLDER, t_so, so_a[d])
            r_pcb_c_per = getr(K_PCB, t_pcb, so_a[d])
            r_amb_sec_c_per = c.r_convec_sec * s_pcb * s_pcb / so_a[d]
            r_pcb_per = getr(K_PCB, t_pcb, a_pcb_o)
            r_amb_sec_per = c.r_convec_sec * s_pcb * s_pcb / a_pcb_o
            links.append((SUB + side, SOLDER + side, 1.0 / r_solder_per))
            links.append((SOLDER + side, PCB_C + side, 1.0 / r_pcb_c_per))
            links.append((PCB_C + side, PCB + side, 1.0 / (r_pcb2 + r_pcb)))
            g_amb[PCB_C + side] = 1.0 / r_amb_sec_c_per
            g_amb[PCB + side] = 1.0 / (r_pcb_per + r_amb_sec_per)
            cap[SUB + side] = getcap(C_SUB, t_sub, sub_a[d])
            cap[SOLDER + side] = getcap(C_SOLDER, t_so, so_a[d])
            cap[PCB_C + side] = getcap(C_PCB, t_pcb, so_a[d]) + (
                C_FACTOR * c.c_convec_sec * so_a[d] / (s_pcb * s_pcb)
            )
            cap[PCB + side] = getcap(C_PCB, t_pcb, a_pcb_o) + (
                C_FACTOR * c.c_convec_sec * a_pcb_o / (s_pcb * s_pcb)
            )
    return PackageLinks(n, cap, g_amb, tuple(links), edge_r, edge_node)
