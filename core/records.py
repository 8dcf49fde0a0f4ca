"""Records: frozen dataclasses that serialise to JSON-shaped dicts and back through pydantic
(nested records, lists read back as tuples, field types checked), so no record needs
hand-written `to_dict` / `from_dict` pairs."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Self

from pydantic import TypeAdapter


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


class Record:
    """Mix into a dataclass: `to_dict()` gives its fields as JSON values (tuples as lists,
    nested records as dicts), `from_dict(data)` builds it back and validates it."""

    def to_dict(self) -> dict[str, Any]:
        return _adapter(type(self)).dump_python(self, mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return _adapter(cls).validate_python(data)
