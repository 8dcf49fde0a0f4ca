"""Parquet files into a Table through pyarrow."""

from __future__ import annotations

from core.data.readers.values import cell, check_unpacked, column_names
from core.data.table import Table
from core.errors import DataError


def read_parquet(raw: bytes, name: str, unpacked: int) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(pa.BufferReader(raw)).metadata
        size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        check_unpacked(size, unpacked, "Parquet file")
        data = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"the file looks like Parquet but cannot be read ({exc}): write it again and try again"
        ) from None
    columns = [[cell(v) for v in column.to_pylist()] for column in data.columns]
    return Table(
        name=name,
        format="parquet",
        columns=column_names(
            [str(n) for n in data.column_names], [f"column {i + 1}" for i in range(len(columns))]
        ),
        cells=tuple(zip(*columns, strict=True)) if columns else (),
        rows=tuple(range(1, data.num_rows + 1)),
        named=True,
    )
