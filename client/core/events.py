"""Events the engine emits for the user interface, and the error codes it reports.

Every event is a frozen dataclass. Each subscriber of :meth:`Engine.events` has its own
bounded queue: the engine never waits for a screen, and a subscriber that falls behind
loses its oldest events first.

Errors carry a stable ``code``. :data:`ERROR_MESSAGES` maps each code to the text a user
sees, Indonesian first and English second. Notices about a conversation that may have
lost messages (:class:`SessionRenewed`, :class:`MessagesMissing`), about a changed key
(:class:`ContactKeyChanged`) or about a declined request (:class:`ContactDeclined`)
carry a ``code`` and return their text from :meth:`text`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import ClassVar, Literal

from konsel.protocol.content import EvalQuestion
from konsel.protocol.shortcode_errors import MESSAGES as SHORTCODE_MESSAGES

from .store_messages import StoredMessage

logger = logging.getLogger("konsel.client.events")

ConnectionState = Literal["connected", "connecting", "offline"]

MAX_QUEUED_EVENTS = 4096
"""Events kept per subscriber that has not read them; older ones are dropped first."""


@dataclass(frozen=True)
class ConnectionChanged:
    """The relay connection changed state; ``outbox`` is the number of unsent messages."""

    state: ConnectionState
    outbox: int


@dataclass(frozen=True)
class OutboxChanged:
    """The number of messages waiting for the relay's confirmation changed."""

    outbox: int


@dataclass(frozen=True)
class MessageReceived:
    """A new message from a contact was stored and is ready to show."""

    contact_id: int
    message: StoredMessage


@dataclass(frozen=True)
class MessageStatusChanged:
    """An own message moved to ``status`` (sent, delivered, read or failed)."""

    contact_id: int
    order: int
    status: str


@dataclass(frozen=True)
class ContactRequestPending:
    """A konseli asked for contact through the counselor's invitation; accept or decline it."""

    request_id: int
    display_name: str
    fingerprint: bytes
    """First 8 bytes of the konseli's identity key fingerprint, for display."""


@dataclass(frozen=True)
class ContactAdded:
    """A contact is ready: both sides know each other's private inbox."""

    contact_id: int
    display_name: str
    role: str


RenewalCause = Literal["peer_rollback", "peer_renewed", "peer_request"]


@dataclass(frozen=True)
class SessionRenewed:
    """A new encrypted session replaced a broken one; earlier messages may need resending."""

    code: ClassVar[str] = "session_renewed"
    contact_id: int
    cause: RenewalCause = "peer_rollback"
    """``peer_rollback``: this side found the session broken and started the new one.
    ``peer_renewed``: the peer started it. ``peer_request``: the counselor asked for it
    with a signed renew request and this side started it."""
    resent: int = 0
    """Own text messages without a delivery receipt, encrypted again and queued."""

    def text(self, language: str = "id") -> str:
        """Return the notice in ``language`` (``"id"`` or ``"en"``)."""
        return notice_text(self.code, language)


@dataclass(frozen=True)
class MessagesMissing:
    """A contact's message skipped sequence numbers: earlier messages may be lost.

    This happens when this profile was restored from an old backup after the relay had
    already deleted the messages it delivered. The message itself is kept and shown.
    """

    code: ClassVar[str] = "messages_missing"
    contact_id: int
    missing: int
    """How many sequence numbers were skipped; receipts count too, so this is an upper
    bound on the lost text messages."""

    def text(self, language: str = "id") -> str:
        """Return the notice in ``language`` (``"id"`` or ``"en"``)."""
        return notice_text(self.code, language)


@dataclass(frozen=True)
class DamagedMessage:
    """An envelope from this inbox could not be read; the conversation goes on."""

    contact_id: int | None
    reason: str
    """Short English reason for logs, never the message content."""


@dataclass(frozen=True)
class CounselingSessionChanged:
    """The counselor started or ended a counseling session (shown on the konseli's side)."""

    contact_id: int
    action: Literal["start", "end"]
    session_id: bytes
    """The 16-byte protocol session id; an evaluation request names its session by it."""


@dataclass(frozen=True)
class ConsentReceived:
    """A konseli answered the consent text, and the counselor's store recorded it."""

    contact_id: int
    consent_id: int
    """Id of the consent record in the store."""
    text_version: str
    accepted: bool
    guardian_consent: Literal["given", "not_needed", "pending"]
    """The konseli's statement about the parent's or guardian's consent."""


@dataclass(frozen=True)
class EvaluationRequested:
    """The counselor asks the konseli to answer the LAISEG questions of a session."""

    contact_id: int
    session_id: bytes
    """The protocol session id to pass back to :meth:`Engine.answer_evaluation`."""
    questions: tuple[EvalQuestion, ...]


@dataclass(frozen=True)
class EvaluationReceived:
    """A konseli's LAISEG answers arrived and were stored with their counseling session."""

    contact_id: int
    session_id: int
    """Id of the counseling session in the counselor's store."""
    evaluation_id: int
    answers: dict[str, str]
    """The answers as stored: question key to text, ratings as "1" to "5"."""


@dataclass(frozen=True)
class ContentReceived:
    """A content message of a type this engine version does not act on."""

    contact_id: int
    content: object


@dataclass(frozen=True)
class ShortCodeReady:
    """The counselor's short code is open on the relay; show ``code`` to the konseli."""

    code: str
    expires_at: int
    """Unix seconds at which the relay ends the rendezvous."""


@dataclass(frozen=True)
class ShortCodePaired:
    """A short-code exchange ended with a contact on this side."""

    contact_id: int
    display_name: str


@dataclass(frozen=True)
class ShortCodeFailed:
    """A short-code exchange failed; ``code`` is a key of the short-code error texts."""

    code: str
    detail: str

    def text(self, language: str = "id") -> str:
        """Return the error text in ``language`` (``"id"`` or ``"en"``)."""
        return shortcode_text(self.code, language)


@dataclass(frozen=True)
class ContactKeyChanged:
    """A contact's identity key changed: its new messages are held until the user confirms.

    The verified mark is cleared. Show :meth:`text`, let the user compare the new safety
    code, then call :meth:`Engine.confirm_key_change` to read the held messages.
    """

    code: ClassVar[str] = "key_changed"
    contact_id: int

    def text(self, language: str = "id") -> str:
        """Return the warning in ``language`` (``"id"`` or ``"en"``)."""
        return notice_text(self.code, language)


@dataclass(frozen=True)
class ContactDeclined:
    """The counselor did not accept this konseli's contact request.

    The konseli's client has marked the contact declined, so :meth:`Engine.send_text`
    raises ``contact_declined``, and it deletes its private inbox for the contact on
    the relay right after.
    """

    contact_id: int
    reason: Literal["declined", "invitation_used"] = "declined"
    """``declined``: the counselor declined the request. ``invitation_used``: another
    konseli had already used the one-time invitation that this request came through."""

    @property
    def code(self) -> str:
        """``contact_declined`` or ``invitation_used``, the key of the text."""
        return "invitation_used" if self.reason == "invitation_used" else "contact_declined"

    def text(self, language: str = "id") -> str:
        """Return the notice in ``language`` (``"id"`` or ``"en"``)."""
        if self.reason == "invitation_used":
            texts = ERROR_MESSAGES["invitation_used"]
            return texts.get(language, texts["id"])
        return notice_text(self.code, language)


@dataclass(frozen=True)
class EngineErrorEvent:
    """An error the engine handled in the background; ``code`` is a key of ERROR_MESSAGES."""

    code: str
    detail: str


Event = (
    ConnectionChanged
    | OutboxChanged
    | MessageReceived
    | MessageStatusChanged
    | ContactRequestPending
    | ContactAdded
    | SessionRenewed
    | MessagesMissing
    | DamagedMessage
    | CounselingSessionChanged
    | ConsentReceived
    | EvaluationRequested
    | EvaluationReceived
    | ContentReceived
    | EngineErrorEvent
    | ShortCodeReady
    | ShortCodePaired
    | ShortCodeFailed
    | ContactKeyChanged
    | ContactDeclined
)


class EventStream:
    """One subscriber's queue of engine events; iterate it with ``async for``."""

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self.queue: asyncio.Queue[Event] = asyncio.Queue(MAX_QUEUED_EVENTS)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        """Stop receiving events."""
        with contextlib.suppress(ValueError):
            self._hub.streams.remove(self)


class EventHub:
    """The engine's subscribers and the fan-out of each event to all of them."""

    def __init__(self) -> None:
        self.streams: list[EventStream] = []

    def subscribe(self) -> EventStream:
        """Register and return a new stream."""
        stream = EventStream(self)
        self.streams.append(stream)
        return stream

    def emit(self, event: Event) -> None:
        """Queue an event for every subscriber, dropping a slow subscriber's oldest event."""
        for stream in list(self.streams):
            if stream.queue.full():
                stream.queue.get_nowait()
                logger.warning("event queue full; dropped the oldest event")
            stream.queue.put_nowait(event)


class EngineError(Exception):
    """A request to the engine that failed; ``code`` is a key of :data:`ERROR_MESSAGES`."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


ERROR_MESSAGES: dict[str, dict[str, str]] = {
    "message_too_large": {
        "id": "Pesan terlalu panjang untuk dikirim. Bagi menjadi beberapa pesan yang lebih pendek.",
        "en": "The message is too long to send. Split it into several shorter messages.",
    },
    "message_empty": {
        "id": "Pesan kosong tidak dikirim.",
        "en": "An empty message is not sent.",
    },
    "message_invalid": {
        "id": "Pesan berisi karakter yang tidak bisa dikirim. Hapus karakter itu, lalu coba lagi.",
        "en": "The message contains characters that cannot be sent. Remove them and try again.",
    },
    "offline": {
        "id": "Belum tersambung ke server. Periksa koneksi internet, lalu coba lagi.",
        "en": "Not connected to the server. Check the internet connection, then try again.",
    },
    "contact_pending": {
        "id": "Guru BK belum menerima permintaan ini. Pesan bisa dikirim setelah diterima.",
        "en": "The counselor has not accepted this request yet. Messages can be sent after that.",
    },
    "contact_not_found": {
        "id": "Kontak tidak ditemukan.",
        "en": "The contact was not found.",
    },
    "request_not_found": {
        "id": "Permintaan kontak tidak ditemukan. Mungkin sudah diterima atau ditolak.",
        "en": "The contact request was not found. It may have been accepted or declined.",
    },
    "wrong_role": {
        "id": "Tindakan ini tidak tersedia untuk peran akun ini.",
        "en": "This action is not available for this account's role.",
    },
    "relay_mismatch": {
        "id": "Undangan ini memakai server lain. Aplikasi ini baru mendukung satu server.",
        "en": "This invitation uses another server. This app supports one server so far.",
    },
    "invitation_invalid": {
        "id": "Undangan tidak bisa dipakai. Minta tautan baru kepada guru BK.",
        "en": "The invitation cannot be used. Ask the counselor for a new link.",
    },
    "invitation_used": {
        "id": "Undangan ini sudah dipakai atau sudah kedaluwarsa. Minta undangan baru kepada "
        "guru BK.",
        "en": "This invitation was already used or has expired. Ask your counselor for a new one.",
    },
    "relay_rejected": {
        "id": "Server menolak permintaan ini. Coba lagi nanti.",
        "en": "The server rejected this request. Try again later.",
    },
    "recipient_gone": {
        "id": "Kotak pesan penerima sudah tidak ada. Pesan tidak terkirim.",
        "en": "The recipient's inbox no longer exists. The message was not sent.",
    },
    "sync_failed": {
        "id": "Terjadi kesalahan saat memproses pesan. Aplikasi akan mencoba lagi.",
        "en": "An error occurred while processing messages. The app will try again.",
    },
    "session_not_found": {
        "id": "Sesi konseling tidak ditemukan.",
        "en": "The counseling session was not found.",
    },
    "evaluation_unmatched": {
        "id": "Jawaban evaluasi dari konseli tidak cocok dengan sesi mana pun, jadi tidak disimpan.",
        "en": "A student's evaluation answers match no counseling session, so they were not saved.",
    },
    "session_ended": {
        "id": "Sesi konseling ini sudah ditutup.",
        "en": "This counseling session has already ended.",
    },
    "content_unexpected": {
        "id": "Kontak mengirim data sesi yang tidak sesuai dengan perannya. Data itu diabaikan.",
        "en": "The contact sent session data that does not fit their role. It was ignored.",
    },
    "code_not_found": {
        "id": "Kode tidak berlaku atau sudah dipakai. Minta kode baru kepada guru BK.",
        "en": "The code is not valid or was already used. Ask the counselor for a new code.",
    },
    "key_change_not_found": {
        "id": "Tidak ada perubahan kunci yang menunggu konfirmasi untuk kontak ini.",
        "en": "No key change is waiting for confirmation for this contact.",
    },
    "code_active": {
        "id": "Masih ada kode yang aktif. Batalkan dulu kode itu sebelum membuat kode baru.",
        "en": "A code is still active. Cancel it before creating a new one.",
    },
    "relay_fatal": {
        "id": "Server tidak bisa dipakai oleh versi aplikasi ini. Hubungi pengelola server.",
        "en": "This version of the app cannot use the server. Contact the server's administrator.",
    },
    "contact_declined": {
        "id": "Guru BK tidak menerima permintaan kontak ini, jadi pesan tidak bisa dikirim.",
        "en": "The counselor did not accept this contact request, so messages cannot be sent.",
    },
}

NOTICE_MESSAGES: dict[str, dict[str, str]] = {
    "key_changed": {
        "id": "Kunci keamanan kontak ini berubah. Pesan barunya ditahan dulu. Cocokkan kode "
        "keamanan yang baru dengan kontakmu secara langsung, lalu konfirmasi untuk membacanya.",
        "en": "This contact's security key changed. Their new messages are held for now. "
        "Compare the new safety code with your contact in person, then confirm to read them.",
    },
    "session_renewed": {
        "id": "Sesi terenkripsi dengan kontak ini sudah diperbarui. Pesan sebelumnya mungkin "
        "perlu dikirim ulang.",
        "en": "The encrypted session with this contact was renewed. Earlier messages may "
        "need resending.",
    },
    "messages_missing": {
        "id": "Beberapa pesan sebelumnya mungkin hilang. Minta kontakmu mengirim ulang pesan itu.",
        "en": "Some earlier messages may be missing. Ask your contact to resend them.",
    },
    "contact_declined": {
        "id": "Guru BK tidak menerima permintaan kontak Anda. Jika Anda masih ingin bercerita, "
        "temui guru BK secara langsung atau minta undangan baru.",
        "en": "The counselor did not accept your contact request. If you still want to talk, "
        "see the counselor in person or ask for a new invitation.",
    },
}


def shortcode_text(code: str, language: str = "id") -> str:
    """Return the text of a short-code error code in ``language``, falling back to Indonesian.

    The codes are those of :data:`konsel.protocol.shortcode_errors.MESSAGES` and of
    :data:`ERROR_MESSAGES`. An unknown code reads as the generic pairing failure.
    """
    texts = (
        SHORTCODE_MESSAGES.get(code)
        or ERROR_MESSAGES.get(code)
        or SHORTCODE_MESSAGES["pairing_failed"]
    )
    return texts.get(language, texts["id"])


def notice_text(code: str, language: str = "id") -> str:
    """Return the text of a notice code in ``language``, falling back to Indonesian."""
    texts = NOTICE_MESSAGES[code]
    return texts.get(language, texts["id"])
