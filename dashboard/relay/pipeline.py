"""Apply and render once per process: each VoIPBIN event, whichever session brought it first.

With a session per signed-in user (and the account feeds), the same event arrives once per session
that may see it. It is applied to live state once (keyed by the event's de-duplication key), in a
task the pipeline owns, and rendered once per page kind and audience; every session delivering it
awaits the same result.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from dashboard.batching import Batch
from dashboard.changes import AUDIENCES, Change
from dashboard.live import apply_event
from dashboard.models import Queuecall
from dashboard.notices import Notice, notices_for
from dashboard.pages import PAGES
from dashboard.voipbin.events import Event

# Events applied here, with their rendered update (~10 KiB each) for the other sessions delivering
# them: those arrive within moments, so a thousand cover many seconds of a busy account. A delivery
# later than that applies again, which changes nothing (the row is as new) and costs a render.
_APPLIED_MEMORY = 1024
_LATEST_MEMORY = 8192  # resource → newest event key: small, and kept longer


@dataclass(frozen=True)
class Update:
    """One change, rendered once for every page kind and audience that shows it, and its notices."""

    topics: list[str]
    fragments: dict[str, dict[str, str]]  # page kind → audience ("supervisor"/"agent") → html
    resource_key: str = ""
    notices: tuple[Notice, ...] = ()  # shown on every page, to whom dashboard.notices says
    unplaced: bool = False
    """A caller in a queue nobody named yet (VoIPBIN's code omits it): fetch the queue lists."""


Shown = Collection[tuple[str, str]] | None
"""The (page kind, audience) pairs some socket shows; ``None``: any may (other processes' too)."""


def render_update(change: Change, shown: Shown = None) -> Update:
    """The change rendered for every page kind and audience in ``shown`` (all of them by default)."""
    fragments = {}
    for kind, page in PAGES.items():
        audiences = AUDIENCES if shown is None else {audience for k, audience in shown if k == kind}
        if audiences:
            fragments[kind] = page.render_change(change, audiences)
    return Update(
        resource_key=f"{change.resource}:{change.row.pk}",
        topics=change.topics,
        fragments=fragments,
        notices=notices_for(change),
        unplaced=isinstance(change.row, Queuecall) and not change.row.queue_id,
    )


def apply_and_render(job: tuple[Event, Shown]) -> tuple[Change | None, Update | None]:
    event, shown = job
    change = apply_event(event)
    return change, render_update(change, shown) if change else None


class Pipeline:
    """The process's apply-and-render step; ``changed`` hears of every change it applied."""

    def __init__(
        self, *, changed: Callable[[Change], None], shown: Callable[[], Shown] = lambda: None
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._changed = changed
        # What the pages here show when an event is applied: a page kind or audience nobody shows is
        # not rendered. A socket opening later renders its lists from state, which has the change.
        self._shown = shown
        self._apply_and_render = Batch(apply_and_render)  # a burst of events: one database hop
        self._applied: OrderedDict[str, asyncio.Task[Update | None]] = OrderedDict()
        self._latest: OrderedDict[str, str] = OrderedDict()  # resource → key of the newest applied event

    async def apply(self, event: Event) -> Update | None:
        """Apply and render once per process per event, whichever session brought it first.

        The work runs in a task the pipeline owns, so a session closing meanwhile (a
        sign-out, a grace period ending) cannot cancel it for the other sessions
        waiting on the same event. A cached update that a newer event for the same
        resource has since overtaken is not handed out again: it would regress the row.
        """
        task = self._applied.get(event.key)
        if task is None:
            task = self.loop.create_task(self._apply_once(event))
            self._applied[event.key] = task
            self._evict_done()
        update = await asyncio.shield(task)
        if update is not None and self._latest.get(update.resource_key) != event.key:
            return None
        return update

    async def drain(self) -> None:
        """Let the events being applied finish (other sessions wait on them, shielded from their
        callers' cancellation), so nothing of ours touches the database after shutdown."""
        await asyncio.gather(*(t for t in self._applied.values() if not t.done()), return_exceptions=True)

    async def _apply_once(self, event: Event) -> Update | None:
        try:
            change, update = await self._apply_and_render((event, self._shown()))
            if change is not None:
                self._changed(change)
        except BaseException:
            self._applied.pop(event.key, None)  # a later delivery may try again
            raise
        if update is not None:
            self._latest[update.resource_key] = event.key
            self._latest.move_to_end(update.resource_key)
            if len(self._latest) > _LATEST_MEMORY:
                self._latest.popitem(last=False)
        return update

    def _evict_done(self) -> None:
        while len(self._applied) > _APPLIED_MEMORY:
            key, oldest = next(iter(self._applied.items()))
            if not oldest.done():
                return  # never forget work still in flight
            del self._applied[key]
