"""Start-up: the HotSpot path imports only what it needs; short runs use the numpy kernels,
which compute what the compiled ones do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from comet.floorplan.flp import read_flp
from comet.thermal import kernels as K
from comet.thermal.hotspot_config import read_config
from comet.thermal.materials import read_materials
from comet.thermal.solver import ThermalModel

EV6 = Path(__file__).parent / "data" / "reference" / "ev6"
ROOT = Path(__file__).resolve().parents[1]


def _ev6(rows: int, cols: int) -> ThermalModel:
    cfg = read_config(
        EV6 / "hotspot.config",
        [("model_type", "grid"), ("grid_rows", str(rows)), ("grid_cols", str(cols))],
        read_materials(EV6 / "example.materials"),
    )
    return ThermalModel.from_floorplan(read_flp(EV6 / "ev6.flp"), cfg, solver="structured")


@pytest.mark.parametrize("precision", ["double", "mixed"])
def test_numpy_kernels_step_like_the_compiled_ones(precision: str) -> None:
    runs = []
    for kern in (K.numpy_kernels(), K.compiled_kernels()):
        model = _ev6(12, 10)
        model.backend.precision = precision  # type: ignore[attr-defined]
        model.prepare(1e-3)
        for prop in model._propagators.values():
            prop.kernels = kern  # type: ignore[attr-defined]
        rng = np.random.default_rng(3)
        out = []
        for _ in range(30):
            model.advance(rng.uniform(0, 4, len(model.power_names)), 1e-3)
            out.append(model.power_block_temperatures())
        out.append(model.temperature.copy())
        runs.append(np.concatenate(out))
    assert np.abs(runs[0] - runs[1]).max() < 1e-9


def test_prepare_picks_numpy_kernels_for_short_runs_only() -> None:
    model = _ev6(8, 8)
    model.prepare(1e-2, steps=10)
    (prop,) = model._propagators.values()
    assert prop.kernels.compiled == ("numba" in sys.modules)  # type: ignore[attr-defined]
    model.prepare(1e-2)  # unknown length: a long run
    assert prop.kernels.compiled  # type: ignore[attr-defined]


def test_hotspot_run_imports_neither_numba_nor_pandas(tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "from comet.cli import main\n"
        "try:\n"
        "    main(['hotspot', '-c', 'hotspot.config', '-f', 'ev6.flp', '-p', 'gcc.ptrace',\n"
        "          '-materials_file', 'example.materials', '-model_type', 'grid',\n"
        "          '-grid_rows', '16', '-grid_cols', '16', '-o', sys.argv[1]])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = ['numba', 'pandas', 'scipy.linalg', 'matplotlib', 'jinja2', 'pydantic',\n"
        "         'numpy.f2py.crackfortran', 'charset_normalizer']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "o.ttrace")],
        cwd=EV6,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "o.ttrace").read_text().count("\n") == 101
