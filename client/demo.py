"""The ``konsel-chat demo`` walk-through: a counselor and a student talk through a real relay.

Everything runs in this process. A konsel-relay listens on a free loopback port and keeps
its data in a temporary folder. A counselor identity publishes a contact inbox with
prekeys, and a student identity starts an X3DH session from those prekeys while the
counselor's client is not listening. The conversation then runs over the Double Ratchet. At the end the
demo searches the relay's database file for every sentence it carried and reports that
none is there. The temporary folder is deleted on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import SigningKey

from konsel.protocol.content import (
    Content,
    EvalAnswers,
    EvalQuestion,
    EvalRequest,
    Introduction,
    SessionControl,
    Text,
    decode_content,
    new_message_id,
)
from konsel.protocol.identity import IdentityKeyPair
from konsel.protocol.prekeys import PrekeyBundle, PrekeyStore
from konsel.protocol.safety import safety_code
from konsel.protocol.session import Session
from konsel.relay.config import RelayConfig
from konsel.relay.server import open_relay

from .core.relay_connection import Delivery, RelayConnection
from .demo_text import SCRIPT, UI

ONE_TIME_PREKEYS = 5


@dataclass
class Person:
    """One side of the demo: an identity, an inbox on the relay and a session."""

    name: str
    role: str
    identity: IdentityKeyPair = field(default_factory=IdentityKeyPair.generate)
    inbox_key: SigningKey = field(default_factory=SigningKey.generate)
    sender_key: SigningKey = field(default_factory=SigningKey.generate)
    receive_id: bytes = b""
    send_id: bytes = b""
    session: Session | None = None
    seq: int = 0

    def next_header(self) -> tuple[bytes, int, int]:
        """Return a fresh message id, the next sequence number and the time in ms."""
        self.seq += 1
        return new_message_id(), self.seq, int(time.time() * 1000)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_demo(language: str = "id", pause: float = 0.3) -> int:
    """Run the demo, printing in ``language``, and return the exit status."""
    workdir = Path(tempfile.mkdtemp(prefix="konsel-demo-"))
    try:
        return asyncio.run(_run(workdir, language, pause))
    except KeyboardInterrupt:
        # Ctrl-C is how a user leaves the demo early, so it ends with a line, not a trace.
        print(UI[language]["interrupted"], flush=True)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _run(workdir: Path, language: str, pause: float) -> int:
    text = UI[language]
    say = _printer(pause)

    config = RelayConfig(
        host="127.0.0.1", port=_free_port(), data_dir=workdir / "relay", log_level="WARNING"
    )
    relay = await open_relay(config)
    ready = asyncio.Event()
    relay_task = asyncio.create_task(relay.serve_until_stopped(ready), name="demo-relay")
    await ready.wait()
    url = f"ws://127.0.0.1:{config.port}"
    say(text["relay_started"].format(url=url, folder=workdir))

    try:
        carried = await _converse(url, language, say)
    finally:
        relay.stopping.set()
        await relay_task

    leaked = _find_plaintext(workdir / "relay", carried)
    say(text["relay_files"].format(count=len(carried)))
    if leaked:
        say(text["relay_leak"].format(found=", ".join(leaked)))
        return 1
    say(text["relay_clean"])
    say(text["done"])
    return 0


async def _converse(url: str, language: str, say: Callable[[str], None]) -> list[str]:
    """Pair the two people through the relay and play the script; return every sentence sent."""
    text = UI[language]
    counselor = Person(name="Bu Sari", role="konselor")
    student = Person(name="Dimas", role="konseli")
    carried: list[str] = []

    # The counselor publishes a contact inbox with a signed prekey and one-time prekeys,
    # then goes offline: the student's first message waits on the relay.
    prekeys = PrekeyStore.create(counselor.identity, int(time.time()), ONE_TIME_PREKEYS)
    async with await RelayConnection.connect(url) as connection:
        contact = await connection.create_inbox("contact", bytes(counselor.inbox_key.verify_key))
        counselor.receive_id, counselor.send_id = contact.receive_id, contact.send_id
        await connection.subscribe(counselor.receive_id, counselor.inbox_key)
        signed_bundle = prekeys.bundle(counselor.identity, None).encode()
        stored = await connection.put_prekeys(
            counselor.receive_id, signed_bundle, prekeys.one_time_prekey_records()
        )
    say(text["contact_published"].format(name=counselor.name, count=stored))

    # The student fetches the bundle, starts X3DH and sends the first messages.
    async with await RelayConnection.connect(url) as connection:
        fetched = await connection.fetch_prekeys(counselor.send_id)
        bundle = PrekeyBundle.decode(fetched.bundle, one_time_prekey=fetched.one_time_prekey)
        student.session = Session.initiate(student.identity, bundle)
        private = await connection.create_inbox("private", bytes(student.inbox_key.verify_key))
        student.receive_id, student.send_id = private.receive_id, private.send_id
        say(text["student_fetched"].format(name=student.name))

        # The first envelope introduces the student and names the private inbox for the
        # counselor's replies, so the relay cannot link the reply inbox to the contact.
        introduction = Introduction(
            *student.next_header(),
            display_name=student.name,
            role="konseli",
            relay_url=url,
            inbox_id=student.send_id,
            sender_key=bytes(student.sender_key.verify_key),
            language="id" if language == "id" else "en",
        )
        first: list[Content] = [
            introduction,
            *[Text(*student.next_header(), body=line) for line in SCRIPT[language]["opening"]],
        ]
        for content in first:
            await _send(connection, student, counselor.send_id, content)
        carried.extend(SCRIPT[language]["opening"])
        say(text["student_sent"].format(count=len(first)))

    counselor_connection = await RelayConnection.connect(url)
    student_connection = await RelayConnection.connect(url)
    try:
        await counselor_connection.subscribe(counselor.receive_id, counselor.inbox_key)
        await student_connection.subscribe(student.receive_id, student.inbox_key)

        received = await _receive(counselor_connection, counselor, len(first), prekeys)
        _show(say, text, counselor, received)
        introductions = [content for content in received if isinstance(content, Introduction)]
        if len(introductions) != 1:
            raise RuntimeError("the first envelope carried no introduction")
        reply_send_id = introductions[0].inbox_id

        codes = {
            person.name: safety_code(
                person.identity.public.ed25519, person.session.remote_identity.ed25519
            )
            for person in (counselor, student)
            if person.session is not None
        }
        code = codes[counselor.name]
        say(text["safety_code"].format(digits=code.digits_text(), words=code.words_text()))
        say(text["safety_match"] if codes[student.name] == code else text["safety_mismatch"])

        session_id = new_message_id()
        await _send(
            counselor_connection,
            counselor,
            reply_send_id,
            SessionControl(*counselor.next_header(), action="start", session_id=session_id),
        )
        _show(say, text, student, await _receive(student_connection, student, 1))

        for speaker_is_counselor, line in SCRIPT[language]["turns"]:
            if speaker_is_counselor:
                speaker, listener = counselor, student
                outgoing, incoming = counselor_connection, student_connection
            else:
                speaker, listener = student, counselor
                outgoing, incoming = student_connection, counselor_connection
            message = Text(*speaker.next_header(), body=line)
            destination = reply_send_id if speaker_is_counselor else counselor.send_id
            await _send(outgoing, speaker, destination, message)
            carried.append(line)
            _show(say, text, listener, await _receive(incoming, listener, 1))

        questions = tuple(
            EvalQuestion(key=key, prompt=prompt) for key, prompt in SCRIPT[language]["laiseg"]
        )
        await _send(
            counselor_connection,
            counselor,
            reply_send_id,
            EvalRequest(*counselor.next_header(), session_id=session_id, questions=questions),
        )
        _show(say, text, student, await _receive(student_connection, student, 1))
        answers = SCRIPT[language]["answers"]
        await _send(
            student_connection,
            student,
            counselor.send_id,
            EvalAnswers(
                *student.next_header(),
                session_id=session_id,
                understanding=answers["understanding"],
                comfort=answers["comfort"],
                action=answers["action"],
                comment=answers["comment"],
            ),
        )
        carried.extend(answers.values())
        _show(say, text, counselor, await _receive(counselor_connection, counselor, 1))
    finally:
        await counselor_connection.close()
        await student_connection.close()
    return carried


async def _send(
    connection: RelayConnection, sender: Person, send_id: bytes, content: Content
) -> None:
    if sender.session is None:
        raise RuntimeError(f"{sender.name} has no session yet")
    envelope, sender.session = sender.session.encrypt(content.encode())
    await connection.send(send_id, envelope)


async def _receive(
    connection: RelayConnection,
    receiver: Person,
    count: int,
    prekeys: PrekeyStore | None = None,
) -> list[Content]:
    """Read, decrypt and acknowledge ``count`` envelopes, starting a session if needed."""
    received: list[Content] = []
    deliveries = connection.deliveries()
    async with asyncio.timeout(10):
        while len(received) < count:
            event = await anext(deliveries)
            if not isinstance(event, Delivery):
                raise RuntimeError(f"the relay ended the subscription of {receiver.name}")
            now = int(time.time())
            if receiver.session is None:
                if prekeys is None:
                    raise RuntimeError(f"{receiver.name} cannot start a session")
                receiver.session, plaintext, prekeys = Session.respond(
                    receiver.identity, prekeys, event.envelope, now=now
                )
            else:
                plaintext, receiver.session = receiver.session.decrypt(event.envelope, now)
            received.append(decode_content(plaintext))
            await connection.ack(event.receive_id, [event.message_id])
    return received


def _show(
    say: Callable[[str], None], text: dict[str, str], receiver: Person, contents: list[Content]
) -> None:
    for content in contents:
        if isinstance(content, Introduction):
            say(
                text["got_profile"].format(
                    name=receiver.name,
                    sender=content.display_name,
                    role=text[f"role_{content.role}"],
                )
            )
        elif isinstance(content, Text):
            say(text["got_text"].format(name=receiver.name, body=content.body))
        elif isinstance(content, SessionControl):
            action = text[f"session_{content.action}"]
            say(text["got_session"].format(name=receiver.name, action=action))
        elif isinstance(content, EvalRequest):
            prompts = "; ".join(question.prompt for question in content.questions)
            say(text["got_eval_request"].format(name=receiver.name, prompts=prompts))
        elif isinstance(content, EvalAnswers):
            say(
                text["got_eval_answers"].format(
                    name=receiver.name,
                    understanding=content.understanding,
                    comfort=content.comfort,
                    action=content.action,
                )
            )


def _find_plaintext(folder: Path, sentences: list[str]) -> list[str]:
    """Return the sentences that appear in any file under ``folder``, in UTF-8."""
    contents = b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())
    return [sentence for sentence in sentences if sentence.encode() in contents]


def _printer(pause: float) -> Callable[[str], None]:
    def say(line: str) -> None:
        print(line, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(pause)

    return say
