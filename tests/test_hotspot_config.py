"""HotSpot config files: -name value pairs, overrides, materials, validation, dump round trip."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from comet.errors import InputError
from comet.thermal.hotspot_config import (
    ThermalConfig,
    UnknownConfigKeyWarning,
    build_config,
    parse_config_pairs,
    read_config,
    read_config_pairs,
    write_config,
)
from comet.thermal.materials import read_materials

DATA = Path(__file__).parent / "data"
EV6 = DATA / "reference" / "ev6"
MATS = read_materials(EV6 / "example.materials")


def test_reads_ev6_config_without_warnings() -> None:
    pairs = read_config_pairs(EV6 / "hotspot.config")
    assert pairs[0] == ("t_chip", "0.00015", 5)
    # floorplanner and microchannel keys are known to HotSpot: no warning (warnings are errors)
    config = build_config(pairs, [], MATS, config_path=EV6 / "hotspot.config")
    assert config.k_chip == 130.0 and config.p_chip == 1630300.0  # material silicon
    assert config.k_sink == 237.0 and config.k_spreader == 237.0  # aluminum
    assert config.material_chip == "silicon" and config.material_interface is None
    assert config.k_interface == 4.0
    assert config.grid_map_mode == "avg" and config.sampling_intvl == 0.01
    assert config.init_file is None and config.package_config_file == "package.config"
    assert config.r_convec_sec == 50.0 and config.n_c4 == 400


def test_stack3d_config_keeps_defaults() -> None:
    config = read_config(DATA / "reference" / "stack3d" / "hotspot.config")
    assert config.model_type == "grid" and config.grid_rows == 64
    assert config.t_chip == ThermalConfig().t_chip


def test_command_line_overrides_and_case() -> None:
    file_pairs = parse_config_pairs("-MODEL_TYPE grid\n-grid_rows 32\n-grid_rows 16\n", "f.config")
    config = build_config(file_pairs, [("-Grid_Rows", "8"), ("ambient", "300")])
    assert config.model_type == "grid"  # names are case-insensitive
    assert config.grid_rows == 8  # command line wins
    assert config.ambient == 300.0
    # inside a file the first occurrence wins (HotSpot's str_pairs_remove_duplicates)
    assert build_config(file_pairs).grid_rows == 32
    assert build_config([("model_type", "GRID")]).model_type == "grid"


def test_null_means_none() -> None:
    config = build_config([("steady_file", "out.steady")], [("-steady_file", "(null)")])
    assert config.steady_file is None
    assert build_config([("init_file", "x.init")]).init_file == "x.init"


def test_unknown_key_warns_with_name_file_and_line() -> None:
    path = DATA / "bad" / "unknown_key.config"
    with pytest.warns(UnknownConfigKeyWarning, match=rf"{path}:2: unknown config key -no_such_key"):
        read_config(path)
    with pytest.warns(UnknownConfigKeyWarning, match="command line: unknown config key -bogus"):
        build_config([], [("-bogus", "1")])


def test_known_but_ignored_keys_are_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_config(
            [("Rcool", "0.99"), ("htc", "1"), ("f", "x.flp"), ("detailed_3D", "off")],
            [("use_microfluidic_cooling", "0"), ("lambdaA", "5e6"), ("sink_type", "0")],
        )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("-t_chip abc\n", 1, "-t_chip: 'abc' is not a number"),
        ("#c\n-t_chip nan\n", 2, "-t_chip is nan"),
        ("-grid_rows 1.5\n", 1, "-grid_rows: '1.5' is not an integer"),
        ("-t_chip 0\n", 1, "-t_chip is 0.0"),
        ("-s_sink -0.06\n", 1, "-s_sink is -0.06"),
        ("-r_convec -1\n", 1, "-r_convec is -1.0"),
        ("-ambient -1\n", 1, "-ambient is -1.0"),
        ("-sampling_intvl 0\n", 1, "-sampling_intvl is 0.0"),
        ("-model_type hybrid\n", 1, "-model_type is 'hybrid'"),
        ("-model_type grid\n-grid_map_mode median\n", 2, "-grid_map_mode is 'median'"),
        ("-model_type grid\n-grid_cols 0\n", 2, "-grid_cols is 0"),
        ("-model_secondary 1\n", 1, "-model_secondary is on with the block model"),
        ("-k_chip 0\n", 1, "-k_chip is 0.0"),
        ("t_chip 1\n", 1, "expected '-name value', found 't_chip'"),
        ("-t_chip\n", 1, "-t_chip has no value"),
        ("-material_chip silicon\n", 1, "needs a materials file"),
    ],
)
def test_errors_point_at_the_entry(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        build_config(parse_config_pairs(text, "f.config"), config_path="f.config")
    assert str(err.value).startswith(f"f.config:{line}: "), str(err.value)
    assert words in str(err.value)


def test_bad_map_mode_file() -> None:
    path = DATA / "bad" / "map_mode.config"
    with pytest.raises(InputError, match=rf"{path}:2: -grid_map_mode is 'median'"):
        read_config(path)


def test_errors_from_the_command_line() -> None:
    with pytest.raises(InputError, match="^command line: -grid_rows is 0"):
        build_config([], [("-grid_rows", "0")])
    ok = build_config([], [("-grid_rows", "12"), ("-grid_cols", "7")])  # any size, not 2^n
    assert (ok.grid_rows, ok.grid_cols) == (12, 7)


def test_materials_override_k_and_p() -> None:
    config = build_config([("k_chip", "1.0")], [("material_chip", "aluminum")], MATS)
    assert (config.k_chip, config.p_chip) == (237.0, 2.422e6)
    with pytest.raises(InputError, match=r"f.config:3: -material_sink: unknown material 'gold'"):
        build_config([("material_sink", "gold", 3)], [], MATS, config_path="f.config")
    assert build_config([("material_chip", "(null)")], [], MATS).material_chip is None


def test_write_config_round_trip(tmp_path: Path) -> None:
    config = build_config(
        [],
        [
            ("model_type", "grid"),
            ("grid_rows", "48"),
            ("t_chip", repr(0.1 + 0.2)),
            ("init_file", "a.init"),
            ("grid_map_mode", "max"),
            ("detailed_3D_used", "0"),
        ],
    )
    write_config(config, tmp_path / "c.config")
    assert read_config(tmp_path / "c.config") == config
    default = ThermalConfig()
    write_config(default, tmp_path / "d.config", [("f", "x.flp"), ("p", "x.ptrace")])
    assert read_config(tmp_path / "d.config") == default


def test_write_config_with_materials(tmp_path: Path) -> None:
    config = read_config(EV6 / "hotspot.config", [], MATS)
    write_config(config, tmp_path / "c.config")
    text = (tmp_path / "c.config").read_text()
    assert "# -material_chip silicon" in text
    back = read_config(tmp_path / "c.config")  # needs no materials file
    assert back == config.with_values(
        material_chip=None, material_sink=None, material_spreader=None
    )
