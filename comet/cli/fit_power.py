"""``comet fit-power``: fit the per-event core power table of ``[power] core = "fitted"`` from
McPAT runs (offline: McPAT takes ~27 s per call)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import click

from comet.cli.common import handle_errors
from comet.config import parse_quantity
from comet.errors import InputError

DEFAULT_EVENTS = "instructions,cycles,l1d_accesses,l2_accesses"


@click.command("fit-power")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    required=True,
    help="The table to write (TOML).",
)
@click.option(
    "--sniper",
    "sniper_root",
    type=click.Path(),
    default=None,
    help="Sniper's directory (else $COMET_SNIPER, $SNIPER_ROOT, PATH).",
)
@click.option(
    "--mcpat",
    "mcpat_bin",
    type=click.Path(dir_okay=False),
    envvar="COMET_MCPAT",
    required=True,
    help="The McPAT binary ($COMET_MCPAT).",
)
@click.option(
    "--trace",
    "traces",
    multiple=True,
    help="A SIFT trace of the mix to run (one core each); repeat.",
)
@click.option("--freq", "freqs", multiple=True, help="An operating point (e.g. 2GHz); repeat.")
@click.option(
    "--duration", default="2ms", show_default=True, help="Simulated time of each Sniper run."
)
@click.option(
    "--intervals",
    default=1,
    show_default=True,
    type=click.IntRange(1, 100),
    help="McPAT samples per Sniper run (its statistics every duration/N).",
)
@click.option(
    "--idle-cores",
    default=1,
    show_default=True,
    type=click.IntRange(0, 64),
    help="Cores without a thread in each run (samples of power without events).",
)
@click.option(
    "--results",
    "results_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="An existing fixed-frequency Sniper results directory; repeat.",
)
@click.option("--config", default="gainestown", show_default=True, help="Sniper configuration.")
@click.option("--f-max", default="4GHz", show_default=True, help="f_max of V(f).")
@click.option("--v0", default=0.6, show_default=True, help="V(f) = v0 + slope f / f_max (CoMeT).")
@click.option("--slope", default=0.8, show_default=True)
@click.option(
    "--events",
    default=DEFAULT_EVENTS,
    show_default=True,
    help="Events of the model (comma separated; a+b sums two).",
)
@click.option(
    "--work",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the Sniper runs go (default: next to the output).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@handle_errors
def fit_power(
    output,
    sniper_root,
    mcpat_bin,
    traces,
    freqs,
    duration,
    intervals,
    idle_cores,
    results_dirs,
    config,
    f_max,
    v0,
    slope,
    events,
    work,
    force,
) -> None:  # fmt: skip
    """Run Sniper at each --freq on the --trace mix (and/or take --results directories), run
    McPAT on each run (power gating off), fit P_dyn = c0 + sum_e k_e rate_e per operating
    point by non-negative least squares, and write the table with its provenance."""
    from comet.config import parse_duration
    from comet.perf.sniper.find import find_run_sniper
    from comet.power.fitted import fit_table, write_table
    from comet.power.mcpat import interval_markers, mcpat_samples, run_sniper_point
    from comet.power.vf import linear_voltage

    out = Path(output)
    if out.exists() and not force:
        raise InputError("output exists", path=out, hint="give --force to overwrite it")
    if not traces and not results_dirs:
        raise InputError("give --trace (with --freq) or --results directories")
    if traces and not freqs:
        raise InputError("--trace needs at least one --freq")
    run_sniper = find_run_sniper(sniper_root)
    fmax = parse_quantity(f_max, "frequency")
    work_dir = Path(work) if work else out.with_suffix(".runs")
    dirs: list[tuple[Path, float | None, str | None]] = [
        (Path(d), None, None) for d in results_dirs
    ]
    dur = parse_duration(duration)
    interval = dur / intervals if intervals > 1 else None
    for fq in freqs:
        f = parse_quantity(fq, "frequency")
        v = float(linear_voltage(f, fmax, v0, slope))
        click.echo(f"sniper: {f / 1e9:g} GHz, {v:.3f} V, {len(traces)} traces", err=True)
        d = run_sniper_point(
            run_sniper, work_dir / f"f{round(f / 1e6)}MHz", list(traces), f, v, dur, config,
            interval_s=interval, idle_cores=idle_cores,
        )  # fmt: skip
        if interval is None:
            dirs.append((d, v, None))
        else:
            dirs += [(d, v, part) for part in interval_markers(dur, interval)]
    samples = []
    for k, (d, vd, part) in enumerate(dirs):
        click.echo(f"mcpat: {d} {part or ''}", err=True)
        s, _ = mcpat_samples(
            d, run_sniper.parent, mcpat_bin, voltage=vd, partial=part,
            out_prefix=d / f"comet-mcpat-{k}",
        )  # fmt: skip
        samples += s
    names = [e.strip() for e in events.split(",") if e.strip()]
    meta = {
        "source": "McPAT (HewlettPackard/mcpat) through Sniper's tools/mcpat.py, power gating "
        "off; P_dyn = Runtime Dynamic of the core + its private L2",
        "fitted_by": "comet fit-power (non-negative least squares)",
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sniper_config": config,
        "mcpat": str(mcpat_bin),
        "traces": [Path(t).name for t in traces],
        "results": sorted({str(d) for d, _, _ in dirs}),
        "intervals_per_run": intervals,
        "idle_cores": idle_cores,
        "duration_s": dur,
        "voltage": f"V = {v0} + {slope} f / {fmax / 1e9:g} GHz",
        "samples": len(samples),
    }
    table = fit_table(samples, names, meta=meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, out)
    for p in range(table.f_hz.size):
        click.echo(
            f"{table.f_hz[p] / 1e9:5.2f} GHz {table.v[p]:.3f} V: c0 {table.c0_w[p]:.3f} W, "
            f"rms {table.rms_w[p]:.3f} W"
        )
    click.echo(f"wrote {out} ({len(samples)} samples)")
