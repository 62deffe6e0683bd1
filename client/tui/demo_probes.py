"""Waits and probes the demo's autoplay uses to follow the app's state.

A probe looks at the running app (a screen, the KOPASTA panel or the counselor's store)
and returns what the autoplay needs next, or None while it is not there yet. The waits
call a probe until it returns something, for at most :data:`~.demo_student.WAIT_SECONDS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from textual.widgets import Button, OptionList, Static

from konsel.client.core.engine import Engine
from konsel.client.core.kopasta import Stage

from .demo_student import WAIT_SECONDS, DemoStepTimedOut
from .screens.main import MainScreen
from .screens.verify import VerifyScreen
from .widgets.kopasta_panel import KopastaPanel
from .widgets.kopasta_stage import KopastaStageView

if TYPE_CHECKING:
    from .demo_run import DemoApp

POLL_SECONDS = 0.02
"""How often a wait looks at the app's state again."""

ScreenType = TypeVar("ScreenType")
Found = TypeVar("Found")


async def wait_for(probe: Callable[[], Found | None], what: str) -> Found:
    """Return the first true result of ``probe``, looking every :data:`POLL_SECONDS`.

    Raises:
        DemoStepTimedOut: nothing true came within :data:`WAIT_SECONDS`.
    """
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        result = probe()
        if result:
            return result
        await asyncio.sleep(POLL_SECONDS)
    raise DemoStepTimedOut(f"timed out after {WAIT_SECONDS:.0f} s waiting for the {what}")


async def wait_for_async(probe: Callable[[], Awaitable[Found | None]], what: str) -> Found:
    """Like :func:`wait_for` for a probe that returns an awaitable."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(POLL_SECONDS)
    raise DemoStepTimedOut(f"timed out after {WAIT_SECONDS:.0f} s waiting for the {what}")


def main_screen(app: DemoApp) -> MainScreen | None:
    """Return the main screen once its widgets are mounted."""
    for screen in app.screen_stack:
        if isinstance(screen, MainScreen) and screen.is_attached and screen.is_mounted:
            return screen
    return None


def top_screen(app: DemoApp, kind: type[ScreenType]) -> ScreenType | None:
    """Return the top screen if it is a ``kind`` whose widgets are all mounted."""
    shown = app.screen
    if isinstance(shown, kind) and shown.is_attached and shown.is_mounted:
        return shown
    return None


def workers_idle(app: DemoApp, group: str) -> bool:
    """Return whether no worker of ``group`` is running, so a screen can close safely."""
    return not any(worker.group == group and worker.is_running for worker in app.workers)


def stage_view(panel: KopastaPanel, stage: Stage) -> KopastaStageView | None:
    for view in panel.query(KopastaStageView).results():
        if view.guide.stage is stage and view.is_attached and view.is_mounted:
            return view
    return None


def code_shown(verify: VerifyScreen) -> Button | None:
    """Return the screen's match button once the safety code is on screen, else None."""
    words = next(iter(verify.query("#words").results(Static)), None)
    match = next(iter(verify.query("#match").results(Button)), None)
    if words is None or match is None or not str(words.content) or match.disabled:
        return None
    return match


def prompt_list(panel: KopastaPanel, stage: Stage) -> OptionList | None:
    view = stage_view(panel, stage)
    if view is None:
        return None
    found = view.query("#kopasta-prompts").results(OptionList)
    return next(iter(found), None)


def shown_session_id(panel: KopastaPanel) -> int:
    if panel.session is None:
        raise RuntimeError("the KOPASTA panel shows no session")
    return panel.session.id


async def contact_verified(engine: Engine, contact_id: int) -> bool:
    contacts = await engine.contacts()
    return any(contact.id == contact_id and contact.verified for contact in contacts)


async def field_saved(panel: KopastaPanel, stage: Stage, key: str, value: str) -> bool:
    session = await panel.engine.record("get_session", shown_session_id(panel))
    stored: str | None = session.fields.get(stage.value, {}).get(key)
    return stored == value


async def follow_up_count(panel: KopastaPanel, session_id: int, wanted: int) -> bool:
    follow_ups = await panel.engine.record("list_follow_ups", session_id)
    return len(follow_ups) >= wanted


async def session_ended(panel: KopastaPanel, session_id: int) -> bool:
    session = await panel.engine.record("get_session", session_id)
    return session.ended_at is not None
