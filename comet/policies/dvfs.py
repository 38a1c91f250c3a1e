"""DVFS policies: ``constant``, ``max``, ``ondemand``, ``throttle``, ``pid``, ``tsp``.

``ondemand`` and ``constant`` / ``max`` set the governor target; ``throttle``, ``pid`` and
``tsp`` set caps, so they compose with a governor (``dvfs = ["ondemand", "tsp"]``) and alone
cap a core running at ``f_init``.

Frequencies in Hz (strings with units accepted: ``"2.4GHz"``), temperatures in deg C.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from comet.config import parse_quantity
from comet.policies.base import Control, EpochView, Policy, SystemInfo

__all__ = [
    "Constant",
    "MaxFrequency",
    "Ondemand",
    "PowerPID",
    "Throttle",
    "ThermalSafePower",
    "frequency_for_power",
    "predict_power",
]


def _hz(value: Any, what: str) -> float:
    try:
        f = parse_quantity(value, "frequency")
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None
    if f <= 0:
        raise ValueError(f"{what}: must be positive")
    return f


def _degc(value: Any, what: str) -> float:
    try:
        return parse_quantity(value, "temperature")
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None


def _scope(value: str) -> str:
    if value not in ("core", "chip", "all"):
        raise ValueError(f"scope must be core, chip or all, got {value!r}")
    return value


def predict_power(view: EpochView, info: SystemInfo) -> np.ndarray:
    """Predicted power (W) of every core at every frequency level, ``(cores, levels)``.

    Dynamic power scales as ``V^2 f`` from the last epoch (same activity); leakage scales
    with V (CoMeT's V/1.2 scaling) from the last epoch's value.
    """
    f, v = view.frequency, view.voltage
    dyn_last = info.c_eff * v * v * f * view.activity
    leak_last = np.maximum(view.core_power - dyn_last, 0.0)
    levels, volts = info.f_levels, info.voltages
    dyn = info.c_eff * view.activity[:, None] * (volts**2 * levels)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        leak = leak_last[:, None] * (volts[None, :] / np.where(v > 0, v, 1.0)[:, None])
    return np.asarray(dyn + leak)


def frequency_for_power(view: EpochView, info: SystemInfo, budget_w: np.ndarray) -> np.ndarray:
    """Highest level (Hz) per core whose predicted power fits ``budget_w``; f_min if none."""
    pred = predict_power(view, info)
    ok = pred <= np.asarray(budget_w, dtype=float)[:, None]
    # levels increase; power increases with level -> last True
    idx = np.where(ok.any(axis=1), ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1), 0)
    return np.asarray(info.f_levels[idx])


class Constant(Policy):
    """All cores at one frequency (CoMeT's ``constFreq``: ``active_core_freq``,
    ``idle_core_freq``).

    Args:
        frequency: frequency of cores with a thread (Hz or ``"2GHz"``; default f_max).
        idle_frequency: frequency of idle cores (default: ``frequency``).
    """

    name: ClassVar[str] = "constant"
    knob: ClassVar[str] = "frequency"

    def __init__(self, frequency: Any = None, idle_frequency: Any = None) -> None:
        self.frequency = None if frequency is None else _hz(frequency, "frequency")
        self.idle = None if idle_frequency is None else _hz(idle_frequency, "idle_frequency")

    def step(self, view: EpochView, control: Control) -> None:
        f = self.frequency if self.frequency is not None else view.info.f_max
        idle = self.idle if self.idle is not None else f
        control.set_frequencies(np.where(control.thread_of_core >= 0, f, idle))


class MaxFrequency(Policy):
    """Every core at f_max."""

    name: ClassVar[str] = "max"
    knob: ClassVar[str] = "frequency"

    def step(self, view: EpochView, control: Control) -> None:
        control.set_frequencies(view.info.f_max)


class Ondemand(Policy):
    """CoMeT's ``ondemand`` governor (``common/scheduler/policies/dvfsOndemand.cc``).

    Per active core: utilization > ``up_threshold`` (0.7) -> f_max; < ``down_threshold``
    (0.3) -> ``down_factor`` (0.8) x f, rounded down to a level; idle cores -> f_min.
    Global DTM: when the peak temperature exceeds ``dtm_critical`` (80 C) every core goes to
    f_min until it falls below ``dtm_recovered`` (78 C). ``scope = "all"`` (CoMeT) takes the
    peak over cores and banks, ``"chip"`` over cores only.
    """

    name: ClassVar[str] = "ondemand"
    knob: ClassVar[str] = "frequency"

    def __init__(
        self,
        up_threshold: float = 0.7,
        down_threshold: float = 0.3,
        down_factor: float = 0.8,
        dtm_critical: Any = 80.0,
        dtm_recovered: Any = 78.0,
        scope: str = "all",
    ) -> None:
        if not 0 <= down_threshold <= up_threshold <= 1:
            raise ValueError("need 0 <= down_threshold <= up_threshold <= 1")
        if not 0 < down_factor < 1:
            raise ValueError("down_factor must lie in (0, 1)")
        self.up, self.down, self.factor = float(up_threshold), float(down_threshold), down_factor
        self.critical = _degc(dtm_critical, "dtm_critical")
        self.recovered = _degc(dtm_recovered, "dtm_recovered")
        if self.recovered > self.critical:
            raise ValueError("dtm_recovered must not exceed dtm_critical")
        self.scope = _scope(scope)
        self.throttling = False

    def step(self, view: EpochView, control: Control) -> None:
        info = view.info
        peak = view.peak_temperature if self.scope == "all" else view.peak_core_temperature
        if peak > self.critical:
            if not self.throttling:
                control.event("dtm", "chip", round(peak, 3), f"ondemand: above {self.critical} C")
            self.throttling = True
        elif peak < self.recovered:
            if self.throttling:
                control.event("dtm", "chip", 0, f"ondemand: below {self.recovered} C")
            self.throttling = False
        if self.throttling:
            control.set_frequencies(info.f_min)
            return
        active = control.thread_of_core >= 0
        util = view.utilization
        f = np.where(util > self.up, info.f_max, view.frequency)
        # busy cores below the down threshold: down_factor x f, at least f_min
        f = np.where(util < self.down, np.maximum(f * self.factor, info.f_min), f)
        control.set_frequencies(np.where(active, f, info.f_min))


class Throttle(Policy):
    """Step-wise thermal throttling with hysteresis (like Linux's ``step_wise`` governor).

    Each call, a core whose temperature is at or above ``threshold - guard`` gets its cap
    lowered by ``step`` (default 0.2 GHz; ``down_steps`` steps at once); below
    ``threshold - hysteresis`` the cap rises by one step until it is lifted. ``scope``:
    ``core`` (each core by its own temperature), ``chip`` (all cores by the hottest core),
    ``all`` (all cores by the hottest unit, banks included).
    """

    name: ClassVar[str] = "throttle"
    knob: ClassVar[str] = "frequency"

    def __init__(
        self,
        threshold: Any = 80.0,
        hysteresis: float = 3.0,
        guard: float = 1.0,
        step: Any = 0.2e9,
        down_steps: int = 2,
        scope: str = "core",
    ) -> None:
        self.threshold = _degc(threshold, "threshold")
        if hysteresis < 0 or guard < 0:
            raise ValueError("hysteresis and guard must not be negative")
        self.hysteresis, self.guard = float(hysteresis), float(guard)
        self.step_hz = _hz(step, "step")
        self.down_steps = max(1, int(down_steps))
        self.scope = _scope(scope)
        self.cap: np.ndarray | None = None

    def setup(self, info: SystemInfo) -> None:
        self.cap = np.full(info.n_cores, np.inf)

    def step(self, view: EpochView, control: Control) -> None:
        info = view.info
        if self.cap is None:
            self.setup(info)
        assert self.cap is not None
        if self.scope == "core":
            t = view.core_temperature
        else:
            peak = view.peak_temperature if self.scope == "all" else view.peak_core_temperature
            t = np.full(info.n_cores, peak)
        current = np.minimum(self.cap, view.frequency)
        hot = t >= self.threshold - self.guard
        cool = t < self.threshold - self.hysteresis
        cap = self.cap.copy()
        cap[hot] = np.maximum(current[hot] - self.down_steps * self.step_hz, info.f_min)
        raise_ = cool & np.isfinite(cap)
        cap[raise_] = cap[raise_] + self.step_hz
        cap[cap >= info.f_max] = np.inf
        changed = np.flatnonzero((cap != self.cap) & ~(np.isinf(cap) & np.isinf(self.cap)))
        for c in changed[:8].tolist():
            control.event(
                "throttle", info.core_names[c], "off" if np.isinf(cap[c]) else cap[c] / 1e9
            )
        self.cap = cap
        control.limit_frequencies(cap)


class PowerPID(Policy):
    """Power-budget PID controller, modelled on Linux's ``power_allocator`` thermal governor.

    Every call: ``err = target - T_hottest_core``; the power budget of all cores is
    ``sustainable_power + k_p err + k_i sum(err) + k_d d(err)/dt`` (``k_p = k_po`` when
    over the target, ``k_pu`` under it; the integral accumulates only while ``err <
    integral_cutoff``); the budget is shared among cores in proportion to the power they would
    draw at their governor target, and each core is capped at the highest level whose predicted
    power fits its share. Below ``switch_on`` (default target - 10 C) the caps are lifted and
    the integral reset.

    Defaults follow Linux (``estimate_pid_constants``): ``k_po = sustainable / (target -
    switch_on)``, ``k_pu = 2 k_po``, ``k_i = 0.01`` W/(K step), ``k_d = 0``; ``sustainable_power``
    defaults to the uniform core power that keeps the hottest core at ``target`` in steady state
    (from the influence matrix, with the memory at its last power).
    """

    name: ClassVar[str] = "pid"
    knob: ClassVar[str] = "frequency"

    def __init__(
        self,
        target: Any = 80.0,
        sustainable_power: float | None = None,
        switch_on: Any = None,
        k_po: float | None = None,
        k_pu: float | None = None,
        k_i: float = 0.01,
        k_d: float = 0.0,
        integral_cutoff: float = 0.0,
    ) -> None:
        self.target = _degc(target, "target")
        self.switch_on = self.target - 10.0 if switch_on is None else _degc(switch_on, "switch_on")
        if self.switch_on >= self.target:
            raise ValueError("switch_on must be below target")
        self.sustainable = sustainable_power
        self.k_po, self.k_pu, self.k_i, self.k_d = k_po, k_pu, float(k_i), float(k_d)
        self.cutoff = float(integral_cutoff)
        self.integral = 0.0
        self.prev_err: float | None = None
        self.budget = float("nan")

    def _sustainable(self, view: EpochView) -> float:
        if self.sustainable is None:
            per_core = _uniform_safe_power(view, self.target, np.ones(view.info.n_cores, bool))
            self.sustainable = float(per_core * view.info.n_cores)
        return float(self.sustainable)

    def step(self, view: EpochView, control: Control) -> None:
        info = view.info
        t = view.peak_core_temperature
        if t < self.switch_on:
            self.integral = 0.0
            self.prev_err = None
            control.limit_frequencies(np.inf)
            return
        sus = self._sustainable(view)
        span = self.target - self.switch_on
        k_po = self.k_po if self.k_po is not None else sus / span
        k_pu = self.k_pu if self.k_pu is not None else 2.0 * sus / span
        err = self.target - t
        kp = k_po if err < 0 else k_pu
        if err < self.cutoff:
            self.integral += err
            if self.k_i > 0:
                lim = sus / self.k_i
                self.integral = float(np.clip(self.integral, -lim, lim))
        deriv = 0.0 if self.prev_err is None else (err - self.prev_err) / view.dt
        self.prev_err = err
        pred = predict_power(view, info)
        max_power = float(pred[:, -1].sum())
        budget = sus + kp * err + self.k_i * self.integral + self.k_d * deriv
        self.budget = float(np.clip(budget, 0.0, max_power))
        # request = predicted power at the governor target
        target_idx = np.clip(
            np.searchsorted(info.f_levels, control.target_frequency + 1e-3, side="right") - 1,
            0,
            len(info.f_levels) - 1,
        )
        request = pred[np.arange(info.n_cores), target_idx]
        total = float(request.sum())
        if total <= self.budget or total <= 0:
            grant = request.copy()
        else:
            grant = request * (self.budget / total)
        control.limit_frequencies(frequency_for_power(view, info, grant))


def _uniform_safe_power(view: EpochView, t_crit: float, active: np.ndarray) -> float:
    """Per-core power (W) of the ``active`` cores that keeps every core at or below
    ``t_crit`` in steady state, the other units at their last power (TSP)."""
    info = view.info
    B = info.influence()  # (cores, cores + banks + logic) deg C per W
    nc = info.n_cores
    other = np.concatenate((view.bank_power, view.logic_power))
    t_other = info.ambient_degC + B[:, nc:] @ other
    idle = ~active
    if idle.any():
        t_other = t_other + B[:, :nc][:, idle] @ view.core_power[idle]
    denom = B[:, :nc][:, active].sum(axis=1)
    with np.errstate(divide="ignore"):
        per = np.where(denom > 0, (t_crit - t_other) / denom, np.inf)
    return float(max(per.min(), 0.0))


class ThermalSafePower(Policy):
    """Thermal Safe Power (Pagani et al., CODES+ISSS 2014): the per-core power budget for the
    current set of active cores that keeps every core at or below ``t_crit`` (80 C, minus
    ``margin``) in steady state, from the steady-state influence matrix of the stack (banks,
    logic cores and idle cores at their last power). Active cores are capped at the highest
    level whose predicted power fits the budget."""

    name: ClassVar[str] = "tsp"
    knob: ClassVar[str] = "frequency"

    def __init__(self, t_crit: Any = 80.0, margin: float = 0.0) -> None:
        self.t_crit = _degc(t_crit, "t_crit")
        self.margin = float(margin)
        self.power = float("nan")

    def step(self, view: EpochView, control: Control) -> None:
        info = view.info
        active = control.thread_of_core >= 0
        if not active.any():
            control.limit_frequencies(np.inf)
            return
        self.power = _uniform_safe_power(view, self.t_crit - self.margin, active)
        caps = frequency_for_power(view, info, np.full(info.n_cores, self.power))
        control.limit_frequencies(np.where(active, caps, np.inf))
