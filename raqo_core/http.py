"""One small JSON-over-HTTP client for OpenAI-compatible servers (MPADE's chat agent, the rewriter's
``openai`` engine): retries with exponential backoff and ``Retry-After``, an overall deadline,
bounded concurrency, and credentials that never leave the configured host.

Redirects are not followed: a ``3xx`` answer is an error naming both URLs, so an API key is never
sent to (nor an answer taken from) another host. The key itself never appears in an error or a log.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from raqo_core.errors import RAQOError

T = TypeVar("T")


class HTTPFailure(RAQOError):
    """A request that failed after its retries; ``status`` is the last HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timed_out = timed_out


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise HTTPFailure(f"HTTP {code} redirect from {req.full_url} to {newurl} not followed", code)


_OPENER = urllib.request.build_opener(_NoRedirect)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if value and value.replace(".", "", 1).isdigit():
        return float(value)
    return None


class JSONClient:
    """``post(path, payload, parse)``: JSON in, ``parse(json)`` out, or :class:`HTTPFailure`.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080/v1``.
        api_key: sent as ``Authorization: Bearer …`` (to this host only).
        timeout_s: per-attempt timeout; ``deadline_s`` (per call) caps all attempts together.
        max_retries: retries after 429, 5xx, timeouts, connection errors and answers ``parse`` rejects.
        concurrency: requests in flight at once through this client.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        concurrency: int = 8,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise RAQOError(f"base_url must be an http(s) URL, got {base_url!r}")
        if concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise RAQOError(f"concurrency must be >= 1, max_retries >= 0 and timeout_s > 0, got {concurrency}, {max_retries}, {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self.usage = {"requests": 0, "retries": 0, "failures": 0}

    def __repr__(self) -> str:  # never the key
        return f"JSONClient({self.base_url!r}, concurrency={self.concurrency})"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _count(self, key: str) -> None:
        with self._lock:
            self.usage[key] += 1

    def request(
        self,
        path: str,
        payload: dict[str, Any] | None,
        parse: Callable[[Any], T],
        *,
        deadline_s: float | None = None,
        retry_on: tuple[int, ...] = (),
    ) -> T:
        """GET (``payload=None``) or POST ``payload``; ``parse`` may raise ValueError/KeyError/IndexError/TypeError
        to reject a malformed answer (retried)."""
        url = self.url(path)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = None if payload is None else json.dumps(payload).encode()
        with self._slots:  # the deadline starts once a slot is held: queueing is not waiting for the server
            return self._attempts(url, body, headers, parse, deadline_s, retry_on)

    def _attempts(
        self,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        parse: Callable[[Any], T],
        deadline_s: float | None,
        retry_on: tuple[int, ...],
    ) -> T:
        end = None if deadline_s is None else time.monotonic() + deadline_s
        last, status, timed_out = "no attempt made", None, False
        for attempt in range(self.max_retries + 1):
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                if attempt == 0 or timed_out:
                    last, timed_out = f"timed out after {deadline_s:.1f} s waiting for {url}", True
                else:  # the server kept failing until the time was up: that failure is the news
                    last = f"{last} (gave up after {attempt} attempts in {deadline_s:.1f} s)"
                break
            if attempt:
                self._count("retries")
            delay = min(self.backoff_s * (2**attempt), self.max_backoff_s)
            timeout = self.timeout_s if remaining is None else min(self.timeout_s, remaining)
            try:
                self._count("requests")
                rq = urllib.request.Request(url, data=body, headers=headers, method="GET" if body is None else "POST")
                with _OPENER.open(rq, timeout=timeout) as resp:
                    raw = resp.read().decode("utf-8", "replace")
                return parse(json.loads(raw))
            except HTTPFailure as exc:  # a redirect: never retried, never followed
                last, status = str(exc), exc.status
                break
            except urllib.error.HTTPError as exc:
                status, timed_out = exc.code, False
                detail = ""
                with contextlib.suppress(Exception):
                    detail = exc.read().decode("utf-8", "replace")[:200]
                last = f"HTTP {exc.code} from {url}" + (f": {detail}" if detail else "")
                if exc.code != 429 and exc.code < 500 and exc.code not in retry_on:
                    break  # a 4xx other than 429: retrying will not help
                ra = _retry_after(exc.headers)
                if ra is not None:
                    delay = min(ra, self.max_backoff_s)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                status = None
                reason = getattr(exc, "reason", exc)
                timed_out = isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError)
                last = f"{'timed out waiting for' if timed_out else 'cannot reach'} {url}: {reason}"
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                timed_out = False
                last = f"malformed answer from {url}: {type(exc).__name__}: {exc}"[:300]
            if attempt < self.max_retries:
                if end is not None:
                    delay = min(delay, max(0.0, end - time.monotonic()))
                time.sleep(delay)
        self._count("failures")
        raise HTTPFailure(last, status, timed_out=timed_out)
