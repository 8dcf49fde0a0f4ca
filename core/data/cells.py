"""A Table's cells beyond plain text (Nested: a list, an object, binary data) and how messages
quote names."""

from __future__ import annotations

from collections.abc import Sequence


class Nested(str):
    """A cell holding a list, an object or binary data (JSON, Parquet): shown in a preview as
    "[3 items]", never read as a text or a label. `kind` names it in messages ("a list")."""

    kind: str
    items: tuple[str, ...] | None  # a list of names or numbers: its items (multi-label labels)

    def __new__(cls, shown: str, kind: str, items: tuple[str, ...] | None = None) -> Nested:
        cell = super().__new__(cls, shown)
        cell.kind = kind
        cell.items = items
        return cell

    def __getnewargs__(self) -> tuple[str, str, tuple[str, ...] | None]:  # type: ignore[override]
        return str(self), self.kind, self.items  # so that a cached Table can be pickled


def quoted(names: Sequence[str]) -> str:
    """'a', 'b' for messages."""
    return ", ".join(repr(name) for name in names)
