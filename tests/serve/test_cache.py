"""core.serve.cache: loaded models, least recently used dropped first, 503 while loading."""

from __future__ import annotations

import threading
import time

import pytest

from core.serve.cache import ModelCache, ModelLoading

TEXTS = ["she scored twice in the final", "the soup was too salty", "my phone keeps crashing"]


def test_model_cache_keeps_the_most_recently_used():
    cache, loads = ModelCache(capacity=2), []

    def loader(name):
        return lambda: loads.append(name) or name

    for name in ["a", "b", "a", "c", "a", "b"]:
        assert cache.get(name, loader(name)) == name
    assert loads == ["a", "b", "c", "b"] and cache.keys() == ["a", "b"]


def test_a_request_for_a_model_being_loaded_gets_503():
    cache, release = ModelCache(load_wait_s=0.2), threading.Event()
    loader = threading.Thread(target=cache.get, args=("m", lambda: release.wait(10) and "m"))
    loader.start()
    time.sleep(0.1)
    with pytest.raises(ModelLoading) as caught:
        cache.get("m", lambda: "never used", name="ft-x")
    assert caught.value.status == 503 and str(caught.value).startswith("model ft-x is loading")
    release.set()
    loader.join()
    assert cache.get("m", lambda: "not reloaded") == "m"
