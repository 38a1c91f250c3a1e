"""Property-based fuzzing of the readers and CLI verbs (issue 11), bounded to about a minute.

Every input either succeeds with finite outputs or is refused cleanly: one-line InputError from a
reader, exit status 2 with at most 3 lines and no traceback from a verb. The cases live in
``tests/fuzz_cases.py``; ``benchmarks/fuzz.py`` runs them much longer and reports by class.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzz_cases as fc

SETTINGS = {
    "deadline": None,
    "derandomize": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    "database": None,
}

tokens = st.sampled_from(fc.TOKENS) | st.from_regex(
    r"[-+]?[0-9.eE]{1,8}[a-zA-Z]{0,3}", fullmatch=True
)
ops = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 10_000), st.integers(0, 10_000)), max_size=5
)


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in fc.FUZZ_LIMITS.items():
        monkeypatch.setenv(key, value)


def _tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="comet-fuzz-") as d:
        yield Path(d)


def _check(outcome: fc.Outcome) -> None:
    assert not outcome.failed, f"{outcome.cls}: {outcome.detail}"


@settings(max_examples=60, **SETTINGS)  # type: ignore[arg-type]
@given(reader=st.sampled_from(sorted(fc.READER_SEEDS)), mutations=ops)
def test_readers_accept_or_refuse_in_one_line(reader: str, mutations: list) -> None:
    for tmp in _tmp():
        _check(fc.reader_case(tmp, reader, mutations))


@settings(max_examples=14, **SETTINGS)  # type: ignore[arg-type]
@given(
    overrides=st.lists(st.tuples(st.sampled_from(fc.CONFIG_KEYS), tokens), min_size=1, max_size=2)
)
def test_run_verb(overrides: list[tuple[str, str]]) -> None:
    for tmp in _tmp():
        _check(fc.run_case(tmp, overrides))


@settings(max_examples=12, **SETTINGS)  # type: ignore[arg-type]
@given(
    kind=st.sampled_from(["3d", "2.5d", "ddr", "3dmem", "DDR", "x"]),
    options=st.lists(st.tuples(st.sampled_from(fc.FLOORPLAN_OPTIONS), tokens), max_size=2),
)
def test_floorplan_verb(kind: str, options: list[tuple[str, str]]) -> None:
    for tmp in _tmp():
        _check(fc.floorplan_case(tmp, kind, options))


@settings(max_examples=10, **SETTINGS)  # type: ignore[arg-type]
@given(mutations=ops, interval=st.sampled_from(["1ms", "0", "-1ms", "1e308s", "nan", "1e-30s"]))
def test_replay_verb(mutations: list, interval: str) -> None:
    for tmp in _tmp():
        _check(fc.replay_case(tmp, mutations, interval))


@settings(max_examples=10, **SETTINGS)  # type: ignore[arg-type]
@given(
    mutations=ops,
    extra=st.lists(
        st.tuples(
            st.sampled_from(fc.HOTSPOT_OPTIONS),
            tokens,
        ),
        max_size=2,
    ).map(lambda pairs: [x for pair in pairs for x in pair]),
)
def test_hotspot_verb(mutations: list, extra: list[str]) -> None:
    for tmp in _tmp():
        _check(fc.hotspot_case(tmp, mutations, extra))


@pytest.fixture(scope="module")
def source_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fc.make_source_run(tmp_path_factory.mktemp("fuzz-src"))


@settings(max_examples=4, **SETTINGS)  # type: ignore[arg-type]
@given(victim=st.sampled_from(fc.RUN_FILES), mutations=ops)
def test_plot_of_a_damaged_run(source_run: Path, victim: str, mutations: list) -> None:
    for tmp in _tmp():
        _check(fc.damaged_run_case(tmp, source_run, victim, mutations, "plot"))
