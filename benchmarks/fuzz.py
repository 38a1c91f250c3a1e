"""Long fuzz run of the readers and CLI verbs (issue 11): inputs tried, outcomes, failures by class.

Draws the same hostile inputs as ``tests/test_fuzz.py`` (the cases of ``tests/fuzz_cases.py``)
from a seeded ``random.Random`` for a time budget per case, and writes a markdown table::

    python benchmarks/fuzz.py --seconds 60 --out benchmarks/results/fuzz.md

A failure is an input that neither succeeded with finite outputs nor was refused cleanly (one
line; exit 2, at most 3 lines, no traceback); each is listed with its class and first input.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import machine  # noqa: E402  (benchmarks/machine.py)

from tests import fuzz_cases as fc  # noqa: E402


def _ops(rng: random.Random) -> list[tuple[int, int, int]]:
    return [
        (rng.randrange(7), rng.randrange(10_000), rng.randrange(10_000))
        for _ in range(rng.randrange(6))
    ]


def _token(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return rng.choice(fc.TOKENS)
    digits = "".join(rng.choice("0123456789.eE-+") for _ in range(rng.randrange(1, 9)))
    return digits + "".join(rng.choice("smkgGHzKCWJFV") for _ in range(rng.randrange(3)))


def _cases(source: Path) -> dict[str, Callable[[Path, random.Random], tuple[fc.Outcome, Any]]]:
    def reader(tmp: Path, rng: random.Random) -> tuple[fc.Outcome, Any]:
        name, ops = rng.choice(sorted(fc.READER_SEEDS)), _ops(rng)
        return fc.reader_case(tmp, name, ops), (name, ops)

    def run(tmp: Path, rng: random.Random) -> tuple[fc.Outcome, Any]:
        over = [(rng.choice(fc.CONFIG_KEYS), _token(rng)) for _ in range(rng.randrange(1, 4))]
        return fc.run_case(tmp, over), over

    def floorplan(tmp: Path, rng: random.Random) -> tuple[fc.Outcome, Any]:
        kind = rng.choice(["3d", "2.5d", "ddr", "3dmem", "DDR", "x"])
        opts = [(rng.choice(fc.FLOORPLAN_OPTIONS), _token(rng)) for _ in range(rng.randrange(3))]
        return fc.floorplan_case(tmp, kind, opts), (kind, opts)

    def replay(tmp: Path, rng: random.Random) -> tuple[fc.Outcome, Any]:
        ops, interval = _ops(rng), rng.choice(["1ms", "0", "-1ms", "1e308s", "nan", "1e-30s"])
        return fc.replay_case(tmp, ops, interval), (ops, interval)

    def hotspot(tmp: Path, rng: random.Random) -> tuple[fc.Outcome, Any]:
        names = fc.HOTSPOT_OPTIONS
        extra = [x for _ in range(rng.randrange(3)) for x in (rng.choice(names), _token(rng))]
        ops = _ops(rng)
        return fc.hotspot_case(tmp, ops, extra), (ops, extra)

    def plot(tmp: Path, rng: random.Random) -> tuple[fc.Outcome, Any]:
        victim, ops = rng.choice(fc.RUN_FILES), _ops(rng)
        return fc.damaged_run_case(tmp, source, victim, ops, "plot"), (victim, ops)

    def video(tmp: Path, rng: random.Random) -> tuple[fc.Outcome, Any]:
        victim, ops = rng.choice(fc.RUN_FILES), _ops(rng)
        return fc.damaged_run_case(tmp, source, victim, ops, "video"), (victim, ops)

    return {
        "readers": reader,
        "run": run,
        "floorplan": floorplan,
        "replay": replay,
        "hotspot": hotspot,
        "plot (damaged run)": plot,
        "video (damaged run)": video,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="time budget per case")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=None, help="markdown report (default: stdout)")
    args = ap.parse_args()
    os.environ.update(fc.FUZZ_LIMITS)
    os.environ.setdefault("MPLBACKEND", "Agg")
    rng = random.Random(args.seed)
    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="comet-fuzz-") as root:
        source = fc.make_source_run(Path(root))
        for name, case in _cases(source).items():
            outcomes: list[fc.Outcome] = []
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < args.seconds:
                with tempfile.TemporaryDirectory(dir=root) as d:
                    outcome, inputs = case(Path(d), rng)
                outcomes.append(outcome)
                if outcome.failed:
                    failures.append((name, outcome, inputs))
            wall = time.perf_counter() - t0
            stats = fc.describe(outcomes)
            kinds = stats["kinds"]
            by_class = ", ".join(f"{k} {v}" for k, v in sorted(stats["failures"].items())) or "-"
            rows.append(
                f"| {name} | {len(outcomes)} | {kinds.get('ok', 0)} | {kinds.get('rejected', 0)} "
                f"| {kinds.get('failure', 0)} | {by_class} | {wall:.0f} |"
            )
            print(rows[-1], file=sys.stderr)
    lines = [
        "# Fuzz run (issue 11)",
        "",
        f"`python benchmarks/fuzz.py --seconds {args.seconds:g} --seed {args.seed}`; {machine()}",
        "",
        "ok = succeeded with finite outputs; rejected = one-line InputError (readers) or exit 2 "
        "with <= 3 lines and no traceback (verbs); failure = anything else. Limits during the "
        "run: " + ", ".join(f"{k}={v}" for k, v in fc.FUZZ_LIMITS.items()) + ".",
        "",
        "| case | inputs | ok | rejected | failures | failures by class | s |",
        "|---|---:|---:|---:|---:|---|---:|",
        *rows,
        "",
    ]
    if failures:
        lines += ["## Failures (first of each class)", ""]
        seen: set[tuple[str, str]] = set()
        for name, outcome, inputs in failures:
            if (name, outcome.cls) in seen:
                continue
            seen.add((name, outcome.cls))
            lines.append(f"- {name} / {outcome.cls}: input `{inputs!r}`: {outcome.detail!r}")
        lines.append("")
    text = "\n".join(lines)
    if args.out is not None:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
