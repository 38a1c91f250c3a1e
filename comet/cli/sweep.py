"""``comet sweep``: run the runs of a sweep file in parallel (local processes or Dask).

A progress bar (tqdm, stderr) counts runs done / failed / remaining with an ETA. Ctrl-C stops
cleanly: running runs end at an epoch boundary and are marked interrupted (exit status 130);
a second Ctrl-C kills the workers. Exit status 1 when a run failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from comet.cli.common import handle_errors


@click.command("sweep")
@click.argument("sweep_file", metavar="SWEEP.toml", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Sweep directory (default sweeps/<sweep file name>); an existing one is resumed.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes (default: the cores available).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Submit to a running Dask scheduler, e.g. tcp://host:8786, instead of local processes.",
)
@click.option("--retry-failed", is_flag=True, help="Also re-run the runs that failed.")
@click.option("--dry-run", is_flag=True, help="List the runs and which are done; run nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def sweep(
    sweep_file: str,
    out_dir: str | None,
    jobs: int | None,
    scheduler: str | None,
    retry_failed: bool,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Run every run of the sweep file SWEEP.toml into a sweep directory.

    A sweep file is a run config (inline, or base = "run.toml") plus [matrix] (every
    combination of value lists for dotted keys), optional [zip] (lists varied together) and
    repeat = N (seeds derived from the run's seed). Complete runs are skipped, so running the
    same command again resumes. Examples:

        comet sweep examples/policy-study.toml --jobs 2

        comet sweep study.toml --scheduler tcp://head-node:8786 -o /shared/study
    """
    from comet.sweep.plan import load_sweep
    from comet.sweep.runner import run_state, run_sweep

    if jobs is not None and scheduler is not None:
        raise click.UsageError("give --jobs or --scheduler, not both")
    plan = load_sweep(sweep_file)
    out = Path(out_dir) if out_dir else Path("sweeps") / plan.name
    if dry_run:
        todo = 0
        click.echo(f"{len(plan)} runs in {sweep_file} -> {out}")
        for r in plan.runs:
            state = run_state(out / "runs" / r.id)[0] if out.is_dir() else "pending"
            will = state in ("pending", "interrupted") or (state == "failed" and retry_failed)
            todo += will
            mark = "run " if will else "skip"
            click.echo(f"  {mark}  {r.id}  {state:<11}  seed={r.seed:<10}  {r.label()}")
        click.echo(f"{todo} to run, {len(plan) - todo} to skip")
        return
    try:
        result = run_sweep(
            plan, out, jobs=jobs, scheduler=scheduler, retry_failed=retry_failed, quiet=quiet
        )
    except KeyboardInterrupt:
        click.echo("comet: sweep killed; unfinished runs are re-run next time", err=True)
        sys.exit(130)
    n = len(plan)
    done, failed = result.count("complete"), result.count("failed")
    interrupted = result.count("interrupted")
    left = n - done - failed
    click.echo(
        f"{out}: {done}/{n} complete, {failed} failed, {left} not done"
        + (f" ({interrupted} interrupted)" if interrupted else "")
        + f"; {result.ran} submitted now"
    )
    for rid, err in list(result.errors.items())[:10]:
        click.echo(f"  failed {rid}: {err.splitlines()[0] if err else ''}")
    if result.interrupted:
        click.echo("comet: interrupted; run the same command to resume", err=True)
        sys.exit(130)
    if failed:
        click.echo(f"comet: {failed} run(s) failed; --retry-failed re-runs them", err=True)
        sys.exit(1)
    click.echo(f"next: comet report {out}")
