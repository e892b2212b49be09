"""Flow control shared by every push socket: a reader that stops reading costs bounded memory."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from dashboard.sockets import CLOSE_TOO_FAR_BEHIND, MAX_PENDING, MAX_UNACKED, NotJSON, PushConsumer

# Channels closes stale database connections around each consumer message.
pytestmark = pytest.mark.django_db(transaction=True)


class Pusher(PushConsumer):
    """Pushes as many fragments as asked, one event-loop turn apart (as live events arrive)."""

    async def connect(self) -> None:
        await self.accept()
        self.start_sending()

    async def disconnect(self, code: int) -> None:
        await self.stop_sending()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = await self.read_frame(text_data, bytes_data)
        except NotJSON:
            return
        frame = frame or {}
        for i in range(frame.get("push", 0)):
            self.offer(f"<p>{i}</p>")
            await asyncio.sleep(0)
        for i in range(frame.get("push_now", 0)):  # one producer writing straight away (the wall feed)
            await self.push(f"<p>{i}</p>")
        if "offer_then_push" in frame:
            first, second = frame["offer_then_push"]
            self.offer(first)
            await self.push(second)


class WholeState(Pusher):
    """Every fragment shows everything (a wall): only the newest one is worth sending."""

    whole_state = True


async def frames_until_quiet(communicator: WebsocketCommunicator, quiet: float = 0.3) -> list[str]:
    """Every frame sent until none comes for ``quiet`` seconds (without cancelling the consumer)."""
    frames = []
    while not await communicator.receive_nothing(timeout=quiet):
        frames.append(await communicator.receive_from())
    return frames


async def test_nothing_more_is_written_to_a_reader_that_stopped_acknowledging():
    communicator = WebsocketCommunicator(Pusher.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"push": MAX_UNACKED + 50}))
    held_back = await frames_until_quiet(communicator)
    assert len(held_back) == MAX_UNACKED  # one frame per fragment until the window is full

    await communicator.send_to(text_data=json.dumps({"type": "ack", "frames": MAX_UNACKED}))
    rest = await frames_until_quiet(communicator)
    assert "".join(rest).count("<p>") == 50  # what waited goes out, coalesced
    assert len(rest) == 1
    await communicator.disconnect()


async def test_a_reader_too_far_behind_is_closed_with_try_again_later():
    communicator = WebsocketCommunicator(Pusher.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"push": MAX_UNACKED + MAX_PENDING + 1}))
    outputs = []
    async with asyncio.timeout(10):
        while (output := await communicator.receive_output(timeout=5))["type"] != "websocket.close":
            outputs.append(output)
    assert output["code"] == CLOSE_TOO_FAR_BEHIND
    assert len(outputs) == MAX_UNACKED  # never more written than the window


async def test_a_reader_that_acknowledges_gets_everything():
    communicator = WebsocketCommunicator(Pusher.as_asgi(), "/")
    assert (await communicator.connect())[0]
    received = 0
    for _ in range(4):
        await communicator.send_to(text_data=json.dumps({"push": MAX_UNACKED}))
        frames = await frames_until_quiet(communicator)
        received += "".join(frames).count("<p>")
        await communicator.send_to(text_data=json.dumps({"type": "ack", "frames": 10**9}))  # capped at sent
    assert received == 4 * MAX_UNACKED
    await communicator.disconnect()


async def test_pushed_fragments_go_out_at_once_and_never_overtake_offered_ones():
    communicator = WebsocketCommunicator(Pusher.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"push_now": 3}))
    assert await frames_until_quiet(communicator) == ["<p>0</p>", "<p>1</p>", "<p>2</p>"]
    await communicator.send_to(text_data=json.dumps({"offer_then_push": ["<i>a</i>", "<i>b</i>"]}))
    assert "".join(await frames_until_quiet(communicator)) == "<i>a</i><i>b</i>"
    await communicator.disconnect()


async def test_a_whole_state_socket_keeps_only_the_newest_fragment_for_a_reader_that_stopped():
    communicator = WebsocketCommunicator(WholeState.as_asgi(), "/")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"push_now": MAX_UNACKED + MAX_PENDING + 50}))
    held_back = await frames_until_quiet(communicator)
    assert len(held_back) == MAX_UNACKED  # the window, then nothing: and no close, nothing piles up

    await communicator.send_to(text_data=json.dumps({"type": "ack", "frames": MAX_UNACKED}))
    assert await frames_until_quiet(communicator) == [f"<p>{MAX_UNACKED + MAX_PENDING + 49}</p>"]
    await communicator.disconnect()


def sending_tasks() -> list[asyncio.Task]:
    """Tasks running a push socket's own code (its writer), whoever started them."""
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_coro().__qualname__.startswith("PushConsumer.") and not task.done()
    ]


async def test_an_idle_socket_holds_no_task_of_its_own():
    """Thousands of tabs and walls sit idle: a writer task runs only while fragments wait."""
    communicators = [WebsocketCommunicator(Pusher.as_asgi(), "/") for _ in range(3)]
    for communicator in communicators:
        assert (await communicator.connect())[0]
        await communicator.send_to(text_data=json.dumps({"push": MAX_UNACKED + 5}))  # 5 held back
        assert len(await frames_until_quiet(communicator)) == MAX_UNACKED
    assert sending_tasks() == []  # waiting for acks is no task either

    for communicator in communicators:
        await communicator.send_to(text_data=json.dumps({"type": "ack", "frames": MAX_UNACKED}))
        assert "".join(await frames_until_quiet(communicator)).count("<p>") == 5
    assert sending_tasks() == []
    for communicator in communicators:
        await communicator.disconnect()
