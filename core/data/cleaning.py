"""Text cleaning rules, applied identically to training texts and to texts sent for prediction."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from core.data.labeled import LabeledTexts
from core.errors import ConfigError
from core.records import Record

# Tags and comments; a lone "<" or "a < b" is not a tag because a tag starts with a letter, / or !.
_TAG = re.compile(r"<[A-Za-z/!][^<>]*>")
# A URL runs to the next whitespace or quote/bracket, minus punctuation that ends the sentence.
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
_SPACES = re.compile(r"\s+")

# ASCII punctuation that carries meaning in ordinary text; other ASCII symbols (# * @ | ~ ^ _ ...)
# are markup or noise. Outside ASCII, letters, marks, digits, punctuation, currency and emoji stay.
_KEEP_ASCII = frozenset(".,!?'\"-:;()%$&/")
# Joiners are needed inside words of Persian and Indic scripts, and inside emoji sequences.
_KEEP_FORMAT = frozenset("\u200c\u200d\ufe0f\u20e3")
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0xE0020, 0xE007F))


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _EMOJI_RANGES)


def _keep_char(char: str) -> bool:
    """Whether the symbols rule keeps this character."""
    if char.isascii():
        return char.isalnum() or char.isspace() or char in _KEEP_ASCII
    if char.isspace() or char in _KEEP_FORMAT or _is_emoji(char):
        return True
    category = unicodedata.category(char)
    # L letters, M combining marks (Devanagari, Arabic vowels), N digits, P punctuation, Sc money.
    return category[0] in "LMNP" or category == "Sc"


@dataclass(frozen=True)
class CleaningConfig(Record):
    """Which cleaning rules are on. All off by default: the text is used as the user wrote it.

    - urls: remove web addresses (http://, https://, www.)
    - html: remove HTML tags and decode entities (&amp; -> &)
    - symbols: remove stray symbols and control characters; keeps letters of every script,
      digits, punctuation, currency signs and emoji (emoji often carry the sentiment)
    - whitespace: collapse runs of spaces, tabs and newlines into one space
    Removed pieces become a space, so words on either side stay apart. When any rule is on,
    the text is also stripped at both ends.
    """

    urls: bool = False
    html: bool = False
    symbols: bool = False
    whitespace: bool = False

    ALL: ClassVar[CleaningConfig]

    @property
    def enabled(self) -> bool:
        """True when at least one rule is on."""
        return self.urls or self.html or self.symbols or self.whitespace

    @property
    def rules(self) -> tuple[str, ...]:
        """The names of the rules that are on, e.g. ('urls', 'whitespace')."""
        return tuple(field.name for field in fields(self) if getattr(self, field.name))

    def apply(self, text: str) -> str:
        """The cleaned text: a pure function of the rules and the text."""
        if not self.enabled:
            return text
        if self.html:
            # Tags first, then entities: "&lt;b&gt;" is text the author meant to show.
            text = html.unescape(_TAG.sub(" ", text))
        if self.urls:
            text = _URL.sub(" ", text)
        if self.symbols:
            text = "".join(char if _keep_char(char) else " " for char in text)
        if self.whitespace:
            text = _SPACES.sub(" ", text)
        return text.strip()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleaningConfig:
        names = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"unknown cleaning rule {unknown[0]!r}: expected some of {', '.join(sorted(names))}"
            )
        for key, value in data.items():
            if not isinstance(value, bool):
                raise ConfigError(f"cleaning rule {key!r} must be true or false, got {value!r}")
        return cls(**data)


CleaningConfig.ALL = CleaningConfig(urls=True, html=True, symbols=True, whitespace=True)


@dataclass(frozen=True)
class TextChange(Record):
    """One text the cleaning changed, for a before/after view."""

    row: int
    before: str
    after: str


def clean(data: LabeledTexts, config: CleaningConfig) -> tuple[LabeledTexts, list[TextChange]]:
    """Apply the rules to every text; return the cleaned texts and the rows that changed.

    A text cleaned to nothing stays (as an empty text) so the review can flag it.
    """
    if not config.enabled:
        return data, []
    cleaned = [config.apply(text) for text in data.texts]
    changes = [
        TextChange(row=row, before=before, after=after)
        for row, before, after in zip(data.rows, data.texts, cleaned, strict=True)
        if before != after
    ]
    return data.with_texts(cleaned), changes
