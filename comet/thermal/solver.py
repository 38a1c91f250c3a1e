"""The thermal model users and the closed loop call: build once, then ``steady`` / ``step``.

>>> model = ThermalModel.from_stack(stack, config)          # doctest: +SKIP
>>> model.set_temperature(318.15)                          # doctest: +SKIP
>>> T = model.step(power_W, 1e-3)                          # doctest: +SKIP
>>> model.power_block_temperatures()                       # doctest: +SKIP

Time stepping is exact for piecewise-constant power (the matrix exponential of the RC network,
directly for small networks and through a best rational approximation with error ~1e-12 for
large ones), so the accuracy does not depend on the step length: one 10 ms step equals ten 1 ms
steps. Everything a step needs is precomputed once per step length and reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from comet.errors import InputError
from comet.floorplan.model import Floorplan, Stack
from comet.thermal.backends_linear import (
    DenseEigen,
    LinearBackend,
    Propagator,
    SparseRational,
)
from comet.thermal.hotspot_config import MAP_MODES, ThermalConfig
from comet.thermal.modal_maps import SeparableMaps
from comet.thermal.network import (
    ThermalNetwork,
    build_block_network,
    build_grid_network,
    grid_layers_default,
    grid_layers_of_stack,
)

#: Networks up to this many nodes use the exact dense eigen-decomposition by default.
DENSE_LIMIT = 800

#: HotSpot's leakage model constants (``temperature.c:calc_leakage``, leakage_mode 0).
LEAKAGE_A = 1.5e4  # W/m^2
LEAKAGE_B = 0.036  # 1/K
LEAKAGE_T0 = 383.15  # K
LEAKAGE_TOL = 0.01  # K
LEAKAGE_MAX_ITER = 100


#: Transient precisions: ``double`` stores everything in float64; ``mixed`` (structured back end
#: only) stores the large per-mode matrices a step streams through in float32 and computes in
#: float64 (measured: within 5e-5 K of double over 20 s of 1 ms steps, 1.2e-5 K steady-state
#: bias, ``benchmarks/precision.py``), halving the memory traffic that bounds the step.
PRECISIONS = ("double", "mixed")


def make_backend(
    network: ThermalNetwork, solver: str = "auto", degree: int = 8, precision: str = "double"
) -> LinearBackend:
    """The linear back end for ``network``: ``auto``, ``dense``, ``sparse``, ``structured`` or
    ``reduced``.

    ``auto``: the exact dense eigen-decomposition for small networks, the structured solver for
    uniform layers, the reduced-order model (:mod:`comet.thermal.reduced`) for per-cell
    materials (2.5d, chiplets, ``-detailed_3D``); ``sparse`` (one sparse LU per pole of the
    rational exponential) stays available as the exact reference.

    ``precision`` (:data:`PRECISIONS`) applies to the structured back end's transient steps;
    the other back ends always compute in double precision.
    """
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}", hint="double or mixed")
    if solver == "auto":
        if network.n_nodes <= DENSE_LIMIT:
            solver = "dense"
        elif network.grid is not None and network.grid.uniform:
            solver = "structured"
        else:
            solver = "reduced"
    if solver == "dense":
        return DenseEigen(network)
    if solver == "sparse":
        return SparseRational(network, degree)
    if solver == "reduced":
        from comet.thermal.reduced import ReducedOrder

        return ReducedOrder(network)
    if solver == "structured":
        from comet.thermal.structured import Structured

        if network.grid is None or not network.grid.uniform:
            raise InputError(
                "the structured solver needs a grid model with uniform layers",
                hint="use solver='auto' (per-cell networks take the reduced-order model)",
            )
        return Structured(network, degree, precision=precision)
    raise InputError(
        f"unknown solver {solver!r}", hint="auto, dense, sparse, structured or reduced"
    )


class ThermalModel:
    """A thermal RC network with its state (node temperatures, K) and precomputed solvers."""

    def __init__(
        self,
        network: ThermalNetwork,
        config: ThermalConfig,
        *,
        solver: str = "auto",
        degree: int = 8,
        precision: str = "double",
    ) -> None:
        if config.grid_map_mode not in MAP_MODES:
            raise InputError(
                f"unknown grid_map_mode {config.grid_map_mode!r}", hint="avg, min, max or center"
            )
        self.network = network
        self.config = config
        self.backend = make_backend(network, solver, degree, precision)
        self._degree = degree
        self._auto = solver == "auto"  # an explicit choice is kept whatever the run length
        self._propagators: dict[float, Propagator] = {}
        #: steps the caller means to take (:meth:`prepare`); None: unknown (a long run)
        self._steps_hint: int | None = None
        self.time = 0.0
        self._power_rows = self._power_block_index()
        self._avg_matrix = self._power_average_matrix()
        # State: the physical node vector, or (structured back end) its modal form, from which
        # the physical vector is rebuilt only when asked for.
        self._T: np.ndarray | None = np.empty(network.n_nodes)
        self._eta: np.ndarray | None = None
        self._Tp: np.ndarray | None = None
        # DCT of the power layers' cell temperatures (K) after the last modal step
        self._pl_hat: np.ndarray | None = None
        self._modal = self.backend.name == "structured"  # state kept in modal form
        # reduced-order back end: the state in reduced coordinates, and the block averages of
        # the basis (block temperatures straight from the reduced state)
        self._reduced = self.backend.name == "reduced"
        self._z: np.ndarray | None = None
        self._rom_out: np.ndarray | None = None
        self._powered: np.ndarray | None = None  # blocks that may carry power (None: all)
        self._unpowered = np.zeros(0, dtype=np.int64)
        self._unpowered_buf = np.zeros(0)
        if self._modal:
            self._setup_modal()
        self.set_temperature(config.init_temp)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_stack(
        cls,
        stack: Stack,
        config: ThermalConfig,
        *,
        model_type: str | None = None,
        hotspot7_quirks: bool = False,
        **kw: Any,
    ) -> ThermalModel:
        """The grid model of a layered stack (HotSpot's LCF mode).

        ``hotspot7_quirks`` reproduces HotSpot 7's swapped lateral resistances on non-square
        cells (see :func:`comet.thermal.network.build_grid_network`).
        """
        mtype = model_type or config.model_type
        if mtype == "block":
            if len(stack.layers) != 1:
                raise InputError(
                    "the block model takes one floorplan, not a layered stack",
                    hint="use model_type grid for stacks",
                )
            return cls.from_floorplan(stack.layers[0].floorplan, config, model_type="block", **kw)
        floorplans = [ly.floorplan for ly in stack.layers]
        net = build_grid_network(
            floorplans,
            grid_layers_of_stack(stack, config),
            config,
            hotspot7_quirks=hotspot7_quirks,
        )
        return cls(net, config.with_values(model_type="grid"), **kw)  # type: ignore[arg-type]

    @classmethod
    def from_floorplan(
        cls,
        floorplan: Floorplan,
        config: ThermalConfig,
        *,
        model_type: str | None = None,
        hotspot7_quirks: bool = False,
        **kw: Any,
    ) -> ThermalModel:
        """HotSpot's default layers (chip and TIM over spreader and sink) for one floorplan."""
        mtype = model_type or config.model_type
        if mtype == "block":
            net = build_block_network(floorplan, config)
        elif mtype == "grid":
            if config.detailed_3D_used:
                raise InputError(
                    "-detailed_3D on needs a layer configuration file",
                    hint="give the stack with -grid_layer_file",
                )
            net = build_grid_network(
                [floorplan],
                grid_layers_default(config),
                config,
                hotspot7_quirks=hotspot7_quirks,
            )
        else:
            raise InputError(f"unknown model_type {mtype!r}", hint="block or grid")
        return cls(net, config.with_values(model_type=mtype), **kw)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ names
    @property
    def power_names(self) -> list[str]:
        """Names of the power blocks, in the order of power vectors (ptrace order)."""
        return self.network.power_names

    @property
    def layer_names(self) -> list[str]:
        return self.network.layer_names

    @property
    def n_nodes(self) -> int:
        return self.network.n_nodes

    # ------------------------------------------------------------------ state
    @property
    def temperature(self) -> np.ndarray:
        """Node temperatures (K): grid or block nodes, then the package nodes."""
        if self._T is None:
            backend: Any = self.backend
            if self._z is not None:
                self._T = backend.lift(self._z)
            else:
                assert self._eta is not None and self._Tp is not None
                self._T = np.concatenate([backend.from_eigen(self._eta), self._Tp])
        return self._T

    @temperature.setter
    def temperature(self, value: np.ndarray) -> None:
        self._T = np.asarray(value, dtype=float)
        self._eta = None
        self._Tp = None
        self._pl_hat = None
        self._z = None

    def set_powered(self, mask: np.ndarray | None) -> None:
        """Only the power blocks where ``mask`` is True will carry power (None: any). A hint
        for the reduced-order model, whose basis then holds their responses alone; power in
        another block later makes it rebuild the basis for every block."""
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (len(self.power_names),):
                raise InputError(
                    f"powered mask has shape {mask.shape}, expected ({len(self.power_names)},)"
                )
            if mask.all():
                mask = None
        self._powered = mask
        self._unpowered = (
            np.zeros(0, dtype=np.int64) if mask is None else np.flatnonzero(~mask).astype(np.int64)
        )
        self._unpowered_buf = np.zeros(self._unpowered.size)
        if self._reduced:
            rom: Any = self.backend
            if rom.W is not None:
                if self._z is not None:
                    self.temperature = self.temperature  # the state as nodes, then a new basis
                rom.W = None

    def save_state(self) -> Any:
        """A copy of the state in the back end's own form (cheap: no full node vector is
        rebuilt from a modal or reduced state), for :meth:`restore_state`."""
        if self._z is not None:
            return ("reduced", self._z.copy(), self.time)
        if self._eta is not None and self._T is None:
            pl = None if self._pl_hat is None else self._pl_hat.copy()
            return ("modal", (self._eta.copy(), self._Tp.copy(), pl), self.time)  # type: ignore[union-attr]
        return ("nodes", self.temperature.copy(), self.time)

    def restore_state(self, state: Any) -> None:
        kind, value, t = state
        if kind == "reduced":
            self.temperature = np.empty(0)
            self._T = None
            self._z = value.copy()
        elif kind == "modal":
            eta, Tp, pl = value
            self.temperature = np.empty(0)
            self._T = None
            self._eta, self._Tp = eta.copy(), Tp.copy()
            self._pl_hat = None if pl is None else pl.copy()
        else:
            self.temperature = value.copy()
        self.time = t

    def set_temperature(self, value: float | np.ndarray) -> None:
        """Set the state: a full node vector (K), or HotSpot's uniform initial temperature.

        A uniform value is given to every block and package node; grid cells get it through
        the block->grid map (``sum(occupancy) * value``), exactly as HotSpot initializes.
        """
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 1:
            if arr.shape != (self.n_nodes,):
                raise InputError(
                    f"temperature vector has {arr.size} values, expected {self.n_nodes}"
                )
            self.temperature = arr.copy()
            return
        t = float(arr)
        net = self.network
        if net.grid is None:
            self.temperature = np.full(self.n_nodes, t)
            return
        per_layer = []
        for fi in net.block_layer_floorplan:
            blocks = np.full(len(net.floorplans[fi]), t)
            per_layer.append(blocks)
        self.set_block_temperatures(per_layer, np.full(net.package.n_nodes, t))

    def set_block_temperatures(self, per_layer: Sequence[np.ndarray], package: np.ndarray) -> None:
        """Set the state from block temperatures of every layer and the package nodes (K)."""
        net = self.network
        if len(per_layer) != len(net.layer_names):
            raise InputError(f"expected block temperatures for {len(net.layer_names)} layers")
        if net.grid is None:
            self.temperature = np.concatenate([*per_layer, package])
            return
        cells = [
            np.asarray(net.maps[fi].occupancy.T @ np.asarray(tb, float))
            for fi, tb in zip(net.block_layer_floorplan, per_layer, strict=True)
        ]
        self.temperature = np.concatenate([*cells, np.asarray(package, float)])

    def set_from_dump(self, names: Sequence[str], values: np.ndarray) -> None:
        """Set the state from a HotSpot node dump (init file): every node, by name."""
        expected = self.dump_names()
        lookup = {n.lower(): float(v) for n, v in zip(names, values, strict=True)}
        missing = [n for n in expected if n.lower() not in lookup]
        if missing:
            raise InputError(
                f"init file lacks {len(missing)} node(s), first {missing[0]!r}",
                hint="an init file must list every node; make one from a steady file",
            )
        extra = set(lookup) - {n.lower() for n in expected}
        if extra:
            raise InputError(
                f"init file names unknown node {sorted(extra)[0]!r}",
                hint="it must come from the same floorplan and layers",
            )
        vals = np.array([lookup[n.lower()] for n in expected])
        net = self.network
        per_layer, pos = [], 0
        for fi in net.block_layer_floorplan:
            nb = len(net.floorplans[fi])
            per_layer.append(vals[pos : pos + nb])
            pos += nb
        self.set_block_temperatures(per_layer, vals[pos:])

    # ------------------------------------------------------------------ solving
    def steady(self, power: np.ndarray, *, leakage: bool | None = None) -> np.ndarray:
        """Steady node temperatures (K) for constant block power (W); the state is unchanged.

        With ``leakage`` (default: the config's ``leakage_used``), HotSpot's exponential leakage
        is added per power block and iterated to a fixed point.
        """
        p = self._check_power(power)
        use_leak = bool(self.config.leakage_used) if leakage is None else leakage
        if not use_leak:
            return self.backend.steady(self.network.rhs(p))
        return self._steady_with_leakage(p)

    def step(self, power: np.ndarray, dt: float) -> np.ndarray:
        """Advance the state by ``dt`` (s) with constant block power (W); return the new state.

        The returned node vector is the model's own: copy it to keep it past the next step.
        In an epoch loop prefer :meth:`advance` + :meth:`power_block_temperatures`, which
        never build the full node vector.
        """
        self.advance(power, dt)
        return self.temperature

    def advance(self, power: np.ndarray, dt: float) -> None:
        """Advance the state by ``dt`` (s) with constant block power (W)."""
        if not dt > 0:
            raise InputError(f"time step {dt!r} must be positive")
        p = self._check_power(power)
        prop = self._propagators.get(dt)
        if prop is None:
            prop = self._propagator(dt)
        if self._modal:
            self._advance_modal(prop, p)
        elif self._reduced:
            self._advance_reduced(prop, p)
        else:
            self.temperature = prop.advance(self.temperature, self.network.rhs(p))
        self.time += dt

    def prepare(self, dt: float, steps: int | None = None) -> None:
        """Build the step of ``dt`` seconds now (set-up, not the first step), for a run of
        about ``steps`` steps (None: unknown). Short runs then avoid one-off costs that only
        long ones repay (the structured back end's compiled kernels: importing numba and
        loading them costs more than a 100-row HotSpot trace spends stepping; see
        :data:`comet.thermal.kernels.COMPILED_MIN_WORK`), and the compiled kernels are loaded
        here rather than in the first step. The state is unchanged; optional (``advance``
        builds what it needs)."""
        if not dt > 0:
            raise InputError(f"time step {dt!r} must be positive")
        self._steps_hint = steps
        if self._reduced and self._auto and steps is not None and self.backend.W is None:  # type: ignore[attr-defined]
            self._choose_short_run_step(steps)
        prop: Any = self._propagators.get(dt)
        if prop is None:
            prop = self._propagator(dt)
        elif hasattr(prop, "use_kernels"):
            prop.use_kernels(self._work(steps))
        if self._modal and hasattr(prop, "warm_up"):
            prop.warm_up(self._pl)  # load compiled kernels now, not in the first step

    def _choose_short_run_step(self, steps: int) -> None:
        """A run too short to repay a reduced basis (:meth:`ReducedOrder.pays`) takes the exact
        sparse step instead: a basis costs one real factorization and solve per shift, its
        orthogonalization and an eigen-decomposition, as much as some hundred sparse steps."""
        rom: Any = self.backend
        if not rom.pays(steps):
            self.backend = SparseRational(self.network, self._degree)
            self._reduced = False
            self._propagators.clear()

    def _work(self, steps: int | None) -> float | None:
        g = self.network.grid
        if steps is None or g is None:
            return None
        return float(steps) * g.n_cells * g.n_layers

    def _propagator(self, dt: float) -> Propagator:
        if self._reduced:
            return self._reduced_propagator(dt)
        if self.backend.name == "structured":
            backend: Any = self.backend
            prop: Propagator = backend.propagator(dt, self._work(self._steps_hint))
        else:
            prop = self.backend.propagator(dt)
        self._propagators[dt] = prop
        return prop

    def _setup_modal(self) -> None:
        """Constants of the modal fast path (structured back end)."""
        backend: Any = self.backend
        net = self.network
        assert net.grid is not None
        nc, ng = net.grid.n_cells, net.grid.n_grid_nodes
        amb = net.g_amb * net.ambient
        self._ef_amb = backend.to_eigen(amb[:ng])
        self._fp = amb[ng:]
        self._pl = [li for li, _ in self._power_rows]
        rows = np.concatenate([np.arange(li * nc, (li + 1) * nc) for li in self._pl])
        self._pm_pl = net.power_matrix.tocsr()[rows]
        # block power in and block temperatures out straight in the DCT domain (when every
        # block's map is separable: always for HotSpot's avg and center modes on rectangles)
        self._sep: SeparableMaps | None = None
        if self._avg_matrix is not None:
            self._sep = SeparableMaps.from_matrices(
                self._pm_pl, self._avg_matrix, len(self._pl), backend.Phi, backend.Psi
            )

    def _reduced_propagator(self, dt: float) -> Propagator:
        """The reduced step of ``dt``; the basis is built (from the current state) first when
        there is none, or when ``dt`` is below half the step it was built for."""
        from comet.thermal.reduced import STATE_TOLERANCE

        rom: Any = self.backend
        if rom.W is None or dt < 0.5 * rom.h:
            T = self.temperature
            rom.build(dt, T, self._powered)
            self._propagators.clear()
            self._rom_out = None
            z, dist = rom.project(T)
            if dist > STATE_TOLERANCE:  # cannot happen: the state is in the basis
                raise RuntimeError(f"reduced basis misses its own initial state by {dist:g} K")
            self.temperature = T
            self._z, self._T = z, None
        if self._rom_out is None and self._avg_matrix is not None:
            nc = self.network.grid.n_cells  # type: ignore[union-attr]
            rows = np.concatenate([np.arange(li * nc, (li + 1) * nc) for li, _ in self._power_rows])
            self._rom_out = rom.output_map(self._avg_matrix, rows)
        prop: Propagator = rom.propagator(dt)
        self._propagators[dt] = prop
        return prop

    def _advance_reduced(self, prop: Any, p: np.ndarray) -> None:
        from comet.thermal.reduced import STATE_TOLERANCE

        if self._unpowered.size:
            np.take(p, self._unpowered, out=self._unpowered_buf)
            if self._unpowered_buf.any():  # power where none was announced: every block
                self.set_powered(None)
                prop = self._reduced_propagator(prop.h)
        if self._z is None:
            # a state set from outside: in reduced coordinates, or a new basis that holds it
            T = self.temperature
            rom: Any = self.backend
            z, dist = rom.project(T)
            if dist > STATE_TOLERANCE:
                rom.W = None
                prop = self._reduced_propagator(prop.h)
                z, _ = rom.project(T)
            self._z = z
        self._T = None
        prop.step(self._z, p)

    def _advance_modal(self, prop: Any, p: np.ndarray) -> None:
        backend: Any = self.backend
        ng = self.network.grid.n_grid_nodes  # type: ignore[union-attr]
        if self._eta is None:
            T = self.temperature
            self._eta = backend.to_eigen(self.network.C[:ng] * T[:ng])
            self._Tp = T[ng:].copy()
        if self._sep is not None:
            hat = self._sep.power_dct(p)
            self._eta, self._Tp, self._pl_hat = prop.advance_dct(
                self._eta, self._Tp, self._ef_amb, self._fp, self._pl, hat
            )
        else:
            planes = np.asarray(self._pm_pl @ p).reshape(len(self._pl), -1)
            self._eta, self._Tp, _ = prop.advance_layers(
                self._eta, self._Tp, self._ef_amb, self._fp, self._pl, planes
            )
        self._T = None

    def _check_power(self, power: np.ndarray) -> np.ndarray:
        p = np.asarray(power, dtype=float)
        if p.shape != (len(self.power_names),):
            raise InputError(
                f"power vector has shape {p.shape}, expected ({len(self.power_names)},)",
                hint="one value (W) per power block, in model.power_names order",
            )
        return p

    def _steady_with_leakage(self, p: np.ndarray) -> np.ndarray:
        area = self._power_block_areas()
        t_blocks = np.zeros(len(p))
        T = self.backend.steady(self.network.rhs(p))
        for _ in range(LEAKAGE_MAX_ITER):
            with np.errstate(over="ignore"):
                leak = LEAKAGE_A * area * np.exp(LEAKAGE_B * (t_blocks - LEAKAGE_T0))
            if not np.isfinite(leak).all():
                break
            T = self.backend.steady(self.network.rhs(p + leak))
            new_blocks = self.power_block_temperatures(T)
            if np.max(new_blocks - t_blocks) < LEAKAGE_TOL:
                return T
            t_blocks = new_blocks
        raise InputError(
            "thermal runaway: leakage did not converge in 100 iterations",
            hint="lower the power or improve the cooling",
        )

    # ------------------------------------------------------------------ views
    def _power_block_index(self) -> list[tuple[int, int]]:
        """Per power layer: (layer index, floorplan index)."""
        net = self.network
        if net.grid is None:
            return [(0, 0)]
        return [(li, ly.map_index) for li, ly in enumerate(net.grid.layers) if ly.has_power]

    def _power_block_areas(self) -> np.ndarray:
        net = self.network
        return np.concatenate(
            [np.array([b.area for b in net.floorplans[fi]]) for _, fi in self._power_rows]
        )

    def _power_average_matrix(self) -> Any:
        """Sparse (n_power, n_power_layers * cells) block averages over stacked power-layer
        planes, for the linear map modes (avg, center); None otherwise or for the block model."""
        net = self.network
        if net.grid is None:
            return None
        import scipy.sparse as sp

        blocks = []
        for _li, fi in self._power_rows:
            m = net.maps[fi].averaging_matrix(self.config.grid_map_mode)
            if m is None:
                return None
            blocks.append(m)
        return sp.block_diag(blocks).tocsr()

    def power_block_temperatures(self, T: np.ndarray | None = None) -> np.ndarray:
        """Temperatures (K) of the power blocks in ``power_names`` order (the .ttrace columns)."""
        net = self.network
        if T is None and self._z is not None and self._rom_out is not None:
            return np.asarray(self._rom_out @ self._z)
        if T is None and self._T is None and self._avg_matrix is not None and not self._reduced:
            if self._sep is not None and self._pl_hat is not None:
                return self._sep.block_values(self._pl_hat)
            backend: Any = self.backend
            planes = backend.layers_from_eigen(self._pl, self._eta)
            return np.asarray(self._avg_matrix @ planes.reshape(-1))
        T = self.temperature if T is None else T
        if net.grid is None:
            return T[: len(net.power_names)].copy()
        if self._avg_matrix is not None:
            nc = net.grid.n_cells
            planes = np.concatenate([T[li * nc : (li + 1) * nc] for li, _ in self._power_rows])
            return np.asarray(self._avg_matrix @ planes)
        nc = net.grid.n_cells
        mode = self.config.grid_map_mode
        return np.concatenate(
            [
                net.maps[fi].to_blocks(T[li * nc : (li + 1) * nc], mode)
                for li, fi in self._power_rows
            ]
        )

    def block_temperatures(self, T: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per layer name: the temperature (K) of every block of that layer's floorplan."""
        T = self.temperature if T is None else T
        net = self.network
        out: dict[str, np.ndarray] = {}
        if net.grid is None:
            n = len(net.floorplans[0])
            for li, name in enumerate(net.layer_names):
                out[name] = T[li * n : (li + 1) * n].copy()
            return out
        nc = net.grid.n_cells
        mode = self.config.grid_map_mode
        for li, ly in enumerate(net.grid.layers):
            out[ly.name] = net.maps[ly.map_index].to_blocks(T[li * nc : (li + 1) * nc], mode)
        return out

    def grid_temperatures(self, T: np.ndarray | None = None) -> np.ndarray:
        """Cell temperatures (K) as (layers, rows, cols), row 0 at the top (largest y)."""
        T = self.temperature if T is None else T
        g = self.network.grid
        if g is None:
            raise InputError("grid temperatures need the grid model", hint="-model_type grid")
        return T[: g.n_grid_nodes].reshape(g.n_layers, g.rows, g.cols).copy()

    def grid_temperatures_of(self, states: Sequence[Any]) -> list[np.ndarray]:
        """:meth:`grid_temperatures` of several states saved by :meth:`save_state` (None: the
        current state); reduced-order states are lifted together, one product for all."""
        g = self.network.grid
        if g is None:
            raise InputError("grid temperatures need the grid model", hint="-model_type grid")
        out: list[np.ndarray | None] = [None] * len(states)
        reduced = [j for j, st in enumerate(states) if st is not None and st[0] == "reduced"]
        if reduced:
            rom: Any = self.backend
            Zs = np.column_stack([states[j][1] for j in reduced])
            ng = g.n_grid_nodes
            T = np.asarray(rom.W[:ng] @ (rom.Z @ Zs))
            for col, j in enumerate(reduced):
                out[j] = T[:, col].reshape(g.n_layers, g.rows, g.cols).copy()
        for j, st in enumerate(states):
            if out[j] is not None:
                continue
            if st is None:
                out[j] = self.grid_temperatures()
            else:
                saved = self.save_state()
                self.restore_state(st)
                out[j] = self.grid_temperatures()
                self.restore_state(saved)
        return [o for o in out if o is not None]

    def package_temperatures(self, T: np.ndarray | None = None) -> np.ndarray:
        T = self.temperature if T is None else T
        return T[self.n_nodes - self.network.package.n_nodes :].copy()

    def dump_names(self) -> list[str]:
        """HotSpot's node names of a steady/init file, in its order."""
        net = self.network
        names = [
            prefix + b
            for prefix, fi in zip(net.dump_prefixes, net.block_layer_floorplan, strict=True)
            for b in net.floorplans[fi].names
        ]
        return names + [f"inode_{k}" for k in range(net.package.n_nodes)]

    def dump(self, T: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
        """Names and values (K) of HotSpot's block-level node dump (steady file format)."""
        T = self.temperature if T is None else T
        blocks = self.block_temperatures(T)
        vals = np.concatenate([*blocks.values(), self.package_temperatures(T)])
        return self.dump_names(), vals

    def heat_to_ambient(self, T: np.ndarray | None = None) -> float:
        """Heat flowing to ambient (W) at state ``T``: equals the power in, in steady state."""
        T = self.temperature if T is None else T
        return float(np.sum(self.network.g_amb * (T - self.network.ambient)))
