"""core.io: bytes to text (byte-order marks, UTF-16, refusals with where and why) and atomic
writes (a reader sees the old file or the new one, and a failed write leaves nothing behind)."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from core.errors import DataError
from core.io import (
    atomic_path,
    atomic_write_text,
    decode_text,
    encoding_warning,
    open_text,
    sniff_bytes,
    sniff_encoding,
    sniff_file,
)
from tests.helpers import xlsx_bytes

CONTENT = "caf\u00e9 \U0001f600,pos\nbad,neg\n"
LITTLE = b"\xff\xfe" + CONTENT.encode("utf-16-le")
BIG = b"\xfe\xff" + CONTENT.encode("utf-16-be")


def error(raw: bytes) -> str:
    with pytest.raises(DataError) as info:
        decode_text(raw)
    return str(info.value)


def test_utf8_with_or_without_its_mark_and_utf16_with_one_decode_alike():
    for raw in (CONTENT.encode(), b"\xef\xbb\xbf" + CONTENT.encode(), LITTLE, BIG):
        assert decode_text(raw) == CONTENT
    assert sniff_encoding(LITTLE[:2]) == sniff_encoding(BIG[:2]) == "utf-16"
    assert sniff_encoding(b"ab") == sniff_encoding(b"") == "utf-8-sig"


def test_a_streamed_file_decodes_as_the_whole_upload(tmp_path):
    for name, raw in (("8.csv", b"\xef\xbb\xbf" + CONTENT.encode()), ("16.csv", BIG)):
        (tmp_path / name).write_bytes(raw)
        with open_text(tmp_path / name) as f:
            assert f.read() == CONTENT
    with pytest.raises(DataError, match="cannot read .*missing.csv"):
        open_text(tmp_path / "missing.csv")


def test_utf16_gets_a_warning_and_utf8_none(tmp_path):
    assert encoding_warning(LITTLE, "a.csv") == (
        "a.csv is UTF-16 (little-endian, with a byte-order mark), not UTF-8: it was read as "
        "UTF-16. Check that the texts look right, and save it as 'CSV UTF-8' so that every tool "
        "reads it the same way"
    )
    assert encoding_warning(BIG).startswith("the file is UTF-16 (big-endian, with a byte-order")
    (tmp_path / "data.csv").write_bytes(BIG)
    assert encoding_warning(tmp_path / "data.csv").startswith("data.csv is UTF-16 (big-endian")
    for utf8 in (CONTENT.encode(), b"\xef\xbb\xbf" + CONTENT.encode(), b""):
        assert encoding_warning(utf8) is None
    assert encoding_warning(tmp_path / "missing.csv") is None  # the reader says why


def test_a_spreadsheet_is_refused_by_name():
    assert error(b"PK\x03\x04\x14\x00\x06\x00rest of an xlsx") == (
        "the file looks like a spreadsheet or ZIP archive (.xlsx), not CSV text: "
        "save it as 'CSV UTF-8' and try again"
    )


def zip_of(*names: str, mimetype: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if mimetype:
            archive.writestr("mimetype", mimetype)
        for name in names:
            archive.writestr(name, "x")
    return buffer.getvalue()


def test_workbooks_parquet_and_text_are_told_apart_by_their_bytes(tmp_path):
    assert sniff_bytes(xlsx_bytes()).kind == "xlsx"
    assert sniff_bytes(b"PAR1\x15\x04").kind == "parquet"
    assert sniff_bytes(b"text,label\n").kind == sniff_bytes(b"").kind == "text"
    (tmp_path / "book.csv").write_bytes(xlsx_bytes())
    assert sniff_file(tmp_path / "book.csv").kind == "xlsx"  # by content, not by name


def test_other_kinds_of_file_say_what_they_look_like():
    refusals = {
        b"%PDF-1.7": "a PDF document, not a data file: export the table as CSV or .xlsx",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an old Excel workbook (.xls), a password-protected "
        "workbook or another Office 97-2003 file, not a data file: save it as .xlsx without a "
        "password, or as 'CSV UTF-8', and try again",
        b"\x1f\x8b\x08": (
            "a gzip-compressed file (.gz), not a data file: decompress it and try again"
        ),
        b"\x89PNG\r\n": "a PNG image, not a data file: expected CSV or TSV, Excel (.xlsx), JSON "
        "Lines (.jsonl), JSON records (.json) or Parquet",
        zip_of(
            "a.csv", "b.csv", "c.csv", "d.csv"
        ): "a ZIP archive (holding a.csv, b.csv, c.csv and "
        "1 more), not a data file: unzip it and use the data file inside",
        zip_of("content.xml", mimetype=b"application/vnd.oasis.opendocument.spreadsheet"): (
            "an OpenDocument spreadsheet (.ods), not a data file: save it as .xlsx or 'CSV UTF-8'"
        ),
        b"PK\x03\x04 cut short": "a damaged ZIP archive or Excel workbook (.xlsx), not a data "
        "file: save it again as .xlsx or 'CSV UTF-8' and try again",
    }
    for raw, message in refusals.items():
        sniffed = sniff_bytes(raw)
        assert sniffed.kind == "other"
        assert sniffed.refusal == f"the file looks like {message}"


def test_binary_data_is_refused_with_the_offset_of_its_first_nul():
    assert error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == (
        "the file looks binary, not text (NUL byte at byte offset 8): "
        "expected a CSV file saved as UTF-8"
    )


def test_latin1_is_refused_with_its_line_offset_and_byte():
    raw = "good,pos\ncaf\u00e9 au lait,neg\n".encode("latin-1")
    assert error(raw) == (
        "line 2: byte 0xe9 at byte offset 12 is not UTF-8 (the file is probably Latin-1 or "
        "Windows-1252): save it as 'CSV UTF-8' and try again"
    )


def test_broken_utf16_is_refused_with_its_offset():
    assert error(b"\xff\xfea\x00b") == (
        "the file starts like UTF-16 but byte offset 4 cannot be decoded: "
        "save it as 'CSV UTF-8' and try again"
    )


def test_an_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "record.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new \u00e9")
    assert path.read_text(encoding="utf-8") == "new \u00e9"
    assert os.listdir(tmp_path) == ["record.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("the writer failed")
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.csv"]
