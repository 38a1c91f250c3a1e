"""The job queue of a run: arrivals, jobs waiting for cores, running jobs, finished jobs.

Jobs arrive at their arrival times (fixed, or an open system), wait until a mapping policy
maps them to free cores (:meth:`comet.sim.actuators.Actuators.map_job`), run as threads of the
performance model, and finish when their last thread does. Response time = finish - arrival.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from comet.perf.workloads import Job

__all__ = ["JobQueue"]

EventSink = Callable[..., None]


class JobQueue:
    """The run's jobs, in arrival order, and where each one is."""

    def __init__(self, jobs: Sequence[Job], event: EventSink) -> None:
        self.jobs: list[Job] = list(jobs)
        self.waiting: list[Job] = []
        self.next_job = 0
        self.remaining_threads: dict[int, int] = {}
        self._event = event

    def arrivals(self, now: float) -> None:
        """Jobs arriving by ``now`` (s) join the waiting list."""
        while self.next_job < len(self.jobs) and self.jobs[self.next_job].arrival_s <= (
            now + 1e-12
        ):
            job = self.jobs[self.next_job]
            self.waiting.append(job)
            self._event("arrival", job.name, job.n_threads, job.profile)
            self.next_job += 1

    def waiting_job(self, job_id: int) -> Job:
        job = next((j for j in self.waiting if j.id == job_id), None)
        if job is None:
            raise ValueError(f"job {job_id} is not waiting")
        return job

    def started(self, job: Job, n_threads: int, now: float) -> None:
        """``job`` left the waiting list with ``n_threads`` threads at ``now`` (s)."""
        self.remaining_threads[job.id] = n_threads
        job.start_s = now
        self.waiting.remove(job)

    def thread_finished(self, job_id: int, t_s: float) -> None:
        """A thread of ``job_id`` finished at ``t_s`` (s); the job finishes with its last."""
        self.remaining_threads[job_id] -= 1
        if self.remaining_threads[job_id] == 0:
            job = self.jobs[job_id]
            job.finish_s = t_s
            self._event("finish", job.name, round(job.response_s or 0.0, 9), f"{job.profile} done")

    def all_done(self) -> bool:
        """Every job arrived and finished."""
        return (
            self.next_job >= len(self.jobs)
            and not self.waiting
            and all(j.finish_s is not None for j in self.jobs)
        )

    def summary(self) -> dict[str, Any]:
        """``jobs`` and ``makespan_s`` of the run summary."""
        done = [j for j in self.jobs if j.finish_s is not None]
        resp = [j.response_s for j in done if j.response_s is not None]
        makespan = None
        if done and len(done) == len(self.jobs):
            makespan = max(j.finish_s or 0.0 for j in done) - min(j.arrival_s for j in self.jobs)
        return {
            "makespan_s": makespan,
            "jobs": {
                "total": len(self.jobs),
                "arrived": self.next_job,
                "completed": len(done),
                "mean_response_s": float(np.mean(resp)) if resp else None,
                "max_response_s": float(np.max(resp)) if resp else None,
            },
        }
