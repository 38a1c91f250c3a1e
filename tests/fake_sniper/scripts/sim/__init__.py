"""A fake of Sniper's scripting modules (``sim``), enough to run comet's Sniper-side script
outside Sniper: the state lives in :data:`STATE`, owned by ``tests/fake_sniper/run-sniper``."""

import types

STATE = {
    "config": {},
    "metrics": {},  # (object, index, metric) -> int
    "hooks": {},  # hook id -> [callbacks]
    "freq_mhz": [],
    "affinity": {},  # thread -> requested core
    "nthreads": 0,
    "abort": False,
    "roi": True,
    "writes": [],  # sim.stats.write prefixes
    "refuse_affinity": False,
}


def _config_get(key):
    if key not in STATE["config"]:
        raise SystemExit(f"[SNIPER] Configuration error: key {key} not found")  # Sniper aborts
    return STATE["config"][key]


config = types.SimpleNamespace(get=_config_get, output_dir=".")


def _getter(obj, index, metric):
    key = (obj, index, metric)
    if key not in STATE["metrics"]:
        raise ValueError("Stats metric not found")
    return lambda: STATE["metrics"][key]


stats = types.SimpleNamespace(
    getter=_getter,
    get=lambda o, i, m: _getter(o, i, m)(),
    time=lambda: STATE.get("time_fs", 0),
    write=lambda prefix: STATE["writes"].append(prefix),
)

_names = ["HOOK_PERIODIC", "HOOK_THREAD_EXIT", "HOOK_THREAD_MIGRATE", "HOOK_SIM_END",
          "HOOK_ROI_BEGIN", "HOOK_ROI_END"]  # fmt: skip
hooks = types.SimpleNamespace(
    hooks={n: i for i, n in enumerate(_names)},
    register=lambda hook, func: STATE["hooks"].setdefault(hook, []).append(func),
    **{n: i for i, n in enumerate(_names)},
)


def _set_frequency(core, mhz):
    print(f"[SNIPER] Setting frequency for core {core} in DVFS domain {core} to {mhz} MHz")
    STATE["freq_mhz"][core] = int(mhz)


dvfs = types.SimpleNamespace(
    set_frequency=_set_frequency, get_frequency=lambda core: STATE["freq_mhz"][core]
)


def _set_affinity(tid, mask):
    if STATE["refuse_affinity"]:
        return False
    cores = [c for c, on in enumerate(mask) if on]
    STATE["affinity"][tid] = cores[0]
    return True


thread = types.SimpleNamespace(
    get_nthreads=lambda: STATE["nthreads"], set_thread_affinity=_set_affinity
)
control = types.SimpleNamespace(
    abort=lambda: STATE.update(abort=True), set_roi=lambda on: STATE.update(roi=on)
)
