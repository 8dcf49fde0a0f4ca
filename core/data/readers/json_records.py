"""JSON Lines and JSON lists of records into a Table, each record with the line it starts on;
a text file that is JSON whatever its name says."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from core.data.readers.values import cell
from core.data.table import RECORD_EXAMPLE, Table, quoted
from core.errors import DataError


def json_by_content(content: str, name: str) -> Table | None:
    """A text file that is JSON whatever its name says: its records as a Table (with a note), an
    error when it is JSON but not records, None when it is not JSON (CSV text)."""
    body = content.lstrip()
    if body[:1] == "{":
        try:
            looks_json = isinstance(json.loads(body.split("\n", 1)[0]), dict)  # JSON Lines
        except ValueError:
            looks_json = _parses(content)  # one object over several lines
    elif body[:1] == "[":
        # "[URGENT] server down,bug" is CSV; "[{..." that does not parse is broken JSON.
        looks_json = _parses(content) or re.match(r"\[\s*[{\[]", body) is not None
    else:
        return None
    if not looks_json:
        return None
    table = read_json(content, name, expected="CSV")
    form = "one record per line" if table.format == "jsonl" else "a list of records"
    return table.with_note(f"the file is JSON ({form}), not CSV: it was read as JSON records")


def _parses(content: str) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def read_json(content: str, name: str, expected: str | None) -> Table:
    """JSON Lines (one object per line) or a JSON list of objects; row numbers are the line where
    each record starts. `expected`: the format the name promised, for the message."""
    body = content.lstrip()
    if not body:
        return _records_table([], name, "jsonl")
    if body[0] == "[":
        try:
            value = json.loads(content)
        except json.JSONDecodeError as err:
            raise DataError(
                f"line {err.lineno}: not valid JSON ({err.msg}, column {err.colno})"
            ) from None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise DataError(_not_records(value, expected))
        return _records_table(list(_array_lines(content, value)), name, "json")
    try:  # the whole file as one JSON value: one record, or JSON that holds no records
        whole = json.loads(content)
    except json.JSONDecodeError:
        pass  # JSON Lines (or broken): read line by line below
    else:
        if not isinstance(whole, dict) or any(isinstance(v, list) for v in whole.values()):
            raise DataError(_not_records(whole, expected))
        first = 1 + content.count("\n", 0, len(content) - len(body))
        return _records_table([(first, whole)], name, "jsonl")
    records: list[tuple[int, Any]] = []
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"line {number}: not valid JSON ({err.msg}, column {err.colno}): JSON Lines "
                "holds one whole record per line"
            ) from None
        if not isinstance(value, dict):
            raise DataError(
                f"line {number}: expected a JSON object such as {RECORD_EXAMPLE}, found "
                f"{_json_kind(value)}"
            )
        records.append((number, value))
    return _records_table(records, name, "jsonl")


_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(content: str, index: int) -> int:
    match = _SPACE.match(content, index)
    return match.end() if match else index


def _array_lines(content: str, value: list[Any]) -> Iterator[tuple[int, Any]]:
    """(line, record) for each element of a JSON list already parsed from `content`."""
    decoder = json.JSONDecoder()
    index = _skip_space(content, content.index("[") + 1)
    line = 1 + content.count("\n", 0, index)
    for _ in value:
        record, end = decoder.raw_decode(content, index)
        yield line, record
        start, index = index, _skip_space(content, _skip_space(content, end) + 1)  # past ","
        line += content.count("\n", start, index)


_KINDS = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number"}


def _json_kind(value: Any) -> str:
    """How a message names a JSON value: "one object with the keys 'a', 'b'", "a list of
    strings", "a number"."""
    if isinstance(value, dict):
        keys = list(value)
        shown = quoted(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        return f"one object with the keys {shown}" if keys else "an empty object"
    if isinstance(value, list):
        kinds = sorted({_KINDS.get(type(v), "number" if v is not None else "null") for v in value})
        return f"a list of {' and '.join(k + 's' for k in kinds)}" if kinds else "an empty list"
    if value is None:
        return "null"
    kind = _KINDS.get(type(value), "number")
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _not_records(value: Any, expected: str | None) -> str:
    what = f"the file is JSON ({_json_kind(value)})"
    if expected:
        what += f", not {expected}"
    return (
        f"{what}: expected records such as {RECORD_EXAMPLE}, one per line (JSON Lines) or in a list"
    )


def _records_table(records: list[tuple[int, Any]], name: str, fmt: str) -> Table:
    fields: dict[str, None] = {}
    for _, record in records:
        fields.update(dict.fromkeys(record))
    names = tuple(fields)
    return Table(
        name=name,
        format=fmt,
        columns=names or ("text", "label"),
        cells=tuple(
            tuple(cell(record[key]) if key in record else None for key in names)
            for _, record in records
        ),
        rows=tuple(line for line, _ in records),
        named=True,
    )
