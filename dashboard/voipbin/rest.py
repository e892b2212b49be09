"""Async client for the part of VoIPBIN's REST API the dashboard uses (VOIPBIN.md §6).

Errors come back as typed exceptions built from VoIPBIN's envelope, so callers
can tell "sign in again" from "top up your balance" from "try later". Reads
(GET, and the idempotent PUT) are retried with backoff on timeouts, 429 and
5xx. A POST is not retried, because a lost answer does not mean VoIPBIN did
not send the message or hang up the call; a caller may opt in to retrying it on
the refusals that prove nothing was done (429, 503), with the same backoff and
``Retry-After`` handling. Every error says how many requests were made.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import jwt

from dashboard.voipbin.events import parse_time

API_PREFIX = "/v1.0"
DEFAULT_RETRIES = 3
MAX_RETRY_AFTER = 30.0
"""Seconds; a longer ``Retry-After`` fails the request at once rather than hold its caller that long."""
IDEMPOTENT_METHODS = frozenset({"GET", "PUT"})
REFUSED_BEFORE_PROCESSING = frozenset({429, 503})
"""Answers that mean VoIPBIN did nothing with the request. Any other 5xx may come after the work was
done (a 504 certainly can), so a POST that got one is never repeated."""
LIST_RESOURCES = frozenset({"calls", "agents", "queues", "queuecalls", "messages", "activeflows", "flows"})
MAX_PAGE_SIZE = 100


class VoipbinError(Exception):
    """VoIPBIN said no (or could not be asked). ``message`` is fit to show a user.

    ``attempts`` is how many requests were made before giving up. ``outcome_unknown`` means the
    request (a POST) may have been carried out all the same: a timeout, a lost connection or an
    unreadable success. Repeating it could send an SMS twice.
    """

    status_code: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        status: str = "",
        reason: str = "",
        request_id: str = "",
        attempts: int = 1,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.status = status
        self.reason = reason
        self.request_id = request_id
        self.attempts = attempts
        self.outcome_unknown = outcome_unknown


class BadRequest(VoipbinError):
    status_code = 400


class Unauthenticated(VoipbinError):
    status_code = 401


class InvalidCredentials(Unauthenticated):
    """Login refused: wrong username or password (VoIPBIN answers 400 with no body)."""


class PaymentRequired(VoipbinError):
    status_code = 402


class Forbidden(VoipbinError):
    status_code = 403


class NotFound(VoipbinError):
    status_code = 404


class RateLimited(VoipbinError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(VoipbinError):
    status_code = 500


class VoipbinTimeout(VoipbinError):
    """No answer in time. For a POST the outcome is unknown: do not assume it failed."""


class Unreachable(VoipbinError):
    """The connection could not be made (DNS, refused, TLS)."""


_BY_STATUS: dict[int, type[VoipbinError]] = {
    400: BadRequest,
    401: Unauthenticated,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}

_DEFAULT_MESSAGES = {
    400: "VoIPBIN rejected the request as invalid",
    401: "Your VoIPBIN session is not valid; sign in again",
    402: "The VoIPBIN account balance is too low",
    403: "VoIPBIN does not allow this for your account",
    404: "VoIPBIN does not know this resource",
    429: "VoIPBIN is rate-limiting requests; try again shortly",
}


def error_from_response(response: httpx.Response) -> VoipbinError:
    """Map a non-2xx response and VoIPBIN's error envelope to a typed exception."""
    code = response.status_code
    envelope: Mapping[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            envelope = body["error"]
    except ValueError:
        pass
    message = str(envelope.get("message") or _DEFAULT_MESSAGES.get(code) or f"VoIPBIN answered HTTP {code}")
    fields = {
        "status_code": code,
        "status": str(envelope.get("status", "")),
        "reason": str(envelope.get("reason", "")),
        "request_id": str(envelope.get("request_id", "")),
    }
    if code == 429:
        return RateLimited(message, retry_after=_retry_after(response), **fields)
    if code >= 500:
        return ServerError(message, **fields)
    return _BY_STATUS.get(code, VoipbinError)(message, **fields)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def token_expiry(token: str) -> datetime | None:
    """The JWT's ``expire`` claim (a string, not the standard ``exp``), unverified.

    Only VoIPBIN can verify its tokens; we read the claim to warn before expiry.
    """
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return parse_time(claims.get("expire"))


class Answer(dict[str, Any]):
    """A JSON object VoIPBIN answered with, and how many requests it took to get it."""

    def __init__(self, body: Mapping[str, Any], *, attempts: int) -> None:
        super().__init__(body)
        self.attempts = attempts


def _decode(response: httpx.Response, *, method: str, attempts: int) -> Any:
    """The body of a successful answer; an unreadable one may still mean a POST was carried out."""
    try:
        return response.json()
    except ValueError as exc:
        raise ServerError(
            "VoIPBIN sent an unreadable answer",
            status_code=response.status_code,
            attempts=attempts,
            outcome_unknown=method not in IDEMPOTENT_METHODS,
        ) from exc


@dataclass(frozen=True, slots=True)
class LoginResult:
    username: str
    token: str
    expire: datetime | None


class VoipbinClient:
    """One set of credentials (an agent's JWT or an account access key) against one VoIPBIN."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        accesskey: str | None = None,
        timeout: float = 10.0,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.25,
        max_retry_after: float = MAX_RETRY_AFTER,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        headers = {"Accept": "application/json"}
        params = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif accesskey:
            params["accesskey"] = accesskey
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            params=params,
            timeout=timeout,
            transport=transport,
            verify=verify,
        )
        self._retries = retries
        self._backoff = backoff
        self._max_retry_after = max_retry_after

    async def __aenter__(self) -> VoipbinClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ---------------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, *, retry_refusals: bool = False, **kwargs: Any
    ) -> tuple[httpx.Response, int]:
        """The successful response and how many requests it took; the last error if none succeeded."""
        idempotent = method in IDEMPOTENT_METHODS
        budget = 1 + (self._retries if idempotent or retry_refusals else 0)
        for attempt in range(1, budget + 1):
            cause: Exception | None = None
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                outcome = "" if idempotent else " (it may or may not have been carried out)"
                error: VoipbinError = VoipbinTimeout(
                    f"VoIPBIN did not answer in time{outcome}", outcome_unknown=not idempotent
                )
                cause = exc
            except httpx.TransportError as exc:
                error = Unreachable(
                    f"VoIPBIN cannot be reached: {exc or type(exc).__name__}",
                    outcome_unknown=not idempotent and not isinstance(exc, httpx.ConnectError),
                )
                cause = exc
            else:
                if response.is_success:
                    return response, attempt
                error = error_from_response(response)
            error.attempts = attempt
            delay = self._retry_delay(error, attempt, idempotent=idempotent) if attempt < budget else None
            if delay is None:
                raise error from cause
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(self, error: VoipbinError, attempt: int, *, idempotent: bool) -> float | None:
        """Seconds to wait before the next attempt, or None when ``error`` is final.

        Only a read may be repeated after a timeout or a 5xx: for a POST those may hide a success.
        """
        if idempotent:
            retryable = isinstance(error, VoipbinTimeout | Unreachable | RateLimited | ServerError)
        else:
            retryable = error.status_code in REFUSED_BEFORE_PROCESSING
        if not retryable:
            return None
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        if retry_after is not None:
            return retry_after if retry_after <= self._max_retry_after else None
        return random.uniform(0, self._backoff * 2 ** (attempt - 1))

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response, attempts = await self._request(method, path, **kwargs)
        return _decode(response, method=method, attempts=attempts)

    # -- API ---------------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> LoginResult:
        try:
            body = await self._json("POST", "/auth/login", json={"username": username, "password": password})
        except BadRequest as exc:
            raise InvalidCredentials("Wrong username or password", status_code=400) from exc
        token = body.get("token") if isinstance(body, dict) else None
        if not token:
            raise ServerError("VoIPBIN's login answer has no token")
        return LoginResult(username=body.get("username", username), token=token, expire=token_expiry(token))

    async def me(self) -> dict[str, Any]:
        return await self._json("GET", f"{API_PREFIX}/me")

    async def iter_list(
        self, resource: str, *, page_size: int = MAX_PAGE_SIZE, limit: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Items of ``resource`` newest first, following ``next_page_token``, at most ``limit``."""
        if resource not in LIST_RESOURCES:
            raise ValueError(f"unknown list {resource!r}; expected one of {sorted(LIST_RESOURCES)}")
        params: dict[str, Any] = {"page_size": min(page_size, MAX_PAGE_SIZE)}
        count = 0
        while True:
            body = await self._json("GET", f"{API_PREFIX}/{resource}", params=params)
            for item in body.get("result") or ():
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            token = body.get("next_page_token")
            if not token or not body.get("result"):
                return
            params["page_token"] = token

    async def list(self, resource: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        return [item async for item in self.iter_list(resource, limit=limit)]

    async def send_message(
        self, *, source: str, destinations: list[str], text: str, retry_refusals: bool = False
    ) -> Answer:
        """Send an SMS; the answer is the outbound message, with how many requests it took.

        Sent once, unless ``retry_refusals``: then repeated while VoIPBIN refuses it (429, 503)
        within the retry budget, and never after a timeout or any other error.
        """
        body = {
            "source": {"type": "tel", "target": source},
            "destinations": [{"type": "tel", "target": number} for number in destinations],
            "text": text,
        }
        path = f"{API_PREFIX}/messages"
        response, attempts = await self._request("POST", path, retry_refusals=retry_refusals, json=body)
        message = _decode(response, method="POST", attempts=attempts)
        if not isinstance(message, dict):
            raise ServerError(
                "VoIPBIN's answer is not a message",
                status_code=response.status_code,
                attempts=attempts,
                outcome_unknown=True,
            )
        return Answer(message, attempts=attempts)

    async def hangup_call(self, call_id: str) -> dict[str, Any]:
        return await self._json("POST", f"{API_PREFIX}/calls/{call_id}/hangup")

    async def set_agent_status(self, agent_id: str, status: str) -> dict[str, Any]:
        return await self._json("PUT", f"{API_PREFIX}/agents/{agent_id}/status", json={"status": status})
