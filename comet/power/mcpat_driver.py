# mypy: ignore-errors
"""Run Sniper's ``tools/mcpat.py`` on one Sniper results directory, print JSON (stdlib only).

``python mcpat_driver.py SNIPER_ROOT MCPAT_BIN RESULTS_DIR OUT_PREFIX [FROM:TO]``

Sniper's McPAT front end is used as is (it turns Sniper's statistics into McPAT's XML), with
two changes made here, not in Sniper: the McPAT binary is the given one, and power gating is
switched off in the XML (McPAT 1.3 spins for more than 10 minutes with it on). Printed: per
core, McPAT's ``Runtime Dynamic`` of the core and of its private L2 (W) and the Sniper
statistics comet's event rates are computed from, plus the interval's length (s) and each
core's frequency and supply voltage from the run's configuration; also each core's and L2's
leakage (``Subthreshold Leakage`` + ``Gate Leakage``, W, power gating off), the temperature
Sniper's front end gave McPAT (K) and McPAT's version line (for calibration records).
"""

import json
import os
import re
import subprocess
import sys


def main(argv):
    root, mcpat_bin, results, out = argv[:4]
    partial = argv[4].split(":") if len(argv) > 4 else None
    sys.path.insert(0, os.path.join(root, "tools"))
    os.environ.setdefault("SNIPER_ROOT", root)
    import mcpat  # Sniper's tools/mcpat.py
    import sniper_config
    import sniper_lib

    def run(inputfile, outputfile):
        with open(inputfile) as fh:
            xml = fh.read()
        xml = xml.replace('name="power_gating" value="1"', 'name="power_gating" value="0"')
        with open(inputfile, "w") as fh:
            fh.write(xml)
        with open(outputfile, "w") as fh:
            rc = subprocess.call(
                [mcpat_bin, "-print_level", "5", "-opt_for_clk", "1", "-infile", inputfile],
                stdout=fh,
            )
        if rc != 0:
            raise SystemExit(f"mcpat exited with code {rc}")

    mcpat.mcpat_run = run
    if not os.path.exists(out + ".py"):  # an earlier call's output is reused (McPAT: ~30 s)
        mcpat.main(0, results, out, powertype="dynamic", no_graph=True, partial=partial,
                   print_stack=False)  # fmt: skip
    scope = {}
    with open(out + ".py") as fh:
        exec(fh.read(), scope)  # mcpat.py writes "power = {...}"
    power = scope["power"]
    res = sniper_lib.get_results(resultsdir=results, partial=partial)
    cfg, stats = res["config"], res["results"]
    ncores = int(cfg["general/total_cores"])
    seconds = (stats["global.time_end"] - stats["global.time_begin"]) / 1e15
    keep = {}
    for key, value in stats.items():
        if isinstance(value, list) and len(value) == ncores:
            obj = key.split(".", 1)[0]
            if obj in ("performance_model", "interval_timer", "L1-D", "L1-I", "L2", "L3",
                       "branch_predictor", "dram"):  # fmt: skip
                keep[key] = value
    temperature = None
    if os.path.exists(out + ".xml"):
        with open(out + ".xml") as fh:
            hit = re.search(r'name="temperature" value="([0-9.]+)"', fh.read())
        temperature = float(hit.group(1)) if hit else None
    version = None
    if os.path.exists(out + ".txt"):
        with open(out + ".txt", errors="replace") as fh:
            hit = re.search(r"McPAT \(version [^)]*\)", fh.read())
        version = hit.group(0) if hit else None

    def leak(unit):
        return unit.get("Subthreshold Leakage", 0.0) + unit.get("Gate Leakage", 0.0)

    l2 = power.get("L2", [])
    cores = []
    for c in range(ncores):
        core = power["Core"][c]
        cores.append({
            "core_w": core["Runtime Dynamic"],
            "l2_w": l2[c]["Runtime Dynamic"] if len(l2) == ncores else 0.0,
            "core_leak_w": leak(core),
            "l2_leak_w": leak(l2[c]) if len(l2) == ncores else 0.0,
            "f_hz": 1e9 * float(sniper_config.get_config(cfg, "perf_model/core/frequency", c)),
            "v": float(sniper_config.get_config(cfg, "power/vdd", c)) if "power/vdd" in cfg
            else None,
        })  # fmt: skip
    json.dump({"seconds": seconds, "cores": cores, "stats": keep, "temperature_k": temperature,
               "mcpat_version": version}, sys.stdout)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
