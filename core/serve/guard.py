"""The service's guard, an ASGI middleware: API key, per-client rate limit and body size,
checked before any route runs (and before a large body is read in full)."""

from __future__ import annotations

import hmac
import json
import threading
import time
from typing import Any

UNAUTHENTICATED = ("/health",)


class RateLimiter:
    """A token bucket per client address."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate, self.burst = rate_per_s, max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """0 when the request may go on, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > 10_000:  # forget idle clients; bounded memory
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1, now)
            return 0.0


async def _send_json(send: Any, status: int, body: dict[str, Any], headers: dict | None = None):
    payload = json.dumps(body).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class Guard:
    """ASGI middleware: API key, per-client rate limit and body size, before any route runs."""

    def __init__(
        self,
        app: Any,
        api_key: str | None,
        limiter: RateLimiter | None,
        max_body_bytes: int,
    ) -> None:
        self.app, self.api_key, self.limiter = app, api_key, limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        if self.api_key is not None and scope["path"] not in UNAUTHENTICATED:
            given = headers.get("authorization", b"")
            expected = f"Bearer {self.api_key}".encode()
            if not hmac.compare_digest(given, expected):
                await _send_json(
                    send,
                    401,
                    {"message": "missing or wrong API key: send 'Authorization: Bearer KEY'"},
                    {"www-authenticate": "Bearer"},
                )
                return
        if self.limiter is not None and scope["path"] not in UNAUTHENTICATED:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.wait_s(client)
            if wait > 0:
                await _send_json(
                    send,
                    429,
                    {"message": f"too many requests from {client}: retry in {wait:.1f} s"},
                    {"retry-after": str(max(1, round(wait)))},
                )
                return
        length = headers.get("content-length")
        too_large = {
            "message": f"request body over {self.max_body_bytes} bytes: send fewer or shorter texts"
        }
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _send_json(send, 413, too_large)
            return
        # Read the body here, counting, so that a chunked body without a length is bounded too.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                await _send_json(send, 413, too_large)
                return
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
