"""How a thread's DRAM accesses spread over the banks.

CoMeT spreads accesses uniformly (Sniper's address interleaving over all banks). comet offers:

``uniform``
    every bank gets ``1 / n_banks`` of the accesses (CoMeT).
``interleaved``
    addresses interleaved over ``ways`` channels (ddr) or vaults (3dmem, 2.5d, 3d), the group
    of channels starting at ``thread * ways``; every bank of those channels gets an equal
    share. ``ways`` = all channels/vaults is the same as uniform.
``hotset``
    ``hot_share`` of the accesses go to a hot set of ``hot_fraction`` of the banks (chosen with
    the run's seed, or ``hot_banks``), the rest uniformly.
``local``
    thread-local affinity (first-touch NUMA placement): ``local_share`` of the accesses go to
    the channel/vault nearest to the thread's core (by x-y position on its die), the rest
    uniformly. Rows change when a thread migrates.

Each row sums to 1; the engine keeps a (cores x banks) matrix of the placed threads' rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["AccessDistribution"]

KINDS = ("uniform", "interleaved", "hotset", "local")


class AccessDistribution:
    """Rows of the access distribution for (thread, core) pairs.

    Args:
        kind: one of ``uniform``, ``interleaved``, ``hotset``, ``local``.
        bank_group: channel or vault of each bank (ints).
        bank_xy: (n_banks, 2) bank centres, normalized to the memory die (0..1).
        core_xy: (n_cores, 2) core centres, normalized to the processor die (0..1).
        ways: interleaved: channels/vaults per thread (default all).
        hot_fraction, hot_share, hot_banks: hotset parameters.
        local_share: local: share of accesses to the nearest channel/vault.
        rng: random generator (hot set choice).
    """

    def __init__(
        self,
        kind: str,
        bank_group: Sequence[int] | np.ndarray,
        bank_xy: np.ndarray,
        core_xy: np.ndarray,
        *,
        ways: int | None = None,
        hot_fraction: float = 0.125,
        hot_share: float = 0.8,
        hot_banks: Sequence[int] | None = None,
        local_share: float = 0.8,
        rng: np.random.Generator | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown distribution {kind!r}; one of {', '.join(KINDS)}")
        self.kind = kind
        self.n_banks = len(bank_group)
        group = np.asarray(bank_group, dtype=np.int64)
        _, self.group = np.unique(group, return_inverse=True)
        self.n_groups = int(self.group.max()) + 1 if self.n_banks else 0
        self.bank_xy = np.asarray(bank_xy, dtype=float).reshape(self.n_banks, 2)
        self.core_xy = np.asarray(core_xy, dtype=float).reshape(-1, 2)
        self.uniform = np.full(self.n_banks, 1.0 / max(self.n_banks, 1))
        self.ways = min(ways or self.n_groups, self.n_groups) if self.n_groups else 0
        self.local_share = float(local_share)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.hot = np.zeros(0, dtype=np.int64)
        self._hot_row = self.uniform
        if kind == "hotset" and self.n_banks:
            if hot_banks:
                hot = np.unique(np.asarray(hot_banks, dtype=np.int64))
                if hot.min() < 0 or hot.max() >= self.n_banks:
                    raise ValueError(f"hot_banks must be bank indices 0..{self.n_banks - 1}")
            else:
                k = max(1, round(hot_fraction * self.n_banks))
                hot = np.sort(rng.choice(self.n_banks, size=k, replace=False))
            self.hot = hot
            row = (1.0 - hot_share) * self.uniform
            row[hot] += hot_share / hot.size
            self._hot_row = row
        # group centres for ``local``
        self.group_xy = np.zeros((self.n_groups, 2))
        for g in range(self.n_groups):
            self.group_xy[g] = self.bank_xy[self.group == g].mean(axis=0)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    @property
    def depends_on_core(self) -> bool:
        """True when a thread's row changes as it migrates (``local``)."""
        return self.kind == "local"

    def row(self, thread: int, core: int) -> np.ndarray:
        """Access shares of ``thread`` running on ``core`` over the banks (sums to 1)."""
        if self.kind == "uniform" or self.n_banks == 0:
            return self.uniform
        if self.kind == "hotset":
            return self._hot_row
        key = (thread if self.kind == "interleaved" else -1, core if self.kind == "local" else -1)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self.kind == "interleaved":
            start = (thread * self.ways) % self.n_groups
            groups = (start + np.arange(self.ways)) % self.n_groups
            mask = np.isin(self.group, groups)
            row = mask / mask.sum()
        else:  # local
            d = np.hypot(*(self.group_xy - self.core_xy[core]).T)
            near = np.isclose(d, d.min(), rtol=0, atol=1e-9)
            mask = near[self.group]
            row = (1.0 - self.local_share) * self.uniform + self.local_share * mask / mask.sum()
        self._cache[key] = row
        return row
