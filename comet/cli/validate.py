"""``comet validate``: a HotSpot case folder on comet's solver and on a HotSpot binary."""

from __future__ import annotations

import sys

import click

from comet.cli.common import handle_errors
from comet.errors import InputError


@click.command("validate")
@click.argument("case_dir", type=click.Path(file_okay=False))
@click.option("--hotspot", "binary", help="the HotSpot binary (default: $COMET_HOTSPOT, PATH)")
@click.option(
    "--rows", type=int, default=None, help="first N power-trace rows (0: steady only; default all)"
)
@click.option(
    "--tolerance", type=float, default=0.05, show_default=True, help="largest difference (K)"
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="a HotSpot option for both runs (e.g. --set model_type=grid --set grid_rows=32)",
)
@click.option(
    "--physical",
    is_flag=True,
    help="comet's physical network instead of HotSpot 7's quirks (differences expected)",
)
@click.option("--timeout", type=float, default=None, help="seconds the binary may take")
@handle_errors
def validate(
    case_dir: str,
    binary: str | None,
    rows: int | None,
    tolerance: float,
    sets: tuple[str, ...],
    physical: bool,
    timeout: float | None,
) -> None:
    """Run the HotSpot case folder CASE_DIR (config, .flp or .lcf, .ptrace, .materials) on
    comet's solver and on a HotSpot binary and print per-unit differences, steady and
    transient. Exit status 0 when every difference is within --tolerance, 1 otherwise."""
    from comet.thermal.validate import compare_case

    options = []
    for s in sets:
        name, sep, value = s.partition("=")
        if not sep or not name:
            raise InputError(f"--set {s!r}: expected NAME=VALUE", path="command line")
        options.append((name, value))
    cmp = compare_case(
        case_dir,
        binary,
        rows=rows,
        options=options,
        hotspot7_quirks=not physical,
        tolerance=tolerance,
        timeout=timeout,
    )
    width = max(len(u.name) for u in cmp.units)
    click.echo(
        f"{cmp.case.folder}: {cmp.model_type} model, {len(cmp.units)} power blocks, "
        f"{cmp.rows} transient rows (comet - HotSpot, K)"
    )
    click.echo(f"{'unit':<{width}}  {'steady':>8}  {'trans max':>9}  {'trans mean':>10}")
    for u in cmp.units:
        click.echo(
            f"{u.name:<{width}}  {u.steady:8.4f}  {u.transient_max:9.4f}  {u.transient_mean:10.4f}"
        )
    verdict = "within" if cmp.ok else "OUTSIDE"
    click.echo(
        f"max |diff|: steady {cmp.steady_max:.4f} K, transient {cmp.transient_max:.4f} K "
        f"-- {verdict} {cmp.tolerance:g} K"
    )
    sys.exit(0 if cmp.ok else 1)
