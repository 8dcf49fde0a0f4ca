"""Tests for core.data.cleaning: each rule alone, all together, and clean() on LabeledTexts."""

from __future__ import annotations

import json

import pytest

from core.data.cleaning import CleaningConfig, TextChange, clean
from core.data.labeled import LabeledTexts
from core.errors import ConfigError

URLS = CleaningConfig(urls=True)
HTML = CleaningConfig(html=True)
SYMBOLS = CleaningConfig(symbols=True)
WHITESPACE = CleaningConfig(whitespace=True)
PERSIAN_WITH_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want", one word


def test_all_rules_off_by_default_leave_the_text_alone():
    config = CleaningConfig()
    assert not config.enabled
    assert config.apply("  <b>x</b>  http://a.b  ") == "  <b>x</b>  http://a.b  "
    assert CleaningConfig.ALL.enabled
    assert CleaningConfig.ALL == CleaningConfig(urls=True, html=True, symbols=True, whitespace=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://example.com/a?b=1 now", "see   now"),
        ("see http://example.com.", "see  ."),  # the full stop ends the sentence, not the URL
        ("(www.example.org/page) ok", "( ) ok"),
        ("HTTPS://EXAMPLE.COM", ""),
        ("no address here, www or http", "no address here, www or http"),
    ],
)
def test_urls_rule(text, expected):
    assert URLS.apply(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>Fish &amp; chips</p>", "Fish & chips"),
        ("line<br/>break", "line break"),
        ("&lt;b&gt; is shown, not removed", "<b> is shown, not removed"),
        ("a < b and c > d", "a < b and c > d"),
        ("<!-- note -->caf&eacute; &#8364;5", "café €5"),
    ],
)
def test_html_rule(text, expected):
    assert HTML.apply(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("great!!! #1 @friend", "great!!!  1  friend"),
        ("it's 50% off, $5 (or £4) - ok?", "it's 50% off, $5 (or £4) - ok?"),
        ("price™ ► now | here ~ ^", "price    now   here"),
        ("ctrl\x91chars\x96here", "ctrl chars here"),
        ("zero\u200bwidth", "zero width"),
        # Letters of every script, their combining marks, and joiners inside words stay.
        ("мир مرحبا नमस्ते 中文 שלום", "мир مرحبا नमस्ते 中文 שלום"),
        (PERSIAN_WITH_ZWNJ, PERSIAN_WITH_ZWNJ),
        # Emoji stay: they often carry the sentiment.
        ("love it 😀👍🏽 👨\u200d👩\u200d👧", "love it 😀👍🏽 👨\u200d👩\u200d👧"),
        ("typographic “quotes” — and it’s fine", "typographic “quotes” — and it’s fine"),
    ],
)
def test_symbols_rule(text, expected):
    assert SYMBOLS.apply(text) == expected


def test_whitespace_rule():
    assert WHITESPACE.apply("  many   spaces\n\tand\r\nlines  ") == "many spaces and lines"


def test_all_rules_together():
    text = "<b>Visit</b>  https://x.io  &amp; win £100!!! ★★ #deal\n\n"
    assert CleaningConfig.ALL.apply(text) == "Visit & win £100!!! ★★ deal"
    assert CleaningConfig.ALL.apply("&lt;#&gt;") == ""


def test_apply_is_pure_and_idempotent_on_examples():
    text = "<i>Hi</i>   there http://a.b #x"
    once = CleaningConfig.ALL.apply(text)
    assert CleaningConfig.ALL.apply(text) == once
    assert CleaningConfig.ALL.apply(once) == once


def test_config_round_trip_and_errors():
    config = CleaningConfig(urls=True, whitespace=True)
    assert config.to_dict() == {"urls": True, "html": False, "symbols": False, "whitespace": True}
    assert CleaningConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError) as info:
        CleaningConfig.from_dict({"emoji": True})
    assert str(info.value) == (
        "unknown cleaning rule 'emoji': expected some of html, symbols, urls, whitespace"
    )
    with pytest.raises(ConfigError) as info:
        CleaningConfig.from_dict({"urls": "yes"})
    assert str(info.value) == "cleaning rule 'urls' must be true or false, got 'yes'"


def test_clean_reports_changed_rows_and_keeps_rows_and_labels():
    data = LabeledTexts(
        ("plain", "<b>bold</b>", "http://only.a.link", "two  spaces"),
        ("x", "y", "x", "y"),
        (2, 3, 5, 8),
        name="f.csv",
    )
    cleaned, changes = clean(data, CleaningConfig(urls=True, html=True, whitespace=True))
    assert cleaned.texts == ("plain", "bold", "", "two spaces")
    assert (cleaned.labels, cleaned.rows, cleaned.name) == (data.labels, data.rows, "f.csv")
    assert changes == [
        TextChange(3, "<b>bold</b>", "bold"),
        TextChange(5, "http://only.a.link", ""),  # cleaned to empty: still reported
        TextChange(8, "two  spaces", "two spaces"),
    ]
    assert TextChange.from_dict(changes[0].to_dict()) == changes[0]


def test_clean_with_no_rule_returns_the_data_unchanged():
    data = LabeledTexts.from_pairs([(" a ", "x")])
    assert clean(data, CleaningConfig()) == (data, [])
