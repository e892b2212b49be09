"""Async client for the part of VoIPBIN's REST API the dashboard uses (VOIPBIN.md §6).

Errors come back as typed exceptions built from VoIPBIN's envelope, so callers
can tell "sign in again" from "top up your balance" from "try later". Reads
(GET, and the idempotent PUT) are retried with backoff on timeouts, 429 and
5xx; a POST is never retried, because a lost answer does not mean VoIPBIN did
not send the message or hang up the call.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import jwt

from dashboard.voipbin.events import parse_time

API_PREFIX = "/v1.0"
LIST_RESOURCES = frozenset({"calls", "agents", "queues", "queuecalls", "messages"})
MAX_PAGE_SIZE = 100


class VoipbinError(Exception):
    """VoIPBIN said no (or could not be asked). ``message`` is fit to show a user."""

    status_code: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        status: str = "",
        reason: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.status = status
        self.reason = reason
        self.request_id = request_id


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
        retries: int = 3,
        backoff: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
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
        )
        self._retries = retries
        self._backoff = backoff

    async def __aenter__(self) -> VoipbinClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ---------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        idempotent = method in ("GET", "PUT")
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(attempts):
            last_try = attempt == attempts - 1
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                if last_try:
                    outcome = "" if idempotent else " (it may or may not have been carried out)"
                    raise VoipbinTimeout(f"VoIPBIN did not answer in time{outcome}") from exc
                delay = None
            except httpx.TransportError as exc:
                if last_try:
                    raise Unreachable(f"VoIPBIN cannot be reached: {exc or type(exc).__name__}") from exc
                delay = None
            else:
                if response.is_success:
                    return response
                error = error_from_response(response)
                if last_try or not isinstance(error, RateLimited | ServerError):
                    raise error
                delay = error.retry_after if isinstance(error, RateLimited) else None
            await asyncio.sleep(delay if delay is not None else random.uniform(0, self._backoff * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ServerError("VoIPBIN sent an unreadable answer", status_code=response.status_code) from exc

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

    async def send_message(self, *, source: str, destinations: list[str], text: str) -> dict[str, Any]:
        body = {
            "source": {"type": "tel", "target": source},
            "destinations": [{"type": "tel", "target": number} for number in destinations],
            "text": text,
        }
        return await self._json("POST", f"{API_PREFIX}/messages", json=body)

    async def hangup_call(self, call_id: str) -> dict[str, Any]:
        return await self._json("POST", f"{API_PREFIX}/calls/{call_id}/hangup")

    async def set_agent_status(self, agent_id: str, status: str) -> dict[str, Any]:
        return await self._json("PUT", f"{API_PREFIX}/agents/{agent_id}/status", json={"status": status})
