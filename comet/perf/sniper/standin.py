"""A stand-in for ``run-sniper`` that speaks comet's Sniper bridge protocol (for CI).

It takes ``run-sniper``'s command line (``-n``, ``-d``, ``-c``, ``-g``, ``-s script:ARGS``,
``--traces=a,b``, ``--sim-end``, ``--sift --frontend=dr -- prog``), finds comet's script among
the ``-s`` options, and then behaves like Sniper running that script: it connects to the
socket named in ARGS, sends ``hello``, and per epoch of ``epoch_fs`` sends the counters of the
ended epoch in the same JSON record as :mod:`comet.perf.sniper.sniper_side` and blocks on the
reply (frequencies in MHz, thread placement), which takes effect in the next epoch.

Its performance model is trivial on purpose: a thread runs at ``ipc`` instructions per cycle
plus ``mpki`` DRAM accesses per kilo-instruction of ``t_mem_ns`` each, so a compute-bound
thread's instructions per epoch follow the core's frequency exactly; a frequency change costs
``dvfs/transition_latency`` (``-g``, ns). A "trace" is a JSON file of the thread's parameters
(``instructions``, ``ipc``, ``mpki``, ``t_mem_ns``) and of failures to act out for tests:
``die_at_epoch`` (exit with ``exit_code`` during that epoch), ``hang_at_epoch`` (stop
answering), ``refuse_frequency_above_mhz``. A missing file is an error like Sniper's. DRAM
accesses go to controller 0 and, unless ``--stock`` (stock Sniper: per-controller counts
only) is given, are counted per bank (uniformly, remainders to the lowest banks) when
``-g perf_model/dram/bank_stats/banks=N`` is set, as comet's patched Sniper does.

Usage: ``python -m comet.perf.sniper.standin [--stock] <run-sniper arguments>``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

FS = 1e15


def _parse(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "n": 1, "d": ".", "g": {}, "s": [], "traces": [], "stock": False, "command": [],
    }  # fmt: skip
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            opts["command"] = argv[i + 1 :]
            break
        if a == "--stock":
            opts["stock"] = True
        elif a in ("-n", "-d", "-c", "-g", "-s"):
            i += 1
            value = argv[i]
            if a == "-n":
                opts["n"] = int(value)
            elif a == "-d":
                opts["d"] = value
            elif a == "-g":
                key, _, val = value.removeprefix("--").partition("=")
                opts["g"][key] = val
            elif a == "-s":
                opts["s"].append(value)
        elif a.startswith("--traces="):
            opts["traces"] = a.split("=", 1)[1].split(",")
        i += 1
    return opts


def _script_args(scripts: list[str]) -> dict[str, str]:
    for s in scripts:
        name, _, args = s.partition(":")
        if Path(name).name == "sniper_side.py":
            out = {}
            for item in args.split(","):
                key, _, value = item.partition("=")
                out[key] = value
            return out
    raise SystemExit("standin: no -s .../sniper_side.py:ARGS option")


class Thread:
    def __init__(self, tid: int, spec: dict[str, Any]) -> None:
        self.tid = tid
        self.left = float(spec.get("instructions", 1e7))
        self.ipc = float(spec.get("ipc", 1.0))
        self.mpki = float(spec.get("mpki", 0.0))
        self.t_mem = float(spec.get("t_mem_ns", 60.0)) * 1e-9
        self.spec = spec
        self.done = False


def main(argv: list[str] | None = None) -> int:
    opts = _parse(sys.argv[1:] if argv is None else argv)
    args = _script_args(opts["s"])
    n = opts["n"]
    out = Path(opts["d"])
    out.mkdir(parents=True, exist_ok=True)
    epoch_fs = int(args["epoch_fs"])
    dt = epoch_fs / FS
    n_banks = 0 if opts["stock"] else int(opts["g"].get("perf_model/dram/bank_stats/banks", 0))
    transition = float(opts["g"].get("dvfs/transition_latency", 0)) * 1e-9
    f_mhz = [round(float(opts["g"].get("perf_model/core/frequency", 2.66)) * 1000)] * n

    specs: list[dict[str, Any]] = []
    for t in opts["traces"] or (["<live>"] if opts["command"] else []):
        if t == "<live>":
            specs.append({})
            continue
        p = Path(t)
        if not p.is_file():
            print(f"[SIFT] Cannot open {t}", file=sys.stderr)
            return 1
        specs.append(json.loads(p.read_text() or "{}"))
    threads = [Thread(i, s) for i, s in enumerate(specs)]
    core_of = {t.tid: (t.tid if t.tid < n else -1) for t in threads}
    print(f"[SNIPER] Start (stand-in), {n} cores, {len(threads)} threads", flush=True)

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args["sock"])
    rfile = sock.makefile("rb")

    def send(msg: dict[str, Any]) -> None:
        sock.sendall((json.dumps(msg, separators=(",", ":")) + "\n").encode())

    def receive() -> dict[str, Any] | None:
        line = rfile.readline()
        return json.loads(line) if line else None

    def apply(reply: dict[str, Any], changed: list[bool]) -> bool:
        if reply.get("stop"):
            return False
        for c, mhz in enumerate(reply.get("freq_mhz") or []):
            mhz = int(mhz)
            if mhz != f_mhz[c]:
                for th in threads:
                    limit = th.spec.get("refuse_frequency_above_mhz")
                    if limit is not None and mhz > limit:
                        raise ValueError(f"frequency {mhz} MHz for core {c} above the maximum")
                print(f"[SNIPER] Setting frequency for core {c} to {mhz} MHz", flush=True)
                f_mhz[c] = mhz
                changed[c] = True
        for t, core in enumerate(reply.get("affinity") or []):
            if core >= 0 and t < len(threads):
                core_of[t] = int(core)
        return True

    send({
        "type": "hello", "ncores": n, "nthreads": len(threads), "time_fs": 0,
        "freq_mhz": list(f_mhz), "controllers": [0], "bank_counts": n_banks > 0,
        "cpi": ["cpiBase", "cpiDataCachedram", "cpiSyncDvfsTransition"], "pid": os.getpid(),
    })  # fmt: skip
    changed = [False] * n
    reply = receive()
    if reply is None or not apply(reply, changed):
        return 0
    epoch = 0
    freq_log: list[list[int]] = []
    while True:
        epoch += 1
        for th in threads:
            if th.spec.get("die_at_epoch") == epoch:
                print("[SNIPER] stand-in dies as its trace asks", file=sys.stderr, flush=True)
                return int(th.spec.get("exit_code", 3))
            if th.spec.get("hang_at_epoch") == epoch:
                time.sleep(3600)
        zeros = [0] * n
        cores: dict[str, list[int]] = {
            k: list(zeros)
            for k in ("instructions", "elapsed_fs", "idle_fs", "cpiBase", "cpiDataCachedram",
                      "cpiSyncDvfsTransition", "L3.load-misses", "L1-D.loads",
                      "branch_predictor.num-incorrect")
        }  # fmt: skip
        finished = []
        reads = writes = 0
        for c in range(n):
            cores["elapsed_fs"][c] = epoch_fs
            lost = transition if changed[c] else 0.0
            changed[c] = False
            on = [th for th in threads if core_of[th.tid] == c and not th.done]
            if not on:
                cores["idle_fs"][c] = epoch_fs
                continue
            th = on[0]
            f = f_mhz[c] * 1e6
            tau_core = 1.0 / (th.ipc * f)
            tau_mem = th.mpki / 1000.0 * th.t_mem
            avail = dt - lost
            instr = min(th.left, avail / (tau_core + tau_mem))
            th.left -= instr
            busy = instr * (tau_core + tau_mem)
            cores["instructions"][c] = round(instr)
            cores["cpiBase"][c] = round(instr * tau_core * FS)
            cores["cpiDataCachedram"][c] = round(instr * tau_mem * FS)
            cores["cpiSyncDvfsTransition"][c] = round(lost * FS)
            cores["idle_fs"][c] = round((avail - busy) * FS)
            cores["L1-D.loads"][c] = round(0.3 * instr)
            acc = round(th.mpki / 1000.0 * instr)
            cores["L3.load-misses"][c] = round(0.67 * acc)
            reads += round(0.67 * acc)
            writes += acc - round(0.67 * acc)
            if th.left <= 0.5:
                th.done = True
                t_fin = (epoch - 1) * epoch_fs + round((lost + busy) * FS)
                finished.append([th.tid, t_fin])
        bank = None
        if n_banks:
            bank = {
                k: [v // n_banks + (1 if b < v % n_banks else 0) for b in range(n_banks)]
                for k, v in (("reads", reads), ("writes", writes))
            }
        end = all(th.done for th in threads)
        freq_log.append(list(f_mhz))
        send({
            "type": "epoch", "time_fs": epoch * epoch_fs, "dt_fs": epoch_fs, "cores": cores,
            "dram": {"reads": [reads], "writes": [writes], "total-access-latency": [0]},
            "controllers": [0], "bank": bank, "finished": finished,
            "core_of_thread": [core_of[th.tid] for th in threads], "freq_mhz": list(f_mhz),
            "end": end, "t_read_s": 0.0, "t_wait_s": 0.0, "t_apply_s": 0.0,
        })  # fmt: skip
        if end:
            break
        reply = receive()
        if reply is None:
            print("[SNIPER] comet closed the connection", file=sys.stderr)
            return 1
        try:
            if not apply(reply, changed):
                break
        except ValueError as err:
            send({"type": "error", "message": f"ValueError: {err}"})
            return 1
    (out / "standin.stats.json").write_text(json.dumps({"epochs": epoch, "freq_mhz": freq_log}))
    print("[SNIPER] End", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
