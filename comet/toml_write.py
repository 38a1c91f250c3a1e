"""A small TOML writer (Python's ``tomllib`` only reads): values, keys and nested tables.

Enough for what comet writes: run configs (``config.toml``) and stack descriptions
(``stack.toml``). Strings are written as JSON strings (a subset of TOML basic strings); floats
with ``repr`` (round-trip exact), non-finite ones as ``nan``/``inf``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["dumps_toml", "toml_key", "toml_value"]


def toml_value(value: Any) -> str:
    """One TOML value (inline tables and arrays for nested data; None as an empty string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return '""'
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def toml_key(key: str) -> str:
    """A bare key when it is one, else a quoted key."""
    key = str(key)
    if key and all(c.isalnum() or c in "_-" for c in key):
        return key
    return json.dumps(key)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """A small TOML writer for nested dicts of scalars and lists (enough for run configs)."""
    lines: list[str] = []

    def emit(table: Mapping[str, Any], prefix: str) -> None:
        scalars = {
            k: v
            for k, v in table.items()
            if not isinstance(v, Mapping)
            and not (isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v))
        }
        for k, v in scalars.items():
            if v is not None:
                lines.append(f"{toml_key(k)} = {toml_value(v)}")
        for k, v in table.items():
            name = f"{prefix}{toml_key(k)}"
            if isinstance(v, Mapping):
                lines.append("")
                lines.append(f"[{name}]")
                emit(v, name + ".")
            elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
                for item in v:
                    lines.append("")
                    lines.append(f"[[{name}]]")
                    emit(item, name + ".")

    emit(data, "")
    return "\n".join(lines).lstrip("\n") + "\n"
