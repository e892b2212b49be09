"""Fan-out of changes to the open event sockets, and the switches tests flip on it."""

from __future__ import annotations

from typing import Any

from dashboard.simulator.connection import Connection, Flow, Frame
from dashboard.simulator.events import Change
from dashboard.simulator.frames import Dialect, publication_topics, render
from dashboard.simulator.state import State
from dashboard.voipbin.topics import matches


class Hub:
    """Listens to the state and queues one frame per matching published topic per socket."""

    def __init__(self, state: State, dialect: Dialect) -> None:
        self.state = state
        self.dialect = dialect
        self.connections: set[Connection] = set()
        self.flow = Flow()
        self.refusal: int | None = None
        self.accept_then_close = False
        self.upgrade_attempts = 0
        self.connections_accepted = 0
        self.events_published = 0
        self._frames_dropped_closed = 0
        state.listeners.append(self.publish)

    def publish(self, change: Change) -> None:
        self.events_published += 1
        if not self.connections:
            return
        dialect = self.dialect
        topics = publication_topics(change, dialect, self.state)
        rendered: dict[str, str] = {}
        for connection in self.connections:
            for topic in topics:
                if any(matches(sub, topic, semantics=dialect.semantics) for sub in connection.subscriptions):
                    # Only the tutorial frame names its topic; the others render once per event.
                    key = topic if dialect is Dialect.TUTORIAL else ""
                    if key not in rendered:
                        rendered[key] = render(change, dialect, topic)
                    connection.enqueue(rendered[key])

    def broadcast(self, frame: Frame) -> None:
        for connection in self.connections:
            connection.enqueue(frame)

    def attach(self, connection: Connection) -> None:
        self.connections.add(connection)

    def detach(self, connection: Connection) -> None:
        self.connections.discard(connection)
        self._frames_dropped_closed += connection.dropped

    def drop_all(self) -> None:
        for connection in list(self.connections):
            connection.abort()

    @property
    def frames_dropped(self) -> int:
        return self._frames_dropped_closed + sum(connection.dropped for connection in self.connections)

    def reset(self, dialect: Dialect) -> None:
        """Switches and counters back to their start (open sockets stay open)."""
        self.dialect = dialect
        self.refusal = None
        self.accept_then_close = False
        self.flow.delay = 0.0
        self.flow.running.set()
        self.upgrade_attempts = 0
        self.connections_accepted = 0
        self.events_published = 0
        self._frames_dropped_closed = 0
        for connection in self.connections:
            connection.dropped = 0

    def stats(self) -> dict[str, Any]:
        return {
            "upgrade_attempts": self.upgrade_attempts,
            "connections_accepted": self.connections_accepted,
            "open_connections": [
                {
                    "customer_id": connection.principal.customer_id,
                    "agent_id": connection.principal.agent_id,
                    "access_key": connection.principal.access_key,
                    "topics": sorted(connection.subscriptions),
                }
                for connection in self.connections
            ],
            "events_published": self.events_published,
            "frames_dropped": self.frames_dropped,
        }
