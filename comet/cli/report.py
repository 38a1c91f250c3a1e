"""``comet report``: the table of a sweep's runs, grouped comparisons and plots."""

from __future__ import annotations

import click

from comet.cli.common import handle_errors


@click.command("report")
@click.argument("sweep_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="KEY",
    help="Group by this varied key, e.g. --by policies.dvfs (repeatable; default: the "
    "varied keys).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="M",
    help="Metric to compare, e.g. --metric peak_core_degC (repeatable; default: the main ones).",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Where runs.csv, comparison.csv and the plots go (default DIR/report).",
)
@click.option(
    "--confidence",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0.5, 0.999),
    help="Confidence level of the intervals over repeats.",
)
@click.option("--no-plots", is_flag=True, help="Tables only.")
@handle_errors
def report(
    sweep_dir: str,
    by: tuple[str, ...],
    metrics: tuple[str, ...],
    out_dir: str | None,
    confidence: float,
    no_plots: bool,
) -> None:
    """Table of every run of the sweep directory DIR and comparisons of its groups.

    Works on a sweep that is still running or was interrupted (partial runs are summarized
    from their traces). Each cell of the comparison is the mean over the group's complete runs
    +- the half-width of its confidence interval (Student t over the repeats). Example:

        comet report sweeps/policy-study --by policies.dvfs
    """
    import pandas as pd

    from comet.sweep.report import default_metrics, format_comparison, write_report

    res = write_report(
        sweep_dir,
        by=by,
        metrics=metrics,
        out_dir=out_dir,
        confidence=confidence,
        plots=not no_plots,
    )
    df = res.table
    counts = df["status"].value_counts().to_dict()
    click.echo(f"{len(df)} runs: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    varied = list(df.attrs.get("varied") or [])
    shown = ["id", "status", *varied, *(["repeat"] if "repeat" in df.columns else [])]
    shown += list(metrics) or default_metrics(df)[:6]
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        click.echo(df[[c for c in dict.fromkeys(shown) if c in df.columns]].to_string(index=False))
        if res.comparison is not None:
            click.echo("")
            click.echo(
                f"comparison (mean ± {res.comparison.attrs['confidence']:.0%} CI half-width over "
                "complete runs):"
            )
            click.echo(format_comparison(res.comparison).to_string())
    click.echo("")
    click.echo("wrote " + ", ".join(str(p) for p in res.files[:3]))
    if len(res.files) > 3:
        click.echo(f"      and {len(res.files) - 3} plots in {res.files[0].parent}")
