"""Helpers for the chat view and composer tests: a tiny host app and stored history.

The host app wires a :class:`ChatView` and a :class:`Composer` to a real engine the way
the main screen does: one worker forwards engine events to the view, a submitted draft
goes through ``Engine.send_text`` and comes back to the view, and ``InsertDraft`` lands
in the composer. History is written through the store's public methods into a real
SQLCipher file.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path
from typing import ClassVar

from engine_helpers import new_engine
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType

from konsel.client.core.engine import Engine
from konsel.client.core.events import EngineError
from konsel.client.core.store import MessageFields, StoredMessage
from konsel.client.tui.messages import EngineEvent, InsertDraft, RiskCueSeen
from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.composer import Composer

BASE_TIME_MS = 1_717_200_000_000
"""A Saturday morning in June 2024, so stored history spans several days."""

_WORD_TEXT = (
    "saya aku ibu bapak guru kelas sekolah teman ujian ulangan tugas nilai jadwal besok "
    "kemarin pagi siang malam pulang belajar merasa sedih senang cemas takut bingung capek "
    "tenang tidak belum sudah masih sering kadang karena tapi kalau supaya dengan untuk "
    "cerita bicara dengar tanya bantu coba mau ingin bisa perlu boleh ekskul kantin maaf"
)
_WORDS = tuple(_WORD_TEXT.split())
_EMOJI = ("😊", "🙏", "😢", "👍", "📚")


def history_bodies(count: int, seed: int = 5) -> list[str]:
    """Return ``count`` Indonesian chat texts: mostly short, every 50th 2,000 characters,
    every 7th with emoji."""
    rng = random.Random(seed)
    bodies = []
    for number in range(count):
        length = 330 if number % 50 == 0 else rng.randint(3, 25)
        words = [rng.choice(_WORDS) for _ in range(length)]
        if number % 7 == 0:
            words.insert(rng.randrange(len(words)), rng.choice(_EMOJI))
        body = " ".join(words).capitalize()
        if number % 50 == 0:
            body = (body + " ") * (2000 // len(body) + 1)
            body = body[:2000]
        bodies.append(body)
    return bodies


def fill_history(engine: Engine, contact_id: int, bodies: list[str]) -> None:
    """Store ``bodies`` as an alternating conversation through the store's public methods.

    Call it while the engine's sync loop is stopped: the session state is written back
    unchanged with every message, and own messages are marked sent before the loop
    could send their outbox copies. Own messages end up read, received ones delivered.
    """
    store = engine.store
    conversation_id = store.conversation_for_contact(contact_id)
    session_state = store.get_session_state(contact_id) or b""
    route = engine.state.routes.get(contact_id)
    destination = route.peer_send_id if route is not None else os.urandom(16)
    rng = random.Random(3)

    for number, body in enumerate(bodies):
        # Three messages a minute and a new day every 500 messages.
        sent_at = BASE_TIME_MS + number * 20_000 + (number // 500) * 86_400_000
        fields = MessageFields(rng.randbytes(16), rng.randbytes(16), body, None, sent_at)
        if number % 3 == 2:
            stored = store.record_outgoing(
                conversation_id, fields, b"envelope", session_state, destination=destination
            )
            for item in store.pending_outbox(10):
                store.mark_outbox_sent(item.id)
            store.mark_read(stored.order)
        else:
            store.record_incoming(conversation_id, fields, session_state)


async def offline_engine(directory: Path, peer_name: str = "Siti Rahmawati") -> tuple[Engine, int]:
    """Create a counselor engine with no relay and one contact added through the store."""
    engine = await new_engine(directory, "Bu Rina", "counselor", None)
    return engine, await add_student(engine, peer_name)


async def add_student(engine: Engine, name: str) -> int:
    """Add a konseli contact through the store and return its id."""
    contact = await asyncio.to_thread(
        engine.store.add_contact, name, "student", os.urandom(32), [os.urandom(16)]
    )
    return contact.id


class ChatHost(App[None]):
    """A tiny app with the chat view over the composer, wired like the main screen."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+o", "probe", "probe")]

    def __init__(self, engine: Engine, contact_id: int | None) -> None:
        super().__init__()
        self.engine = engine
        self.contact_id = contact_id
        self.submitted: list[str] = []
        self.risk_cues: list[RiskCueSeen] = []
        self.probes = 0
        """How often the app's own ctrl+o binding fired."""

    def compose(self) -> ComposeResult:
        yield ChatView(self.engine)
        yield Composer(id="composer")

    async def on_mount(self) -> None:
        self.run_worker(self._forward_events(), group="engine-events")
        await self.query_one(ChatView).show_conversation(self.contact_id)
        self.query_one(Composer).focus()

    async def _forward_events(self) -> None:
        stream = self.engine.events()
        try:
            async for event in stream:
                self.query_one(ChatView).post_message(EngineEvent(event))
        finally:
            stream.close()

    @on(Composer.Submitted)
    async def _send(self, message: Composer.Submitted) -> None:
        self.submitted.append(message.text)
        if self.contact_id is None:
            return
        try:
            stored = await self.engine.send_text(self.contact_id, message.text)
        except EngineError as error:
            message.composer.restore(message.text, error)
            return
        await self.query_one(ChatView).show_sent(stored)

    @on(InsertDraft)
    def _insert_draft(self, message: InsertDraft) -> None:
        self.query_one(Composer).insert_draft(message.text)

    @on(RiskCueSeen)
    def _risk_cue(self, message: RiskCueSeen) -> None:
        self.risk_cues.append(message)

    def action_probe(self) -> None:
        self.probes += 1


def visible_lines(view: ChatView) -> list[str]:
    """Return the text of the rows the chat view draws now, top to bottom."""
    height = view.scrollable_content_region.height
    return [view.render_line(y).text.rstrip() for y in range(height)]


def view_lines(view: ChatView) -> list[str]:
    """Return the text of every line the chat view has laid out, visible or not."""
    return [strip.text for strip in view._lines]


def held_orders(view: ChatView) -> list[int]:
    """Return the order numbers of the messages the view holds in memory."""
    return [] if view.window is None else [m.order for m in view.window.messages]


async def last_message(engine: Engine, contact_id: int) -> StoredMessage:
    """Return the newest stored message of a conversation."""
    return (await engine.history(contact_id, limit=1))[-1]


async def settle(app: App[None], rounds: int = 500) -> None:
    """Wait until the chat view's page and read workers are done and the screen is drawn."""
    for _ in range(rounds):
        busy = [
            worker
            for worker in app.workers
            if worker.group in ("chat-page", "chat-read") and not worker.is_finished
        ]
        if not busy:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the chat view's workers did not finish")
    await app._animator.wait_until_complete()
    await asyncio.sleep(0.01)
