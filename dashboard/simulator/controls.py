"""``/_sim/``: the test controls, served only when the config enables them.

Each endpoint is a thin JSON wrapper over a :class:`Simulator` method; the
switches answer with every switch's current value.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from aiohttp import web

from dashboard.simulator.core import Simulator, simulator_of
from dashboard.simulator.errors import ApiError
from dashboard.simulator.rest import json_object

routes = web.RouteTableDef()


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ApiError(400, f"{name!r} is missing or of the wrong type")
    if isinstance(value, float) and not math.isfinite(value):
        raise ApiError(400, f"{name!r} must be a finite number")  # Python's JSON reads Infinity and NaN
    return value


def _controls(simulator: Simulator) -> web.Response:
    return web.json_response(simulator.controls())


@routes.post("/_sim/inject")
async def inject(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    body = await json_object(request)
    if "raw" in body:
        simulator.broadcast_raw(_field(body, "raw", str))
        return web.json_response({"sent_to": len(simulator.hub.connections)})
    if "binary_base64" in body:
        try:
            frame = base64.b64decode(_field(body, "binary_base64", str), validate=True)
        except binascii.Error as error:
            raise ApiError(400, "binary_base64 is not base64") from error
        simulator.broadcast_raw(frame)
        return web.json_response({"sent_to": len(simulator.hub.connections)})
    resource = _field(body, "resource", str)
    data = _field(body, "data", dict)
    event = _field(body, "event", str, required=False)
    try:
        return web.json_response(simulator.inject(resource, data, event))
    except ValueError as error:
        raise ApiError(400, str(error)) from error


@routes.post("/_sim/calls")
async def create_call(request: web.Request) -> web.Response:
    body = await json_object(request)
    options = {
        name: _field(body, name, str, required=False)
        for name in (
            "customer_id",
            "direction",
            "status",
            "source",
            "destination",
            "owner_id",
            "queue_id",
            "id",
        )
    }
    options["call_id"] = options.pop("id")
    if options["direction"] not in (None, "incoming", "outgoing"):
        raise ApiError(400, "direction must be incoming or outgoing")
    try:
        call = simulator_of(request).create_call(**{k: v for k, v in options.items() if v is not None})
    except KeyError as error:
        raise ApiError(404, f"unknown customer or queue {error}") from error
    return web.json_response(call)


@routes.post("/_sim/calls/{call_id}/status")
async def set_call_status(request: web.Request) -> web.Response:
    body = await json_object(request)
    fields = {name: _field(body, name, str, required=False) for name in ("hangup_by", "hangup_reason")}
    try:
        call = simulator_of(request).set_call_status(
            request.match_info["call_id"],
            _field(body, "status", str),
            **{k: v for k, v in fields.items() if v is not None},
        )
    except KeyError as error:
        raise ApiError(404, "no such call") from error
    return web.json_response(call)


@routes.post("/_sim/journeys")
async def start_journey(request: web.Request) -> web.Response:
    """``{"queue_id", "customer_id"?, "source"?}``: a caller the scenario moves only when told to."""
    body = await json_object(request)
    options = {name: _field(body, name, str, required=False) for name in ("customer_id", "source")}
    try:
        journey = simulator_of(request).start_journey(
            queue_id=_field(body, "queue_id", str), **{k: v for k, v in options.items() if v is not None}
        )
    except KeyError as error:
        raise ApiError(404, f"unknown customer or queue {error}") from error
    return web.json_response(journey)


@routes.post("/_sim/journeys/{call_id}/step")
async def step_journey(request: web.Request) -> web.Response:
    """``{"to": "flow"|"queue"|"offer"|"answer"|"hangup"|"abandon", "agent_id"?, "side"?}``."""
    body = await json_object(request)
    side = _field(body, "side", str, required=False)
    try:
        journey = simulator_of(request).step_journey(
            request.match_info["call_id"],
            _field(body, "to", str),
            agent_id=_field(body, "agent_id", str, required=False),
            side=side or "caller",
        )
    except KeyError as error:
        raise ApiError(404, f"no such stepped journey or agent {error}") from error
    except ValueError as error:
        raise ApiError(400, str(error)) from error
    return web.json_response(journey)


@routes.post("/_sim/delete")
async def delete(request: web.Request) -> web.Response:
    """Delete a resource: its ``<resource>_deleted`` event goes out, and lists no longer show it."""
    body = await json_object(request)
    try:
        record = simulator_of(request).delete(_field(body, "resource", str), _field(body, "id", str))
    except KeyError as error:
        raise ApiError(404, "no such resource") from error
    return web.json_response(record)


@routes.post("/_sim/sms")
async def receive_sms(request: web.Request) -> web.Response:
    body = await json_object(request)
    options = {name: _field(body, name, str, required=False) for name in ("customer_id", "destination", "id")}
    options["message_id"] = options.pop("id")
    try:
        message = simulator_of(request).receive_sms(
            source=_field(body, "source", str),
            text=_field(body, "text", str),
            **{k: v for k, v in options.items() if v is not None},
        )
    except KeyError as error:
        raise ApiError(404, "no such customer") from error
    return web.json_response(message)


@routes.get("/_sim/sent")
async def sent(request: web.Request) -> web.Response:
    return web.json_response({"result": simulator_of(request).sent})


@routes.delete("/_sim/sent")
async def clear_sent(request: web.Request) -> web.Response:
    simulator_of(request).clear_sent()
    return web.json_response({"result": []})


@routes.post("/_sim/drop")
async def drop(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    dropped = len(simulator.hub.connections)
    simulator.drop_connections()
    return web.json_response({"dropped": dropped})


@routes.post("/_sim/refuse")
async def refuse(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    body = await json_object(request)
    try:
        simulator.set_refusal(_field(body, "status", int, required=False))
    except ValueError as error:
        raise ApiError(400, str(error)) from error
    return _controls(simulator)


@routes.post("/_sim/accept_then_close")
async def accept_then_close(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    simulator.set_accept_then_close(_field(await json_object(request), "enabled", bool))
    return _controls(simulator)


@routes.post("/_sim/stall")
async def stall(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    simulator.set_stalled(_field(await json_object(request), "enabled", bool))
    return _controls(simulator)


@routes.post("/_sim/slow")
async def slow(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    try:
        simulator.set_slow(float(_field(await json_object(request), "delay", (int, float))))
    except ValueError as error:
        raise ApiError(400, str(error)) from error
    return _controls(simulator)


@routes.post("/_sim/dialect")
async def dialect(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    try:
        simulator.set_dialect(_field(await json_object(request), "dialect", str))
    except ValueError as error:
        raise ApiError(400, "dialect must be tutorial, legacy or bare") from error
    return _controls(simulator)


@routes.post("/_sim/balance")
async def balance(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    body = await json_object(request)
    simulator.set_insufficient_balance(_field(body, "customer_id", str), _field(body, "insufficient", bool))
    return _controls(simulator)


@routes.post("/_sim/fail-sends")
async def fail_sends(request: web.Request) -> web.Response:
    """``{"status": 429|500|503, "count": 1, "retry_after": null}``: refuse the next sends."""
    simulator = simulator_of(request)
    body = await json_object(request)
    count = _field(body, "count", int, required=False)
    try:
        simulator.fail_sends(
            _field(body, "status", int),
            1 if count is None else count,
            retry_after=_field(body, "retry_after", int, required=False),
        )
    except ValueError as error:
        raise ApiError(400, str(error)) from error
    return _controls(simulator)


@routes.post("/_sim/delay-sends")
async def delay_sends(request: web.Request) -> web.Response:
    """``{"delay": 2.5, "count": 1}``: send the next messages but answer them late."""
    simulator = simulator_of(request)
    body = await json_object(request)
    count = _field(body, "count", int, required=False)
    try:
        simulator.delay_sends(float(_field(body, "delay", (int, float))), 1 if count is None else count)
    except ValueError as error:
        raise ApiError(400, str(error)) from error
    return _controls(simulator)


@routes.post("/_sim/scenario")
async def scenario(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    simulator.set_scenario_running(_field(await json_object(request), "running", bool))
    return _controls(simulator)


@routes.post("/_sim/advance")
async def advance(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    seconds = float(_field(await json_object(request), "seconds", (int, float)))
    if seconds < 0:
        raise ApiError(400, "seconds cannot be negative")
    simulator.advance(seconds)
    return _controls(simulator)


@routes.get("/_sim/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(simulator_of(request).stats())


@routes.post("/_sim/reset")
async def reset(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    simulator.reset()
    return _controls(simulator)
