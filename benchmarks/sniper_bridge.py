"""Per-epoch overhead of the Sniper bridge (issue 8): comet's side vs Sniper's.

Drives :class:`comet.perf.sniper.SniperPerformance` epoch by epoch (no thermal model: the
bridge alone) with frequencies changed every epoch and the threads swapped every 4 epochs, and
reports per epoch (median over the run):

- ``wait``: comet blocked waiting for Sniper's record (Sniper simulating the epoch, reading
  its counters and applying the reply);
- ``exchange``: comet's own work in the exchange (building and sending the reply, decoding
  the record, mapping it onto EpochCounters);
- ``sniper_read`` / ``sniper_apply``: the Sniper-side script reading the counters and applying
  frequencies and placement (measured inside Sniper);
- ``bridge share``: (exchange + sniper_read + sniper_apply) / wait.

Without ``--sniper`` the stand-in simulator is used (its epoch costs nothing, so ``wait`` is
the bare round trip); with ``--sniper ROOT --trace a.sift --trace b.sift`` a real Sniper run.

    python benchmarks/sniper_bridge.py [--sniper ROOT --trace a.sift ...] [--epochs 20]
                                       [--epoch 1ms] [--config gainestown]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine  # benchmarks/machine.py (run these files as scripts)

from comet.config import parse_duration
from comet.perf.protocol import EpochInputs, PerfSystem
from comet.perf.sniper import SniperPerformance
from comet.perf.workloads import Job


def run(args: argparse.Namespace) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sniper-"))
    traces = list(args.trace)
    if not args.sniper:
        for i in range(args.cores):
            (tmp / f"t{i}.sift").write_text(json.dumps({"instructions": 1e12, "ipc": 1.0 + i}))
        traces = [str(tmp / f"t{i}.sift") for i in range(args.cores)]
    n = len(traces)
    epoch = parse_duration(args.epoch)
    levels = np.array([1.0e9, 1.5e9, 2.0e9, 2.5e9, 3.0e9])
    system = PerfSystem(
        n_cores=n, n_banks=16, core_names=tuple(f"C_{i}" for i in range(n)),
        bank_names=tuple(f"B_{i}" for i in range(16)), epoch_s=epoch, f_levels_hz=levels,
        f_init_hz=2e9, n_epochs=args.epochs, base_dir=Path.cwd(), run_dir=tmp / "run",
    )  # fmt: skip
    kw = {"sniper_root": args.sniper, "config": args.config} if args.sniper else {
        "launcher": [sys.executable, "-m", "comet.perf.sniper.standin"]
    }  # fmt: skip
    model = SniperPerformance(epoch_timeout=900, **kw)
    model.start(system)
    for i, t in enumerate(traces):
        model.admit(Job(i, f"t{i}", "trace", 0.0, np.zeros((1, 7)), 1, trace=t))
    inputs = EpochInputs(
        dt=epoch, freq_hz=np.full(n, 2e9), thread_of_core=np.arange(n), lost_s=np.zeros(n),
        t_mem_s=np.zeros(n), bank_latency_s=np.zeros(16),
    )  # fmt: skip
    instr = []
    t0 = 0.0
    try:
        for k in range(args.epochs):
            if k == 1:  # the first step starts Sniper: not an epoch's cost
                t0 = time.perf_counter()
            inputs.freq_hz[:] = levels[(np.arange(n) + k) % levels.size]
            if k % 4 == 3:
                inputs.thread_of_core[:] = np.roll(inputs.thread_of_core, 1)
            model.step(inputs)
            instr.append(model.counters.instructions.copy())
            assert np.allclose(model.sniper_freq_hz, inputs.freq_hz), "frequency not in force"
        wall = time.perf_counter() - t0
    finally:
        model.close()
    s = model.timing_summary
    s["wall_per_epoch_s"] = wall / max(args.epochs - 1, 1)
    return s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sniper", default=None, help="Sniper's directory (else the stand-in)")
    p.add_argument("--trace", action="append", default=[], help="SIFT trace (with --sniper)")
    p.add_argument("--cores", type=int, default=4, help="stand-in cores")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--epoch", default="1ms")
    p.add_argument("--config", default="gainestown")
    args = p.parse_args()
    if args.sniper and not args.trace:
        p.error("--sniper needs --trace")
    print(machine())
    s = run(args)
    what = "Sniper" if args.sniper else "stand-in"
    print(f"{what}: {int(s['epochs'])} epochs of {args.epoch}")
    for k in ("wait", "exchange", "sniper_read", "sniper_apply", "sniper_wait"):
        print(
            f"  {k:13s} median {s[f'{k}_median_s'] * 1e3:9.3f} ms/epoch, "
            f"mean {s[f'{k}_mean_s'] * 1e3:9.3f}"
        )
    print(f"  wall          {s['wall_per_epoch_s'] * 1e3:9.3f} ms/epoch (after the start)")
    print(f"  bridge share  {100 * s['bridge_share']:.3f} % of the time comet waits on Sniper")


if __name__ == "__main__":
    main()
