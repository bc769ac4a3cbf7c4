"""HTTP transport for Tradier: requests, retries, and turning every response shape into data or
a typed error (reference §2).

- Reads (GET, and POST /markets/quotes) are retried with exponential backoff on transient
  failures: connect errors (httpx transport retries), timeouts, 404/429/5xx, empty or non-JSON
  bodies with 200 (the HTML docs page, the rollover blank), ``Datastore Error`` faults.
- Writes (order POST/PUT/DELETE) are sent ONCE. An outcome that may have reached the broker
  raises :class:`OutcomeUnknown`; one that certainly did not (connect failure, 429 quota)
  raises :class:`NotSent`. The adapter decides what to do (tag lookup).
- The access token lives only in the client's headers. Every response body is scrubbed of it
  (verbatim, base64, URL-encoded, hex, pieces: :class:`~spxcc_core.secrets.Redactor`) before
  it is parsed, so an echoing server cannot put it into a message, a log or the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs
import httpx
import msgspec

from spxcc_core.broker.errors import (
    BrokerAuthError,
    BrokerRejected,
    BrokerUnavailable,
    UnknownOrderError,
)
from spxcc_core.clock import Clock
from spxcc_core.errors import ConfigError
from spxcc_core.secrets.redact import Redactor
from spxcc_tradier.normalize import error_messages
from spxcc_tradier.ratelimit import Group, RateLimiter, group_for, parse_expiry_ms

__all__ = ["NotSent", "OutcomeUnknown", "TradierTransport", "Transient", "check_header_token",
           "interpret"]

_decoder: Final = msgspec.json.Decoder()
_QUOTA_EPOCH: Final = re.compile(r"(\d{10,13})")
_ORDER_ID_PATH: Final = re.compile(r"/orders/([^/?]+)")
_TRANSIENT_FAULTS: Final = ("datastore error", "servicecallout", "executionfailed",
                            "service unavailable", "timeout")
_MAX_TEXT: Final = 300


class Transient(BrokerUnavailable):
    """A response or failure worth retrying (for reads) / looking up (for writes)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None,
                 quota: bool = False) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.quota = quota


class OutcomeUnknown(Transient):
    """A write may or may not have been executed by the broker."""


class NotSent(Transient):
    """A write certainly did not reach (or was refused before) the broker's order system."""


def _snippet(body: bytes) -> str:
    s = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return s[:_MAX_TEXT] + ("..." if len(s) > _MAX_TEXT else "")


def _fault(doc: object) -> tuple[str, str] | None:
    if not isinstance(doc, Mapping):
        return None
    fault = doc.get("fault")
    if not isinstance(fault, Mapping):
        return None
    detail = fault.get("detail")
    code = str(detail.get("errorcode", "")) if isinstance(detail, Mapping) else ""
    return str(fault.get("faultstring", "")), code


def interpret(status: int, headers: Mapping[str, str], body: bytes, *, path: str,
              now_ms: int) -> Any:
    """Parsed JSON of a successful response, or raise the typed error its shape means.

    ``now_ms`` (epoch milliseconds) turns the expiry a ``429`` names into ``retry_after_s``.

    :raises BrokerRejected: 200 ``errors``, 400 ``Invalid parameter``/``order already in
        finalized state``, other 4xx with a message.
    :raises UnknownOrderError: 401 ``Unauthorized Account`` on an order-id path.
    :raises BrokerAuthError: fault JSON about the token, other 401/403.
    :raises Transient: 404 / 429 / 5xx, empty or non-JSON 200, ``Datastore Error`` fault.
    """
    doc: Any = None
    parsed = False
    if body.strip():
        try:
            doc = _decoder.decode(body)
            parsed = True
        except msgspec.DecodeError:
            parsed = False
    fault = _fault(doc) if parsed else None
    if fault is not None:
        faultstring, code = fault
        lowered = (faultstring + " " + code).lower()
        if any(t in lowered for t in _TRANSIENT_FAULTS):
            raise Transient(f"tradier fault (transient): {faultstring or code}")
        if "toobigbody" in lowered:
            raise BrokerRejected(f"response too big ({faultstring or code})")
        raise BrokerAuthError(f"tradier refused the access token: {faultstring or code}")
    if status == 429:
        m = _QUOTA_EPOCH.findall(body.decode("utf-8", "replace"))
        reset_ms = parse_expiry_ms(m[-1]) if m else None
        retry = max(0, reset_ms - now_ms) / 1000.0 if reset_ms is not None else None
        raise Transient(f"tradier quota violation (429): {_snippet(body)}", retry_after_s=retry,
                        quota=True)
    if status >= 500 or status == 404 or status == 408:
        raise Transient(f"tradier HTTP {status}: {_snippet(body) or 'empty body'}")
    if status == 401:
        text = _snippet(body)
        order = _ORDER_ID_PATH.search(path)
        if "unauthorized account" in text.lower() and order is not None:
            raise UnknownOrderError(order.group(1), text)
        raise BrokerAuthError(f"tradier HTTP 401: {text or 'unauthorized'}")
    if status == 403:
        raise BrokerAuthError(f"tradier HTTP 403: {_snippet(body) or 'forbidden'}")
    if 400 <= status < 500:
        messages = error_messages(doc) if parsed else []
        if messages:
            raise BrokerRejected("; ".join(messages), codes=tuple(messages))
        raise BrokerRejected(_snippet(body) or f"HTTP {status}")
    if status < 200 or status >= 300:
        raise Transient(f"tradier HTTP {status}")
    if not parsed:
        what = "empty body" if not body.strip() else "non-JSON body"
        if b"<html" in body[:500].lower() or b"<!doctype" in body[:500].lower():
            what = "an HTML page"
        raise Transient(f"tradier HTTP {status} with {what}")
    messages = error_messages(doc)
    if messages:
        raise BrokerRejected("; ".join(messages), codes=tuple(messages))
    return doc


def check_header_token(token: str) -> None:
    """Refuse a token an HTTP ``Authorization`` header cannot carry: non-ASCII, whitespace or
    control characters (httpx would fail with ``UnicodeEncodeError`` on the first request).

    :raises ConfigError: one line naming where tokens come from; the token is not shown.
    """
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(
            "tradier access token: contains non-ASCII, whitespace or control characters, which "
            "an HTTP header cannot carry (the token is not shown); check SPXCC_TRADIER_TOKEN or "
            "the vault secret tradier_token")


@attrs.define
class TradierTransport:
    """One HTTP client against one API root (``.../v1``) with one token.

    :ivar read_retries: extra attempts for a transient read failure.
    :ivar backoff_s: first backoff; doubles per retry up to ``max_backoff_s``.
    :ivar clock: reads the time (quota expiries) and waits the backoffs; by default the
        limiter's clock, so one clock drives both.
    """

    base_url: str
    _token: str = attrs.field(repr=False)
    limiter: RateLimiter = attrs.field(factory=RateLimiter)
    timeout_s: float = 10.0
    connect_retries: int = 2
    read_retries: int = 3
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    clock: Clock = attrs.field()
    requests: int = 0
    _client: httpx.Client = attrs.field(init=False, repr=False)
    _redactor: Redactor = attrs.field(init=False, repr=False)

    @clock.default
    def _limiter_clock(self) -> Clock:
        return self.limiter.clock

    def __attrs_post_init__(self) -> None:
        check_header_token(self._token)
        self._redactor = Redactor([self._token])
        self.base_url = self.base_url.rstrip("/")
        transport = httpx.HTTPTransport(retries=self.connect_retries)
        self._client = httpx.Client(
            base_url=self.base_url, transport=transport,
            timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 5.0)),
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                     "User-Agent": "spxcc-tradier/1"})

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _scrub(self, message: str) -> str:
        return self._redactor.scrub(message)

    def _once(self, method: str, path: str, params: Mapping[str, str] | None,
              form: Mapping[str, str] | None, group: Group) -> Any:
        self.limiter.acquire(group)
        self.requests += 1
        try:
            response = self._client.request(method, path, params=params, data=form)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(self._scrub(f"tradier unreachable ({type(exc).__name__})")) from None
        except httpx.TransportError as exc:
            raise OutcomeUnknown(self._scrub(f"tradier {method} {path}: connection failed "
                                             f"({type(exc).__name__})")) from None
        self.limiter.update(group, response.headers)
        now_ms = self.clock.now_ms()
        try:
            # the token is removed from the body in every form before anything reads it (a
            # server echoing it must not put it into a message, a log or the store)
            body = self._redactor.scrub_bytes(response.content)
            return interpret(response.status_code, response.headers, body,
                             path=path, now_ms=now_ms)
        except Transient as exc:
            if exc.quota:
                reset_ms = (now_ms + round(exc.retry_after_s * 1000)
                            if exc.retry_after_s is not None else None)
                self.limiter.exhausted(group, reset_ms)
                raise NotSent(self._scrub(str(exc)), retry_after_s=exc.retry_after_s,
                              quota=True) from None
            raise OutcomeUnknown(self._scrub(str(exc)),
                                 retry_after_s=exc.retry_after_s) from None
        except (BrokerRejected, BrokerAuthError) as exc:
            exc.args = (self._scrub(str(exc)),)
            if isinstance(exc, BrokerRejected):
                exc.reason = self._scrub(exc.reason)
            raise

    def read(self, path: str, params: Mapping[str, str] | None = None, *,
             method: str = "GET", form: Mapping[str, str] | None = None) -> Any:
        """A safe request (no side effects), retried on transient failures.

        :raises BrokerUnavailable: still failing after ``read_retries`` retries.
        """
        group = group_for(method, path)
        delay = self.backoff_s
        for attempt in range(self.read_retries + 1):
            try:
                return self._once(method, path, params, form, group)
            except Transient as exc:
                if attempt == self.read_retries:
                    raise BrokerUnavailable(str(exc), retry_after_s=exc.retry_after_s) from None
                if not exc.quota:  # a quota wait is done by the limiter on the next acquire
                    self.clock.sleep(delay)
                    delay = min(delay * 2, self.max_backoff_s)
        raise AssertionError("unreachable")

    def write(self, method: str, path: str, form: Mapping[str, str]) -> Any:
        """A request with side effects, sent once.

        :raises NotSent: it certainly had no effect (unreachable, quota).
        :raises OutcomeUnknown: it may have had an effect.
        """
        return self._once(method, path, None, form, group_for(method, path))
