"""Loaded models of the service: least recently used dropped first, one load per model at a
time; a request that waits too long for another's load is answered 503."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from core.serve.wire import ApiError

# How long a request waits for a model another request is loading before answering 503.
DEFAULT_LOAD_WAIT_S = 60.0
# Two loaded models: a finetuned run and a base model side by side; each small one is ~90 MB.
DEFAULT_MAX_MODELS = 2


class ModelLoading(ApiError):
    def __init__(self, model: str) -> None:
        super().__init__(f"model {model} is loading: retry in a few seconds", status=503)


class ModelCache:
    """Loaded models, least recently used dropped first; one load per model at a time."""

    def __init__(
        self, capacity: int = DEFAULT_MAX_MODELS, load_wait_s: float = DEFAULT_LOAD_WAIT_S
    ):
        self.capacity = max(1, capacity)
        self.load_wait_s = load_wait_s
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._loading: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()

    def keys(self) -> list[Any]:
        with self._lock:
            return list(self._items)

    def get(self, key: Any, load: Callable[[], Any], name: str = "") -> Any:
        """The model under `key`, loading it with `load()` when it is not kept (blocks)."""
        for _ in range(3):  # a load that failed elsewhere is tried again here
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
                event = self._loading.get(key)
                owner = event is None
                if owner:
                    event = self._loading[key] = threading.Event()
            assert event is not None
            if owner:
                try:
                    value = load()
                    with self._lock:
                        self._items[key] = value
                        while len(self._items) > self.capacity:
                            self._items.popitem(last=False)
                    return value
                finally:
                    with self._lock:
                        self._loading.pop(key, None)
                    event.set()
            if not event.wait(self.load_wait_s):
                raise ModelLoading(name or str(key))
        raise ModelLoading(name or str(key))
