"""One error family for everything a user can fix: each message says what is wrong and where."""

from __future__ import annotations


class EmbedtuneError(Exception):
    """A problem a person can act on. The CLI prints it as `error: ...`, the app as `st.error`."""


class DataError(EmbedtuneError):
    """The data file cannot be read or trained on (names the row and what was expected)."""


class ConfigError(EmbedtuneError):
    """A training setting is out of range or of the wrong type."""


class ModelError(EmbedtuneError):
    """A base model is unknown, not installed, or not a sentence-transformers folder."""


class RunError(EmbedtuneError):
    """A run id is invalid, unknown, not finished, or its directory is broken."""


class StorageError(EmbedtuneError):
    """The runs folder cannot be written (permissions, disk full)."""


class LimitError(EmbedtuneError):
    """A shared demo's per-visitor cap (rows, concurrent finetunes) would be exceeded."""
