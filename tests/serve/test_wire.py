"""core.serve.wire: the copy-paste request snippets match the request they describe."""

from __future__ import annotations

import json

from core.serve.wire import classify_snippets

TEXTS = ["she scored twice in the final", "the soup was too salty", "my phone keeps crashing"]


def test_snippets_are_a_valid_request_for_the_same_texts():
    import shlex

    curl, python = classify_snippets("ft-abc", ["it's great", 'say "hi"'])
    words = shlex.split(curl.replace("\\\n", " "))
    assert words[:3] == ["curl", "-s", "http://127.0.0.1:8000/v1/classify"]
    assert json.loads(words[-1]) == {"model": "ft-abc", "inputs": ["it's great", 'say "hi"']}
    compile(python, "snippet", "exec")
    assert 'model="ft-abc"' in python and '"say \\"hi\\""' in python
