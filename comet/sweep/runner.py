"""Run the runs of a :class:`~comet.sweep.plan.SweepPlan` on an executor, resumably.

The sweep directory::

    index.json            the plan and each run's state, rewritten atomically on every change
    runs/<id>/            one ordinary run directory per run (comet plot / view work on it);
                          its summary.json also holds run_id, comet_version and sweep (params)
    .sweep.lock           held (flock) by the comet sweep working on the directory

One executor interface (:class:`Executor`: ``submit`` returning a
:class:`concurrent.futures.Future`, ``is_lost``, ``recover``, ``close``) with two
implementations:

* :class:`LocalExecutor`: a :class:`concurrent.futures.ProcessPoolExecutor` of N ``spawn``
  processes. Chosen over dask's local schedulers because it starts in a fraction of a second
  (no scheduler, nanny or TCP), needs nothing outside the standard library, and reports a
  killed worker at once (``BrokenProcessPool``), after which the pool is rebuilt and the runs
  it was running are submitted again. The run whose worker died (its writer's process gone)
  is charged an attempt and is failed after ``max_attempts``; the runs the pool stopped with
  it (their workers alive, or their runs cleanly interrupted) are not charged.
* :class:`DaskExecutor`: a :class:`dask.distributed.Client` on a running scheduler
  (``--scheduler tcp://host:8786``), through the client's ``concurrent.futures`` executor.
  A lost Dask worker's task is rescheduled by the scheduler itself; after
  ``distributed.scheduler.allowed-failures`` lost workers it fails with ``KilledWorker`` and
  the run is marked failed. The sweep directory must be on a file system the workers see.

Each task is :func:`execute_run` (idempotent): it returns at once for a run that is already
complete, clears a half-written run directory, runs the simulation with one BLAS thread (N
single-threaded runs side by side, no oversubscription; the same numbers on every path), and
stamps the summary. A run that raises is closed ``failed`` with its error in summary.json and
never stops the others.

Stopping: Ctrl-C or SIGTERM asks every running run to end at its next epoch boundary (the
engine's ``Simulation.stop_requested``): the local workers get the terminal's SIGINT
themselves, and for every executor a stop file in the sweep directory is polled by a thread
next to each run. Runs not yet started are cancelled. Stopped runs are marked
``interrupted``; a second Ctrl-C kills the workers. Running the same command again skips the
complete runs and runs the others (``retry_failed`` re-runs failed ones too).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import fcntl
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from comet import __version__
from comet.errors import InputError
from comet.signals import handling
from comet.sweep.plan import PlannedRun, SweepPlan

__all__ = [
    "INDEX_FILE",
    "RUNS_DIR",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "SweepResult",
    "execute_run",
    "run_state",
    "run_sweep",
    "sweep_states",
]

INDEX_FILE = "index.json"
RUNS_DIR = "runs"
LOCK_FILE = ".sweep.lock"
#: index format version
INDEX_FORMAT = 1
#: statuses of a run in a sweep: from its summary.json, or pending (no summary yet)
STATES = ("pending", "queued", "complete", "failed", "interrupted")


# =============================================================================================
# run state on disk


def run_state(path: Path) -> tuple[str, dict[str, Any] | None]:
    """``(state, summary)`` of a sweep run directory: ``complete``, ``failed`` or
    ``interrupted`` from its summary.json, else ``pending`` (absent, killed, unreadable)."""
    p = path / "summary.json"
    try:
        summary = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "pending", None
    status = summary.get("status") if isinstance(summary, dict) else None
    if status in ("complete", "failed", "interrupted"):
        return str(status), summary
    return "pending", None


def sweep_states(plan: SweepPlan, out_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Run id -> state (see :func:`run_state`) of every run of ``plan`` in ``out_dir``."""
    out = Path(out_dir)
    return {r.id: run_state(out / RUNS_DIR / r.id)[0] for r in plan.runs}


def _stamp_keys(task: dict[str, Any]) -> dict[str, Any]:
    """The run id, comet's version and the sweep parameters, for a run's summary.json."""
    return {
        "run_id": task["id"],
        "comet_version": __version__,
        "sweep": {"params": task["params"], "repeat": task["repeat"], "seed": task["seed"]},
    }


def _stamp(summary_path: Path, task: dict[str, Any]) -> None:
    """Add :func:`_stamp_keys` to a summary.json written without them (a failed build, or an
    engine summary of a run killed before this module's version of it)."""
    from comet.sim.results import write_atomic

    data = json.loads(summary_path.read_text(encoding="utf-8"))
    if all(data.get(k) == v for k, v in _stamp_keys(task).items()):
        return
    data.update(_stamp_keys(task))
    write_atomic(summary_path, json.dumps(data, indent=1))


def _write_failed(path: Path, task: dict[str, Any], error: str) -> None:
    """A summary.json with status failed for a run that never got one from the engine."""
    from comet.sim.results import write_atomic

    path.mkdir(parents=True, exist_ok=True)
    summary = {
        "status": "failed",
        "name": task["config"].get("name", task["id"]),
        "error": error,
        "instructions": None,
        "makespan_s": None,
    }
    write_atomic(path / "summary.json", json.dumps(summary, indent=1))
    _stamp(path / "summary.json", task)
    with contextlib.suppress(OSError):
        (path / ".running").unlink()


# =============================================================================================
# the task (runs in a worker)


class _WorkerState:
    """The worker process's current simulation, for its signal handler."""

    sim: Any = None
    stop = False


def _on_signal(signum: int, frame: Any) -> None:
    _WorkerState.stop = True
    if _WorkerState.sim is not None:
        _WorkerState.sim.stop_requested = True


def _init_local_worker() -> None:
    """Initializer of the local pool's processes: SIGINT/SIGTERM end the current run at its
    next epoch boundary (the terminal sends Ctrl-C to the whole process group)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _watch_stop_file(stop_file: str, sim: Any, done: threading.Event) -> None:
    while not done.wait(0.2):
        if os.path.exists(stop_file):
            sim.stop_requested = True
            return


def execute_run(task: dict[str, Any]) -> dict[str, Any]:
    """Run one sweep run (in a worker); idempotent.

    ``task``: ``id``, ``config`` (resolved dict), ``base_dir``, ``dir`` (run directory),
    ``stop_file``, ``params``, ``repeat``, ``seed``. Returns ``{"id", "status", "error",
    "wall_s", "host", "pid"}`` with status ``complete``, ``failed``, ``interrupted`` or
    ``skipped`` (the sweep was stopping before the run started).
    """
    t0 = time.perf_counter()
    out = {"id": task["id"], "host": socket.gethostname(), "pid": os.getpid(), "error": None}
    path = Path(task["dir"])
    stop_file = str(task.get("stop_file") or "")
    state, summary = run_state(path)
    if state == "complete":  # e.g. rescheduled after its worker died right after finishing
        return out | {"status": "complete", "wall_s": 0.0}
    if _WorkerState.stop or (stop_file and os.path.exists(stop_file)):
        return out | {"status": "skipped", "wall_s": 0.0}
    if path.exists():  # a half-written, interrupted or failed earlier attempt
        shutil.rmtree(path)
    from threadpoolctl import threadpool_limits

    from comet.config import config_from_dict
    from comet.sim.engine import Simulation

    status, error = "complete", None
    done = threading.Event()
    try:
        with threadpool_limits(1):
            try:
                cfg = config_from_dict(task["config"])
                cfg._base_dir = Path(task["base_dir"])
                sim = Simulation(cfg)
                sim.build()
                _WorkerState.sim = sim
                if _WorkerState.stop or (stop_file and os.path.exists(stop_file)):
                    return out | {"status": "skipped", "wall_s": time.perf_counter() - t0}
                if stop_file:
                    threading.Thread(
                        target=_watch_stop_file, args=(stop_file, sim, done), daemon=True
                    ).start()
                sim.run(path, summary_extra=_stamp_keys(task))  # one atomic summary
            except KeyboardInterrupt:
                status, error = "interrupted", "interrupted"
            except Exception as err:
                status, error = "failed", f"{type(err).__name__}: {err}"
                if not (path / "summary.json").exists():
                    _write_failed(path, task, error + "\n" + traceback.format_exc(limit=8))
    finally:
        done.set()
        _WorkerState.sim = None
    summary_path = path / "summary.json"
    if summary_path.exists():
        _stamp(summary_path, task)
    elif status != "complete":  # interrupted before the run directory was written
        with contextlib.suppress(OSError):
            shutil.rmtree(path)
        status = "skipped"
    return out | {"status": status, "error": error, "wall_s": time.perf_counter() - t0}


# =============================================================================================
# executors


class Executor(Protocol):
    """What :func:`run_sweep` needs of an executor."""

    name: str
    #: incremented by :meth:`recover`; futures of an older generation are stale
    generation: int

    def submit(self, task: dict[str, Any]) -> cf.Future[dict[str, Any]]: ...

    def is_lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` (from a future) means the worker died, not the run."""
        ...

    def can_resubmit(self) -> bool:
        """Whether a lost run should be submitted again (else it is marked failed)."""
        ...

    def recover(self) -> None:
        """Make the executor usable again after a lost worker."""
        ...

    def close(self, kill: bool = False) -> None: ...


def default_jobs() -> int:
    """Cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class LocalExecutor:
    """N worker processes on this machine (``concurrent.futures`` with ``spawn``)."""

    name = "local"

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs or default_jobs()
        self.generation = 0
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_local_worker,
        )

    def submit(self, task: dict[str, Any]) -> cf.Future[dict[str, Any]]:
        return self._pool.submit(execute_run, task)

    def is_lost(self, exc: BaseException) -> bool:
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)

    def can_resubmit(self) -> bool:
        return True

    def recover(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()
        self.generation += 1

    def close(self, kill: bool = False) -> None:
        if kill:
            # concurrent.futures has no public way to end its processes
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    proc.kill()
        self._pool.shutdown(wait=not kill, cancel_futures=True)


class DaskExecutor:
    """Tasks on a dask.distributed scheduler (an address, or a given ``Client``)."""

    name = "dask"

    def __init__(self, scheduler: str | Any, timeout: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - the dask extra is missing
            raise InputError(
                "--scheduler needs dask.distributed", hint='pip install "comet[dask]"'
            ) from None
        self.generation = 0
        if isinstance(scheduler, str):
            try:
                self.client = Client(scheduler, timeout=timeout)
            except OSError as err:
                raise InputError(
                    f"--scheduler {scheduler}: cannot reach a Dask scheduler ({err})",
                    hint="start one with: dask scheduler  (and workers: dask worker ADDRESS)",
                ) from None
            self._own = True
        else:
            self.client = scheduler
            self._own = False
        self._executor = self.client.get_executor(pure=False)

    def submit(self, task: dict[str, Any]) -> cf.Future[dict[str, Any]]:
        future: cf.Future[dict[str, Any]] = self._executor.submit(execute_run, task)
        return future

    def is_lost(self, exc: BaseException) -> bool:
        from distributed import KilledWorker

        return isinstance(exc, KilledWorker)

    def can_resubmit(self) -> bool:
        return False  # the scheduler already rescheduled it allowed-failures times

    def recover(self) -> None:
        pass

    def close(self, kill: bool = False) -> None:
        with contextlib.suppress(Exception):
            self._executor.shutdown(wait=False)
        if self._own:
            with contextlib.suppress(Exception):
                self.client.close()


# =============================================================================================
# the index


class _Index:
    """``index.json``: the plan and each run's state (written atomically)."""

    def __init__(self, out: Path, plan: SweepPlan, states: dict[str, str]) -> None:
        self.out = out
        self.plan = plan
        self.entries: dict[str, dict[str, Any]] = {}
        self._last = -math.inf
        old = _read_index(out)
        old_entries = {e.get("id"): e for e in old.get("runs", []) if isinstance(e, dict)}
        for r in plan.runs:
            prev = old_entries.get(r.id, {})
            self.entries[r.id] = {
                "id": r.id,
                "index": r.index,
                "dir": f"{RUNS_DIR}/{r.id}",
                "params": r.params,
                "repeat": r.repeat,
                "seed": r.seed,
                "status": states[r.id],
                "attempts": int(prev.get("attempts", 0)),
                "error": prev.get("error") if states[r.id] == "failed" else None,
            }

    #: least time between two writes while runs finish (s); the last write is always made
    MIN_INTERVAL = 0.5

    def set(self, rid: str, **values: Any) -> None:
        self.entries[rid].update(values)

    def write(self, force: bool = True) -> None:
        """Rewrite index.json (atomically); ``force=False`` skips it within MIN_INTERVAL of the
        last write (a sweep of thousands of short runs would rewrite it for every run)."""
        from comet.sim.results import write_atomic

        now = time.monotonic()
        if not force and now - self._last < self.MIN_INTERVAL:
            return
        self._last = now

        data = {
            "format": INDEX_FORMAT,
            "comet_version": __version__,
            "name": self.plan.name,
            "sweep_file": str(self.plan.path) if self.plan.path else None,
            "sweep_text": self.plan.text,
            "varied": self.plan.varied,
            "repeat": self.plan.repeat,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": self.counts(),
            "runs": list(self.entries.values()),
        }
        write_atomic(self.out / INDEX_FILE, json.dumps(data, indent=1, default=str))

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for e in self.entries.values():
            out[e["status"]] = out.get(e["status"], 0) + 1
        return out


def _read_index(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    fh = open(out / LOCK_FILE, "a+")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                "another comet sweep is working in this directory",
                path=out,
                hint="wait for it, or stop it (Ctrl-C) and start again",
            ) from None
        yield
    finally:
        fh.close()


def _check_out_dir(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError("exists and is not a directory", path=out)
    if any(out.iterdir()) and not (out / INDEX_FILE).exists() and not (out / RUNS_DIR).is_dir():
        raise InputError(
            "directory exists and is not a sweep directory (no index.json)",
            path=out,
            hint="choose a new or empty directory with -o",
        )


# =============================================================================================
# the driver


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
        out_dir: the sweep directory.
        states: run id -> state after the sweep.
        errors: run id -> error of the failed runs.
        ran: runs submitted in this invocation.
        interrupted: the sweep was stopped (Ctrl-C, SIGTERM).
    """

    out_dir: Path
    states: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    ran: int = 0
    interrupted: bool = False

    def count(self, state: str) -> int:
        return sum(1 for s in self.states.values() if s == state)


class _Stop:
    """Set by SIGINT/SIGTERM in the driver; a second SIGINT raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = False
        self.signals = 0

    def handler(self, signum: int, frame: Any) -> None:
        self.signals += 1
        if self.requested and signum == signal.SIGINT and self.signals > 1:
            raise KeyboardInterrupt
        self.requested = True


class _Bar:
    """tqdm bar over the runs to do, with done / failed / remaining in its postfix."""

    def __init__(self, total: int, desc: str, quiet: bool, initial_done: int) -> None:
        self.bar: Any = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="run", file=sys.stderr, dynamic_ncols=True)
        self.total = total
        self.counts = {"complete": 0, "failed": 0, "interrupted": 0}
        self.skipped_done = initial_done
        self._post()

    def _post(self) -> None:
        if self.bar is None:
            return
        c = self.counts
        left = self.total - c["complete"] - c["failed"] - c["interrupted"]
        text = f"done={c['complete']} failed={c['failed']} left={left}"
        if c["interrupted"]:
            text += f" interrupted={c['interrupted']}"
        if self.skipped_done:
            text += f" (+{self.skipped_done} skipped)"
        self.bar.set_postfix_str(text, refresh=False)

    def update(self, state: str) -> None:
        if state in self.counts:
            self.counts[state] += 1
        self._post()
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sweep(
    plan: SweepPlan,
    out_dir: str | os.PathLike[str],
    *,
    jobs: int | None = None,
    scheduler: str | Any | None = None,
    retry_failed: bool = False,
    quiet: bool = False,
    max_attempts: int = 3,
    executor: Executor | None = None,
) -> SweepResult:
    """Run the runs of ``plan`` that are not complete into ``out_dir``.

    Args:
        plan: from :func:`comet.sweep.plan.load_sweep`.
        out_dir: the sweep directory (created; an existing one is resumed).
        jobs: local worker processes (default: the cores available).
        scheduler: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``.
        retry_failed: also re-run failed runs.
        quiet: no progress bar.
        max_attempts: times a run whose local worker died is tried before it is failed.
        executor: an :class:`Executor` to use instead of one made from jobs/scheduler.

    The local pool starts its workers with ``spawn``: a script that calls this must guard its
    top level with ``if __name__ == "__main__":`` (as for any multiprocessing code).

    Raises:
        InputError: the directory is not a sweep directory, or another sweep holds it.
        KeyboardInterrupt: a second Ctrl-C (the workers are killed; the runs they were
            running are re-run next time).
    """
    out = Path(out_dir)
    _check_out_dir(out)
    (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    with _locked(out):
        for stale in out.glob(".stop-*"):  # left by a sweep killed while stopping
            with contextlib.suppress(OSError):
                stale.unlink()
        states = sweep_states(plan, out)
        for r in plan.runs:  # a summary written before it was stamped (killed in between)
            if states[r.id] == "complete":
                s = run_state(out / RUNS_DIR / r.id)[1] or {}
                if s.get("run_id") != r.id:
                    _stamp(out / RUNS_DIR / r.id / "summary.json", _task(plan, r, out, ""))
        index = _Index(out, plan, states)
        todo = [
            r
            for r in plan.runs
            if states[r.id] in ("pending", "interrupted")
            or (states[r.id] == "failed" and retry_failed)
        ]
        index.write()
        result = SweepResult(out, dict(states))
        if not todo:
            return result
        stop_file = out / f".stop-{uuid.uuid4().hex}"
        stop = _Stop()
        own = executor is None
        ex: Executor
        if executor is not None:
            ex = executor
        elif scheduler is not None:
            ex = DaskExecutor(scheduler)
        else:
            ex = LocalExecutor(jobs)
        bar = _Bar(len(todo), f"sweep {plan.name}", quiet, len(plan.runs) - len(todo))
        inflight: dict[cf.Future[dict[str, Any]], tuple[PlannedRun, int]] = {}
        attempts: dict[str, int] = {}

        def submit(run: PlannedRun) -> None:
            task = _task(plan, run, out, str(stop_file))
            inflight[ex.submit(task)] = (run, ex.generation)
            index.set(run.id, status="queued")

        def finish(run: PlannedRun, state: str, error: str | None) -> None:
            result.states[run.id] = state
            if error and state == "failed":
                result.errors[run.id] = error
            index.set(run.id, status=state, error=error if state == "failed" else None)
            index.write(force=False)
            bar.update(state)

        killed = False
        try:
            with handling(stop.handler):
                for run in todo:
                    submit(run)
                result.ran = len(todo)
                index.write()
                announced = False
                while inflight:
                    done, _ = cf.wait(list(inflight), timeout=0.25, return_when="FIRST_COMPLETED")
                    if stop.requested and not announced:
                        announced = True
                        result.interrupted = True
                        stop_file.touch()
                        for f in list(inflight):
                            f.cancel()
                    for f in done:
                        run, generation = inflight.pop(f)
                        if f.cancelled():
                            index.set(run.id, status=states[run.id])
                            continue
                        exc = f.exception()
                        if exc is None:
                            outcome = f.result()
                            state = outcome["status"]
                            if state == "skipped":
                                index.set(run.id, status=states[run.id])
                                continue
                            finish(run, state, outcome.get("error"))
                        elif ex.is_lost(exc):
                            path = out / RUNS_DIR / run.id
                            lost_state = run_state(path)[0] if path.exists() else "pending"
                            if lost_state == "complete":
                                finish(run, "complete", None)
                                continue
                            # charge an attempt to the run whose worker died, not to the
                            # bystanders the pool stopped with it (see _died_with_worker)
                            if path.exists() and _died_with_worker(path):
                                attempts[run.id] = attempts.get(run.id, 0) + 1
                                index.set(
                                    run.id,
                                    attempts=index.entries[run.id]["attempts"] + 1,
                                )
                            n = attempts.get(run.id, 0)
                            if stop.requested:
                                index.set(run.id, status="pending")
                                continue
                            if ex.can_resubmit() and n < max_attempts:
                                if generation == ex.generation:
                                    ex.recover()
                                submit(run)
                                index.write()
                                continue
                            error = (
                                f"worker lost {max(n, 1)} time(s) while running it "
                                f"(killed process or lost Dask worker): {type(exc).__name__}"
                            )
                            _write_failed(path, _task(plan, run, out, ""), error)
                            finish(run, "failed", error)
                        else:
                            error = f"{type(exc).__name__}: {exc}"
                            path = out / RUNS_DIR / run.id
                            if run_state(path)[0] == "pending":
                                _write_failed(path, _task(plan, run, out, ""), error)
                            finish(run, "failed", error)
        except KeyboardInterrupt:
            killed = True
            for run, _ in inflight.values():
                index.set(run.id, status="interrupted")
            index.write()
            raise
        finally:
            bar.close()
            if own:
                ex.close(kill=killed)
            with contextlib.suppress(OSError):
                stop_file.unlink()
            for rid, state in sweep_states(plan, out).items():
                result.states[rid] = state
                if index.entries[rid]["status"] == "queued":
                    index.set(rid, status=state)
            index.write()
        return result


def _died_with_worker(path: Path, patience: float = 10.0) -> bool:
    """Whether the run in ``path`` died with its worker (a lost-worker error arrived for it),
    rather than being stopped by the pool as a bystander.

    A bystander's worker gets SIGTERM from the pool and closes its run as ``interrupted`` at
    the next epoch boundary; the run of the worker that died keeps no summary and its writer's
    process is gone. A worker still exiting can look alive for a moment (its pipes close before
    it becomes a zombie), so this waits up to ``patience`` seconds for one of the two.
    """
    end = time.monotonic() + patience
    while True:
        if run_state(path)[0] != "pending":
            return False
        if not _writer_alive(path):
            return run_state(path)[0] == "pending"
        if time.monotonic() > end:
            return False
        time.sleep(0.05)


def _writer_alive(path: Path) -> bool:
    """Whether the process named in a run directory's ``.running`` mark (written by the
    engine's RunWriter) is alive on this host."""
    try:
        info = json.loads((path / ".running").read_text(encoding="utf-8"))
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if info.get("host") != socket.gethostname():
        return False
    try:  # Linux: a killed worker not yet reaped by the pool is a zombie, not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _task(plan: SweepPlan, run: PlannedRun, out: Path, stop_file: str) -> dict[str, Any]:
    return {
        "id": run.id,
        "config": run.config,
        "base_dir": run.base_dir,
        "dir": str((out / RUNS_DIR / run.id).resolve()),
        "stop_file": str(Path(stop_file).resolve()) if stop_file else "",
        "params": run.params,
        "repeat": run.repeat,
        "seed": run.seed,
    }
