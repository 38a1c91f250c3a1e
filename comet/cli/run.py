"""``comet run`` (closed loop from a TOML run config) and ``comet replay`` (power trace, open loop).

Both show a progress bar (tqdm, on stderr), write the run directory (see RUNDIR.md) and print
a summary table. Ctrl-C or SIGTERM stops the run cleanly: the traces so far stay readable and
``summary.json`` says ``interrupted`` (exit status 130).
"""

from __future__ import annotations

import math
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from comet.cli.common import handle_errors
from comet.errors import InputError
from comet.signals import handling


@contextmanager
def _stop_on_signals(sim: Any) -> Iterator[None]:
    """While the block runs, SIGTERM and Ctrl-C ask the simulation to stop at the next epoch
    boundary (``sim.stop_requested``), so the traces and the summary agree row for row; a
    second Ctrl-C interrupts at once. Main thread only."""

    def handler(signum: int, frame: Any) -> None:
        if sim.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        sim.stop_requested = True

    with handling(handler):
        yield


class _Progress:
    """A tqdm bar in epochs (disabled when quiet or not a terminal)."""

    def __init__(self, quiet: bool, desc: str) -> None:
        self.bar: Any = None
        self.quiet = quiet
        self.desc = desc
        self.done = 0

    def __call__(self, done: int, total: int, sim_time: float) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                unit="epoch",
                desc=self.desc,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )
        self.bar.update(done - self.done)
        self.bar.set_postfix_str(f"t={sim_time:.4g}s", refresh=False)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fmt(x: Any, unit: str = "", digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}{unit}"
    return f"{x}{unit}"


def summary_table(summary: dict[str, Any], path: Path) -> str:
    """The end-of-run summary as an aligned two-column table."""
    peaks = summary.get("peak_degC") or {}

    def peak_of(prefix: str) -> tuple[str, float] | None:
        items = [(k, v) for k, v in peaks.items() if v is not None and k.upper().startswith(prefix)]
        return max(items, key=lambda kv: kv[1]) if items else None

    rows: list[tuple[str, str]] = [
        ("run", str(path)),
        ("status", str(summary.get("status"))),
        ("simulated", _fmt(summary.get("duration_s"), " s")),
        ("epochs", _fmt(summary.get("epochs"))),
        ("wall time", _fmt(summary.get("wall_time_s"), " s", 3)),
    ]
    for line in summary.get("init") or []:
        rows.append(("init", str(line)))
    eps, loop_eps = summary.get("epochs_per_s"), summary.get("loop_epochs_per_s")
    if eps and loop_eps:
        rows.append(("speed", f"{loop_eps:.0f} epochs/s in the loop ({eps:.0f} with set-up)"))
    elif eps:
        rows.append(("speed", f"{eps:.0f} epochs/s"))
    for label, prefix in (("peak core", "C_"), ("peak logic", "LC_"), ("peak bank", "B_")):
        pk = peak_of(prefix)
        if pk:
            rows.append((label, f"{pk[1]:.2f} C ({pk[0]})"))
    if not any(r[0].startswith("peak") for r in rows) and peaks:
        name, val = max(((k, v) for k, v in peaks.items() if v is not None), key=lambda kv: kv[1])
        rows.append(("peak", f"{val:.2f} C ({name})"))
    for thr, t in (summary.get("time_above_s") or {}).items():
        rows.append((f"time above {thr} C", _fmt(t, " s")))
    energy = summary.get("energy_J") or {}
    parts = [f"{k} {_fmt(energy[k], ' J')}" for k in ("cores", "banks", "logic") if energy.get(k)]
    rows.append(
        ("energy", _fmt(energy.get("total"), " J") + (f" ({', '.join(parts)})" if parts else ""))
    )
    if summary.get("instructions") is not None:
        rows.append(("instructions", f"{summary['instructions']:.4g}"))
    jobs = summary.get("jobs")
    if isinstance(jobs, dict):
        rows.append(("jobs done", f"{jobs.get('completed')} / {jobs.get('total')}"))
        rows.append(("mean response", _fmt(jobs.get("mean_response_s"), " s")))
    if "makespan_s" in summary:
        rows.append(("makespan", _fmt(summary.get("makespan_s"), " s")))
    if summary.get("error"):
        rows.append(("error", str(summary["error"])))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def _absolute_policy(spec: str) -> str:
    """``path/to/file.py:Class`` relative to the working directory -> absolute path."""
    target, sep, attr = spec.rpartition(":")
    if sep and (target.endswith(".py") or "/" in target):
        return f"{Path(target).resolve()}:{attr}"
    return spec


@click.command("run")
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Run directory (default runs/<name>).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. --set sim.duration=5s (repeatable).",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="SPEC",
    help="Add a policy (built-in name, entry point or path/to/file.py:Class) after the "
    "configured ones (repeatable).",
)
@click.option(
    "--init-from",
    "init_from",
    type=click.Path(file_okay=False),
    help="Start from the final state of run directory RUN (its state.npz): the thermal "
    "state and the clock continue, the workload starts anew (sim.init = {run = RUN}).",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Continue the interrupted run RUN exactly (its config, traces and saved state) "
    "into a new run directory (default RUN-resumed); give no CONFIG.",
)
@click.option(
    "--hotspot",
    "hotspot_binary",
    type=click.Path(dir_okay=False),
    help="Use a HotSpot binary as the thermal back end (else [thermal] backend; a bare "
    "[thermal] backend = 'hotspot' finds it from $COMET_HOTSPOT or PATH).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def run(
    config: str | None,
    out_dir: str | None,
    overrides: tuple[str, ...],
    policies: tuple[str, ...],
    init_from: str | None,
    resume_dir: str | None,
    hotspot_binary: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Run a closed-loop simulation from the TOML run config CONFIG.

    Performance, power, temperature and policies are simulated epoch by epoch; traces (deg C,
    W, GHz), events and summary.json go to the run directory. Example:

        comet run examples/3d.toml --set sim.duration=500ms -o runs/demo

    Chain a run on the final state of another, or continue an interrupted one:

        comet run examples/3d.toml --init-from runs/demo -o runs/demo2

        comet run --resume runs/demo
    """
    from comet.config import PolicySpec, load_config
    from comet.policies.base import PolicyError
    from comet.sim.engine import Simulation

    if resume_dir is not None:
        if config is not None or init_from is not None or overrides or policies:
            raise InputError(
                "--resume takes the run's own config: give no CONFIG, --init-from, --set or "
                "--policy",
                hint=f"comet run --resume {resume_dir}",
            )
        cfg = _resume_config(Path(resume_dir))
    elif config is None:
        raise InputError("give a run CONFIG (or --resume RUN)", hint="comet run examples/3d.toml")
    else:
        if init_from is not None:
            target = Path(init_from).resolve()
            overrides = (*overrides, f'sim.init={{run = "{target.as_posix()}"}}')
        if hotspot_binary is not None:
            exe = Path(hotspot_binary).expanduser().resolve().as_posix()
            overrides = (*overrides, "thermal.backend=hotspot", f'thermal.hotspot="{exe}"')
        cfg = load_config(config, overrides)
    for spec in policies:
        cfg.policies.plugins.append(PolicySpec(name=_absolute_policy(spec)))
    sim = Simulation(cfg)  # built by run(), into the run directory (back ends keep files there)
    if resume_dir is not None:
        sim.resume(resume_dir)
        sim.build()
    if out_dir:
        path = Path(out_dir)
    elif resume_dir is not None:
        path = Path(f"{Path(resume_dir).resolve()}-resumed")
    else:
        path = Path("runs") / cfg.name
    progress = _Progress(quiet, cfg.name)
    try:
        with _stop_on_signals(sim):
            result = sim.run(path, overwrite=overwrite, progress=progress)
    except KeyboardInterrupt:
        progress.close()
        summary = _read_summary(sim)
        click.echo("comet: interrupted; partial traces kept", err=True)
        click.echo(summary_table(summary, sim.path or path))
        sys.exit(130)
    except PolicyError as err:
        progress.close()
        click.echo(f"comet: error: {err} [run directory: {sim.path or path}]", err=True)
        sys.exit(1)
    progress.close()
    click.echo(summary_table(result.summary, result.path))


def _resume_config(run_dir: Path) -> Any:
    """The resolved config of run directory ``run_dir``, with the base directory of the
    config it was made from (paths in it stay valid)."""
    from comet.config import load_config
    from comet.sim.state import load_state

    path = run_dir / "config.toml"
    if not path.is_file():
        raise InputError(f"{str(run_dir)!r} is not a comet run directory (no config.toml)")
    state = load_state(run_dir)
    cfg = load_config(path)
    base = str(state.get("base_dir", ""))
    if base:
        cfg._base_dir = Path(base)
    return cfg


def _read_summary(sim: Any) -> dict[str, Any]:
    writer = getattr(sim, "writer", None)
    summary = getattr(writer, "summary", None)
    return summary if isinstance(summary, dict) else {"status": "interrupted"}


def _param(text: str) -> tuple[str, Any]:
    from comet.config import _parse_override_value

    if "=" not in text:
        raise InputError(f"--param {text!r}: expected key=value", hint="example: --param cores=4x4")
    key, _, value = text.partition("=")
    return key.strip(), _parse_override_value(value.strip())


@click.command("replay")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Run directory (default runs/<trace name>).",
)
@click.option(
    "--kind",
    help="Configuration to generate the stack of: ddr, 3dmem, 2.5d, 3d (CoMeT's "
    "DDR, 3Dmem, 2_5D, 3D accepted).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Parameter of the generated stack, e.g. --param cores=4x4 (repeatable).",
)
@click.option(
    "--stack",
    "stack_dir",
    type=click.Path(file_okay=False, exists=True),
    help="A stack directory (stack.lcf + hotspot.config, e.g. from comet floorplan).",
)
@click.option("--lcf", type=click.Path(dir_okay=False, exists=True), help="HotSpot layer file.")
@click.option(
    "--flp",
    type=click.Path(dir_okay=False, exists=True),
    help="HotSpot floorplan (one layer, HotSpot's default chip and TIM).",
)
@click.option(
    "-c",
    "--config",
    "hotspot_config",
    type=click.Path(dir_okay=False, exists=True),
    help="HotSpot config file applied to the stack.",
)
@click.option(
    "--materials",
    "materials",
    type=click.Path(dir_okay=False, exists=True),
    help="HotSpot materials file (for configs and LCFs that name materials).",
)
@click.option(
    "--interval",
    default=None,
    help="Time per trace row, e.g. 1ms (default: the config's sampling_intvl, else 1 ms as CoMeT).",
)
@click.option(
    "--init",
    default="ambient",
    help="Initial temperature: ambient, deg C, or a HotSpot init/steady node file (K).",
)
@click.option(
    "--logic-power",
    default=0.272,
    show_default=True,
    type=float,
    help="W per logic core LC_i when the trace has no column for it (CoMeT's combined trace).",
)
@click.option(
    "--backend",
    type=click.Choice(["builtin", "hotspot"]),
    default="builtin",
    show_default=True,
    help="Thermal back end: comet's solver or a HotSpot binary run per row.",
)
@click.option(
    "--hotspot",
    "hotspot_binary",
    type=click.Path(dir_okay=False),
    help="The HotSpot binary of --backend hotspot (default: $COMET_HOTSPOT, then PATH).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def replay(
    trace: str,
    out_dir: str | None,
    kind: str | None,
    params: tuple[str, ...],
    stack_dir: str | None,
    lcf: str | None,
    flp: str | None,
    hotspot_config: str | None,
    materials: str | None,
    interval: str | None,
    init: str,
    logic_power: float,
    backend: str,
    hotspot_binary: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Feed the power trace TRACE through a stack (open loop) into a run directory.

    TRACE is a HotSpot .ptrace or CoMeT/HotSniper's combined_power.trace (unit names, then one
    row of watts per interval). Examples:

        comet replay combined_power.trace --kind 3D --param cores=4x4 -o runs/old

        comet replay gcc.ptrace --flp ev6.flp -c hotspot.config
    """
    from comet.config import parse_duration
    from comet.sim.engine import replay as do_replay

    sources = [s for s in (kind, stack_dir, lcf, flp) if s]
    if len(sources) != 1:
        raise InputError(
            "give exactly one stack: --kind, --stack, --lcf or --flp",
            hint="e.g. --kind 3d --param cores=4x4",
        )
    if params and not kind:
        raise InputError("--param needs --kind")
    if stack_dir:
        d = Path(stack_dir)
        lcf = str(d / "stack.lcf")
        if not Path(lcf).is_file():
            raise InputError("no stack.lcf in the stack directory", path=d)
        if hotspot_config is None and (d / "hotspot.config").is_file():
            hotspot_config = str(d / "hotspot.config")
    if interval is not None:
        try:
            dt = parse_duration(interval)
        except ValueError as err:
            raise InputError(f"--interval: {err}") from None
        if not 0 < dt <= 1e6:
            raise InputError(f"--interval {interval}: give a time between 0 and 1e6 s")
    elif hotspot_config is not None:
        from comet.sim.hotspot_import import _sampling_intvl

        dt = _sampling_intvl(Path(hotspot_config))
        if not (math.isfinite(dt) and 0 < dt <= 1e6):
            raise InputError(
                f"sampling_intvl {dt:g} s: give a time between 0 and 1e6 s", path=hotspot_config
            )
    else:
        dt = 1e-3
    init_value: str | float = "ambient"
    if init.strip().lower() != "ambient":
        try:
            init_value = float(init)
        except ValueError:
            if not Path(init).is_file():
                raise InputError(
                    f"--init {init!r}: ambient, a temperature in deg C or a node file"
                ) from None
            init_value = init
        if isinstance(init_value, float) and not -273.15 < init_value <= 1414.0:
            raise InputError(
                f"--init {init}: outside -273.15 .. 1414 C", hint="a temperature in deg C"
            )
    if not (math.isfinite(logic_power) and 0.0 <= logic_power <= 1e6):
        raise InputError(f"--logic-power {logic_power:g}: give watts between 0 and 1e6")
    if hotspot_binary is not None and backend != "hotspot":
        raise InputError("--hotspot needs --backend hotspot", path="command line")
    path = Path(out_dir) if out_dir else Path("runs") / Path(trace).stem
    progress = _Progress(quiet, Path(trace).name)
    stop = SimpleNamespace(stop_requested=False)
    try:
        with _stop_on_signals(stop):
            result = do_replay(
                trace,
                path,
                kind=kind,
                params=dict(_param(p) for p in params),
                lcf=lcf,
                flp=flp,
                hotspot_config=hotspot_config,
                materials=materials,
                interval=dt,
                init=init_value,
                logic_power=logic_power,
                overwrite=overwrite,
                progress=progress,
                stop=stop,
                backend=backend,
                backend_params={"binary": hotspot_binary} if backend == "hotspot" else None,
            )
    except KeyboardInterrupt:
        progress.close()
        click.echo("comet: interrupted; partial traces kept", err=True)
        sys.exit(130)
    progress.close()
    click.echo(summary_table(result.summary, result.path))
