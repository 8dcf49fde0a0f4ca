"""Playground inputs: texts typed or uploaded, with optional labels."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.inputs import cosine_similarity, read_texts, split_lines
from core.errors import DataError


def test_split_lines_skips_blank_lines():
    assert split_lines("a\n\n  b  \r\n\n") == ["a", "b"]


def test_split_lines_limit():
    with pytest.raises(DataError, match="3 texts given: at most 2 at once"):
        split_lines("a\nb\nc", limit=2)


def test_two_columns_give_labels():
    got = read_texts(b'"hello, you",pos\nbad,neg\n\n')
    assert got.texts == ("hello, you", "bad") and got.labels == ("pos", "neg")


def test_one_column_or_mixed_rows_give_no_labels():
    assert read_texts(b"a\nb\n").labels is None
    assert read_texts(b"a,x\nb\n").labels is None


def test_header_is_skipped_and_utf16_and_bom_read():
    assert read_texts("text\nhé".encode("utf-16"), header=True).texts == ("hé",)
    assert read_texts(b"\xef\xbb\xbfx\n").texts == ("x",)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"caf\xe9\n", "byte offset 3 is not UTF-8"),
        (b"\n\n", "the file has no texts"),
        (b"a\x00b", "the file looks binary"),
    ],
)
def test_bad_files(raw, message):
    with pytest.raises(DataError, match=message):
        read_texts(raw)


def test_cosine_similarity():
    sim = cosine_similarity(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 0.0]]))
    assert np.allclose(sim[:3, :3], [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert sim[3, 3] == 0.0


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (
            b'{"text": "thanks!", "labels": ["gratitude"]}\n'
            b'{"text": "wow, so happy", "labels": ["joy", "surprise"]}\n'
            b'{"text": "ok", "labels": []}\n',
            "mapped.jsonl",
        ),
        (b'thanks!,gratitude\n"wow, so happy",joy|surprise\nok,\n', "mapped.csv"),
    ],
)
def test_a_multi_label_models_texts_keep_every_rows_labels(raw, name):
    given = read_texts(raw, name=name, multi_label=True)
    assert given.texts == ("thanks!", "wow, so happy", "ok")
    assert given.labels == ("gratitude", "joy|surprise", "")
    # Read for a single-label model, a list or an empty label cell means no labels at all.
    assert read_texts(raw, name=name).labels is None


def test_a_multi_label_cell_keeps_a_quoted_label_that_contains_the_separator():
    raw = b'text,label\n"a song","""R|B""|jazz"\n'
    assert read_texts(raw, name="songs.csv", header=True, multi_label=True).labels == (
        '"R|B"|jazz',
    )
