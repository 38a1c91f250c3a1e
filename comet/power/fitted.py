"""Per-event core power fitted from McPAT: ``[power] core = "fitted"``.

McPAT (HewlettPackard/mcpat) takes ~27 s per call, far too slow for every epoch; CoMeT calls
it every epoch. comet fits, offline, a linear model per operating point from a handful of
McPAT runs (``comet fit-power``) and evaluates it every epoch::

    P_dyn = c0(f, V) + sum_e k_e(f, V) * rate_e          (W)

``rate_e`` is event ``e`` per second of the epoch (``instructions``, busy ``cycles``,
``l1d_accesses`` ... from the performance model's :attr:`EpochCounters.events`), ``k_e`` the
energy per event (J) and ``c0`` the power that does not follow any event (clock tree; W). The
table holds ``k_e`` and ``c0`` at the fitted operating points ``(f_p, V_p)``; between them
comet interpolates linearly in f the voltage-normalised values ``k_e / V^2`` and
``c0 / (V^2 f)`` and scales back by the operating point's ``V^2`` (``V^2 f`` for ``c0``), so a
single point scales like CMOS switching energy, and outside the table the nearest point's
normalised values hold.

A table is TOML (``comet/power/data/*.toml``)::

    [meta]                      # provenance: tool versions, configuration, workloads, date
    events = ["instructions", "cycles", "l1d_accesses"]
    [[points]]
    f_hz = 2.0e9
    v = 1.0
    c0_w = 0.8
    k_j = [2.1e-10, 1.1e-10, 3.0e-11]   # per event, in ``events`` order
    rms_w = 0.05                        # fit residual at this point (W), informative

Event names are those of :data:`comet.perf.sniper.wire.EVENTS` plus ``instructions``,
``cycles``, ``dram_reads``, ``dram_writes``, and sums written ``a+b`` (``l1d_loads+l1d_stores``).
``instructions`` and ``cycles`` (busy time x f) are derived from the plain counters when a
performance model reports no events, so a table of those two also runs on the interval model.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from comet.errors import InputError
from comet.perf.protocol import EpochCounters
from comet.power.protocol import PowerSystem

__all__ = [
    "BUILTIN_TABLE",
    "FittedCorePower",
    "PowerTable",
    "Sample",
    "fit_table",
    "load_table",
    "write_table",
]

#: the table shipped with comet (``comet/power/data/``)
BUILTIN_TABLE = "mcpat-gainestown.toml"


@dataclass
class PowerTable:
    """Fitted coefficients: ``k_j[p, e]`` (J per event) and ``c0_w[p]`` (W) at operating
    points ``f_hz[p]`` (ascending), ``v[p]``; ``meta`` is the provenance."""

    events: list[str]
    f_hz: np.ndarray
    v: np.ndarray
    c0_w: np.ndarray
    k_j: np.ndarray
    rms_w: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def coefficients(
        self, f_hz: np.ndarray, v: np.ndarray, k_out: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(k, c0)`` at the operating points ``(f_hz, v)`` (arrays per core): ``k`` of
        shape ``(events, cores)`` (J), ``c0`` per core (W)."""
        f = np.asarray(f_hz, dtype=float)
        v2 = np.asarray(v, dtype=float) ** 2
        kn = self.k_j / (self.v**2)[:, None]
        cn = self.c0_w / (self.v**2 * self.f_hz)
        k = np.empty((len(self.events), f.size)) if k_out is None else k_out
        for e in range(len(self.events)):
            k[e] = np.interp(f, self.f_hz, kn[:, e]) * v2
        c0 = np.interp(f, self.f_hz, cn) * v2 * f
        return k, c0


def _check_table(data: Mapping[str, Any], where: str) -> PowerTable:
    events = data.get("meta", {}).get("events")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise InputError("meta.events: give the list of event names", path=where)
    points = data.get("points")
    if not isinstance(points, list) or not points:
        raise InputError("points: no [[points]] operating points", path=where)
    rows = []
    for i, p in enumerate(points):
        try:
            f, v, c0 = float(p["f_hz"]), float(p["v"]), float(p["c0_w"])
            k = [float(x) for x in p["k_j"]]
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(
                f"points.{i}: needs f_hz, v, c0_w and k_j numbers ({err})", path=where
            ) from None
        if len(k) != len(events):
            raise InputError(
                f"points.{i}.k_j: {len(k)} values for {len(events)} events", path=where
            )
        if f <= 0 or v <= 0:
            raise InputError(f"points.{i}: f_hz and v must be positive", path=where)
        rows.append((f, v, c0, k, float(p.get("rms_w", math.nan))))
    rows.sort(key=lambda r: r[0])
    fs = [r[0] for r in rows]
    if len(set(fs)) != len(fs):
        raise InputError("points: two operating points at the same f_hz", path=where)
    return PowerTable(
        events=list(events),
        f_hz=np.array(fs),
        v=np.array([r[1] for r in rows]),
        c0_w=np.array([r[2] for r in rows]),
        k_j=np.array([r[3] for r in rows]),
        rms_w=np.array([r[4] for r in rows]),
        meta=dict(data.get("meta", {})),
    )


def load_table(source: str | os.PathLike[str] | None = None) -> PowerTable:
    """A fitted table: a TOML file, or the built-in one (``None``).

    Raises:
        InputError: missing file, bad TOML, missing or inconsistent keys.
    """
    if source is None:
        res = files("comet.power").joinpath(f"data/{BUILTIN_TABLE}")
        where = f"comet/power/data/{BUILTIN_TABLE}"
        try:
            text = res.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(
                "power.core = 'fitted': comet has no built-in table in this install",
                path=where,
                hint="give [power] table = 'my-table.toml', written by comet fit-power",
            ) from None
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise InputError(
                "power.table: file not found", path=path, hint="write one with comet fit-power"
            )
        text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", path=where) from None
    return _check_table(data, where)


def write_table(table: PowerTable, path: str | os.PathLike[str]) -> None:
    """Write ``table`` as TOML, atomically."""
    from comet.toml_write import dumps_toml

    data = {
        "meta": {**table.meta, "events": list(table.events)},
        "points": [
            {
                "f_hz": float(table.f_hz[p]),
                "v": float(table.v[p]),
                "c0_w": float(table.c0_w[p]),
                "k_j": [float(x) for x in table.k_j[p]],
                "rms_w": float(table.rms_w[p]),
            }
            for p in range(table.f_hz.size)
        ],
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps_toml(data), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# fitting


@dataclass(frozen=True)
class Sample:
    """One McPAT observation: a core at ``f_hz``, ``v`` with ``rates`` (events/s, by name)
    dissipating ``p_dyn_w`` (W, McPAT's runtime dynamic power)."""

    f_hz: float
    v: float
    rates: Mapping[str, float]
    p_dyn_w: float


def _rate(rates: Mapping[str, float], name: str) -> float:
    return float(sum(rates[part] for part in name.split("+")))


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares with columns scaled to unit norm (rates span 1e3..1e10)."""
    from scipy.optimize import nnls

    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    x, _ = nnls(a / scale, b)
    return np.asarray(x / scale)


def fit_table(
    samples: Sequence[Sample],
    events: Sequence[str],
    *,
    per_point_min: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> PowerTable:
    """Least-squares coefficients (non-negative: energies and clock power cannot be below 0).

    Operating points with at least ``per_point_min`` samples (default: twice the unknowns)
    get their own fit; the others share one fit of the voltage-normalised model
    ``P / V^2 = a + b f + sum_e k_e' rate_e`` over all samples, scaled back to their (f, V)
    (``c0 = V^2 (a + b f)``: McPAT's power of an idle core scales with V^2 alone, the clock
    tree's with V^2 f).

    Raises:
        InputError: no samples, or a sample without one of the events.
    """
    if not samples:
        raise InputError("fit: no samples")
    events = list(events)
    for s in samples:
        missing = [part for e in events for part in e.split("+") if part not in s.rates]
        if missing:
            raise InputError(f"fit: a sample at {s.f_hz:g} Hz has no event {missing[0]!r}")
    need = per_point_min if per_point_min is not None else 2 * (len(events) + 1)
    f = np.array([s.f_hz for s in samples])
    v = np.array([s.v for s in samples])
    r = np.array([[_rate(s.rates, e) for e in events] for s in samples])
    p = np.array([s.p_dyn_w for s in samples])
    # shared normalised fit: columns 1 and f (for c0 / V^2) and the rates, target P / V^2
    x = _nnls(np.column_stack([np.ones_like(f), f, r]), p / v**2)
    points = sorted(set(f.tolist()))
    c0, k, rms, vs = [], [], [], []
    for fp in points:
        sel = f == fp
        vp = float(np.mean(v[sel]))
        if sel.sum() >= need:
            xp = _nnls(np.column_stack([np.ones(sel.sum()), r[sel]]), p[sel])
            c0p, kp = float(xp[0]), xp[1:]
        else:
            c0p, kp = float((x[0] + x[1] * fp) * vp**2), x[2:] * vp**2
        pred = c0p + r[sel] @ kp
        c0.append(c0p)
        k.append(kp)
        vs.append(vp)
        rms.append(float(np.sqrt(np.mean((pred - p[sel]) ** 2))))
    return PowerTable(
        events=events,
        f_hz=np.array(points),
        v=np.array(vs),
        c0_w=np.array(c0),
        k_j=np.array(k),
        rms_w=np.array(rms),
        meta=dict(meta or {}),
    )


# --------------------------------------------------------------------------------------------
# the core power model


class FittedCorePower:
    """``P_dyn = c0(f, V) + sum_e k_e(f, V) * events_e / dt`` per core, from a fitted table.

    Args:
        table: a table file (TOML, see the module docstring; absolute or relative to the
            working directory); default: comet's built-in McPAT fit (:data:`BUILTIN_TABLE`).
        idle_c0: whether a core without a thread still draws ``c0`` (its clock tree; True,
            McPAT without power gating) or nothing.
    """

    name = "fitted"

    def __init__(self, table: str | None = None, idle_c0: bool = True) -> None:
        self.table = load_table(table)
        self.idle_c0 = bool(idle_c0)
        self._k = np.zeros((0, 0))
        self._rates = np.zeros((0, 0))

    def start(self, system: PowerSystem) -> None:
        """Allocate the work arrays for ``system.n_cores`` cores."""
        n = system.n_cores
        self._k = np.empty((len(self.table.events), n))
        self._rates = np.empty((len(self.table.events), n))
        self._busy = np.empty(n)

    def _event(self, counters: EpochCounters, name: str, freq_hz: np.ndarray, out: np.ndarray):
        ev = counters.events
        out.fill(0.0)
        for part in name.split("+"):
            if part in ev:
                out += ev[part]
            elif part == "instructions":
                out += counters.instructions
            elif part == "cycles":
                counters.busy_time(out=self._busy)
                self._busy *= freq_hz
                out += self._busy
            else:
                raise InputError(
                    f"power.core = 'fitted': the performance model reports no event {part!r}",
                    hint="the fitted table needs a back end with event counts (perf.model = "
                    "'sniper'), or a table of instructions and cycles only",
                )
        return out

    def dynamic(
        self,
        counters: EpochCounters,
        freq_hz: np.ndarray,
        volt: np.ndarray,
        dt: float,
        out: np.ndarray,
    ) -> np.ndarray:
        """Dynamic power (W) of each core over the ended epoch of ``dt`` s, into ``out``."""
        if self._k.shape[1] != np.asarray(freq_hz).size:
            self.start(PowerSystem(np.asarray(freq_hz).size, np.zeros(0), np.zeros(0), 0.0, 0.0))
        k, c0 = self.table.coefficients(freq_hz, volt, k_out=self._k)
        for e, name in enumerate(self.table.events):
            self._event(counters, name, freq_hz, self._rates[e])
        self._rates /= dt
        np.einsum("ec,ec->c", k, self._rates, out=out)
        if self.idle_c0:
            out += c0
        else:
            counters.busy_time(out=self._busy)
            out += c0 * np.minimum(self._busy / dt, 1.0)
        return out
