"""Bytes to text and files written whole: the one place that sniffs what a file's bytes are
(byte-order marks, spreadsheets, Parquet, archives), decodes what users upload, and replaces files
atomically (a reader sees the old or the new file)."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from core.errors import DataError

UTF8_BOM = b"\xef\xbb\xbf"
# Excel's "Unicode Text" export is UTF-16 with a byte-order mark.
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
ZIP_MAGIC = b"PK\x03\x04"  # .xlsx, .ods and .zip all start with this
PARQUET_MAGIC = b"PAR1"  # at the start and the end of every Parquet file
READ_FORMATS = "CSV or TSV, Excel (.xlsx), JSON Lines (.jsonl), JSON records (.json) or Parquet"
_USE_A_DATA_FILE = f"expected {READ_FORMATS}"
# Bytes a file starts with, for the kinds people upload by mistake (what they are, what to do).
_NOT_DATA = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel workbook (.xls), a password-protected workbook or another Office 97-2003 "
        "file",
        "save it as .xlsx without a password, or as 'CSV UTF-8', and try again",
    ),
    (b"PK\x05\x06", "an empty ZIP archive", _USE_A_DATA_FILE),
    (b"\x1f\x8b", "a gzip-compressed file (.gz)", "decompress it and try again"),
    (b"%PDF", "a PDF document", "export the table as CSV or .xlsx"),
    (b"\x89PNG", "a PNG image", _USE_A_DATA_FILE),
    (b"\xff\xd8\xff", "a JPEG image", _USE_A_DATA_FILE),
    (b"ARROW1", "an Arrow / Feather file", "write it as Parquet or CSV and try again"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV and try again"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "unpack it and try again"),
)


def sniff_encoding(head: bytes) -> str:
    """The Python codec for a file starting with `head`: 'utf-16' after a UTF-16 byte-order
    mark, else 'utf-8-sig' (UTF-8 with or without its mark)."""
    return "utf-16" if head.startswith(UTF16_BOMS) else "utf-8-sig"


@dataclass(frozen=True)
class Sniffed:
    """What a file's bytes are: `kind` is "text", "xlsx" or "parquet" (formats Embedtune
    reads) or another kind it does not read, with `looks_like` and `advice` for the message."""

    kind: str
    looks_like: str = ""
    advice: str = ""

    @property
    def refusal(self) -> str:
        """The message for a file of a kind no reader takes."""
        return f"the file looks like {self.looks_like}, not a data file: {self.advice}"


def sniff_bytes(raw: bytes) -> Sniffed:
    """Tell an Excel workbook, a Parquet file and the binary files people upload by mistake from
    text by their first bytes (and, for a ZIP archive, by the names inside it). Text is anything
    else: `decode_text` says whether it really is."""
    if raw.startswith(ZIP_MAGIC):
        return _sniff_zip(io.BytesIO(raw))
    return _sniff_head(raw)


def sniff_file(path: str | os.PathLike[str]) -> Sniffed:
    """`sniff_bytes` of a file on disk, reading only its start (and a ZIP's list of names)."""
    try:
        head = file_head(path, 16)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _sniff_zip(path) if head.startswith(ZIP_MAGIC) else _sniff_head(head)


def _sniff_head(head: bytes) -> Sniffed:
    if head.startswith(PARQUET_MAGIC):
        return Sniffed("parquet", "a Parquet file")
    for magic, looks_like, advice in _NOT_DATA:
        if head.startswith(magic):
            return Sniffed("other", looks_like, advice)
    return Sniffed("text")


def _sniff_zip(source: str | os.PathLike[str] | io.BytesIO) -> Sniffed:
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype") if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError):
        return Sniffed(
            "other",
            "a damaged ZIP archive or Excel workbook (.xlsx)",
            "save it again as .xlsx or 'CSV UTF-8' and try again",
        )
    if "xl/workbook.xml" in names:
        return Sniffed("xlsx", "an Excel workbook (.xlsx)")
    if b"opendocument.spreadsheet" in mimetype:
        return Sniffed(
            "other", "an OpenDocument spreadsheet (.ods)", "save it as .xlsx or 'CSV UTF-8'"
        )
    if "word/document.xml" in names:
        return Sniffed("other", "a Word document (.docx)", _USE_A_DATA_FILE)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return Sniffed(
        "other",
        f"a ZIP archive (holding {shown or 'nothing'})",
        "unzip it and use the data file inside",
    )


def file_head(path: str | os.PathLike[str], size: int = 4) -> bytes:
    """The first bytes of a file (what `sniff_encoding` looks at)."""
    with open(path, "rb") as handle:
        return handle.read(size)


def decode_text(raw: bytes) -> str:
    """Bytes to text: UTF-8 (byte-order mark optional) or UTF-16 with a byte-order mark;
    a spreadsheet, binary data or another encoding is a DataError that says which."""
    if raw.startswith(ZIP_MAGIC):
        raise DataError(
            "the file looks like a spreadsheet or ZIP archive (.xlsx), not CSV text: "
            "save it as 'CSV UTF-8' and try again"
        )
    if sniff_encoding(raw[:2]) == "utf-16":
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise DataError(
                f"the file starts like UTF-16 but byte offset {err.start} cannot be decoded: "
                "save it as 'CSV UTF-8' and try again"
            ) from None
    nul = raw.find(b"\x00")
    if nul != -1:
        raise DataError(
            f"the file looks binary, not text (NUL byte at byte offset {nul}): "
            "expected a CSV file saved as UTF-8"
        )
    body = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        offset = err.start + (len(raw) - len(body))
        line = raw.count(b"\n", 0, offset) + 1
        raise DataError(
            f"line {line}: byte 0x{raw[offset]:02x} at byte offset {offset} is not UTF-8 "
            "(the file is probably Latin-1 or Windows-1252): save it as 'CSV UTF-8' and try again"
        ) from None


def open_text(path: str | os.PathLike[str]) -> TextIO:
    """A file opened for streaming as text, decoded as `decode_text` decodes whole uploads."""
    try:
        return open(path, encoding=sniff_encoding(file_head(path)), newline="")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def encoding_warning(source: str | os.PathLike[str] | bytes, name: str = "") -> str | None:
    """A warning for a file that reads safely but is not UTF-8 (UTF-16 with a byte-order mark,
    as Excel's "Unicode Text" saves it), else None. Other encodings are errors (`decode_text`)."""
    if isinstance(source, bytes):
        head = source[:2]
    else:
        name = name or os.path.basename(os.fspath(source))
        try:
            head = file_head(source, 2)
        except OSError:
            return None  # the reader says what is wrong with the path
    if sniff_encoding(head) != "utf-16":
        return None
    order = "little" if head == b"\xff\xfe" else "big"
    return (
        f"{name or 'the file'} is UTF-16 ({order}-endian, with a byte-order mark), not UTF-8: "
        "it was read as UTF-16. Check that the texts look right, and save it as 'CSV UTF-8' so "
        "that every tool reads it the same way"
    )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed onto `path` when the block ends
    without an error, removed when it fails. Readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a file whole (flushed to disk) or not at all."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))
