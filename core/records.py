"""Records: frozen dataclasses that serialise to JSON-shaped dicts and back through pydantic
(nested records, lists read back as tuples, field types checked), so no record needs
hand-written `to_dict` / `from_dict` pairs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import TypeAdapter

_ADAPTERS: dict[type, TypeAdapter[Any]] = {}  # one per record class: building one takes ms


def _adapter(cls: type) -> TypeAdapter[Any]:
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


class Record:
    """Mix into a dataclass: `to_dict()` gives its fields as JSON values (tuples as lists,
    nested records as dicts), `from_dict(data)` builds it back and validates it."""

    def to_dict(self) -> dict[str, Any]:
        return _adapter(type(self)).dump_python(self, mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return _adapter(cls).validate_python(data)
