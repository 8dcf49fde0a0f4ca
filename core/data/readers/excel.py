"""Excel workbooks (.xlsx) into a Table through python-calamine: the saved values, the
spreadsheet's row numbers, merged cells and titles."""

from __future__ import annotations

import io

from core.data.readers.values import cell, check_unpacked, column_names
from core.data.table import Table, quoted
from core.errors import DataError


def read_xlsx(raw: bytes, name: str, header: bool, sheet: str | None, unpacked: int) -> Table:
    """The first visible sheet (or `sheet`) through python-calamine: the values Excel saved,
    so a formula cell reads as its cached result. A cell merged down over several rows reads
    as its value on each; a cell merged across the whole table above it is a title, skipped."""
    import zipfile

    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    with zipfile.ZipFile(io.BytesIO(raw)) as archive:  # sniff_bytes opened it already
        check_unpacked(sum(item.file_size for item in archive.infolist()), unpacked, "workbook")

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        worksheets = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        sheets = tuple(m.name for m in worksheets)
        if sheet is None:
            visible = [m.name for m in worksheets if m.visible == SheetVisibleEnum.Visible]
            if not visible and not sheets:
                raise DataError(
                    "the workbook has no sheets with cells: expected rows of text, label"
                )
            sheet = (visible or list(sheets))[0]
        elif sheet not in sheets:
            raise DataError(f"no sheet {sheet!r} in the workbook: its sheets are {quoted(sheets)}")
        found = book.get_sheet_by_name(sheet)
        # Padded from A1, so a value's position is its spreadsheet row and column.
        values = [list(row) for row in found.to_python(skip_empty_area=False)]
        merged = list(found.merged_cell_ranges or [])
    except CalamineError as exc:
        raise DataError(
            f"the file looks like an Excel workbook (.xlsx) but cannot be read ({exc}): "
            "open it in Excel, save it again and try again"
        ) from None
    cells = [[cell(v, ("TRUE", "FALSE")) for v in row] for row in values]
    filled = {c for row in cells for c, v in enumerate(row) if v.strip()}
    used = list(range(min(filled), max(filled) + 1)) if filled else []
    titles: set[int] = set()
    if used:
        first_row = next(r for r, row in enumerate(cells) if any(v.strip() for v in row))
        for (r0, c0), (r1, c1) in merged:
            if c0 <= used[0] and c1 >= used[-1] and c1 > c0 and r0 == first_row:
                titles.update(range(r0, r1 + 1))  # a title across the table, above it
            elif c0 == c1:
                for r in range(r0 + 1, min(r1, len(cells) - 1) + 1):
                    if c0 < len(cells[r]) and not cells[r][c0]:
                        cells[r][c0] = cells[r0][c0]
    data = [
        (r, row) for r, row in enumerate(cells) if r not in titles and any(v.strip() for v in row)
    ]
    names: tuple[str, ...]
    letters = tuple(_letters(c) for c in used)
    if header and data:
        head = data[0][1]
        names = column_names([head[c] if c < len(head) else "" for c in used], letters)
        data = data[1:]
    else:
        names = letters
    return Table(
        name=name,
        format="xlsx",
        columns=names or ("A", "B"),
        cells=tuple(tuple(row[c] if c < len(row) else "" for c in used) for _, row in data),
        rows=tuple(r + 1 for r, _ in data),
        named=header,
        header=header,
        sheet=sheet,
        sheets=sheets,
    )


def _letters(column: int) -> str:
    """Spreadsheet column letters of a 0-based column: 0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        out = chr(ord("A") + rest) + out
    return out
