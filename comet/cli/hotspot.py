"""``comet hotspot``: a drop-in for HotSpot 7's command line.

    comet hotspot -c hotspot.config -f ev6.flp -p gcc.ptrace -o gcc.ttrace [-<name> <value>]...

HotSpot's single-dash ``-name value`` pairs are parsed exactly as HotSpot does (pairs, first
occurrence wins, command line over config file); comet adds ``--backend builtin|hotspot``,
``--hotspot-binary PATH`` and ``-q``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from comet.cli.common import handle_errors
from comet.errors import InputError

#: comet's own options: name -> takes a value.
_COMET_OPTIONS = {
    "--backend": True,
    "--hotspot-binary": True,
    "-q": False,
    "--quiet": False,
    "--hotspot7-quirks": False,
    "--run-dir": True,
}
_HELP = ("-h", "--help")

USAGE = """\
Usage: comet hotspot -f <file> -p <file> [-o <file>] [-c <file>] [-d <file>] [options]

  HotSpot 7-compatible thermal simulation (all temperatures in Kelvin in the files).

  -f <file>             floorplan (.flp); not needed with -grid_layer_file
  -p <file>             power trace (.ptrace), required
  -o <file>             transient temperature trace (.ttrace); without it: steady state only
  -c <file>             configuration file (-name value lines)
  -d <file>             write the effective configuration to a file
  -materials_file <f>   materials for material_* keys and LCF material names
  -<name> <value>       any configuration key, overriding the config file, e.g.
                        -model_type grid -grid_rows 64 -grid_cols 64 -steady_file x.steady
                        -grid_steady_file x.grid.steady -grid_transient_file x.grid.ttrace
                        -grid_layer_file stack.lcf -init_file x.init
comet options:
  --backend builtin|hotspot   solver: comet's (default) or a HotSpot 7 binary
  --hotspot-binary PATH       the HotSpot binary (default: $COMET_HOTSPOT, then PATH)
  --hotspot7-quirks          reproduce HotSpot 7's swapped lateral resistances on
                              non-square grid cells (comet's default is the physical one)
  --run-dir DIR               also write the transient as a comet run directory
                              (viewable with comet plot / video / view)
  -q, --quiet                 no summary
  -h, --help                  this help
"""


def parse_pairs(args: Sequence[str]) -> list[tuple[str, str]]:
    """HotSpot's ``parse_cmdline``: ``-name value`` pairs; a value may start with ``-``.

    Raises:
        InputError: a name that does not start with ``-`` or a name without a value.
    """
    pairs: list[tuple[str, str]] = []
    items = list(args)
    for k in range(0, len(items), 2):
        name = items[k]
        if not name.startswith("-") or len(name) < 2:
            raise InputError(
                f"expected an option '-name', found {name!r}",
                path="command line",
                hint="HotSpot options come in pairs: -name value",
            )
        if k + 1 >= len(items):
            raise InputError(
                f"{name} has no value",
                path="command line",
                hint="HotSpot options come in pairs: -name value",
            )
        pairs.append((name, items[k + 1]))
    return pairs


def split_args(args: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Separate comet's options from HotSpot's pairs: ``(comet options, HotSpot arguments)``."""
    opts: dict[str, Any] = {
        "backend": "builtin",
        "hotspot_binary": None,
        "quiet": False,
        "hotspot7_quirks": False,
        "run_dir": None,
    }
    rest: list[str] = []
    items = list(args)
    k = 0
    while k < len(items):
        tok = items[k]
        name, eq, inline = tok.partition("=")
        if name in _COMET_OPTIONS:
            if _COMET_OPTIONS[name]:
                if eq:
                    value = inline
                    k += 1
                elif k + 1 < len(items):
                    value = items[k + 1]
                    k += 2
                else:
                    raise InputError(f"{name} needs a value", path="command line")
                opts[name.lstrip("-").replace("-", "_")] = value
            else:
                opts[
                    "quiet" if name in ("-q", "--quiet") else name.lstrip("-").replace("-", "_")
                ] = True
                k += 1
        else:
            # a HotSpot pair: the name and its value, whatever the value looks like
            rest.append(tok)
            if k + 1 < len(items):
                rest.append(items[k + 1])
            k += 2
    if opts["backend"] not in ("builtin", "hotspot"):
        raise InputError(
            f"--backend {opts['backend']!r} is unknown",
            path="command line",
            hint="use builtin or hotspot",
        )
    return opts, rest


class _HotSpotCommand(click.Command):
    """Keeps click from reading HotSpot's single-dash names as clusters of short options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(a in _HELP for a in args):
            click.echo(USAGE, nl=False)
            ctx.exit(0)
        ctx.meta["hotspot_args"] = list(args)
        return super().parse_args(ctx, [])

    def get_help(self, ctx: click.Context) -> str:
        return USAGE


def _one_blas_thread_default() -> None:
    """One BLAS thread unless the user chose otherwise, set before numpy loads BLAS.

    A HotSpot run is small products and one-off LAPACK calls: on 2 busy cores the first
    multi-threaded LAPACK call alone took 0.3-0.4 s where one thread took 0.02 s (measured,
    ``benchmarks/thermal.py``). Not for ``--backend hotspot``: the binary inherits the
    environment."""
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _defer_numpy_extras() -> None:
    """Make numpy's ``f2py``, ``testing`` and ``ma`` submodules load on first use, not with scipy.

    scipy (1.15+, ``array_api_compat``) walks numpy's namespace when it loads, and that imports
    numpy's lazily loaded ``f2py`` (with ``charset_normalizer``), ``testing`` and ``ma``: more
    than half of ``import scipy.sparse`` (0.35 of 0.65 s for the first two on the
    busy 2-core machine; measured with ``python -X importtime``). A HotSpot run uses none of
    them, so they are registered as lazy modules (:class:`importlib.util.LazyLoader`), which
    load in full on their first attribute access. Any failure leaves numpy as it was."""
    import importlib.util

    try:
        import numpy

        for name in ("numpy.f2py", "numpy.testing", "numpy.ma"):
            if name in sys.modules:
                continue
            spec = importlib.util.find_spec(name)
            if spec is None or spec.loader is None:
                continue
            spec.loader = importlib.util.LazyLoader(spec.loader)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            setattr(numpy, name.rsplit(".", 1)[1], module)
    except Exception:  # pragma: no cover - a speed-up only, never a failure
        return


@click.command(
    "hotspot",
    cls=_HotSpotCommand,
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": ["-h", "--help"],
    },
    add_help_option=False,
)
@click.pass_context
@handle_errors
def hotspot(ctx: click.Context) -> None:
    """HotSpot-compatible thermal simulation (HotSpot 7's command line)."""
    args: list[str] = ctx.meta.get("hotspot_args", list(ctx.args))
    if not args:
        click.echo(USAGE, err=True, nl=False)
        sys.exit(2)
    opts, rest = split_args(args)
    pairs = parse_pairs(rest)
    if opts["backend"] != "hotspot" and "numpy" not in sys.modules:
        _one_blas_thread_default()
    if "scipy" not in sys.modules:
        _defer_numpy_extras()
    from comet.thermal.hotspot_run import HotSpotOptions, run_hotspot

    options = HotSpotOptions.from_pairs(pairs)
    options.hotspot7_quirks = bool(opts["hotspot7_quirks"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if opts["backend"] == "hotspot":
            from comet.thermal.backends import run_hotspot_binary

            result = run_hotspot_binary(options, opts["hotspot_binary"])
        else:
            if opts["hotspot_binary"] is not None:
                raise InputError("--hotspot-binary needs --backend hotspot", path="command line")
            result = run_hotspot(options)
    for w in caught:
        click.echo(f"comet: warning: {w.message}", err=True)
    for note in result.notes:
        click.echo(f"comet: warning: {note}", err=True)
    if opts["run_dir"] is not None:
        result.files.append(str(_write_run_dir(options, result, opts["run_dir"])))
    if opts["quiet"]:
        return
    kind = "transient" if result.transient is not None else "steady state"
    peak = result.peak
    where = ""
    if result.transient is not None:
        row, col = divmod(int(result.transient.argmax()), result.transient.shape[1])
        where = f" ({result.trace_names[col]}, row {row + 1})"
    else:
        where = f" ({result.trace_names[int(result.steady_blocks.argmax())]})"
    click.echo(
        f"{result.config.model_type} model, {len(result.trace_names)} power blocks, "
        f"backend {opts['backend']}"
    )
    click.echo(f"peak {kind} temperature: {peak - 273.15:.2f} °C ({peak:.2f} K){where}")
    for path in result.files:
        click.echo(f"wrote {path}")


def _write_run_dir(options: Any, result: Any, run_dir: str) -> Path:
    """The transient of a ``comet hotspot`` run as a run directory (``run_from_hotspot``)."""
    from comet.sim.hotspot_import import run_from_hotspot

    if result.transient is None or options.ttrace_file is None:
        raise InputError("--run-dir needs a transient run", hint="add -o <file.ttrace>")
    config = result.config
    geometry = config.grid_layer_file if config.grid_layer_file is not None else options.flp_file
    return run_from_hotspot(
        options.ttrace_file,
        geometry,
        run_dir,
        ptrace=options.ptrace_file,
        sampling_intvl=config.sampling_intvl,
        overwrite=True,
    )
