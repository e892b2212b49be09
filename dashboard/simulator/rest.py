"""The part of VoIPBIN's REST API the dashboard uses (VOIPBIN.md §6).

Reads are scoped to the caller's customer: another tenant's ids answer 404,
exactly as unknown ids do.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from dashboard.simulator import auth
from dashboard.simulator.core import simulator_of
from dashboard.simulator.errors import ApiError, Handler, error_response
from dashboard.simulator.resources import Record, address, public_view
from dashboard.simulator.timestamps import parse_time
from dashboard.voipbin.topics import Principal

routes = web.RouteTableDef()

MAX_PAGE_SIZE = 100
"""VoIPBIN's default and maximum: a page_size above it, zero or below is taken as 100."""
SETTABLE_AGENT_STATUSES = ("available", "away", "busy", "offline")
_LISTS = {
    "calls": "call",
    "agents": "agent",
    "queues": "queue",
    "queuecalls": "queuecall",
    "messages": "message",
    "activeflows": "activeflow",
    "flows": "flow",
}
_PHONE_NUMBER = re.compile(r"\+[1-9]\d{6,14}")
_SEND_FAILURE_MESSAGES = {
    429: "too many messages; try again later",
    500: "internal error",
    503: "the messaging service is unavailable; try again later",
}


def caller(request: web.Request) -> Principal:
    simulator = simulator_of(request)
    return auth.authenticate(request, simulator.state, secret=simulator.config.jwt_secret)


def require_customer_scope(principal: Principal) -> None:
    if not principal.may_see_customer:
        raise ApiError(403, "this needs the admin or manager permission (or an access key)")


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as error:
        raise ApiError(400, "the body is not valid JSON") from error
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    """A failed login is a 400 with an empty body, as VoIPBIN answers it."""
    simulator = simulator_of(request)
    try:
        body = await request.json()
    except ValueError:
        return web.Response(status=400)
    username = body.get("username") if isinstance(body, dict) else None
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(username, str) or not isinstance(password, str):
        return web.Response(status=400)
    if simulator.state.login(username, password) is None:
        return web.Response(status=400)
    return web.json_response({"username": username, "token": simulator.issue_token(username)})


@routes.get("/v1.0/me")
async def me(request: web.Request) -> web.Response:
    """The caller's agent; an access key has none, and VoIPBIN refuses it (403 AGENT_AUTH_REQUIRED)."""
    principal = caller(request)
    if principal.agent_id is None:
        raise ApiError(403, "This endpoint requires agent authentication.", "AGENT_AUTH_REQUIRED")
    agent = simulator_of(request).state.get("agent", principal.agent_id)
    if agent is None:
        raise auth.InvalidCredentials("the token's agent no longer exists")
    return web.json_response(public_view("agent", agent))


def _page_arguments(request: web.Request) -> tuple[int, str]:
    raw_size = request.query.get("page_size", "")
    try:
        size = int(raw_size) if raw_size else MAX_PAGE_SIZE
    except ValueError as error:
        raise ApiError(400, "Invalid format for parameter page_size") from error
    if not 1 <= size <= MAX_PAGE_SIZE:
        size = MAX_PAGE_SIZE
    token = request.query.get("page_token", "")
    if token:
        try:
            parse_time(token)
        except ValueError as error:
            raise ApiError(400, "page_token is not a page token") from error
    return size, token


def _list_view(resource: str) -> Handler:
    async def list_resources(request: web.Request) -> web.Response:
        principal = caller(request)
        require_customer_scope(principal)
        size, token = _page_arguments(request)
        rows, next_token = simulator_of(request).state.page(
            resource, principal.customer_id, size=size, token=token
        )
        return web.json_response(
            {"result": [public_view(resource, row) for row in rows], "next_page_token": next_token}
        )

    return list_resources


for _path, _resource in _LISTS.items():
    routes.get(f"/v1.0/{_path}")(_list_view(_resource))


def _phone_address(value: Any, field: str) -> Record:
    if not isinstance(value, dict) or value.get("type") != "tel":
        raise ApiError(400, f"{field} must be an address of type tel")
    target = value.get("target")
    if not isinstance(target, str) or not _PHONE_NUMBER.fullmatch(target):
        raise ApiError(400, f"{field}.target must be a phone number in E.164 form")
    return address(target)


@routes.post("/v1.0/messages")
async def send_message(request: web.Request) -> web.Response:
    """Send an SMS; a test may have the next sends refused (nothing sent) or answered late (sent)."""
    principal = caller(request)
    simulator = simulator_of(request)
    failure = simulator.take_send_failure()
    if failure is not None:
        refused = error_response(failure.status, _SEND_FAILURE_MESSAGES[failure.status])
        if failure.retry_after is not None:
            refused.headers["Retry-After"] = str(failure.retry_after)
        return refused
    body = await json_object(request)
    source = _phone_address(body.get("source"), "source")
    raw_destinations = body.get("destinations")
    if not isinstance(raw_destinations, list) or not raw_destinations:
        raise ApiError(400, "destinations must be a non-empty list")
    destinations = [_phone_address(item, "destinations[]") for item in raw_destinations]
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "text must be a non-empty string")

    if principal.customer_id in simulator.state.insufficient_balance:
        raise ApiError(402, "the account balance is too low to send this message")
    message = simulator.state.send_message(
        customer_id=principal.customer_id, source=source, destinations=destinations, text=text
    )
    simulator.record_sent(principal, body, message)
    await simulator.hold_answer()
    return web.json_response(public_view("message", message))


@routes.post("/v1.0/calls/{call_id}/hangup")
async def hang_up(request: web.Request) -> web.Response:
    principal = caller(request)
    require_customer_scope(principal)
    simulator = simulator_of(request)
    call_id = request.match_info["call_id"]
    if simulator.state.find("call", principal.customer_id, call_id) is None:
        raise ApiError(404, "no such call")
    return web.json_response(public_view("call", simulator.hang_up(call_id)))


@routes.put("/v1.0/agents/{agent_id}/status")
async def set_agent_status(request: web.Request) -> web.Response:
    principal = caller(request)
    agent_id = request.match_info["agent_id"]
    if agent_id != principal.agent_id and not principal.may_see_customer:
        raise ApiError(403, "an agent may only change its own status")
    body = await json_object(request)
    status = body.get("status")
    if status not in SETTABLE_AGENT_STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(SETTABLE_AGENT_STATUSES)}")
    state = simulator_of(request).state
    if state.find("agent", principal.customer_id, agent_id) is None:
        raise ApiError(404, "no such agent")
    agent = state.upsert("agent", {"id": agent_id, "status": status}, event="agent_status_updated")
    return web.json_response(public_view("agent", agent))
