"""Calibration of comet's built-in core power and workload profiles against Sniper + McPAT
(issue 12): a measurement record, ``benchmarks/results/calibration.csv``.

For each pair (built-in profile, comparable program) it

1. compiles the program (``benchmarks/calibration/*.c``) and records its SIFT trace with
   Sniper's ``record-trace --frontend=dr`` (``--roi``: the programs mark their kernel with
   ``SimRoiStart``/``SimRoiEnd``, so buffer initialization is not recorded);
2. runs Sniper (``-c gainestown``, one core, ``perf_model/core/frequency`` and ``power/vdd`` at
   the operating point, ``stop-by-time`` after ``--duration``, ``periodic-stats`` every
   ``--warmup``, comet's per-bank DRAM counters) and McPAT 1.3 through Sniper's
   ``tools/mcpat.py`` (power gating off, :mod:`comet.power.mcpat_driver`) on the window from
   ``--warmup`` to the end (cold caches excluded);
3. evaluates comet's built-in models (interval model, analytic core, CoMeT's core leakage at
   McPAT's temperature; :mod:`comet.calibration`) on the built-in profile at the same f / V
   with the DDR latency, and on the phase fitted from the measurement with the fitted
   ``cores.c_eff`` / ``cores.stall_activity`` / phase ``activity``;
4. writes the comparison (CSV, provenance header) and the fitted profiles (TOML, loadable with
   ``workload.profile_files``).

    python benchmarks/calibration.py [--sniper-root DIR] [--mcpat BIN] [--out CSV]
        [--profiles-out TOML] [--work DIR] [--reuse] [--pair NAME ...] [--freq 3.6GHz]
        [--duration 3ms] [--warmup 1ms]

Tools: ``--sniper-root`` (else ``$SNIPER_ROOT``, ``/work/native/READY-sniper``), ``--mcpat``
(else ``$COMET_MCPAT``, ``/work/native/READY-mcpat``), a C compiler (``$CC``, ``cc``).
Sniper runs and traces go to ``--work`` (default ``~/.cache/comet/calibration``); with
``--reuse`` a run whose parameters match is not simulated again (nor McPAT rerun on it).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from comet.calibration import (
    Measured,
    fit_core,
    fit_idle,
    fit_phase,
    idle_rows,
    measured,
    predict,
    table_rows,
    write_table,
)
from comet.config import CoresConfig, parse_duration, parse_quantity
from comet.errors import InputError
from comet.power.mcpat import interval_markers, mcpat_samples, run_sniper_point
from comet.power.vf import linear_voltage
from comet.sources import SOURCES

HERE = Path(__file__).resolve().parent
SOURCES_DIR = HERE / "calibration"
NATIVE = Path(os.environ.get("COMET_NATIVE_DIR", "/work/native"))


@dataclass(frozen=True)
class Pair:
    profile: str  #: comet's built-in profile
    program: str  #: name of the run (and of the fitted profile)
    source: str  #: C file in benchmarks/calibration/
    args: tuple[str, ...]
    roi: bool  #: record only the program's region of interest
    what: str


PAIRS: tuple[Pair, ...] = (
    Pair("compute", "compute", "compute.c", ("4000000",), False,
         "dependent FP + integer loop in registers, no memory traffic"),
    Pair("mixed", "mixed", "mixed.c", ("64", "200000", "16"), True,
         "pointer chase over 64 MiB, 16 iterations of the compute loop per step"),
    Pair("memory", "stream", "stream.c", ("32", "2"), True,
         "STREAM triad over 3 x 32 MiB (bandwidth-bound, like CoMeT's SPEC lbm)"),
    Pair("memory", "chase", "mixed.c", ("64", "200000", "0"), True,
         "pointer chase over 64 MiB (latency-bound, like SPEC mcf)"),
)  # fmt: skip


#: CoMeT's changes to Sniper's gainestown (marg-tools/CoMeT@5a9d040 config/nehalem.cfg:46,58,
#: 70,104-105: smaller private caches, McPAT at 22 nm; config/gainestown_DDR.cfg: one controller)
COMET_OVERRIDES: tuple[str, ...] = (
    "perf_model/l1_icache/cache_size=4",
    "perf_model/l1_dcache/cache_size=16",
    "perf_model/l2_cache/cache_size=64",
    "power/technology_node=22",
    "power/vth=0.35",
    "perf_model/dram/num_controllers=1",
)


def _ready(name: str, key: str) -> str | None:
    path = NATIVE / name
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1].split("#", 1)[0].strip()
    return None


def find_tools(args: argparse.Namespace) -> tuple[Path, Path, str]:
    """Sniper's root, the McPAT binary and the C compiler, or a clear InputError."""
    root = (
        args.sniper_root or os.environ.get("SNIPER_ROOT") or _ready("READY-sniper", "SNIPER_ROOT")
    )
    if not root:
        raise InputError(
            "Sniper not found", hint="give --sniper-root DIR (Sniper 8.1 built with "
            "scripts/build_native.sh) or set $SNIPER_ROOT"
        )  # fmt: skip
    root_p = Path(root)
    for need in ("run-sniper", "record-trace", "tools/mcpat.py"):
        if not (root_p / need).exists():
            raise InputError(f"--sniper-root {root}: no {need} there", hint="a Sniper build?")
    mcpat = args.mcpat or os.environ.get("COMET_MCPAT") or _ready("READY-mcpat", "COMET_MCPAT")
    if not mcpat:
        raise InputError("McPAT not found", hint="give --mcpat BIN or set $COMET_MCPAT")
    if not (Path(mcpat).is_file() and os.access(mcpat, os.X_OK)):
        raise InputError(f"--mcpat {mcpat}: not an executable file", hint="McPAT 1.3's binary")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise InputError("no C compiler", hint="install gcc or set $CC")
    return root_p, Path(mcpat), cc


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = "/usr/bin:" + env.get("PATH", "")  # Sniper's tools want the system python
    return env


def record(pair: Pair, root: Path, cc: str, work: Path, reuse: bool) -> Path:
    """Compile the pair's program and record its trace (``work/<program>.sift``)."""
    trace = work / f"{pair.program}.sift"
    stamp = work / f"{pair.program}.sift.json"
    want = {"source": (SOURCES_DIR / pair.source).read_text(), "args": list(pair.args),
            "roi": pair.roi}  # fmt: skip
    if reuse and trace.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == want:
        return trace
    exe = work / pair.program
    subprocess.run([cc, "-O2", f"-I{root / 'include'}", "-o", str(exe),
                    str(SOURCES_DIR / pair.source)], check=True)  # fmt: skip
    cmd = [str(root / "record-trace"), "--frontend=dr", *(["--roi"] if pair.roi else []),
           "-o", str(work / pair.program), "--", str(exe), *pair.args]  # fmt: skip
    with open(work / f"{pair.program}.record.log", "wb") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work, env=_env())
    if rc != 0 or not trace.is_file():
        raise InputError(f"record-trace of {pair.program} failed (exit {rc})",
                         path=work / f"{pair.program}.record.log")  # fmt: skip
    stamp.write_text(json.dumps(want))
    return trace


def simulate(
    pair: Pair, trace: Path, root: Path, mcpat: Path, work: Path, args: argparse.Namespace,
    f_hz: float, v: float, n_cores: int, idle_cores: int = 0,
) -> tuple[Measured, dict]:  # fmt: skip
    """Sniper + McPAT on one pair, ``n_cores`` copies of the program and ``idle_cores`` cores
    without a thread (reused with --reuse when the run's parameters match)."""
    tag = f"-idle{idle_cores}" if idle_cores else ""
    run_dir = work / f"{pair.program}-{n_cores}c{tag}-{round(f_hz / 1e6)}MHz"
    stamp = run_dir / "calibration.json"
    want = {"trace_bytes": trace.stat().st_size, "f_hz": f_hz, "v": v,
            "duration_s": args.duration_s, "warmup_s": args.warmup_s, "banks": args.banks,
            "overrides": list(args.overrides), "cores": n_cores,
            "idle_cores": idle_cores}  # fmt: skip
    if not (args.reuse and stamp.is_file() and json.loads(stamp.read_text()) == want):
        if run_dir.exists():
            shutil.rmtree(run_dir)
        t0 = time.monotonic()
        old = os.environ["PATH"]
        os.environ["PATH"] = _env()["PATH"]
        try:
            run_sniper_point(root / "run-sniper", run_dir, [str(trace)] * n_cores, f_hz, v,
                             args.duration_s, interval_s=args.warmup_s, idle_cores=idle_cores,
                             extra=[x for g in (*args.overrides,
                                                f"perf_model/dram/bank_stats/banks={args.banks}")
                                    for x in ("-g", g)])  # fmt: skip
        finally:
            os.environ["PATH"] = old
        print(f"  sniper {pair.program} x{n_cores}: {time.monotonic() - t0:.0f} s",
              file=sys.stderr)  # fmt: skip
        stamp.write_text(json.dumps(want))
    window = interval_markers(args.duration_s, args.warmup_s)
    part = f"{window[1].split(':')[0]}:roi-end" if len(window) > 1 else None
    t0 = time.monotonic()
    _, raw = mcpat_samples(run_dir, root, mcpat, voltage=v, partial=part,
                           out_prefix=run_dir / "comet-mcpat-window")  # fmt: skip
    print(f"  mcpat {pair.program} x{n_cores}: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    busy = {**raw, "cores": raw["cores"][:n_cores]}
    return measured(busy, v=v), raw


#: the counters comet.calibration reads (--save-raw keeps only these: small test data)
_KEEP = ("performance_model.instruction_count", "dram.reads", "dram.writes", "dram.bank",
         "L3.load-misses", "L3.store-misses", "interval_timer.cpiDataCachedram",
         "interval_timer.cpiInstructionCachedram")  # fmt: skip


def trimmed(raw: dict) -> dict:
    """The driver's output with only the statistics the calibration reads."""
    stats = {k: v for k, v in raw["stats"].items() if k.startswith(_KEEP)}
    return {**raw, "stats": stats}


def _commit() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        return out or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _sniper_version(root: Path) -> str:
    version = "Sniper"
    log = root / "CHANGELOG"
    if log.is_file():
        version = f"Sniper {log.read_text().split()[1]}"
    head = root / ".git" / "HEAD"
    if head.is_file():
        version += f" ({head.read_text().strip()[:7]})"
    return version


def _profiles_toml(fitted: dict[str, dict[str, float]], header: list[str]) -> str:
    lines = [f"# {h}" for h in header] + [""]
    for name, ph in fitted.items():
        lines += [f"[profiles.{name}]",
                  f'description = "calibrated against Sniper 8.1 + McPAT 1.3: {name}"',
                  f"[[profiles.{name}.phases]]", "instructions = 1e8"]  # fmt: skip
        lines += [f"{k} = {ph[k]:.4g}" for k in ("cpi", "mpki", "read_fraction", "mlp",
                                                 "activity")]  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sniper-root", help="Sniper's directory ($SNIPER_ROOT)")
    ap.add_argument("--mcpat", help="McPAT 1.3's binary ($COMET_MCPAT)")
    ap.add_argument("--out", default=str(HERE / "results" / "calibration.csv"))
    ap.add_argument("--profiles-out", default=None,
                    help="fitted profiles (TOML; default next to --out)")  # fmt: skip
    ap.add_argument("--work", default=str(Path.home() / ".cache" / "comet" / "calibration"))
    ap.add_argument("--reuse", action="store_true", help="reuse matching traces and runs")
    ap.add_argument("--pair", action="append", choices=[p.program for p in PAIRS],
                    help="a pair to run (repeat; default all)")  # fmt: skip
    ap.add_argument("--freq", default="3.6GHz", help="operating point (CoMeT's studies: 3.6 GHz)")
    ap.add_argument("--duration", default="3ms", help="simulated time of each Sniper run")
    ap.add_argument("--warmup", default="1ms", help="simulated time left out of the window")
    ap.add_argument("--banks", type=int, default=8, help="per-bank DRAM counters (banks)")
    ap.add_argument("--cores", default="1,4",
                    help="copies of each program per run, comma separated (1: alone; 4: "
                    "CoMeT's 2x2 sharing the L3 and one memory controller)")  # fmt: skip
    ap.add_argument("--fit-cores", type=int, default=None,
                    help="the runs the calibrated profiles come from (default: the largest "
                    "--cores, CoMeT's default study runs 4 copies)")  # fmt: skip
    ap.add_argument("--no-idle", action="store_true",
                    help="skip the idle-core run (compute on one core, one core without a "
                    "thread: McPAT's power of an idle core, cores.idle_activity)")  # fmt: skip
    ap.add_argument("--save-raw", default=None,
                    help="also write each run's trimmed McPAT-driver output here "
                    "(<program>-<cores>c.json; the tests' data)")  # fmt: skip
    ap.add_argument("--sniper-gainestown", action="store_true",
                    help="Sniper's own gainestown (45 nm, 32/32/256 KB L1-I/L1-D/L2) instead "
                    "of CoMeT's (22 nm, 4/16/64 KB)")  # fmt: skip
    args = ap.parse_args(argv)
    args.overrides = () if args.sniper_gainestown else COMET_OVERRIDES
    try:
        root, mcpat, cc = find_tools(args)
        f_hz = parse_quantity(args.freq, "frequency")
        args.duration_s = parse_duration(args.duration)
        args.warmup_s = parse_duration(args.warmup)
        if not 0 < args.warmup_s < args.duration_s:
            raise InputError("--warmup must be > 0 and shorter than --duration")
        try:
            n_list = sorted({int(x) for x in args.cores.split(",") if x.strip()})
        except ValueError:
            raise InputError(f"--cores {args.cores!r}: give numbers, e.g. 1,4") from None
        if not n_list or min(n_list) < 1 or max(n_list) > 16:
            raise InputError(f"--cores {args.cores!r}: 1 to 16 copies")
        fit_n = args.fit_cores or n_list[-1]
        if fit_n not in n_list:
            raise InputError(f"--fit-cores {fit_n} is not one of --cores {args.cores}")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cores = CoresConfig()
    v = float(linear_voltage(f_hz, cores.f_max, cores.voltage.v0, cores.voltage.slope))
    src = {s.key: s.value for s in SOURCES}
    t_mem = float(src["memory.ddr.latency"])
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    pairs = [p for p in PAIRS if not args.pair or p.program in args.pair]
    from comet.perf.workloads import builtin_profiles

    builtin = {n: p.phases[0] for n, p in builtin_profiles().items()}
    meas: list[tuple[Pair, int, Measured]] = []
    mcpat_version = "McPAT"
    for pair in pairs:
        print(f"{pair.program} (profile {pair.profile}): {pair.what}", file=sys.stderr)
        try:
            trace = record(pair, root, cc, work, args.reuse)
            for n in n_list:
                m, raw = simulate(pair, trace, root, mcpat, work, args, f_hz, v, n)
                mcpat_version = raw.get("mcpat_version") or mcpat_version
                meas.append((pair, n, m))
                if args.save_raw:
                    Path(args.save_raw).mkdir(parents=True, exist_ok=True)
                    (Path(args.save_raw) / f"{pair.program}-{n}c.json").write_text(
                        json.dumps(trimmed(raw), indent=0) + "\n"
                    )
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    idle = None
    if not args.no_idle:
        pair = next((p for p in pairs if p.program == "compute"), pairs[0])
        print(f"idle core beside {pair.program}", file=sys.stderr)
        try:
            trace = record(pair, root, cc, work, args.reuse)
            _, raw = simulate(pair, trace, root, mcpat, work, args, f_hz, v, 1, idle_cores=1)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        if float(raw["stats"]["performance_model.instruction_count"][1]) != 0:
            print("error: the idle core executed instructions", file=sys.stderr)
            return 1
        c1 = raw["cores"][1]
        idle = (c1["core_w"] + c1.get("l2_w", 0.0), c1["core_leak_w"] + c1.get("l2_leak_w", 0.0),
                raw.get("temperature_k") or 330.0, pair.program)  # fmt: skip
        if args.save_raw:
            (Path(args.save_raw) / f"idle-beside-{pair.program}.json").write_text(
                json.dumps(trimmed(raw), indent=0) + "\n"
            )
    fit_runs = [(p, m) for p, n, m in meas if n == fit_n]
    fitted = {p.program: fit_phase(m, t_mem) for p, m in fit_runs}
    # with one program, stall_activity stays comet's default and only c_eff is fitted
    hold = cores.stall_activity if len(fit_runs) < 2 else None
    c_eff, stall, acts = fit_core([m for _, m in fit_runs], list(fitted.values()), t_mem, hold)
    for (p, _), a in zip(fit_runs, acts, strict=True):
        fitted[p.program]["activity"] = a
    rows = []
    for p, n, m in meas:
        t_k = m.temperature_k or 330.0
        b_ph = builtin[p.profile]
        b = predict({k: getattr(b_ph, k) for k in ("cpi", "mpki", "read_fraction", "mlp",
                                                   "activity")},
                    f_hz, v, t_mem, cores.c_eff, cores.stall_activity, t_k)  # fmt: skip
        c = predict(fitted[p.program], f_hz, v, t_mem, c_eff, stall, t_k)
        rows += table_rows(p.profile, p.program, m, b, c, cores=n)
    idle_act = None
    if idle is not None:
        idle_act = fit_idle(idle[0], f_hz, v, c_eff)
        rows += idle_rows(idle[0], idle[1], f_hz, v, idle[2], (cores.c_eff, cores.idle_activity),
                          (c_eff, idle_act), cores=2)  # fmt: skip
    temps = sorted({m.temperature_k for _, _, m in meas if m.temperature_k})
    header = [
        "comet calibration against Sniper + McPAT (issue 12); made by benchmarks/calibration.py",
        f"comet commit {_commit()}, {_dt.datetime.now(_dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
        f"tools: {_sniper_version(root)} (-c gainestown, --cores copies of the program, DRAM "
        f"45 ns + queue model, 7.6 GB/s per controller), {mcpat_version} via Sniper "
        "tools/mcpat.py, power gating off",
        "Sniper overrides (CoMeT's gainestown, marg-tools/CoMeT@5a9d040 config/nehalem.cfg, "
        f"gainestown_DDR.cfg): {' '.join(args.overrides) or 'none'}",
        f"operating point: {f_hz / 1e9:g} GHz, {v:.3f} V (CoMeT's V = 0.6 + 0.8 f / 4 GHz); "
        f"window {args.warmup_s * 1e3:g}-{args.duration_s * 1e3:g} ms of each run; McPAT "
        f"leakage at {', '.join(f'{t:g}' for t in temps)} K (Sniper's mcpat.py), comet's "
        "(CoMeT's core fit) at the same",
        f"comet built-in: profile phase, cores.c_eff {cores.c_eff:g} F, stall_activity "
        f"{cores.stall_activity:g}, t_mem {t_mem * 1e9:g} ns (memory.ddr.latency)",
        f"comet calibrated: phases fitted to the {fit_n}-core runs, c_eff {c_eff:.4g} F, "
        f"stall_activity {stall:.4g} ({'NNLS over them' if hold is None else 'held'}); "
        "cores: copies of the program per run (per-core means; DRAM counters of the run / cores)"
        + (
            f"; idle: a core without a thread beside one running {idle[3]} (cores 2), "
            f"calibrated idle_activity {idle_act:.4g} (cores.idle_activity "
            f"{cores.idle_activity:g} built in)"
            if idle is not None
            else ""
        ),  # fmt: skip
        "programs: "
        + "; ".join(
            f"{p.program} = {p.source} {' '.join(p.args)} ({p.what})" for p in pairs
        ),  # fmt: skip
        "per core; power = dynamic + leakage (CoMeT's: McPAT's Runtime Dynamic of the core incl. "
        "its L2 + CoMeT's core leakage fit); mcpat_leakage: McPAT's own; dram_apki: DRAM accesses "
        "(reads + write-backs) per kilo-instruction (comet's mpki); ratios: comet / Sniper+McPAT",
        "command: " + shlex.join(["python", "benchmarks/calibration.py", *(argv or sys.argv[1:])]),
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(rows, out, header)
    prof_out = Path(args.profiles_out) if args.profiles_out else out.with_suffix(".profiles.toml")
    from comet.fileio import write_atomic

    write_atomic(prof_out, _profiles_toml(fitted, header))
    print(f"wrote {out} and {prof_out}")
    print(f"fitted: c_eff {c_eff:.4g} F, stall_activity {stall:.4g}, idle_activity {idle_act}")
    for p, _ in fit_runs:
        print(
            f"  {p.program:8s} " + ", ".join(f"{k} {x:.4g}" for k, x in fitted[p.program].items())
        )
    for r in rows:
        if r["metric"] in ("power", "dynamic", "mcpat_leakage", "ipc", "dram_apki",
                           "dram_bandwidth", "read_fraction"):  # fmt: skip
            print(f"{r['profile']:7s} {r['program']:8s} x{r['cores']} {r['metric']:15s} "
                  f"sniper+mcpat {r['sniper_mcpat']:8.4g}  builtin {r['comet_builtin']:8.4g} "
                  f"({r['builtin_ratio']:.3g}x) calibrated {r['comet_calibrated']:8.4g}",
                  )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
