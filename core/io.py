"""Bytes to text and files written whole: the one place that sniffs byte-order marks, decodes
what users upload, and replaces files atomically (a reader sees the old or the new file)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from core.errors import DataError

UTF8_BOM = b"\xef\xbb\xbf"
# Excel's "Unicode Text" export is UTF-16 with a byte-order mark.
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
ZIP_MAGIC = b"PK\x03\x04"  # .xlsx, .ods and .zip all start with this


def sniff_encoding(head: bytes) -> str:
    """The Python codec for a file starting with `head`: 'utf-16' after a UTF-16 byte-order
    mark, else 'utf-8-sig' (UTF-8 with or without its mark)."""
    return "utf-16" if head.startswith(UTF16_BOMS) else "utf-8-sig"


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
