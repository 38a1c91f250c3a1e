"""``comet doctor``: which native tools comet finds and how to point it at them.

    comet doctor [--hotspot BIN] [--sniper DIR] [--mcpat BIN]

One row per tool (HotSpot, Sniper, Sniper's DynamoRIO frontend and Pin SIFT recorder, Sniper's
per-bank DRAM counters, McPAT): found or not, its path and version, or what is wrong; below the
table, how to point comet at each missing one. Informative only: the exit status is always 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click

from comet import native
from comet.errors import InputError


@dataclass(frozen=True)
class Row:
    """One line of the report: ``detail`` is the path when found, else what is wrong."""

    tool: str
    found: bool
    detail: str
    version: str = ""
    hint: str = ""


def _probe(tool: str, find: Callable[[], str], version: Callable[[str], str]) -> Row:
    try:
        path = find()
    except InputError as err:
        return Row(tool, False, err.message, hint=err.hint or "")
    return Row(tool, True, path, version(path))


def collect(hotspot: str | None, sniper: str | None, mcpat: str | None) -> list[Row]:
    """The report's rows, in a fixed order (Sniper's parts only when Sniper is found)."""
    rows = [
        _probe("HotSpot", lambda: native.find_hotspot(hotspot), native.hotspot_version),
        _probe("Sniper", lambda: native.find_sniper(sniper), native.sniper_version),
    ]
    if rows[1].found:
        root = rows[1].detail
        rows.append(
            _probe(
                "Sniper DynamoRIO frontend",
                lambda: native.find_sniper_dr_frontend(root).client,
                lambda _: "drrun " + native.find_sniper_dr_frontend(root).drrun,
            )
        )
        rows.append(
            _probe(
                "Sniper Pin SIFT recorder",
                lambda: native.find_sniper_sift_recorder(root),
                lambda _: "",
            )
        )
        if native.sniper_counts_dram_banks(root):
            rows.append(
                Row(
                    "Sniper DRAM per-bank counts",
                    True,
                    "lib/sniper has comet's DRAM patch",
                    "config perf_model/dram/bank_stats/{banks,shift}",
                )
            )
        else:
            rows.append(
                Row(
                    "Sniper DRAM per-bank counts",
                    False,
                    "lib/sniper counts DRAM accesses per controller only",
                    hint="rebuild with scripts/build_native.sh (it applies "
                    "scripts/patches/sniper-dram-bank-stats.patch)",
                )
            )
    rows.append(_probe("McPAT", lambda: native.find_mcpat(mcpat), native.mcpat_version))
    return rows


def format_rows(rows: list[Row]) -> str:
    """A fixed-width table (tool, status, path or problem, version), then the hints."""
    table = [("tool", "status", "path / problem", "version")] + [
        (r.tool, "found" if r.found else "MISSING", r.detail, r.version) for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    out = [
        "  ".join([*(line[i].ljust(widths[i]) for i in range(3)), line[3]]).rstrip()
        for line in table
    ]
    hints = [f"  {r.tool}: {r.hint}" for r in rows if not r.found and r.hint]
    if hints:
        out += ["", "How to point comet at what is missing:", *hints]
    return "\n".join(out)


@click.command(name="doctor")
@click.option(
    "--hotspot",
    "--hotspot-binary",
    "hotspot",
    metavar="BIN",
    default=None,
    help=f"HotSpot binary (else ${native.HOTSPOT_ENV}, else 'hotspot' on PATH).",
)
@click.option(
    "--sniper",
    metavar="DIR",
    default=None,
    help="Sniper directory (else $COMET_SNIPER, $SNIPER_ROOT, else run-sniper on PATH).",
)
@click.option(
    "--mcpat",
    metavar="BIN",
    default=None,
    help=f"McPAT binary (else ${native.MCPAT_ENV}, else 'mcpat' on PATH).",
)
def doctor(hotspot: str | None, sniper: str | None, mcpat: str | None) -> None:
    """Say which native tools comet finds (HotSpot, Sniper and its frontends, McPAT).

    Always exits 0: it informs, it does not check a run.
    """
    rows = collect(hotspot, sniper, mcpat)
    click.echo(format_rows(rows))
    found = {r.tool: r.detail for r in rows if r.found}
    exports = [
        f"export {var}={found[tool]}"
        for tool, var in (
            ("HotSpot", native.HOTSPOT_ENV),
            ("Sniper", "SNIPER_ROOT"),
            ("McPAT", native.MCPAT_ENV),
        )
        if tool in found
    ]
    if exports:
        click.echo("\nTo use the same tools from any shell:\n  " + "\n  ".join(exports))
    if not {"HotSpot", "Sniper", "McPAT"} <= found.keys():
        click.echo(
            "\nscripts/build_native.sh (or the Dockerfile) builds HotSpot, Sniper and McPAT; "
            "see README 'Native tools'."
        )
