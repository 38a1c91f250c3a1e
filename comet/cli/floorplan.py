"""``comet floorplan``: generate the thermal stacks of a core-memory configuration."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from comet.cli.common import handle_errors
from comet.errors import InputError
from comet.fileio import atomic_path, ensure_dir, os_error, write_atomic
from comet.floorplan.model import Stack

#: click option name -> generate() parameter, for the options that take a value.
_VALUE_OPTIONS = {
    "cores": "cores",
    "core_size": "core_size",
    "core_width": "core_width",
    "core_height": "core_height",
    "banks": "banks",
    "bank_size": "bank_size",
    "bank_width": "bank_width",
    "bank_height": "bank_height",
    "gap": "gap",
    "channels": "channels",
    "core_units": "core_units",
    "core_thickness": "core_thickness",
    "bank_thickness": "bank_thickness",
    "logic_thickness": "logic_thickness",
    "tim_thickness": "tim_thickness",
    "interposer_thickness": "interposer_thickness",
    "filler": "filler",
    "spacer": "spacer",
    "r_convec": "r_convec",
    "layout": "layout",
    "tim_layers": "tim_layers",
    "core_pos": "core_pos",
    "mem_pos": "mem_pos",
    "interposer_size": "interposer_size",
    "interposer_margin": "interposer_margin",
    "chiplets": "chiplets",
    "chiplet_cores": "chiplet_cores",
    "dram_stacks": "dram_stacks",
    "chiplet_pos": "chiplet_positions",
    "stack_pos": "stack_positions",
}

_KIND_COLOURS = {
    "core": "#d95f02",
    "core_unit": "#fc8d62",
    "bank": "#1b9e77",
    "logic": "#7570b3",
    "filler": "#cccccc",
    "spacer": "#9a9a9a",
    "tim": "#fee08b",
    "interposer": "#8da0cb",
}


def draw_stack(stack: Stack, path: str | os.PathLike[str]) -> Path:
    """Save a PNG with one panel per layer (LCF order), blocks coloured by kind (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    info = stack.meta.get("info")
    kinds = {
        u.name: "spacer" if u.kind == "filler" and u.material == "silicon" else u.kind
        for u in getattr(info, "units", ())
    }
    n = len(stack.layers)
    cols = min(n, 5)
    rows = (n + cols - 1) // cols
    aspect = stack.height / stack.width
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 3.2 * rows * max(aspect, 0.35) + 0.6), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_axis_off()
            continue
        layer = stack.layers[k]
        many = len(layer.floorplan) > 40
        for b in layer.floorplan:
            colour = _KIND_COLOURS.get(kinds.get(b.name, ""), "#ffffff")
            ax.add_patch(
                Rectangle(
                    (b.x * 1e3, b.y * 1e3),
                    b.width * 1e3,
                    b.height * 1e3,
                    facecolor=colour,
                    edgecolor="black",
                    linewidth=0.3 if many else 0.6,
                )
            )
            if not many:
                ax.text(
                    (b.x + b.width / 2) * 1e3,
                    (b.y + b.height / 2) * 1e3,
                    b.name,
                    ha="center",
                    va="center",
                    fontsize=5,
                )
        ax.set_xlim(0, stack.width * 1e3)
        ax.set_ylim(0, stack.height * 1e3)
        ax.set_aspect("equal")
        ax.set_title(f"{k}: {layer.name} ({layer.thickness * 1e6:.4g} um)", fontsize=7)
        ax.tick_params(labelsize=5)
    fig.suptitle(f"{stack.name}: layer 0 farthest from the heat sink; x, y in mm", fontsize=8)
    fig.tight_layout()
    target = Path(path)
    try:
        with atomic_path(target, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=150, format="png")
    finally:
        plt.close(fig)
    return target


#: The list of files ``comet floorplan`` wrote into an output directory (relative paths), so
#: that ``--overwrite`` removes exactly those and never a file of the user's.
MANIFEST = ".comet-floorplan.json"


def _read_manifest(out: Path) -> list[str]:
    p = out / MANIFEST
    if not p.exists():
        return []
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        files = [str(f) for f in data["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(
            "damaged manifest of an earlier comet floorplan",
            path=p,
            hint="delete the directory's generated files and the manifest by hand",
        ) from None
    return [f for f in files if f and not Path(f).is_absolute() and ".." not in Path(f).parts]


def _check_output(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty output directory without --overwrite (before any work)."""
    if out.exists() and not out.is_dir():
        raise InputError("the output is a file, not a directory", path=out, hint="give a directory")
    if out.is_dir() and any(p.name != MANIFEST for p in out.iterdir()) and not overwrite:
        raise InputError(
            "output directory is not empty",
            path=out,
            hint="choose a new directory, or pass --overwrite to replace what comet floorplan "
            "wrote there before (other files are kept)",
        )


def _install(staging: Path, out: Path) -> list[str]:
    """Move the files rendered into ``staging`` to ``out``: first remove the files an earlier
    run listed in the manifest, refuse to replace any other file, then write the new
    manifest. Returns the new files (relative paths)."""
    new = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    old = _read_manifest(out)
    for rel in new:
        target = out / rel
        if (target.exists() or target.is_symlink()) and rel not in old:
            raise InputError(
                "not written by comet floorplan: refusing to replace it",
                path=target,
                hint="move it away or choose another output directory",
            )
    for rel in old:
        with contextlib.suppress(FileNotFoundError):
            (out / rel).unlink()
    for rel in sorted({str(Path(r).parent) for r in old}, key=len, reverse=True):
        if rel != ".":
            with contextlib.suppress(OSError):
                (out / rel).rmdir()  # only when empty: the user's files stay
    for rel in new:
        target = out / rel
        ensure_dir(target.parent)
        try:
            os.replace(staging / rel, target)
        except OSError as err:
            raise os_error(err, target, "cannot write") from None
    write_atomic(out / MANIFEST, json.dumps({"files": new}, indent=1) + "\n")
    return new


def _parse_set(values: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set gap=2mm")
        text = value.strip()
        parsed: Any = text
        if text.lower() in ("true", "yes", "on"):
            parsed = True
        elif text.lower() in ("false", "no", "off"):
            parsed = False
        else:
            try:
                parsed = int(text)
            except ValueError:
                try:
                    parsed = float(text)
                except ValueError:
                    parsed = text
        params[key.strip().replace("-", "_")] = parsed
    return params


@click.command("floorplan", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("kind", metavar="{ddr,3dmem,2.5d,3d,chiplets}")
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output directory; one subdirectory per thermal stack.",
)
@click.option("--cores", help="Cores per layer [x core layers]: AxB or AxBxC (default 2x2).")
@click.option("--core-size", help="Side of a square core, e.g. 3.414mm (default).")
@click.option("--core-width", help="Core width (x), e.g. 3mm.")
@click.option("--core-height", help="Core height (y).")
@click.option("--banks", help="Banks per layer x DRAM layers: AxB[xC] (ddr 4x4, else 4x4x8).")
@click.option("--bank-size", help="Side of a square bank (default 1.707mm).")
@click.option("--bank-width", help="Bank width (x).")
@click.option("--bank-height", help="Bank height (y).")
@click.option("--gap", help="2.5d: distance between core die and memory stack (1.3mm).")
@click.option(
    "--cores-at-bottom",
    is_flag=True,
    default=None,
    help="3d: cores farthest from the heat sink, under the DRAM (CoMeT: on top).",
)
@click.option("--channels", type=int, help="ddr: number of memory channels (1).")
@click.option(
    "--core-units",
    help="Per-core units: a .toml of fractions, a core-sized .flp, "
    "or 'builtin'. Units are named C_<i>_<unit>.",
)
@click.option("--core-thickness", help="Core die thickness (50um).")
@click.option("--bank-thickness", help="DRAM die thickness (50um).")
@click.option("--logic-thickness", help="Logic die thickness (50um).")
@click.option("--tim-thickness", help="TIM thickness (20um).")
@click.option("--interposer-thickness", help="2.5d interposer thickness (50um).")
@click.option(
    "--filler", help="2.5d filler material: mold_compound (default), underfill, air, comet_air."
)
@click.option(
    "--spacer",
    help="2.5d/chiplets: material of the processor die where it has no cores: under them "
    "(spacer layout) or above them (cores-in-logic-layer); silicon.",
)
@click.option(
    "--layout",
    help="2.5d/chiplets: 'spacer' (2.5d default: cores next to the heat sink on a spacer) or "
    "'cores-in-logic-layer' (chiplets default; CoMeT's 2.5D: cores beside the logic die).",
)
@click.option(
    "--tim-layers",
    help="2.5d/chiplets: 'between-dies' (default) or 'full' (one TIM block per TIM layer, CoMeT).",
)
@click.option("--core-pos", help="2.5d: bottom-left corner of the core die, e.g. 1mm,2mm.")
@click.option("--mem-pos", help="2.5d: bottom-left corner of the memory stack, e.g. 9mm,0.")
@click.option(
    "--interposer-size", help="2.5d/chiplets: interposer WxH, e.g. 30mmx20mm (default: fit)."
)
@click.option("--interposer-margin", help="2.5d/chiplets: filler around the dies (0).")
@click.option("--chiplets", help="chiplets: core chiplets AxB (2x1), each of --cores cores.")
@click.option(
    "--chiplet-cores", help="chiplets: one core grid per chiplet, e.g. '2x2;1x1' (sizes differ)."
)
@click.option("--dram-stacks", help="chiplets: DRAM stacks AxB (1x2), each of --banks banks.")
@click.option("--chiplet-pos", help="chiplets: chiplet corners, e.g. '0,0;8mm,0'.")
@click.option("--stack-pos", help="chiplets: DRAM stack corners, e.g. '17mm,0;17mm,8mm'.")
@click.option("--r-convec", help="Sink-to-ambient resistance, K/W (0.1).")
@click.option(
    "--dimm-spreader",
    is_flag=True,
    default=None,
    help="ddr: a DIMM heat spreader on the DRAM package (else CoMeT's 10 um sink).",
)
@click.option("--grid", "grid", help="Grid rows x cols of hotspot.config, e.g. 64x64.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other parameter of comet.floorplan.generate (repeatable).",
)
@click.option(
    "--template-dir",
    type=click.Path(file_okay=False, exists=True),
    help="Your own templates (layer.flp.j2, stack.lcf.j2, hotspot.config.j2); "
    "missing ones come from comet's.",
)
@click.option(
    "--picture/--no-picture", default=True, help="Draw stack.png per stack (needs matplotlib)."
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the files an earlier comet floorplan wrote into OUT (listed in its "
    ".comet-floorplan.json); other files are kept.",
)
@handle_errors
def floorplan(
    kind: str,
    out: str,
    grid: str | None,
    settings: tuple[str, ...],
    template_dir: str | None,
    picture: bool,
    overwrite: bool,
    **options: Any,
) -> None:
    """Generate the thermal stacks of a core-memory configuration.

    KIND is ddr (off-chip DDR), 3dmem (off-chip 3D memory), 2.5d (memory beside the cores on
    an interposer), 3d (DRAM on the cores) or chiplets (N core chiplets and M DRAM stacks on
    an interposer); CoMeT's DDR, 3Dmem, 2_5D, 3D also work.
    Lengths take units (3.4mm, 50um; plain numbers are metres). Writes, per stack, one .flp
    per layer, stack.lcf, hotspot.config, stack.toml and stack.png into OUT/<stack>/.

    \b
    Examples:
      comet floorplan 3d --cores 4x4 --banks 8x8x8 --core-size 1.707mm -o fp/
      comet floorplan 2.5d --gap 2mm --filler underfill -o fp25/
      comet floorplan 2.5d --layout cores-in-logic-layer -o fp25c/
      comet floorplan chiplets --chiplets 2x2 --dram-stacks 1x2 --cores 2x1 -o chip/
      comet floorplan ddr --core-units builtin --channels 4 -o ddr/
    """
    from comet.floorplan.generate import generate, render

    params = _parse_set(settings)
    for option, key in _VALUE_OPTIONS.items():
        value = options.get(option)
        if value is not None:
            params[key] = value
    for flag in ("cores_at_bottom", "dimm_spreader"):
        if options.get(flag) is not None:
            params[flag] = options[flag]
    if grid is not None:
        rows, sep, cols = grid.lower().partition("x")
        try:
            params["grid_rows"], params["grid_cols"] = int(rows), int(cols if sep else rows)
        except ValueError:
            raise InputError(f"grid: {grid!r} is not ROWSxCOLS", hint="e.g. --grid 64x64") from None
    out_dir = Path(out)
    _check_output(out_dir, overwrite)
    stacks = generate(kind, **params)
    created = not out_dir.exists()
    ensure_dir(out_dir)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".comet-floorplan-", dir=out_dir))
    except OSError as err:
        raise os_error(err, out_dir, "cannot write into the output directory") from None
    try:
        staged = render(stacks, staging, template_dir=template_dir)
        drew = False
        if picture:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                click.echo("matplotlib is not installed: no stack.png", err=True)
            else:
                for stack, d in zip(stacks, staged, strict=True):
                    draw_stack(stack, d / "stack.png")
                drew = True
        _install(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only if still empty: nothing was written
    dirs = [out_dir / d.name for d in staged]
    for stack, d in zip(stacks, dirs, strict=True):
        n_power = len(stack.power_block_names())
        click.echo(
            f"{d}: {len(stack.layers)} layers, {stack.width * 1e3:.6g} x "
            f"{stack.height * 1e3:.6g} mm, {n_power} power blocks" + (", stack.png" if drew else "")
        )
