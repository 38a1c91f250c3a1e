"""Run CoMeT's default study setup in its four configurations and compare them side by side.

    python examples/comet-default/run_all.py                 # runs/comet-default/<kind>/
    python examples/comet-default/run_all.py --set sim.duration=50ms -o /tmp/cd

Runs ``ddr.toml``, ``3dmem.toml``, ``2.5d.toml`` and ``3d.toml`` of this folder one after the
other (``--overwrite`` replaces earlier runs), then writes a figure (``--figure``, default
``docs/images/comet-default.png``) and prints a Markdown table of the four results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KINDS = ("ddr", "3dmem", "2.5d", "3d")
LABELS = {"ddr": "DDR", "3dmem": "3Dmem", "2.5d": "2.5D", "3d": "3D"}


def run_all(out: Path, overrides: list[str], overwrite: bool) -> dict[str, Any]:
    from comet import Simulation

    runs = {}
    for kind in KINDS:
        print(f"comet-default: {kind} ...", file=sys.stderr, flush=True)
        sim = Simulation(HERE / f"{kind}.toml", overrides=overrides)
        runs[kind] = sim.run(out / kind, overwrite=overwrite)
    return runs


def table(runs: dict[str, Any]) -> str:
    """Markdown: one column per configuration."""
    rows: dict[str, list[str]] = {
        "peak core temperature (C)": [],
        "peak DRAM bank temperature (C)": [],
        "hottest bank layer": [],
        "mean power per core (W)": [],
        "mean DRAM power (W, all banks)": [],
        "mean logic-core power (W, all)": [],
        "instructions (1e9)": [],
        "DRAM latency (ns)": [],
    }
    for kind, run in runs.items():
        T, P, s = run.temperature, run.power, run.summary
        cores = [c for c in T.columns if c.startswith("C_")]
        banks = [c for c in T.columns if c.startswith("B_")]
        logic = [c for c in P.columns if c.startswith("LC_")]
        rows["peak core temperature (C)"].append(f"{T[cores].to_numpy().max():.2f}")
        rows["peak DRAM bank temperature (C)"].append(f"{T[banks].to_numpy().max():.2f}")
        hottest = T[banks].max().idxmax()
        rows["hottest bank layer"].append(run.unit_layer.get(hottest, "?"))
        rows["mean power per core (W)"].append(f"{P[cores].mean().mean():.2f}")
        rows["mean DRAM power (W, all banks)"].append(f"{P[banks].mean().sum():.2f}")
        rows["mean logic-core power (W, all)"].append(
            f"{P[logic].mean().sum():.2f}" if logic else "-"
        )
        rows["instructions (1e9)"].append(f"{(s.get('instructions') or 0) / 1e9:.3f}")
        from comet.config import MEMORY_DEFAULTS

        lat = run.config.get("memory", {}).get("latency") or MEMORY_DEFAULTS[kind]["latency"]
        rows["DRAM latency (ns)"].append(f"{lat * 1e9:g}")
    head = "| | " + " | ".join(LABELS[k] for k in runs) + " |"
    sep = "|---|" + "---|" * len(runs)
    return "\n".join([head, sep, *(f"| {k} | " + " | ".join(v) + " |" for k, v in rows.items())])


def _maps(run: Any) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """The last grid snapshot's core layer and hottest DRAM layer: (name, map deg C) each."""
    g = run.grid
    names = [n.lstrip(".") for n in g.layer_names]
    short = [n.rsplit(".", 1)[-1] for n in names]  # without the stack ("processor.core0")
    last = g.temperature_degC[-1]
    core = next(i for i, n in enumerate(short) if n.startswith("core"))
    drams = [i for i, n in enumerate(short) if n.startswith("dram")]
    hot = max(drams, key=lambda i: float(last[i].max()))
    return (names[core], last[core]), (names[hot], last[hot])


def figure(runs: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(runs)
    fig = plt.figure(figsize=(16, 7.2), constrained_layout=True)
    gs = fig.add_gridspec(2, len(kinds) + 2)
    maps = {k: _maps(runs[k]) for k in kinds}
    for row, title in ((0, "core layer"), (1, "hottest DRAM layer")):
        vals = [maps[k][row][1] for k in kinds]
        lo = min(float(v.min()) for v in vals)
        hi = max(float(v.max()) for v in vals)
        im = None
        for col, k in enumerate(kinds):
            ax = fig.add_subplot(gs[row, col])
            name, m = maps[k][row]
            im = ax.imshow(m, cmap="inferno", vmin=lo, vmax=hi, origin="upper")
            T = runs[k].temperature
            units = [c for c in T.columns if c.startswith("C_" if row == 0 else "B_")]
            what = "cores" if row == 0 else "banks"
            peak = float(T[units].to_numpy().max())
            ax.set_title(f"{LABELS[k]}: {what} peak {peak:.1f} C\nlayer {name}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        assert im is not None
        fig.colorbar(im, ax=fig.axes[-len(kinds) :], shrink=0.85, label=f"{title} (C)")
    colors = {"ddr": "tab:blue", "3dmem": "tab:green", "2.5d": "tab:orange", "3d": "tab:red"}
    ax_t = fig.add_subplot(gs[0, len(kinds) :])
    ax_p = fig.add_subplot(gs[1, len(kinds) :])
    width = 0.36
    for i, k in enumerate(kinds):
        T, P = runs[k].temperature, runs[k].power
        cores = [c for c in T.columns if c.startswith("C_")]
        banks = [c for c in T.columns if c.startswith("B_")]
        logic = [c for c in P.columns if c.startswith("LC_")]
        c = colors[k]
        ax_t.bar(i - width / 2, T[cores].to_numpy().max(), width, color=c)
        ax_t.bar(i + width / 2, T[banks].to_numpy().max(), width, color=c, alpha=0.45, hatch="//")
        bottom = 0.0
        parts = (
            P[cores].mean().sum(),
            P[banks].mean().sum(),
            P[logic].mean().sum() if logic else 0,
        )
        for j, watts in enumerate(parts):
            ax_p.bar(
                i, watts, 0.6, bottom=bottom, color=c, alpha=(1.0, 0.55, 0.25)[j], ec="k", lw=0.5
            )
            bottom += watts
    ax_t.set_xticks(range(len(kinds)), [LABELS[k] for k in kinds])
    ax_t.set(ylabel="peak temperature (C)", title="cores (solid) and DRAM banks (hatched)")
    ax_t.set_ylim(bottom=45)
    ax_t.axhline(45, color="k", lw=0.8, ls=":")
    ax_p.set_xticks(range(len(kinds)), [LABELS[k] for k in kinds])
    ax_p.set(ylabel="mean power (W)", title="power: cores / DRAM banks / logic cores")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color="grey", alpha=a, ec="k", lw=0.5)
        for a in (1.0, 0.55, 0.25)
    ]
    ax_p.legend(handles, ["cores", "DRAM banks", "logic cores"], fontsize=8)
    fig.suptitle(
        "CoMeT's default setup in comet: 2x2 cores at 3.6 GHz, memory-bound workload, 45 C "
        "ambient, started warm (maps at the end of the run, each row on one colour scale)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-o", "--output", default="runs/comet-default", help="parent run directory")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--figure", default="docs/images/comet-default.png")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument(
        "--plot-only", action="store_true", help="no runs: plot the existing run directories"
    )
    args = ap.parse_args(argv)
    out = Path(args.output)
    if args.plot_only:
        from comet.sim.results import Run

        runs = {k: Run(out / k) for k in KINDS}
    else:
        runs = run_all(out, args.overrides, args.overwrite)
    figure(runs, Path(args.figure))
    print(table(runs))
    print(f"\nfigure: {args.figure}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
