"""The ``comet`` command line (click). One module per verb, imported only when that verb runs.

Every command turns an :class:`comet.errors.InputError` into a one-line message on stderr and
exit status 2 (see :func:`comet.cli.common.handle_errors`); no traceback reaches the user for bad
input.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from comet import __version__

#: verb -> (module, attribute, one-line help). Commands are loaded lazily.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "hotspot": ("comet.cli.hotspot", "hotspot", "HotSpot-compatible thermal simulation."),
    "floorplan": ("comet.cli.floorplan", "floorplan", "Generate the stack of a configuration."),
    "run": ("comet.cli.run", "run", "Run a closed-loop simulation from a TOML config."),
    "replay": ("comet.cli.run", "replay", "Feed an existing power trace through a stack."),
    "plot": ("comet.cli.viz", "plot", "Plots and heatmaps of a run."),
    "video": ("comet.cli.viz", "video", "Heatmap animation of a run (GIF or MP4)."),
    "view": ("comet.cli.view", "view", "Interactive PyQt6 viewer of a run."),
    "sweep": ("comet.cli.sweep", "sweep", "Run a batch of simulations in parallel."),
    "validate": (
        "comet.cli.validate",
        "validate",
        "Compare comet's solver with a HotSpot binary on a case folder.",
    ),
    "doctor": ("comet.cli.doctor", "doctor", "Which native tools comet finds."),
    "fit-power": ("comet.cli.fit_power", "fit_power", "Fit per-event core power from McPAT."),
    "report": ("comet.cli.report", "report", "Tables and plots of a sweep's runs."),
}


def _available(verb: str) -> bool:
    module = COMMANDS[verb][0]
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(v for v in COMMANDS if _available(v))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module_name, attr, _ = COMMANDS[cmd_name]
        command: Any = getattr(importlib.import_module(module_name), attr)
        return command  # type: ignore[no-any-return]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="comet")
def main() -> None:
    """comet: core-and-memory thermal simulation of 2D, 2.5D and 3D processors."""
