"""The main screen: conversation list, chat, composer, KOPASTA panel and status bar.

One worker reads the engine's event stream and hands every event down to the widgets
that show it. Requests from the widgets come up as messages, and this screen carries
them out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    ConsentReceived,
    ContactAdded,
    ContactDeclined,
    ContactKeyChanged,
    ContactRequestPending,
    CounselingSessionChanged,
    EngineError,
    EvaluationRequested,
    MessageReceived,
    ShortCodePaired,
)

from ..bindings import localize_bindings
from ..catalog import t
from ..consent_record import consent_given, publish_consent_text, remember_consent
from ..messages import ContactSelected, EngineEvent, InsertDraft, RiskCueSeen
from ..widgets.chat_view import ChatView
from ..widgets.composer import Composer
from ..widgets.conversation_list import ConversationList, RequestChosen
from ..widgets.kopasta_panel import KopastaPanel
from ..widgets.status_bar import StatusBar
from ..workers import start

WIDE_ENOUGH_FOR_PANEL = 100
"""Columns from which the KOPASTA panel fits beside the list and the chat."""


class MainScreen(Screen[None]):
    """The screen of an unlocked profile, for counselors and konseli alike."""

    BINDINGS = [
        Binding("f2", "pair", "app.keys.pair"),
        Binding("f3", "verify", "app.keys.verify"),
        Binding("f4", "toggle_panel", "app.keys.panel"),
        Binding("f5", "crisis", "app.keys.crisis"),
        # Priority, because the composer's text area has its own f6 and f7.
        Binding("f7", "previous_stage", "app.keys.previous_stage", show=False, priority=True),
        Binding("f8", "next_stage", "app.keys.next_stage", show=False, priority=True),
        Binding("f6", "focus_list", "app.keys.focus_list", show=False, priority=True),
        # F10 and F11 belong to many terminals (menus, full screen), hence Ctrl+R.
        Binding("f9", "open_evaluation", "app.keys.evaluation", show=False, priority=True),
        Binding("ctrl+r", "open_report", "app.keys.report", show=False, priority=True),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.contact_id: int | None = None
        self.counselor = engine.state.role == "counselor"
        self.panel_wanted = True
        # Subscribed now, so no event between this screen's creation and its mount is lost.
        self._events = engine.events()
        localize_bindings(self)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main-row"):
            yield ConversationList(self.engine, id="conversations")
            with Vertical(id="chat-column"):
                yield ChatView(self.engine)
                yield Composer(id="composer")
            if self.counselor:
                yield KopastaPanel(self.engine)
        yield StatusBar(self.engine, id="status")
        yield Footer(compact=True)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The bindings, the app's own (help, quick exit, lock) first, so the footer
        still shows them at 80 columns."""
        bindings = super().active_bindings
        first = {key: active for key, active in bindings.items() if active.binding.priority}
        return first | {key: active for key, active in bindings.items() if key not in first}

    def on_mount(self) -> None:
        if not self.query(Composer):
            return  # replaced (locked) before its widgets were mounted
        if self.counselor:
            language = self.app.language  # type: ignore[attr-defined]
            start(self, publish_consent_text, self.engine, language, group="consent")
        start(self, self._forward_events, group="engine-events", exclusive=True)
        self.panel_wanted = self.app.size.width >= WIDE_ENOUGH_FOR_PANEL
        self._fit_panel(self.app.size.width)
        self.query_one(Composer).focus()
        start(self, self._open_first_contact, group="open-contact", exclusive=True)

    def on_screen_resume(self, _event: events.ScreenResume) -> None:
        # A closed modal (penilaian, verify) may have changed follow-ups or trust marks.
        lists = self.query(ConversationList)
        if lists:
            start(self, lists.first().reload, group="conversation-list", exclusive=True)

    def on_unmount(self) -> None:
        self._events.close()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_panel(event.size.width)

    # --- engine events -------------------------------------------------------------------

    async def _forward_events(self) -> None:
        stream = self._events
        try:
            async for event in stream:
                if not self.is_attached:
                    return
                self._dispatch(event)
        finally:
            stream.close()

    def _dispatch(self, event: Any) -> None:
        for widget in self._listeners():
            widget.post_message(EngineEvent(event))

        if isinstance(event, ContactRequestPending):
            self.notify(t("app.notices.request", name=event.display_name))
        elif isinstance(event, ContactAdded | ShortCodePaired) and self.contact_id is None:
            start(self, self._select, event.contact_id, group="open-contact", exclusive=True)
        elif isinstance(event, ConsentReceived):
            start(self, self._tell_consent, event, group="consent")
        elif isinstance(event, ContactDeclined):
            language = self.app.language  # type: ignore[attr-defined]
            self.notify(event.text(language), severity="warning", timeout=15)
        elif isinstance(event, ContactKeyChanged):
            self._push("key_change", "KeyChangeScreen", self.engine, event.contact_id)
        elif isinstance(event, EvaluationRequested):
            self._push("laiseg_form", "LaisegFormScreen", self.engine, event)
        elif isinstance(event, CounselingSessionChanged) and not self.counselor:
            if event.action == "start":
                self.notify(t("app.notices.session_started"), timeout=8)
                start(self, self._ask_consent, event.contact_id, group="consent")
            else:
                self.notify(t("app.notices.session_ended"), timeout=8)
        elif isinstance(event, MessageReceived) and event.contact_id != self.contact_id:
            self.notify(t("app.notices.new_message"), timeout=3)

    def _listeners(self) -> list[Any]:
        # query, not query_one: while the app shuts down the widgets may already be gone.
        listeners: list[Any] = []
        for kind in (ChatView, ConversationList, StatusBar, KopastaPanel):
            listeners.extend(self.query(kind))
        return listeners

    # --- requests from widgets -----------------------------------------------------------

    @on(ContactSelected)
    async def _contact_selected(self, message: ContactSelected) -> None:
        if isinstance(message, RequestChosen):
            self._push(
                "contact_request",
                "ContactRequestScreen",
                self.engine,
                message.contact_id,
                message.name,
            )
            return
        await self._select(message.contact_id)

    @on(Composer.Submitted)
    def _send(self, message: Composer.Submitted) -> None:
        if self.contact_id is None:
            self.notify(t("app.notices.no_contact"), severity="warning")
            return
        start(self, self._send_text, self.contact_id, message, group="send")

    @on(InsertDraft)
    def _insert_draft(self, message: InsertDraft) -> None:
        composer = self.query_one(Composer)
        composer.insert_draft(message.text)
        composer.focus()

    @on(RiskCueSeen)
    def _risk_cue(self, message: RiskCueSeen) -> None:
        self.notify(t("app.notices.risk_cue"), severity="warning", timeout=10)
        if self.counselor:
            self.query_one(KopastaPanel).suggest_risk_card(message.contact_id, message.cues)

    # --- actions -------------------------------------------------------------------------

    def action_pair(self) -> None:
        if self.counselor:
            self._push("invite", "InviteScreen", self.engine)
        else:
            self._push("join", "JoinScreen", self.engine)

    def action_verify(self) -> None:
        if self.contact_id is None:
            self.notify(t("app.notices.no_contact"), severity="warning")
            return
        self._push("verify", "VerifyScreen", self.engine, self.contact_id, then=self._refresh_trust)

    def action_toggle_panel(self) -> None:
        if not self.counselor:
            self.notify(t("app.notices.panel_counselor_only"), severity="warning")
            return
        self.panel_wanted = not self.panel_wanted
        self._fit_panel(self.size.width)

    def action_crisis(self) -> None:
        if self.counselor:
            self.query_one(KopastaPanel).open_crisis()
        else:
            # Konseli see the contacts only; the steps are the counselor's procedure.
            self._push("crisis_panel", "CrisisPanelScreen", None, show_steps=False)

    def action_previous_stage(self) -> None:
        if self.counselor:
            self.query_one(KopastaPanel).prev_stage()

    def action_next_stage(self) -> None:
        if self.counselor:
            self.query_one(KopastaPanel).next_stage()

    def action_open_evaluation(self) -> None:
        if self.counselor:
            self.query_one(KopastaPanel).open_evaluation()
        else:
            self.notify(t("app.notices.panel_counselor_only"), severity="warning")

    def action_open_report(self) -> None:
        if self.counselor:
            self.query_one(KopastaPanel).open_report()
        else:
            self.notify(t("app.notices.panel_counselor_only"), severity="warning")

    def action_focus_list(self) -> None:
        self.query_one(ConversationList).focus()

    # --- helpers -------------------------------------------------------------------------

    async def _tell_consent(self, event: ConsentReceived) -> None:
        # The reply is stored in the records either way, but a refusal must not go unnoticed.
        contact = await self._contact(event.contact_id)
        name = contact.display_name if contact is not None else "?"
        if event.accepted:
            self.notify(t("app.notices.consent_accepted", name=name), timeout=8)
        else:
            self.notify(
                t("app.notices.consent_declined", name=name), severity="warning", timeout=20
            )
        if event.guardian_consent == "pending":
            self.notify(
                t("app.notices.guardian_pending", name=name), severity="warning", timeout=20
            )

    async def _ask_consent(self, contact_id: int) -> None:
        # The consent text comes once per version; the acceptance is kept in this store.
        if await consent_given(self.engine, contact_id) or not self.is_attached:
            return
        from .consent import ConsentScreen

        async def accepted(answer: bool | None) -> None:
            if answer:
                await remember_consent(self.engine, contact_id, self.app.language)  # type: ignore[attr-defined]

        self.app.push_screen(ConsentScreen(self.engine, contact_id), accepted)

    async def _open_first_contact(self) -> None:
        contacts = await self.engine.contacts()
        if contacts and self.contact_id is None and self.is_attached:
            await self._select(contacts[0].id)

    async def _select(self, contact_id: int) -> None:
        self.contact_id = contact_id
        contact = await self._contact(contact_id)
        if not self.is_attached or self.contact_id != contact_id:
            return

        conversations = self.query_one(ConversationList)
        conversations.selected_contact = contact_id
        conversations.mark_read(contact_id)
        self.query_one(StatusBar).show_contact(
            contact.display_name if contact else None, bool(contact and contact.verified)
        )
        await self.query_one(ChatView).show_conversation(contact_id)
        if self.counselor:
            await self.query_one(KopastaPanel).show_contact(contact_id)

    async def _contact(self, contact_id: int) -> Any:
        for contact in await self.engine.contacts():
            if contact.id == contact_id:
                return contact
        return None

    async def _send_text(self, contact_id: int, message: Composer.Submitted) -> None:
        try:
            stored = await self.engine.send_text(contact_id, message.text)
        except EngineError as error:
            message.composer.restore(message.text, error)  # the draft comes back, with why
            return
        except Exception as error:
            self.app.show_error(error)  # type: ignore[attr-defined]
            return
        if self.is_attached and self.contact_id == contact_id:
            await self.query_one(ChatView).show_sent(stored)

    def _fit_panel(self, width: int) -> None:
        panels, lists = self.query(KopastaPanel), self.query(ConversationList)
        if not self.counselor or not panels or not lists:
            return  # a resize can arrive before the widgets are mounted
        panel, conversations = panels.first(), lists.first()
        if not self.panel_wanted and panel.has_focus_within:
            # Keys typed into a hidden panel would vanish; the composer takes them.
            self.query_one(Composer).focus()
        panel.display = self.panel_wanted
        # At 80 columns the panel takes the list's place rather than squeezing the chat.
        conversations.display = not (self.panel_wanted and width < WIDE_ENOUGH_FOR_PANEL)

    def _refresh_trust(self, _result: object = None) -> None:
        # The verify screen may have changed the verified mark; show it everywhere.
        if self.contact_id is not None and self.is_attached:
            start(self, self._select, self.contact_id, group="open-contact")
            start(self, self.query_one(ConversationList).reload, group="conversation-list")

    def _push(
        self,
        module: str,
        class_name: str,
        *arguments: Any,
        then: Callable[[Any], None] | None = None,
        **options: Any,
    ) -> None:
        # Screens are imported when first used, which keeps start-up short.
        import importlib

        screen_module = importlib.import_module(f"konsel.client.tui.screens.{module}")
        screen = getattr(screen_module, class_name)(*arguments, **options)
        with contextlib.suppress(Exception):
            if type(self.app.screen) is type(screen):
                return
        self.app.push_screen(screen, then)
