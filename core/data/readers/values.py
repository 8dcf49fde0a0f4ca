"""What the readers share: a value of a spreadsheet, a JSON record or a Parquet column as the
text a person reads, column names from a header row, and the unpacked-size guard."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.data.table import Nested
from core.errors import DataError


def column_names(names: Sequence[str], fallback: Sequence[str]) -> tuple[str, ...]:
    """Header cells as column names: an empty one takes the fallback name, a repeated one a
    number ("label", "label (2)")."""
    seen: Counter[str] = Counter()
    out = []
    for name, spare in zip(names, fallback, strict=True):
        name = name.strip() or spare
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(out)


def number(value: float) -> str:
    """A number as a spreadsheet shows it: 3 not 3.0, at most 15 significant digits."""
    if value != value:  # NaN: Parquet and pandas write it for a missing number
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def cell(value: Any, true_false: tuple[str, str] = ("true", "false")) -> str:
    """One value of a spreadsheet, a JSON record or a Parquet column as the text a person reads."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return true_false[0] if value else true_false[1]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        scalars = all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
        items = tuple(cell(v) for v in value) if scalars else None
        return Nested(f"[{len(value)} items]", "a list", items)
    if isinstance(value, dict):
        return Nested(f"{{{len(value)} fields}}", "an object")
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return Nested(f"<{len(value)} bytes>", "binary data")
    return str(value)  # Decimal, timedelta, ...


def check_unpacked(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise DataError(
            f"the {what} unpacks to {size / 2**20:.0f} MB, over the {limit / 2**20:g} MB a file "
            "may unpack to (UNPACK_RATIO times MAX_FILE_BYTES): save a smaller part of it"
        )
