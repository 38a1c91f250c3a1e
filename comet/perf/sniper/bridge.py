"""``SniperPerformance``: Sniper as comet's performance back end, in lockstep per epoch.

comet listens on a Unix socket and starts ``run-sniper`` with its own script
(:mod:`comet.perf.sniper.sniper_side`, shipped in the package). Sniper runs an epoch, the
script sends the ended epoch's counters and blocks; comet maps them onto
:class:`~comet.perf.protocol.EpochCounters`, and its next :meth:`step` sends the frequencies
and thread placement of the following epoch, which unblocks Sniper::

    comet                                Sniper (script)
    step 1: launch, accept  <-- hello    (first barrier)
            reply(f, placement) -->      epoch 1 runs
            wait           <-- counters  (t = 1 epoch)
    step 2: reply(f, placement) -->      epoch 2 runs ...

Workloads: every job names a SIFT trace (``[[workload.jobs]] trace = "a.sift"``: a
multi-program run, ``--traces=a.sift,b.sift``, thread i = the i-th admitted job) or one job a
program (``command = ["./prog", "arg"]``: ``--sift --frontend=dr -- ./prog arg``). Sniper is
started at the first :meth:`step`, since every program must be on its command line: all jobs
must be admitted before the first epoch (arrival 0, one thread each).

Errors are one line (:class:`SniperError`): Sniper exiting (its exit code and the last lines
of its output), not answering within ``epoch_timeout`` s, refusing a frequency or a placement.
:meth:`close` asks a running Sniper to end its ROI (so it writes its statistics), then kills
its process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from comet.errors import InputError
from comet.perf.protocol import EpochCounters, EpochInputs, Finished, PerfSystem
from comet.perf.sniper.find import find_run_sniper
from comet.perf.sniper.wire import fill_counters, new_counters

if TYPE_CHECKING:
    from comet.perf.workloads import Job

__all__ = ["SniperError", "SniperPerformance", "sniper_side_script"]


class SniperError(InputError):
    """Sniper died, hung or refused a setting (one line, like bad input: the CLI prints it
    without a traceback)."""


def sniper_side_script() -> Path:
    """The Sniper-side script shipped with comet."""
    return Path(str(files("comet.perf.sniper").joinpath("sniper_side.py")))


def _tail(path: Path, lines: int = 4) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    keep = [ln.strip() for ln in text if ln.strip()][-lines:]
    return " | ".join(keep)


class SniperPerformance:
    """The ``sniper`` performance model.

    Args:
        sniper_root: Sniper's directory (else ``$COMET_SNIPER``, ``$SNIPER_ROOT``, PATH).
        config: Sniper configuration(s) for ``-c`` (default ``gainestown``, Sniper's Nehalem).
        options: extra Sniper settings ``{"dvfs/transition_latency": 2000, ...}`` (``-g``).
        launcher: a command that replaces ``run-sniper`` (it gets the same arguments), e.g. the
            stand-in ``[python, -m, comet.perf.sniper.standin]`` in tests.
        output_dir: Sniper's output directory (default: ``<run dir>/sniper``, else a temporary
            directory removed at close).
        epoch_timeout: seconds to wait for one epoch's record before Sniper counts as hung.
        start_timeout: seconds to wait for Sniper to connect at start.
        stall_activity: activity of a core stalled on DRAM relative to computing, for
            ``active_time`` (default 0.25, comet's ``cores.stall_activity`` default).
        sim_end: ``--sim-end`` of a multi-program run (``last``: run until every trace ends).
        stats_every: write Sniper's own statistics (``comet-<epoch>`` snapshots in its
            ``sim.stats.sqlite3``) every that many epochs; 0 = only Sniper's usual ones.
    """

    name = "sniper"

    def __init__(
        self,
        sniper_root: str | None = None,
        config: str | Sequence[str] = "gainestown",
        options: Mapping[str, Any] | None = None,
        launcher: Sequence[str] | None = None,
        output_dir: str | None = None,
        epoch_timeout: float = 600.0,
        start_timeout: float = 120.0,
        stall_activity: float = 0.25,
        sim_end: str = "last",
        stats_every: int = 0,
    ) -> None:
        if epoch_timeout <= 0 or start_timeout <= 0:
            raise InputError("perf.epoch_timeout / perf.start_timeout: must be positive")
        if not 0.0 <= stall_activity <= 1.0:
            raise InputError("perf.stall_activity: must lie in [0, 1]")
        if sim_end not in ("first", "last", "last-restart"):
            raise InputError(f"perf.sim_end: {sim_end!r} is not first, last or last-restart")
        self.sniper_root = sniper_root
        self.configs = [config] if isinstance(config, str) else list(config)
        self.options = dict(options or {})
        self.launcher = list(launcher) if launcher is not None else None
        self.output_dir_param = output_dir
        self.epoch_timeout = float(epoch_timeout)
        self.start_timeout = float(start_timeout)
        self.stall_activity = float(stall_activity)
        self.sim_end = sim_end
        if stats_every < 0:
            raise InputError("perf.stats_every: must be >= 0")
        self.stats_every = int(stats_every)
        self.counters: EpochCounters = EpochCounters.zeros(0, 0)
        self._system: PerfSystem | None = None
        self._jobs: list[Job] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._buf = b""
        self._sock_dir: str | None = None
        self._tmp_out = False
        self._log: Any = None
        self._ended = False
        self._closed = False
        self._blocked = False  # Sniper sent a record and waits for the reply
        self._epoch = 0
        self._epoch_start_s = 0.0
        self.output_dir: Path | None = None
        self.hello: dict[str, Any] = {}
        #: the last record Sniper sent (frequencies in force, placement it reports ...)
        self.last_record: dict[str, Any] = {}
        #: per-epoch timings (s): comet blocked waiting for Sniper, comet's exchange work,
        #: Sniper's counter reading, reply application and time blocked waiting for comet
        self.timing: dict[str, list[float]] = {
            k: [] for k in ("wait", "exchange", "sniper_read", "sniper_apply", "sniper_wait")
        }

    # ------------------------------------------------------------------ protocol
    def start(self, system: PerfSystem) -> None:
        """Allocate the counters, find Sniper, open the socket (Sniper starts at the first
        step, once the jobs are admitted)."""
        self._system = system
        self.counters = new_counters(system.n_cores, system.n_banks)
        self._command0 = self.launcher or [str(find_run_sniper(self.sniper_root))]
        if self.output_dir_param is not None:
            out = Path(self.output_dir_param)
            out = out if out.is_absolute() else system.base_dir / out
        elif system.run_dir is not None:
            out = Path(system.run_dir) / "sniper"
        else:
            out = Path(tempfile.mkdtemp(prefix="comet-sniper-"))
            self._tmp_out = True
        out.mkdir(parents=True, exist_ok=True)
        self.output_dir = out
        # Unix socket paths are limited to ~107 bytes: keep it short, in /tmp
        self._sock_dir = tempfile.mkdtemp(prefix="comet-sn-")
        self._sock_path = os.path.join(self._sock_dir, "s")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self._sock_path)
        self._listener.listen(1)

    def admit(self, job: Job) -> list[int]:
        """Thread id of the job (one thread: a single-threaded trace or program)."""
        where = f"workload job {job.name!r}"
        if self._proc is not None:
            raise InputError(
                f"{where} arrived at {job.arrival_s:g} s, after Sniper started",
                hint="with perf.model = 'sniper' every job arrives at time 0 (Sniper takes "
                "all its programs on its command line)",
            )
        trace = job.trace
        command = job.command
        if not trace and not command:
            raise InputError(
                f"{where}: the sniper model needs a trace or a command",
                hint="[[workload.jobs]] trace = 'prog.sift' or command = ['./prog']",
            )
        if job.n_threads != 1:
            raise InputError(f"{where}: threads = {job.n_threads}; Sniper jobs have one thread")
        if command and self._jobs or any(j.command for j in self._jobs):
            raise InputError(
                f"{where}: a live program (command) runs alone",
                hint="Sniper's DynamoRIO frontend simulates one program; use SIFT traces "
                "for a multi-program mix",
            )
        tid = len(self._jobs)
        self._jobs.append(job)
        return [tid]

    def step(self, inputs: EpochInputs) -> Sequence[Finished]:
        """Run one epoch in Sniper at ``inputs``' frequencies and placement."""
        if self._system is None:
            raise RuntimeError("SniperPerformance.step() before start()")
        if self._closed:
            raise RuntimeError("SniperPerformance.step() after close()")
        self._epoch += 1
        if self._ended:  # every program ended: idle epochs
            self._idle_counters()
            self._epoch_start_s += inputs.dt
            return []
        if self._proc is None:
            self._launch(inputs)
        t0 = time.perf_counter()
        reply = self._reply(inputs)
        self._send(reply)
        t1 = time.perf_counter()
        msg = self._receive(self.epoch_timeout, f"epoch {self._epoch}")
        t2 = time.perf_counter()
        finished = self._take(msg, inputs)
        t3 = time.perf_counter()
        self.timing["wait"].append(t2 - t1)
        self.timing["exchange"].append((t1 - t0) + (t3 - t2))
        self.timing["sniper_read"].append(float(msg.get("t_read_s", 0.0)))
        self.timing["sniper_apply"].append(float(msg.get("t_apply_s", 0.0)))
        self.timing["sniper_wait"].append(float(msg.get("t_wait_s", 0.0)))
        return finished

    def close(self) -> None:
        """Stop Sniper (end its ROI so it writes its statistics, then kill its process
        group), close the socket, remove temporary directories. Idempotent."""
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None and self._blocked:
            try:  # Sniper blocks on a reply: let it end cleanly
                self._send({"stop": True})
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            # children (frontends) that outlived the launcher
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for s in (self._conn, self._listener):
            if s is not None:
                s.close()
        if self._log is not None:
            self._log.close()
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
        if self.output_dir is not None and not self._tmp_out and self.timing["wait"]:
            self._write_timing()
        if self._tmp_out and self.output_dir is not None:
            shutil.rmtree(self.output_dir, ignore_errors=True)

    # ------------------------------------------------------------------ details
    @property
    def returncode(self) -> int | None:
        """Sniper's exit code once it has ended."""
        return None if self._proc is None else self._proc.poll()

    @property
    def timing_summary(self) -> dict[str, float]:
        """Median per-epoch timings (s) and the bridge's share of the wall time."""
        out: dict[str, float] = {"epochs": float(len(self.timing["wait"]))}
        for k, v in self.timing.items():
            out[f"{k}_median_s"] = float(np.median(v)) if v else 0.0
            out[f"{k}_mean_s"] = float(np.mean(v)) if v else 0.0
        wait = sum(self.timing["wait"])
        bridge = (
            sum(self.timing["exchange"])
            + sum(self.timing["sniper_read"])
            + sum(self.timing["sniper_apply"])
        )
        out["bridge_share"] = bridge / wait if wait > 0 else 0.0
        return out

    def _write_timing(self) -> None:
        assert self.output_dir is not None
        data = {"summary": self.timing_summary, "per_epoch": self.timing}
        path = self.output_dir / "bridge_timing.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)

    def _script_args(self) -> str:
        assert self._system is not None
        root = Path(self._command0[0]).resolve().parent if self.launcher is None else Path(".")
        epoch_fs = round(self._system.epoch_s * 1e15)
        banks = self._system.n_banks
        args = (
            f"sock={self._sock_path},epoch_fs={epoch_fs},root={root},banks={banks},"
            f"stats_every={self.stats_every}"
        )
        if any(ch in args for ch in " \t\n\"'"):
            raise InputError(
                f"Sniper's script arguments cannot hold spaces or quotes: {args}",
                hint="use a Sniper directory whose path has no spaces",
            )
        return args

    def command(self) -> list[str]:
        """The command line that starts Sniper (after the jobs are admitted)."""
        sys_ = self._system
        assert sys_ is not None and self.output_dir is not None
        script = sniper_side_script()
        cmd = [*self._command0, "-d", str(self.output_dir), "-n", str(sys_.n_cores)]
        for c in self.configs:
            cmd += ["-c", c]
        settings: dict[str, Any] = {
            "perf_model/core/frequency": f"{sys_.f_init_hz / 1e9:.6g}",
            "perf_model/dram/bank_stats/banks": sys_.n_banks,
        }
        settings.update(self.options)
        for k, v in settings.items():
            value = str(v).lower() if isinstance(v, bool) else str(v)
            cmd += ["-g", f"{k}={value}"]
        cmd += ["-s", f"{script}:{self._script_args()}"]
        live = [j for j in self._jobs if j.command]
        if live:
            prog = [str(a) for a in live[0].command or ()]
            cmd += ["--sift", "--frontend=dr", "--", *prog]
        else:
            traces = [self._trace_path(j) for j in self._jobs]
            cmd += [f"--traces={','.join(traces)}", f"--sim-end={self.sim_end}"]
        return cmd

    def _trace_path(self, job: Job) -> str:
        assert self._system is not None
        p = Path(str(job.trace))
        p = p if p.is_absolute() else self._system.base_dir / p
        if not p.is_file():
            raise InputError(f"workload job {job.name!r}: trace not found", path=p)
        if "," in str(p) or " " in str(p):
            raise InputError(f"workload job {job.name!r}: a trace path with ',' or ' '", path=p)
        return str(p)

    def _launch(self, inputs: EpochInputs) -> None:
        assert self._system is not None and self.output_dir is not None
        if not self._jobs:
            raise InputError("perf.model = 'sniper': no job admitted before the first epoch")
        cmd = self.command()
        self._log_path = self.output_dir / "sniper.log"
        (self.output_dir / "command.txt").write_text(" ".join(cmd) + "\n")
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.output_dir,
            start_new_session=True,  # its own process group: close() kills all of it
        )
        assert self._listener is not None
        deadline = time.monotonic() + self.start_timeout
        self._listener.settimeout(0.2)
        while True:
            try:
                self._conn, _ = self._listener.accept()
                break
            except TimeoutError:
                self._check_alive("while starting")
                if time.monotonic() > deadline:
                    raise SniperError(
                        f"Sniper did not connect within {self.start_timeout:g} s "
                        f"(perf.start_timeout); its output: {_tail(self._log_path)}",
                        path=self._log_path,
                    ) from None
        hello = self._receive(self.start_timeout, "start")
        if hello.get("type") != "hello":
            raise SniperError(f"Sniper's first record is not a hello: {str(hello)[:200]}")
        n = self._system.n_cores
        if int(hello.get("ncores", -1)) != n:
            raise SniperError(f"Sniper simulates {hello.get('ncores')} cores, comet {n}")
        self.hello = hello

    def _check_alive(self, when: str) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            raise SniperError(
                f"Sniper exited with code {proc.returncode} {when}; last output: "
                f"{_tail(self._log_path) or '(none)'}",
                path=self._log_path,
            )

    def _send(self, msg: Mapping[str, Any]) -> None:
        assert self._conn is not None
        self._blocked = False
        try:
            self._conn.sendall((json.dumps(msg, separators=(",", ":")) + "\n").encode())
        except OSError as err:
            self._wait_exit(2.0)
            self._check_alive(f"in epoch {self._epoch}")
            raise SniperError(f"sending to Sniper failed: {err}") from None

    def _wait_exit(self, seconds: float) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=seconds)

    def _receive(self, timeout: float, when: str) -> dict[str, Any]:
        """One JSON record, polling Sniper's liveness while waiting."""
        assert self._conn is not None
        deadline = time.monotonic() + timeout
        self._conn.settimeout(0.25)
        while b"\n" not in self._buf:
            try:
                chunk = self._conn.recv(1 << 16)
            except TimeoutError:
                self._check_alive(f"in {when}")
                if time.monotonic() > deadline:
                    raise SniperError(
                        f"Sniper did not answer in {when} within {timeout:g} s (hung? raise "
                        "perf.epoch_timeout for long epochs)",
                        path=self._log_path,
                    ) from None
                continue
            if not chunk:
                self._wait_exit(5.0)
                self._check_alive(f"in {when}")
                raise SniperError(f"Sniper closed the connection in {when}")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            raise SniperError(f"Sniper sent a record that is not JSON: {line[:200]!r}") from None
        if msg.get("type") == "error":
            self._wait_exit(5.0)
            raise SniperError(f"Sniper refused in {when}: {msg.get('message')}")
        self._blocked = not msg.get("end", False)
        return dict(msg)

    def _reply(self, inputs: EpochInputs) -> dict[str, Any]:
        freq = np.asarray(inputs.freq_hz, dtype=float)
        if np.any(freq <= 0):
            c = int(np.flatnonzero(freq <= 0)[0])
            raise SniperError(
                f"frequency {freq[c]:g} Hz for core {c}: Sniper reads 0 MHz as a broken core"
            )
        affinity = [-1] * len(self._jobs)
        for core, t in enumerate(np.asarray(inputs.thread_of_core).tolist()):
            if 0 <= t < len(affinity):
                affinity[t] = core
        self._last_thread_of_core = np.asarray(inputs.thread_of_core).copy()
        self._last_freq = freq.copy()
        return {"freq_mhz": [round(f / 1e6) for f in freq.tolist()], "affinity": affinity}

    def _take(self, msg: Mapping[str, Any], inputs: EpochInputs) -> list[Finished]:
        if msg.get("type") != "epoch":
            raise SniperError(f"unexpected record from Sniper: {str(msg)[:200]}")
        self.last_record = dict(msg)
        f_mhz = msg.get("freq_mhz")
        f_hz = np.asarray(f_mhz, dtype=float) * 1e6 if f_mhz else self._last_freq
        fill_counters(msg, self.counters, stall_activity=self.stall_activity, freq_hz=f_hz)
        dt = msg.get("dt_fs", 0) * 1e-15 or inputs.dt
        start_fs = float(msg.get("time_fs", 0)) - float(msg.get("dt_fs", 0))
        finished: list[Finished] = []
        placed = self._last_thread_of_core.tolist()
        for tid, t_fs in msg.get("finished") or ():
            tid = int(tid)
            if not 0 <= tid < len(self._jobs):
                continue
            core = placed.index(tid) if tid in placed else -1
            offset = min(max((float(t_fs) - start_fs) * 1e-15, 0.0), dt)
            finished.append((tid, core, offset))
        self._epoch_start_s += dt
        if msg.get("end"):
            self._ended = True
            self._wait_exit(30.0)
        return finished

    def _idle_counters(self) -> None:
        c = self.counters
        for arr in (c.instructions, c.compute_time, c.memory_time, c.sleep_time, c.lost_time,
                    c.active_time, c.reads, c.writes, c.bank_reads, c.bank_writes):  # fmt: skip
            arr.fill(0.0)
        for arr in (*c.cpi.values(), *c.events.values()):
            arr.fill(0.0)

    @property
    def placement(self) -> list[int]:
        """The core of each thread as Sniper reports it in the last record (-1: unknown)."""
        return [int(c) for c in self.last_record.get("core_of_thread", [])]

    @property
    def sniper_freq_hz(self) -> np.ndarray:
        """The frequency (Hz) of each core in Sniper at the end of the last epoch."""
        return np.asarray(self.last_record.get("freq_mhz", []), dtype=float) * 1e6
