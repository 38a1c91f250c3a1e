#!/usr/bin/env python3
"""Check a Sniper run's per-bank DRAM counters (scripts/patches/sniper-dram-bank-stats.patch).

    SNIPER_ROOT=/opt/comet-native/sniper scripts/check_sniper_bank_stats.py RUN_DIR

Reads RUN_DIR's statistics with Sniper's own tools/sniper_lib.py (the run must have set
perf_model/dram/bank_stats/banks), prints reads and writes per bank of every DRAM controller
and checks that they add up to the controller's totals (dram.reads, dram.writes). Exit status
0 when they do, 1 when not, 2 when the run has no per-bank counters.
"""

from __future__ import annotations

import os
import re
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = os.environ.get("SNIPER_ROOT") or os.environ.get("COMET_SNIPER")
    if not root:
        print("set SNIPER_ROOT to the Sniper directory", file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.join(root, "tools"))
    import sniper_lib  # Sniper's own module, found through SNIPER_ROOT

    results = sniper_lib.get_results(resultsdir=argv[1])["results"]
    banks = sorted(
        {int(m.group(1)) for k in results if (m := re.fullmatch(r"dram\.bank(\d+)-reads", k))}
    )
    if not banks:
        print(f"{argv[1]}: no dram.bankN-reads statistics (bank_stats/banks not set?)")
        return 2
    ok = True
    for ctrl, (reads, writes) in enumerate(
        zip(results["dram.reads"], results["dram.writes"], strict=True)
    ):
        per_r = [results[f"dram.bank{b}-reads"][ctrl] for b in banks]
        per_w = [results[f"dram.bank{b}-writes"][ctrl] for b in banks]
        if reads == writes == sum(per_r) == sum(per_w) == 0:
            continue  # no controller on this core
        print(f"controller at core {ctrl}: {len(banks)} banks")
        print("  reads  per bank: " + " ".join(str(v) for v in per_r))
        print("  writes per bank: " + " ".join(str(v) for v in per_w))
        match = sum(per_r) == reads and sum(per_w) == writes
        ok &= match
        print(
            f"  sum reads {sum(per_r)} vs dram.reads {reads}, sum writes {sum(per_w)} vs "
            f"dram.writes {writes}: {'match' if match else 'MISMATCH'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
