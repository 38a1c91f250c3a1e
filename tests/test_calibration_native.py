"""A tiny real calibration (benchmarks/calibration.py: one pair, one core, 2 ms simulated) with
Sniper, McPAT and a C compiler built beside the project (``/work/native/READY-sniper``,
``READY-mcpat`` or ``$SNIPER_ROOT`` / ``$COMET_MCPAT``). Skipped when absent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from comet.calibration import read_table

pytestmark = pytest.mark.native

ROOT = Path(__file__).parent.parent
NATIVE = Path(os.environ.get("COMET_NATIVE_DIR", "/work/native"))


def _ready(name: str, key: str) -> str | None:
    path = NATIVE / name
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1].split("#", 1)[0].strip()
    return None


def _tools() -> tuple[str, str]:
    root = os.environ.get("SNIPER_ROOT") or _ready("READY-sniper", "SNIPER_ROOT")
    mcpat = os.environ.get("COMET_MCPAT") or _ready("READY-mcpat", "COMET_MCPAT")
    if not root or not (Path(root) / "record-trace").is_file():
        pytest.skip("Sniper (with record-trace) not built beside the project")
    if not mcpat or not Path(mcpat).is_file():
        pytest.skip("McPAT not built beside the project")
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler")
    return root, mcpat


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "calibration.py"), *args],
        capture_output=True, text=True, env=env, check=False, timeout=900,
    )  # fmt: skip


def test_tiny_calibration_of_the_chase(tmp_path: Path) -> None:
    root, mcpat = _tools()
    out = tmp_path / "cal.csv"
    args = ["--sniper-root", root, "--mcpat", mcpat, "--pair", "chase", "--cores", "1",
            "--duration", "2ms", "--warmup", "1ms", "--work", str(tmp_path / "work"),
            "--out", str(out), "--reuse"]  # fmt: skip
    proc = _run(args)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert "sniper chase x1" in proc.stderr
    header, rows = read_table(out)
    assert any("McPAT (version 1.3" in h for h in header)
    by = {r["metric"]: r for r in rows if r["profile"] != "idle"}
    idle = {r["metric"]: r for r in rows if r["profile"] == "idle"}
    # a core without a thread: McPAT still charges its clock network, fitted exactly
    assert 0 < idle["dynamic"]["sniper_mcpat"] < by["dynamic"]["sniper_mcpat"]
    assert idle["dynamic"]["calibrated_ratio"] == pytest.approx(1.0, rel=1e-6)
    # one dependent DRAM miss per 6-instruction loop step, reads only, a latency-bound core
    assert by["dram_apki"]["sniper_mcpat"] == pytest.approx(1e3 / 6, rel=0.02)
    assert by["read_fraction"]["sniper_mcpat"] == pytest.approx(1.0, abs=0.01)
    assert by["ipc"]["sniper_mcpat"] < 0.05
    assert 0.1 < by["dynamic"]["sniper_mcpat"] < 5.0  # McPAT, W per core at 22 nm
    assert by["ipc"]["calibrated_ratio"] == pytest.approx(1.0, rel=1e-3)
    assert by["dynamic"]["calibrated_ratio"] == pytest.approx(1.0, rel=1e-3)
    assert (tmp_path / "cal.profiles.toml").is_file()
    body = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
    # --reuse: the trace and the Sniper run are reused, the table is the same
    again = _run(args)
    assert again.returncode == 0, again.stderr
    assert "sniper chase" not in again.stderr
    assert [ln for ln in out.read_text().splitlines() if not ln.startswith("#")] == body
