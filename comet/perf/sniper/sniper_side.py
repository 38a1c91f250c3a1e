# mypy: ignore-errors
"""comet's script inside Sniper: one JSON record per epoch, in lockstep with comet.

Run by Sniper's embedded CPython (3.11, isolated: PYTHONPATH is ignored) as
``run-sniper ... -s <this file>:ARGS``; ``ARGS`` is ``key=value`` pairs joined by ``,`` (no
spaces; Sniper splits script options on spaces):

- ``sock``: path of comet's Unix socket (comet listens, this script connects);
- ``epoch_fs``: epoch length (fs);
- ``root``: Sniper's directory (``<root>/scripts`` holds the ``sim`` package);
- ``banks``: DRAM banks comet expects per-bank counts for (0 = do not look);
- ``stats_every``: write Sniper's statistics (``sim.stats.write("comet-<epoch>")``, into its
  ``sim.stats.sqlite3``) every that many epochs (0 = never), so that Sniper's own tools
  (``sniper_lib.get_results(partial=("comet-1", "comet-2"))``, ``mcpat.py --partial``) see
  each epoch.

Protocol (one JSON object per line, UTF-8):

1. at the first barrier: ``{"type": "hello", ...}``, then it blocks reading the reply;
2. at every epoch boundary (``k * epoch_fs``): ``{"type": "epoch", ...}`` with the ended
   epoch's counter deltas, then it blocks reading the reply;
3. at the simulation's end: a last ``{"type": "epoch", "end": true, ...}`` (no reply read).

A reply is ``{"freq_mhz": [per core], "affinity": [core per thread, -1 = leave]}`` (changes
only are applied) or ``{"stop": true}`` (end the ROI and abort the simulation). A problem
inside this script is sent as ``{"type": "error", "message": ...}`` before Sniper is told to
abort. ``sim.config.get`` aborts Sniper on a missing key, so nothing optional is read from
the configuration; stats are probed with ``sim.stats.getter``, which raises ValueError.

Only the standard library is used (this is not comet's interpreter).
"""

import json
import os
import socket
import sys
import time
import traceback

#: Sniper's HitWhere names (common/performance_model/hit_where.cc)
HIT_WHERE = (
    "L1I", "L1", "L2", "L3", "L4", "L1_S", "L2_S", "L3_S", "L4_S", "miss", "nuca-cache",
    "dram-cache", "dram", "dram-local", "dram-remote", "cache-remote", "unknown",
    "predicate-false", "prefetch-no-mapping",
)  # fmt: skip

#: per-core CPI components (time, fs): (stats object, metric)
CPI_METRICS = (
    [("interval_timer", m) for m in ("cpiBase", "cpiBranchPredictor", "cpiSerialization",
                                     "cpiLongLatency")]
    + [("interval_timer", "cpiInstructionCache" + w) for w in HIT_WHERE]
    + [("interval_timer", "cpiDataCache" + w) for w in HIT_WHERE]
    + [("performance_model", "cpiSync" + s) for s in (
        "Futex", "PthreadMutex", "PthreadCond", "PthreadBarrier", "Join", "Pause", "Sleep",
        "Syscall", "Unscheduled", "DvfsTransition", "MemAccess")]
    + [("performance_model", m) for m in ("cpiRecv", "cpiITLBMiss", "cpiDTLBMiss", "cpiUnknown")]
)  # fmt: skip

#: per-core event counts: (stats object, metric); the key sent is "object.metric"
EVENT_METRICS = (
    [("L1-D", m) for m in ("loads", "stores", "load-misses", "store-misses")]
    + [("L1-I", m) for m in ("loads", "load-misses")]
    + [("L2", m) for m in ("loads", "stores", "load-misses", "store-misses")]
    + [("L3", m) for m in ("loads", "stores", "load-misses", "store-misses")]
    + [(c, p + w) for c in ("L1-D", "L1-I") for p in ("loads-where-", "stores-where-")
       for w in ("dram", "dram-local", "dram-remote")]
    + [("branch_predictor", m) for m in ("num-correct", "num-incorrect")]
    + [("interval_timer", "uops_total")]
)  # fmt: skip


def parse_args(text):
    out = {}
    for item in (text or "").split(","):
        if item:
            key, _, value = item.partition("=")
            out[key] = value
    return out


ARGS = parse_args(sys.argv[1] if len(sys.argv) > 1 else "")
sys.path.insert(0, os.path.join(ARGS.get("root", ""), "scripts"))

import sim  # noqa: E402  (Sniper's scripting package, found through ARGS root)


def probe(obj, index, metric):
    """A stats getter, or None when the stat is not registered (does not abort Sniper)."""
    try:
        return sim.stats.getter(obj, index, metric)
    except ValueError:
        return None


class Bridge:
    def __init__(self, args):
        self.epoch_fs = int(args["epoch_fs"])
        self.sock_path = args["sock"]
        self.n_banks = int(args.get("banks", "0") or 0)
        self.stats_every = int(args.get("stats_every", "0") or 0)
        self.epoch = 0
        self.ncores = int(sim.config.get("general/total_cores"))
        self.sock = None
        self.rfile = None
        self.started = False
        self.ended = False
        self.next_fs = self.epoch_fs
        self.last_fs = 0
        self.finished = []
        self.core_of_thread = {}
        self.affinity = {}
        self.freq = [None] * self.ncores
        self.t_wait = 0.0
        self.t_apply = 0.0
        self._getters()
        sim.hooks.register(sim.hooks.HOOK_PERIODIC, self.periodic)
        sim.hooks.register(sim.hooks.HOOK_THREAD_EXIT, self.thread_exit)
        sim.hooks.register(sim.hooks.HOOK_THREAD_MIGRATE, self.thread_migrate)
        sim.hooks.register(sim.hooks.HOOK_SIM_END, self.sim_end)

    # ---- counters
    def _getters(self):
        n = self.ncores
        self.getters = {}  # name -> list of getters per core (None where missing)
        self.getters["instructions"] = [
            probe("performance_model", c, "instruction_count") for c in range(n)
        ]
        self.getters["elapsed_fs"] = [
            probe("performance_model", c, "elapsed_time") for c in range(n)
        ]
        self.getters["idle_fs"] = [
            probe("performance_model", c, "idle_elapsed_time") for c in range(n)
        ]
        for obj, metric in CPI_METRICS + EVENT_METRICS:
            gs = [probe(obj, c, metric) for c in range(n)]
            if any(g is not None for g in gs):
                key = (
                    metric
                    if obj in ("interval_timer", "performance_model") and metric.startswith("cpi")
                    else obj + "." + metric
                )
                self.getters[key] = gs
        # DRAM controllers: the cores that have one
        self.controllers = [c for c in range(n) if probe("dram", c, "reads") is not None]
        self.dram = {
            m: [probe("dram", c, m) for c in self.controllers]
            for m in ("reads", "writes", "total-access-latency")
        }
        self.bank = None
        if self.n_banks and self.controllers:
            first = probe("dram", self.controllers[0], "bank0-reads")
            if first is not None:
                self.bank = {
                    kind: [
                        [probe("dram", c, f"bank{b}-{kind}") for b in range(self.n_banks)]
                        for c in self.controllers
                    ]
                    for kind in ("reads", "writes")
                }
        self.last = None

    def _read(self):
        def value(g):
            return 0 if g is None else int(g())

        now = {k: [value(g) for g in gs] for k, gs in self.getters.items()}
        dram = {k: [value(g) for g in gs] for k, gs in self.dram.items()}
        bank = None
        if self.bank is not None:
            bank = {
                k: [sum(value(rows[b]) for rows in per) for b in range(self.n_banks)]
                for k, per in self.bank.items()
            }
        return now, dram, bank

    def _delta(self, now, last):
        return {k: [a - b for a, b in zip(v, last[k], strict=True)] for k, v in now.items()}

    def record(self, time_fs, end=False):
        t0 = time.perf_counter()
        now = self._read()
        last = self.last
        self.last = now
        cores = self._delta(now[0], last[0])
        dram = self._delta(now[1], last[1])
        bank = None if now[2] is None else self._delta(now[2], last[2])
        nthreads = sim.thread.get_nthreads()
        msg = {
            "type": "epoch",
            "time_fs": int(time_fs),
            "dt_fs": int(time_fs - self.last_fs),
            "cores": cores,
            "dram": dram,
            "controllers": self.controllers,
            "bank": bank,
            "finished": self.finished,
            "core_of_thread": [self.core_of_thread.get(t, -1) for t in range(nthreads)],
            "freq_mhz": [sim.dvfs.get_frequency(c) for c in range(self.ncores)],
            "end": end,
            "t_read_s": time.perf_counter() - t0,
            "t_wait_s": self.t_wait,
            "t_apply_s": self.t_apply,
        }
        self.finished = []
        self.last_fs = time_fs
        return msg

    # ---- socket
    def send(self, msg):
        self.sock.sendall((json.dumps(msg, separators=(",", ":")) + "\n").encode())

    def receive(self):
        t0 = time.perf_counter()
        line = self.rfile.readline()
        self.t_wait = time.perf_counter() - t0
        if not line:
            raise RuntimeError("comet closed the connection")
        return json.loads(line)

    def apply(self, reply):
        t0 = time.perf_counter()
        if reply.get("stop"):
            self.ended = True
            sim.control.set_roi(False)
            sim.control.abort()
            return
        for c, mhz in enumerate(reply.get("freq_mhz") or []):
            mhz = int(mhz)
            if mhz != self.freq[c]:
                if mhz <= 0:
                    raise ValueError(f"frequency {mhz} MHz for core {c} (0 marks a core broken)")
                sim.dvfs.set_frequency(c, mhz)
                self.freq[c] = mhz
        for t, core in enumerate(reply.get("affinity") or []):
            core = int(core)
            if core < 0 or self.affinity.get(t) == core:
                continue
            if t >= sim.thread.get_nthreads():
                continue  # not created yet: comet repeats the placement every epoch
            mask = [c == core for c in range(self.ncores)]
            if not sim.thread.set_thread_affinity(t, mask):
                raise ValueError(f"Sniper refused to place thread {t} on core {core}")
            self.affinity[t] = core
        self.t_apply = time.perf_counter() - t0

    def fail(self, err):
        self.ended = True
        try:
            line = "".join(traceback.format_exception_only(type(err), err)).strip()
            self.send({"type": "error", "message": line})
        except OSError:
            pass
        sim.control.abort()

    # ---- hooks
    def hello(self, time_fs):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.sock_path)
        self.rfile = self.sock.makefile("rb")
        self.last = self._read()
        self.last_fs = time_fs
        if self.stats_every:
            sim.stats.write("comet-0")
        self.send({
            "type": "hello",
            "ncores": self.ncores,
            "nthreads": sim.thread.get_nthreads(),
            "time_fs": int(time_fs),
            "freq_mhz": [sim.dvfs.get_frequency(c) for c in range(self.ncores)],
            "controllers": self.controllers,
            "bank_counts": self.bank is not None,
            "cpi": [k for k in self.getters if k.startswith("cpi")],
            "pid": os.getpid(),
        })  # fmt: skip
        self.freq = [sim.dvfs.get_frequency(c) for c in range(self.ncores)]

    def periodic(self, time_fs):
        if self.ended:
            return
        try:
            if not self.started:
                self.started = True
                self.hello(time_fs)
                self.apply(self.receive())
                return
            if time_fs < self.next_fs:
                return
            while self.next_fs <= time_fs:
                self.next_fs += self.epoch_fs
            self.epoch += 1
            msg = self.record(time_fs)
            if self.stats_every and self.epoch % self.stats_every == 0:
                sim.stats.write(f"comet-{self.epoch}")
            self.send(msg)
            self.apply(self.receive())
        except Exception as err:  # report, then let Sniper end
            self.fail(err)

    def thread_exit(self, thread_id, time_fs):
        self.finished.append([int(thread_id), int(time_fs)])

    def thread_migrate(self, thread_id, core_id, time_fs):
        self.core_of_thread[int(thread_id)] = int(core_id)

    def sim_end(self):
        if self.ended or not self.started:
            return
        self.ended = True
        try:
            self.send(self.record(sim.stats.time(), end=True))
            self.sock.close()
        except Exception:  # comet may be gone already
            pass


BRIDGE = Bridge(ARGS)
