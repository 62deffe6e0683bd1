"""The konseli of ``konsel-chat demo``: a real engine that a script plays instead of a person.

The scripted konseli has its own throwaway profile and talks to the counselor's app
through the same relay, so every message is encrypted, queued and delivered exactly as
between two people. It joins by the counselor's short code, accepts the consent text
when a session starts, marks the counselor's messages read, answers the LAISEG
evaluation when asked and replies with the lines the demo gives it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from pathlib import Path

from konsel.client.core.consent_file import ConsentText
from konsel.client.core.engine import Engine
from konsel.client.core.events import (
    CounselingSessionChanged,
    EvaluationRequested,
    EventStream,
    MessageReceived,
)
from konsel.client.core.passphrase import KdfParams
from konsel.client.core.sync import SyncOptions

from .demo_script import DemoScript

logger = logging.getLogger("konsel.client.tui.demo")

WAIT_SECONDS = 30.0
"""Longest wait for one step of the konseli's side (a message, the consent, the answers)."""


class DemoStepTimedOut(Exception):
    """A step of the scripted konseli did not happen in time."""


class ScriptedStudent:
    """A konseli played by the demo on its own engine. Create it with :meth:`create`."""

    def __init__(self, engine: Engine, script: DemoScript, consent: ConsentText) -> None:
        self.engine = engine
        self.script = script
        self.consent = consent
        self.contact_id: int | None = None
        """The counselor as this engine's contact, once paired."""
        self.received: list[str] = []
        """Bodies of the counselor's messages, in arrival order."""
        self.consent_sent = asyncio.Event()
        self.answers_sent = asyncio.Event()
        self._changed = asyncio.Condition()
        self._stream: EventStream = engine.events()
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def create(
        cls,
        folder: Path,
        relay_url: str,
        script: DemoScript,
        consent: ConsentText,
        *,
        kdf: KdfParams,
        sync_options: SyncOptions | None = None,
    ) -> ScriptedStudent:
        """Create the konseli's throwaway profile in ``folder`` and start listening."""
        # A random passphrase that is never shown, because the profile lives only as long
        # as the demo.
        passphrase = secrets.token_urlsafe(24)
        engine = await Engine.create(
            folder,
            passphrase,
            script.student_name,
            "student",
            relay_url,
            kdf=kdf,
            options=sync_options or SyncOptions(),
        )
        student = cls(engine, script, consent)
        student._listener = asyncio.create_task(student._listen(), name="demo-student")
        return student

    async def close(self) -> None:
        """Stop listening and close the engine (safe to call twice)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        self._stream.close()
        await self.engine.close()

    # --- what the demo asks of the konseli -----------------------------------------------

    async def join(self, code: str, relay_url: str) -> int:
        """Pair with the counselor by the short code the counselor's screen shows."""
        self.contact_id = await self.engine.join_code(code, relay_url)
        return self.contact_id

    async def wait_for_message(self, body: str) -> None:
        """Wait until the counselor's message ``body`` has arrived.

        Raises:
            DemoStepTimedOut: it did not arrive within :data:`WAIT_SECONDS`.
        """
        await self._wait(lambda: body in self.received, "a counselor message")

    async def reply(self, text: str) -> None:
        """Send ``text`` to the counselor."""
        if self.contact_id is None:
            raise RuntimeError("the scripted konseli has not paired yet")
        await self.engine.send_text(self.contact_id, text)

    async def wait_for_consent(self) -> None:
        """Wait until the consent answer was queued for the counselor."""
        await self._wait(self.consent_sent.is_set, "the consent answer")

    async def wait_for_answers(self) -> None:
        """Wait until the LAISEG answers were queued for the counselor."""
        await self._wait(self.answers_sent.is_set, "the LAISEG answers")

    # --- reacting to the counselor -------------------------------------------------------

    async def _listen(self) -> None:
        async for event in self._stream:
            try:
                await self._react(event)
            except Exception:
                # The demo goes on; the counselor's side waits and reports the gap.
                logger.exception("scripted konseli failed on %s", type(event).__name__)
            async with self._changed:
                self._changed.notify_all()

    async def _react(self, event: object) -> None:
        if isinstance(event, MessageReceived):
            self.received.append(event.message.body)
            await self.engine.mark_read(event.contact_id, [event.message.order])
        elif isinstance(event, CounselingSessionChanged) and event.action == "start":
            # A person reads the consent text on the ConsentScreen first; the script accepts.
            await self.engine.send_consent(event.contact_id, self.consent.version, True, "given")
            self.consent_sent.set()
        elif isinstance(event, EvaluationRequested):
            await self._answer(event)

    async def _answer(self, request: EvaluationRequested) -> None:
        asked = {question.key for question in request.questions}
        answers = self.script.laiseg
        ratings = {key: score for key, score in answers.ratings if key in asked}
        await self.engine.answer_evaluation(
            request.contact_id,
            request.session_id,
            understanding=answers.understanding,
            comfort=answers.comfort,
            action=answers.action,
            comment=answers.comment if "comment" in asked else None,
            ratings=ratings,
        )
        self.answers_sent.set()

    async def _wait(self, done: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_SECONDS), self._changed:
                await self._changed.wait_for(done)
        except TimeoutError:
            raise DemoStepTimedOut(
                f"the scripted konseli timed out after {WAIT_SECONDS:.0f} s waiting for {what}"
            ) from None
