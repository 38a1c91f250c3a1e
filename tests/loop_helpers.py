"""Small closed-loop configurations for the perf / policy / engine / CLI tests (8x8 grids)."""

from __future__ import annotations

import copy
from typing import Any


def tiny(**sections: Any) -> dict[str, Any]:
    """A 3d stack of 2x2 cores under 2 DRAM layers of 2x2 banks, 8x8 grid, 20 ms.

    Keyword arguments replace or extend top-level sections (dicts are merged one level deep).
    """
    cfg: dict[str, Any] = {
        "name": "tiny",
        "seed": 1,
        "sim": {"duration": "20ms", "epoch": "1ms", "flush_every": 5},
        "architecture": {
            "kind": "3d",
            "cores": "2x2",
            "banks": "2x2x2",
            "bank_size": "3.414mm",
            "grid": "8x8",
        },
        "workload": {"jobs": [{"profile": "compute", "threads": 2, "instructions": 1e10}]},
        "policies": {},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            merged = copy.deepcopy(cfg[key])
            merged.update(value)
            cfg[key] = merged
        else:
            cfg[key] = value
    return cfg


def hot(dvfs: Any, duration: str = "300ms") -> dict[str, Any]:
    """A package that heats fast (small sink, weak convection) with 4 compute threads at a
    high switched capacitance: unmanaged at 4 GHz it passes 85 C within 300 ms."""
    return tiny(
        sim={"duration": duration},
        architecture={
            "kind": "3d",
            "cores": "2x2",
            "banks": "2x2x1",
            "bank_size": "3.414mm",
            "grid": "8x8",
        },
        thermal={"r_convec": 0.5, "c_convec": 2.0, "t_sink": 1e-3, "t_spreader": 0.5e-3},
        cores={"c_eff": "2.5nF"},
        workload={"jobs": [{"profile": "compute", "threads": 4, "instructions": 1e11}]},
        policies={"dvfs": dvfs},
    )
