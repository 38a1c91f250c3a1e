"""comet.floorplan: stacks, their files, and the generator of the four configurations.

``comet.floorplan.generate(kind, **params)`` builds the stacks of ``ddr``, ``3dmem``, ``2.5d``
or ``3d`` (the submodule is callable and loaded on first use, so importing
``comet.floorplan.model`` stays light; typed code may import
:func:`comet.floorplan.generate.generate`).
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "generate":
        return importlib.import_module("comet.floorplan.generate")
    raise AttributeError(f"module 'comet.floorplan' has no attribute {name!r}")
