"""Helpers for the KOPASTA tests: a tiny host app around the panel, and a paired pair of engines.

The host app wires a :class:`KopastaPanel` to a real counselor engine the way the main
screen does: one worker forwards the engine's events to the panel as ``EngineEvent``,
and every ``InsertDraft`` the panel posts is kept in :attr:`PanelHost.drafts` in place of
a composer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from engine_helpers import new_engine, pair
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Static

from konsel.client.core.engine import Engine
from konsel.client.core.events import EventStream
from konsel.client.tui.messages import EngineEvent, InsertDraft
from konsel.client.tui.widgets.composer import Composer
from konsel.client.tui.widgets.kopasta_panel import KopastaPanel
from konsel.client.tui.widgets.kopasta_session import SchoolContent, load_school_content

WAIT_TIMEOUT = 20.0


class PanelHost(App[None]):
    """Show one KOPASTA panel for a counselor engine and collect its drafts."""

    def __init__(self, engine: Engine, content: SchoolContent) -> None:
        super().__init__()
        self.engine = engine
        self.content = content
        self.drafts: list[str] = []
        self.stream: EventStream | None = None

    def compose(self) -> ComposeResult:
        yield KopastaPanel(self.engine, content=self.content)

    def on_mount(self) -> None:
        self.stream = self.engine.events()
        self.run_worker(self._forward_events(self.stream), group="events")

    async def _forward_events(self, stream: EventStream) -> None:
        async for event in stream:
            self.query_one(KopastaPanel).post_message(EngineEvent(event))

    def on_unmount(self) -> None:
        if self.stream is not None:
            self.stream.close()

    @on(InsertDraft)
    def _draft(self, message: InsertDraft) -> None:
        self.drafts.append(message.text)

    @property
    def panel(self) -> KopastaPanel:
        return self.query_one(KopastaPanel)


class ComposerAndPanel(Screen[None]):
    """A composer with focus beside the panel, and priority screen bindings for the panel.

    F8, F9 and Ctrl+R call the panel's next_stage, open_evaluation and open_report. As on
    the main screen, priority bindings on the screen work while the composer has focus
    and stop while a modal screen is on top.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f8", "next_stage", priority=True),
        Binding("f9", "open_evaluation", priority=True),
        Binding("ctrl+r", "open_report", priority=True),
    ]

    def __init__(self, engine: Engine, content: SchoolContent) -> None:
        super().__init__()
        self.engine = engine
        self.content = content

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Composer(id="composer")
            yield KopastaPanel(self.engine, content=self.content)

    def on_mount(self) -> None:
        self.query_one(Composer).focus()

    def action_next_stage(self) -> None:
        self.query_one(KopastaPanel).next_stage()

    def action_open_evaluation(self) -> None:
        self.query_one(KopastaPanel).open_evaluation()

    def action_open_report(self) -> None:
        self.query_one(KopastaPanel).open_report()


class KeyboardHost(PanelHost):
    """The panel host laid out like the main screen at 80 columns, for keyboard-only tests."""

    def compose(self) -> ComposeResult:
        yield from ()

    def get_default_screen(self) -> Screen[None]:
        return ComposerAndPanel(self.engine, self.content)


@dataclass
class Pair:
    """A counselor and a student engine, paired through a real relay."""

    counselor: Engine
    student: Engine
    student_id: int
    """The student's contact id at the counselor."""
    counselor_id: int
    """The counselor's contact id at the student."""


@asynccontextmanager
async def paired(tmp_path: Path, relay_url: str) -> AsyncIterator[Pair]:
    """Create and pair a counselor and a student engine; close both afterwards."""
    counselor = await new_engine(tmp_path / "bk", "Bu Sari", "counselor", relay_url)
    student = await new_engine(tmp_path / "siswa", "Dimas", "student", None)
    engines = Pair(counselor, student, 0, 0)
    try:
        engines.student_id, engines.counselor_id = await pair(counselor, student)
        yield engines
    finally:
        await engines.counselor.close()
        await engines.student.close()


def default_content(tmp_path: Path) -> SchoolContent:
    """Return the packaged content, read through an override folder that does not exist."""
    return load_school_content(tmp_path / "no-school-content")


def shown(root: DOMNode, selector: str) -> str:
    """Return the plain text a Static under ``root`` shows now."""
    return str(root.query_one(selector, Static).content)


async def wait_for(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str
) -> None:
    """Poll ``condition`` every 20 ms until it is true; fail after WAIT_TIMEOUT seconds."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        result: Any = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {WAIT_TIMEOUT} s waiting for {what}")
