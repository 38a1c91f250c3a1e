"""Finding the native tools (comet.native) and ``comet doctor``, on fake tools in tmp_path.

The fakes are real executables (shell scripts) that comet finds and runs as it would the real
HotSpot, McPAT and Sniper; nothing of the lookup is mocked, only the environment is set.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from comet import native
from comet.cli import main
from comet.errors import InputError

ENV_VARS = ("COMET_HOTSPOT", "COMET_MCPAT", "COMET_SNIPER", "SNIPER_ROOT")


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_hotspot(path: Path) -> Path:
    # HotSpot has no version flag; comet reads its usage text and looks for "materials_file"
    return _script(
        path,
        'echo "Usage: $0 -f <file> -p <file> [-o <file>] [-c <file>] [-d <file>] [options]"\n'
        'echo "A thermal simulator that reads power trace from a file and outputs '
        'temperatures."\n# materials_file\nexit 1\n',
    )


def fake_mcpat(path: Path) -> Path:
    return _script(
        path,
        'echo "McPAT (version 1.3 of Feb, 2015) is computing the target processor..."\n'
        "echo \"XML Parsing error inside file '$2'.\" >&2\nexit 1\n",
    )


def fake_sniper(root: Path, *, built: bool = True, dr: bool = True, banks: bool = True) -> Path:
    _script(root / "run-sniper", 'echo "fake run-sniper $@"\n')
    (root / "CHANGELOG").write_text("Version 8.1\n  * Update from Python2 to Python3\n")
    (root / "config").mkdir(parents=True)
    (root / "config" / "sniper.py").write_text(
        'target="intel64"\nxed_home="xed_kit"\ndynamorio_home="dynamorio/build"\n'
        'git_revision="900a80c4669179ccea2ccd798b954c32627c093c"\n'
    )
    if built:
        key = "perf_model/dram/bank_stats/banks" if banks else "perf_model/dram/type"
        _script(root / "lib" / "sniper", f"# {key}\nexit 0\n")
    if dr:
        client = root / "frontend" / "dr-frontend" / "build" / "libdr-frontend.so"
        client.parent.mkdir(parents=True)
        client.write_bytes(b"\x7fELF")
        _script(root / "dynamorio" / "build" / "bin64" / "drrun", "exit 0\n")
    return root


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No tool variables and a PATH holding only an (empty) bin directory of the test's."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", str(bindir))
    return bindir


def test_mcpat_lookup_order(tmp_path: Path, bare_env: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(InputError, match="no McPAT binary found") as err:
        native.find_mcpat()
    assert "COMET_MCPAT" in str(err.value) and "build_native.sh" in str(err.value)

    on_path = fake_mcpat(bare_env / "mcpat")
    assert native.find_mcpat() == str(on_path.resolve())
    from_env = fake_mcpat(tmp_path / "env" / "mcpat")
    monkeypatch.setenv("COMET_MCPAT", str(from_env))
    assert native.find_mcpat() == str(from_env.resolve())
    explicit = fake_mcpat(tmp_path / "explicit" / "mcpat")
    assert native.find_mcpat(explicit) == str(explicit.resolve())
    assert native.mcpat_version(str(explicit)) == "1.3 of Feb, 2015"


def test_mcpat_not_executable(tmp_path: Path, bare_env: Path):
    plain = tmp_path / "mcpat"
    plain.write_text("not a program\n")
    with pytest.raises(InputError, match="is not executable"):
        native.find_mcpat(plain)
    with pytest.raises(InputError, match="not found"):
        native.find_mcpat(tmp_path / "nowhere" / "mcpat")


def test_hotspot_is_found_and_recognised(tmp_path: Path, bare_env: Path):
    binary = fake_hotspot(bare_env / "hotspot")
    assert native.find_hotspot() == str(binary.resolve())
    assert native.hotspot_version(str(binary)) == "7.x"
    other = _script(tmp_path / "other", "echo hello\n")
    assert native.hotspot_version(str(other)).startswith("unknown")


def test_sniper_lookup_order(tmp_path: Path, bare_env: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(InputError, match="no Sniper found") as err:
        native.find_sniper()
    assert "SNIPER_ROOT" in str(err.value) and "--sniper" in str(err.value)

    # run-sniper on PATH (a link into the Sniper directory): its directory
    via_path = fake_sniper(tmp_path / "sniper-path")
    (bare_env / "run-sniper").symlink_to(via_path / "run-sniper")
    assert native.find_sniper() == str(via_path.resolve())
    root_env = fake_sniper(tmp_path / "sniper-root")
    monkeypatch.setenv("SNIPER_ROOT", str(root_env))
    assert native.find_sniper() == str(root_env.resolve())
    comet_env = fake_sniper(tmp_path / "sniper-comet")
    monkeypatch.setenv("COMET_SNIPER", str(comet_env))
    assert native.find_sniper() == str(comet_env.resolve())
    explicit = fake_sniper(tmp_path / "sniper-explicit")
    assert native.find_sniper(explicit) == str(explicit.resolve())
    assert native.sniper_version(explicit) == "Version 8.1, git 900a80c466"


def test_sniper_not_built_or_not_sniper(tmp_path: Path, bare_env: Path):
    unbuilt = fake_sniper(tmp_path / "unbuilt", built=False)
    with pytest.raises(InputError, match="is not built"):
        native.find_sniper(unbuilt)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no run-sniper"):
        native.find_sniper(empty)
    with pytest.raises(InputError, match="not found"):
        native.find_sniper(tmp_path / "missing")


def test_sniper_frontends_and_bank_counts(tmp_path: Path, bare_env: Path):
    full = fake_sniper(tmp_path / "full")
    dr = native.find_sniper_dr_frontend(full)
    assert dr.client.endswith("frontend/dr-frontend/build/libdr-frontend.so")
    assert dr.drrun == str((full / "dynamorio" / "build" / "bin64" / "drrun").resolve())
    assert native.sniper_counts_dram_banks(full)
    with pytest.raises(InputError, match="Pin SIFT recorder is not built"):
        native.find_sniper_sift_recorder(full)
    recorder = full / "sift" / "recorder" / "obj-intel64" / "sift_recorder"
    _script(recorder, "exit 0\n")
    assert native.find_sniper_sift_recorder(full) == str(recorder.resolve())

    stock = fake_sniper(tmp_path / "stock", dr=False, banks=False)
    assert not native.sniper_counts_dram_banks(stock)
    with pytest.raises(InputError, match="DynamoRIO frontend is not built"):
        native.find_sniper_dr_frontend(stock)


def test_doctor_nothing_found_exits_0(bare_env: Path):
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for tool in ("HotSpot", "Sniper", "McPAT"):
        row = next(line for line in lines if line.startswith(tool + " "))
        assert "MISSING" in row
    assert "How to point comet at what is missing:" in result.output
    assert "COMET_MCPAT" in result.output and "SNIPER_ROOT" in result.output
    assert "COMET_HOTSPOT" in result.output
    assert "export " not in result.output


def test_doctor_everything_found(tmp_path: Path, bare_env: Path, monkeypatch: pytest.MonkeyPatch):
    hotspot = fake_hotspot(tmp_path / "tools" / "hotspot")
    fake_mcpat(bare_env / "mcpat")
    sniper = fake_sniper(tmp_path / "sniper")
    monkeypatch.setenv("COMET_HOTSPOT", str(hotspot))
    monkeypatch.setenv("SNIPER_ROOT", str(sniper))
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    rows = {line.split("  ")[0]: line for line in result.output.splitlines()}
    assert "found" in rows["HotSpot"] and "7.x" in rows["HotSpot"]
    assert "found" in rows["McPAT"] and "1.3 of Feb, 2015" in rows["McPAT"]
    assert "found" in rows["Sniper"] and "Version 8.1" in rows["Sniper"]
    assert "found" in rows["Sniper DynamoRIO frontend"]
    assert "MISSING" in rows["Sniper Pin SIFT recorder"]
    assert "found" in rows["Sniper DRAM per-bank counts"]
    assert f"export SNIPER_ROOT={sniper.resolve()}" in result.output
    assert f"export COMET_HOTSPOT={hotspot.resolve()}" in result.output
    assert f"export COMET_MCPAT={(bare_env / 'mcpat').resolve()}" in result.output


def test_doctor_options_override_and_report_bad_paths(tmp_path: Path, bare_env: Path):
    unbuilt = fake_sniper(tmp_path / "unbuilt", built=False)
    result = CliRunner().invoke(
        main,
        ["doctor", "--sniper", str(unbuilt), "--hotspot", str(tmp_path / "no-hotspot")],
    )
    assert result.exit_code == 0, result.output
    assert "is not built" in result.output
    assert "(from --sniper)" in result.output
    assert os.fspath(tmp_path / "no-hotspot") in result.output
    # Sniper's parts are listed only when Sniper itself is usable
    assert "DynamoRIO frontend" not in result.output


def _real_tool(var: str) -> str:
    value = os.environ.get(var, "")
    if not value:
        pytest.skip(f"${var} not set (a native build, see README 'Native tools')")
    return value


@pytest.mark.native
def test_real_hotspot_and_mcpat():
    hotspot = native.find_hotspot(_real_tool("COMET_HOTSPOT"))
    assert native.hotspot_version(hotspot) == "7.x"
    mcpat = native.find_mcpat(_real_tool("COMET_MCPAT"))
    assert native.mcpat_version(mcpat) == "1.3 of Feb, 2015"


@pytest.mark.native
def test_real_sniper_build():
    root = native.find_sniper(_real_tool("SNIPER_ROOT"))
    assert native.sniper_version(root).startswith("Version 8.1")
    assert Path(native.find_sniper_dr_frontend(root).drrun).name == "drrun"
    assert native.sniper_counts_dram_banks(root)
