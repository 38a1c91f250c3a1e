"""The bridge's record format and the mapping of Sniper's counters onto comet's.

One JSON object per line each way (see :mod:`comet.perf.sniper.sniper_side` for the fields
Sniper sends). This module turns an ``epoch`` record into :class:`EpochCounters`:

- CPI stack (Sniper's time components, fs) -> comet's components (s): ``base``
  (``cpiBase``), ``branch`` (``cpiBranchPredictor``), ``ifetch`` (``cpiInstructionCache*``),
  ``l1d`` / ``l2`` / ``l3`` (``cpiDataCache`` hits in L1 / L2 / L3, L4, NUCA, remote caches),
  ``dram`` (``cpiDataCache`` dram, dram-local, dram-remote, dram-cache, miss), ``dvfs``
  (``cpiSyncDvfsTransition``), ``sync`` (the other ``cpiSync*``), ``other`` (serialisation,
  long latency, TLB, unknown ...).
- ``memory_time`` = ``dram``; ``lost_time`` = ``dvfs``; ``sleep_time`` = ``sync``;
  ``compute_time`` = the rest; ``active_time`` = compute + ``stall_activity`` x memory.
- DRAM reads per core: the core's misses in the last-level cache (``L3`` load and store
  misses, else ``L2``'s: Sniper counts a shared cache's accesses per requesting core; the
  L1s' ``stores-where-dram`` stays 0 for store misses), scaled so they add up to the
  controllers' reads (prefetches are counted at the controller only); writes: the
  controllers' writes in the same shares. Per bank: the patched controller's
  ``bank<i>-reads/-writes`` summed over controllers, when the build has them.
- ``events`` for event-based power models: :data:`EVENTS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from comet.perf.protocol import EpochCounters

__all__ = ["COMET_CPI", "EVENTS", "cpi_component", "fill_counters"]

FS = 1e-15

#: comet's CPI components of a Sniper run
COMET_CPI = ("base", "branch", "ifetch", "l1d", "l2", "l3", "dram", "dvfs", "sync", "other")

_DATA_CACHE = {
    "L1": "l1d", "L1_S": "l1d",
    "L2": "l2", "L2_S": "l2",
    "L3": "l3", "L3_S": "l3", "L4": "l3", "L4_S": "l3", "nuca-cache": "l3",
    "cache-remote": "l3",
    "dram": "dram", "dram-local": "dram", "dram-remote": "dram", "dram-cache": "dram",
    "miss": "dram",
}  # fmt: skip

#: comet event name -> Sniper counters (``object.metric``) summed into it
EVENTS: dict[str, tuple[str, ...]] = {
    "l1d_loads": ("L1-D.loads",),
    "l1d_stores": ("L1-D.stores",),
    "l1d_accesses": ("L1-D.loads", "L1-D.stores"),
    "l1d_misses": ("L1-D.load-misses", "L1-D.store-misses"),
    "l1i_loads": ("L1-I.loads",),
    "l1i_misses": ("L1-I.load-misses",),
    "l2_accesses": ("L2.loads", "L2.stores"),
    "l2_misses": ("L2.load-misses", "L2.store-misses"),
    "l3_accesses": ("L3.loads", "L3.stores"),
    "l3_misses": ("L3.load-misses", "L3.store-misses"),
    "branches": ("branch_predictor.num-correct", "branch_predictor.num-incorrect"),
    "branch_mispredictions": ("branch_predictor.num-incorrect",),
    "uops": ("interval_timer.uops_total",),
}
#: events computed by the bridge rather than summed: instructions, busy cycles (busy time x
#: frequency), DRAM reads and writes of the core
DERIVED_EVENTS = ("instructions", "cycles", "dram_reads", "dram_writes")

#: last-level-cache misses per core, by preference (the first level the build reports)
_LLC_MISSES = (
    ("L3.load-misses", "L3.store-misses"),
    ("L2.load-misses", "L2.store-misses"),
)


def cpi_component(name: str) -> str:
    """comet's CPI component of one of Sniper's (``cpiDataCacheL2`` -> ``l2``)."""
    if name == "cpiBase":
        return "base"
    if name == "cpiBranchPredictor":
        return "branch"
    if name.startswith("cpiInstructionCache"):
        return "ifetch"
    if name.startswith("cpiDataCache"):
        return _DATA_CACHE.get(name.removeprefix("cpiDataCache"), "other")
    if name == "cpiSyncDvfsTransition":
        return "dvfs"
    if name.startswith("cpiSync") and name != "cpiSyncMemAccess":
        return "sync"
    return "other"


def _vec(cores: Mapping[str, Sequence[float]], key: str, n: int) -> np.ndarray:
    v = cores.get(key)
    return np.zeros(n) if v is None else np.asarray(v, dtype=float)


def fill_counters(
    msg: Mapping[str, Any],
    counters: EpochCounters,
    *,
    stall_activity: float,
    freq_hz: np.ndarray,
) -> None:
    """Write one ``epoch`` record into ``counters`` (arrays overwritten in place).

    Args:
        msg: the decoded record.
        counters: comet's counters (``cpi`` and ``events`` hold arrays for every name of
            :data:`COMET_CPI` and :data:`EVENTS` / :data:`DERIVED_EVENTS`).
        stall_activity: activity of a core stalled on DRAM relative to computing.
        freq_hz: each core's frequency during the epoch (Hz), for busy cycles.
    """
    cores: Mapping[str, Sequence[float]] = msg["cores"]
    n = counters.instructions.size
    for arr in counters.cpi.values():
        arr.fill(0.0)
    for name, values in cores.items():
        if name.startswith("cpi"):
            counters.cpi[cpi_component(name)] += np.asarray(values, dtype=float) * FS
    cpi = counters.cpi
    counters.instructions[:] = _vec(cores, "instructions", n)
    counters.memory_time[:] = cpi["dram"]
    counters.lost_time[:] = cpi["dvfs"]
    counters.sleep_time[:] = cpi["sync"]
    np.add(cpi["base"], cpi["branch"], out=counters.compute_time)
    for k in ("ifetch", "l1d", "l2", "l3", "other"):
        counters.compute_time += cpi[k]
    np.multiply(counters.memory_time, stall_activity, out=counters.active_time)
    counters.active_time += counters.compute_time

    # DRAM: controller totals shared out by each core's demand accesses
    dram = msg.get("dram") or {}
    total_r = float(sum(dram.get("reads") or ()))
    total_w = float(sum(dram.get("writes") or ()))
    demand = np.zeros(n)
    for llc in _LLC_MISSES:
        if any(k in cores for k in llc):
            for key in llc:
                if key in cores:
                    demand += np.asarray(cores[key], dtype=float)
            break
    if demand.sum() > 0:
        share = demand / demand.sum()
    else:
        busy = counters.compute_time + counters.memory_time
        share = busy / busy.sum() if busy.sum() > 0 else np.full(n, 1.0 / n)
    np.multiply(share, total_r, out=counters.reads)
    np.multiply(share, total_w, out=counters.writes)
    bank = msg.get("bank")
    if bank is not None:
        counters.bank_reads[:] = np.asarray(bank["reads"], dtype=float)
        counters.bank_writes[:] = np.asarray(bank["writes"], dtype=float)
        counters.has_bank_counts = True
    else:
        counters.bank_reads.fill(0.0)
        counters.bank_writes.fill(0.0)
        counters.has_bank_counts = False

    ev = counters.events
    for name, keys in EVENTS.items():
        out = ev[name]
        out.fill(0.0)
        for key in keys:
            if key in cores:
                out += np.asarray(cores[key], dtype=float)
    ev["instructions"][:] = counters.instructions
    np.add(counters.compute_time, counters.memory_time, out=ev["cycles"])
    ev["cycles"] *= freq_hz
    ev["dram_reads"][:] = counters.reads
    ev["dram_writes"][:] = counters.writes


def new_counters(n_cores: int, n_banks: int) -> EpochCounters:
    """Zero counters with every CPI component and event array of a Sniper run."""
    c = EpochCounters.zeros(n_cores, n_banks)
    c.cpi = {k: np.zeros(n_cores) for k in COMET_CPI}
    c.events = {k: np.zeros(n_cores) for k in (*EVENTS, *DERIVED_EVENTS)}
    return c
