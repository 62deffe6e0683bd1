"""Tests for the encrypted store, on real SQLCipher files in tmp_path."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from konsel.client.core.errors import (
    DatabaseCorrupted,
    DuplicateMessage,
    HeaderCorrupted,
    HeaderMissing,
    PassphraseChangeInterrupted,
    ProfileExists,
    ProfileLocked,
    ProfileNotFound,
    RecordNotFound,
    SchemaTooNew,
    SqlcipherUnavailable,
    WrongPassphrase,
)
from konsel.client.core.passphrase import DEFAULT_KDF, KdfParams, new_header, write_header
from konsel.client.core.profile import Profile
from konsel.client.core.store import MessageFields, Store, fts_query
from konsel.client.core.store_connection import (
    connect_encrypted,
    create_database,
    load_sqlcipher,
)
from konsel.client.core.store_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    apply_migrations,
    read_schema_version,
)

SENTENCE = "Saya takut pulang karena kakak kelas mengancam saya di grup kelas"
DISPLAY_NAME = "Ayu Kartikasari"
NOTE = "Konseli tampak gelisah, perlu rencana keamanan sebelum libur semester"


def message(body: str, sender_seq: int | None = None) -> MessageFields:
    return MessageFields(
        content_id=os.urandom(16), envelope_id=os.urandom(16), body=body, sender_seq=sender_seq
    )


def add_student(store: Store, name: str = "Siti Rahmawati") -> tuple[int, int]:
    """Add a student contact and return (contact id, conversation id)."""
    contact = store.add_contact(name, "student", os.urandom(32), [os.urandom(16)])
    return contact.id, store.conversation_for_contact(contact.id)


def fill_with_private_text(store: Store) -> None:
    contact_id, conversation = add_student(store, DISPLAY_NAME)
    store.record_incoming(conversation, message(SENTENCE), b"state-1")
    session_id = store.start_session(contact_id)
    store.add_note(session_id, "pengantaran", NOTE)


def profile_files(profile: Profile) -> list[Path]:
    return [path for path in profile.directory.iterdir() if path.is_file()]


def test_store_reopen_keeps_data(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        store.put_identity_state(b"identity-bytes")
        store.put_prekey_state(b"prekey-bytes")
        contact_id, conversation = add_student(store)
        sent = store.record_outgoing(
            conversation, message("Halo Bu"), b"envelope", b"state-a", destination=b"inbox"
        )

    with Store.open(profile, passphrase) as store:
        assert store.get_identity_state() == b"identity-bytes"
        assert store.get_prekey_state() == b"prekey-bytes"
        assert store.get_contact(contact_id).display_name == "Siti Rahmawati"
        assert store.get_session_state(contact_id) == b"state-a"
        assert [m.body for m in store.load_window(conversation)] == ["Halo Bu"]
        assert store.pending_outbox()[0].message_order == sent.order


def test_store_default_kdf_roundtrip(profile: Profile, passphrase: str) -> None:
    with Store.create(profile, passphrase) as store:
        store.put_identity_state(b"identity")

    header = json.loads(profile.header_path.read_text())
    assert header["opslimit"] == DEFAULT_KDF.opslimit
    assert header["memlimit"] == DEFAULT_KDF.memlimit
    with Store.open(profile, passphrase) as store:
        assert store.get_identity_state() == b"identity"


def test_store_files_have_no_plaintext(store: Store, tmp_path: Path) -> None:
    fill_with_private_text(store)
    secrets = [text.encode() for text in (SENTENCE, DISPLAY_NAME, NOTE)]

    # The same rows in a plain SQLite file do show the text, so the search below can fail.
    plain = sqlite3.connect(tmp_path / "plain.db")
    plain.execute("CREATE TABLE t (x TEXT)")
    plain.executemany("INSERT INTO t VALUES (?)", [(s.decode(),) for s in secrets])
    plain.commit()
    plain.close()
    plain_bytes = (tmp_path / "plain.db").read_bytes()
    assert all(secret in plain_bytes for secret in secrets)

    open_files = profile_files(store.profile)
    assert store.profile.directory / "konsel.db-wal" in open_files
    for path in open_files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret not in content, f"{path.name} contains plaintext"

    store.close()
    for path in profile_files(store.profile):
        content = path.read_bytes()
        for secret in secrets:
            assert secret not in content, f"{path.name} contains plaintext after close"


def test_store_file_modes(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    previous = os.umask(0)
    try:
        store = Store.create(profile, passphrase, kdf=cheap_kdf)
        fill_with_private_text(store)
        names = {path.name for path in profile_files(profile)}
        assert {"konsel.db", "konsel.db-wal", "konsel.db-shm", "key.json"} <= names
        for path in profile_files(profile):
            assert path.stat().st_mode & 0o777 == 0o600, path.name
        store.close()
    finally:
        os.umask(previous)
    assert profile.directory.stat().st_mode & 0o777 == 0o700


def test_store_wrong_passphrase(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        fill_with_private_text(store)
    before = {path.name: path.read_bytes() for path in profile_files(profile)}

    with pytest.raises(WrongPassphrase) as caught:
        Store.open(profile, passphrase + "!")

    assert caught.value.code == "passphrase_wrong"
    assert "cannot be recovered" in str(caught.value)
    after = {path.name: path.read_bytes() for path in profile_files(profile)}
    assert after == before
    with Store.open(profile, passphrase) as store:
        assert store.list_contacts()[0].display_name == DISPLAY_NAME


def test_store_change_passphrase(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    new_passphrase = "teh manis hangat di pos satpam"
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        _, conversation = add_student(store)
        store.record_incoming(conversation, message(SENTENCE), b"state")
        old_salt = json.loads(profile.header_path.read_text())["salt"]
        store.change_passphrase(passphrase, new_passphrase)

    assert json.loads(profile.header_path.read_text())["salt"] != old_salt
    assert profile.header_path.stat().st_mode & 0o777 == 0o600
    assert not profile.next_header_path.exists()
    with pytest.raises(WrongPassphrase):
        Store.open(profile, passphrase)
    with Store.open(profile, new_passphrase) as store:
        assert [m.body for m in store.load_window(conversation)] == [SENTENCE]


def test_change_passphrase_wrong_old(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        header_before = profile.header_path.read_bytes()
        with pytest.raises(WrongPassphrase):
            store.change_passphrase("bukan ini", "sandi baru")
        assert profile.header_path.read_bytes() == header_before
        assert not profile.next_header_path.exists()

    with Store.open(profile, passphrase) as store:
        assert store.list_contacts() == []


def test_interrupted_change_finishes_on_open(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    new_passphrase = "nasi uduk pagi"
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        contact_id, _ = add_student(store)
        # Do what change_passphrase does, but stop before the new header replaces the old.
        next_header, new_key = new_header(new_passphrase, cheap_kdf)
        write_header(profile.next_header_path, next_header)
        store.db.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")

    with pytest.raises(PassphraseChangeInterrupted):
        Store.open(profile, passphrase)
    with Store.open(profile, new_passphrase) as store:
        assert store.get_contact(contact_id).display_name == "Siti Rahmawati"
    assert not profile.next_header_path.exists()
    with Store.open(profile, new_passphrase) as store:
        assert len(store.list_contacts()) == 1


def test_change_stopped_before_rekey_keeps_old(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf):
        pass
    next_header, _ = new_header("sandi yang tidak jadi", cheap_kdf)
    write_header(profile.next_header_path, next_header)

    with pytest.raises(WrongPassphrase):
        Store.open(profile, "sandi yang tidak jadi")
    with Store.open(profile, passphrase):
        pass
    assert not profile.next_header_path.exists()


def _store_with_history(profile: Profile, passphrase: str, kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=kdf) as store:
        _, conversation = add_student(store)
        for number in range(400):
            store.record_incoming(
                conversation, message(f"{SENTENCE} nomor {number} " * 4), b"state"
            )


def test_corrupted_page_one(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    _store_with_history(profile, passphrase, cheap_kdf)
    with profile.database_path.open("r+b") as file:
        file.seek(100)
        file.write(os.urandom(64))

    with pytest.raises(DatabaseCorrupted) as caught:
        Store.open(profile, passphrase)
    assert type(caught.value) is DatabaseCorrupted
    assert caught.value.code == "database_corrupted"


def test_corrupted_middle_page(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    _store_with_history(profile, passphrase, cheap_kdf)
    size = profile.database_path.stat().st_size
    assert size > 20 * 4096
    with profile.database_path.open("r+b") as file:
        file.seek(size // 2)
        file.write(os.urandom(256))

    with Store.open(profile, passphrase) as store:
        with pytest.raises(DatabaseCorrupted) as caught:
            store.check_integrity()
        assert caught.value.path == profile.database_path


def test_corrupted_page_fails_query(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    _store_with_history(profile, passphrase, cheap_kdf)
    with Store.open(profile, passphrase) as store:
        (conversation,) = [row[0] for row in store.db.execute("SELECT id FROM conversations")]
        # The root page of the messages table: opening does not read it, a window load does.
        (page,) = store.db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'messages'"
        ).fetchone()
    assert page > 1
    with profile.database_path.open("r+b") as file:
        file.seek((page - 1) * 4096 + 1000)
        file.write(os.urandom(64))

    with Store.open(profile, passphrase) as store, pytest.raises(DatabaseCorrupted):
        store.load_window(conversation)


def test_integrity_check_passes_intact(store: Store) -> None:
    fill_with_private_text(store)
    store.check_integrity()


def test_header_garbage(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf):
        pass
    profile.header_path.write_bytes(b"\x00not json")

    with pytest.raises(HeaderCorrupted) as caught:
        Store.open(profile, passphrase)
    assert caught.value.code == "header_corrupted"


def test_header_missing(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf):
        pass
    profile.header_path.unlink()

    with pytest.raises(HeaderMissing) as caught:
        Store.open(profile, passphrase)
    assert caught.value.code == "header_missing"
    assert isinstance(caught.value, DatabaseCorrupted)


def test_header_tampered_salt(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf):
        pass
    header = json.loads(profile.header_path.read_text())
    header["salt"] = "00" * 16
    profile.header_path.write_text(json.dumps(header))

    with pytest.raises(WrongPassphrase):
        Store.open(profile, passphrase)


def test_database_missing(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf):
        pass
    profile.database_path.unlink()

    with pytest.raises(DatabaseCorrupted):
        Store.open(profile, passphrase)


def test_open_missing_profile(profile: Profile, passphrase: str) -> None:
    with pytest.raises(ProfileNotFound) as caught:
        Store.open(profile, passphrase)

    assert caught.value.code == "profile_not_found"
    assert not profile.directory.exists()


def test_open_empty_profile(profile: Profile, passphrase: str) -> None:
    profile.directory.mkdir()

    with pytest.raises(ProfileNotFound):
        Store.open(profile, passphrase)


def test_create_existing_profile(store: Store, passphrase: str, cheap_kdf: KdfParams) -> None:
    store.close()
    with pytest.raises(ProfileExists):
        Store.create(store.profile, passphrase, kdf=cheap_kdf)


def test_profile_locked_in_process(store: Store, passphrase: str) -> None:
    with pytest.raises(ProfileLocked) as caught:
        Store.open(store.profile, passphrase)
    assert caught.value.code == "profile_locked"

    store.close()
    with Store.open(store.profile, passphrase):
        pass


def test_profile_locked_by_other_process(store: Store, passphrase: str) -> None:
    store.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from konsel.client.core.profile import Profile, ProfileLock\n"
            "lock = ProfileLock(Profile(__import__('pathlib').Path(sys.argv[1])))\n"
            "lock.acquire()\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
            str(store.profile.directory),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ProfileLocked):
            Store.open(store.profile, passphrase)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)

    with Store.open(store.profile, passphrase):
        pass


def test_sqlcipher_import_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlcipher3", None)
    monkeypatch.setitem(sys.modules, "sqlcipher3.dbapi2", None)

    with pytest.raises(SqlcipherUnavailable) as caught:
        load_sqlcipher()
    assert caught.value.code == "sqlcipher_unavailable"


def test_failed_message_keeps_session(store: Store) -> None:
    contact_id, conversation = add_student(store)
    first = message("pesan pertama")
    store.record_incoming(conversation, first, b"state-after-first")

    # The session row is written before the message insert fails on its UNIQUE content id.
    copy = MessageFields(content_id=first.content_id, envelope_id=os.urandom(16), body="salinan")
    with pytest.raises(DuplicateMessage):
        store.record_incoming(conversation, copy, b"state-that-must-not-stay")

    assert store.get_session_state(contact_id) == b"state-after-first"
    assert [m.body for m in store.load_window(conversation)] == ["pesan pertama"]


def test_failed_outgoing_keeps_outbox(store: Store) -> None:
    contact_id, conversation = add_student(store)
    first = message("kirim satu")
    store.record_outgoing(conversation, first, b"env-1", b"state-1", destination=b"inbox")

    copy = MessageFields(content_id=os.urandom(16), envelope_id=first.envelope_id, body="dua")
    with pytest.raises(DuplicateMessage):
        store.record_outgoing(conversation, copy, b"env-2", b"state-2", destination=b"inbox")

    assert store.get_session_state(contact_id) == b"state-1"
    assert [item.envelope for item in store.pending_outbox()] == [b"env-1"]


async def test_store_from_worker_threads(store: Store) -> None:
    """Calls through asyncio.to_thread, as the async core makes them, run one at a time."""
    contact_id, conversation = add_student(store)

    async def send_many(worker: int) -> None:
        for number in range(25):
            fields = message(f"pekerja {worker} pesan {number}")
            await asyncio.to_thread(
                store.record_incoming, conversation, fields, f"{worker}-{number}".encode()
            )

    await asyncio.gather(*(send_many(worker) for worker in range(4)))

    window = store.load_window(conversation, limit=1000)
    assert len(window) == 100
    assert len({m.order for m in window}) == 100
    assert store.get_session_state(contact_id) is not None


def test_duplicate_by_envelope_id(store: Store) -> None:
    _, conversation = add_student(store)
    fields = message("halo")
    assert not store.is_duplicate(fields.envelope_id)

    store.record_incoming(conversation, fields, b"state")

    assert store.is_duplicate(fields.envelope_id)
    assert not store.is_duplicate(os.urandom(16))


def test_search_indonesian_words(store: Store) -> None:
    _, conversation = add_student(store)
    bodies = [
        "Saya merasa cemas menjelang ujian nasional",
        "Besok ada ulangan matematika, saya belum belajar",
        "Terima kasih Bu, saya sudah lebih tenang sekarang",
        "Ujian praktik olahraga membuat saya cemas juga",
    ]
    for body in bodies:
        store.record_incoming(conversation, message(body), b"state")

    assert [m.body for m in store.search("cemas ujian")] == [bodies[3], bodies[0]]
    assert [m.body for m in store.search("TENANG")] == [bodies[2]]
    assert [m.body for m in store.search("cemas", limit=1)] == [bodies[3]]
    assert store.search("piknik") == []
    assert store.search('" OR *') == []
    assert [m.body for m in store.search("ulangan OR")] == []


def test_search_follows_deletes(store: Store) -> None:
    contact_id, conversation = add_student(store)
    store.record_incoming(conversation, message("rahasia di perpustakaan"), b"state")
    assert len(store.search("perpustakaan")) == 1

    store.delete_contact(contact_id)

    assert store.search("perpustakaan") == []


def test_search_one_conversation(store: Store) -> None:
    _, first = add_student(store, "Siti")
    _, second = add_student(store, "Budi")
    store.record_incoming(first, message("jadwal konseling hari Senin"), b"s")
    store.record_incoming(second, message("jadwal konseling hari Rabu"), b"s")

    found = store.search("jadwal", conversation_id=second)

    assert [m.body for m in found] == ["jadwal konseling hari Rabu"]


def test_fts_query_quotes_words() -> None:
    assert fts_query('ujian "nasional" OR*') == '"ujian" "nasional" "OR"'
    assert fts_query("  ") == ""


def test_window_pages_backward(store: Store) -> None:
    _, conversation = add_student(store, "Siti")
    _, other = add_student(store, "Budi")
    orders = []
    for number in range(120):
        orders.append(store.record_incoming(conversation, message(f"m{number}"), b"s").order)
        if number % 10 == 0:
            store.record_incoming(other, message(f"other {number}"), b"s")

    newest = store.load_window(conversation)
    assert [m.body for m in newest] == [f"m{n}" for n in range(70, 120)]

    older = store.load_window(conversation, before_order=newest[0].order)
    assert [m.body for m in older] == [f"m{n}" for n in range(20, 70)]

    oldest = store.load_window(conversation, before_order=older[0].order)
    assert [m.body for m in oldest] == [f"m{n}" for n in range(20)]

    assert store.load_window(conversation, before_order=oldest[0].order) == []
    assert orders == sorted(orders)


def test_order_ignores_sender_clock(store: Store) -> None:
    _, conversation = add_student(store)
    late = MessageFields(os.urandom(16), os.urandom(16), "dikirim belakangan", sent_at=2_000)
    early = MessageFields(os.urandom(16), os.urandom(16), "dikirim duluan", sent_at=1_000)
    store.record_incoming(conversation, late, b"s")
    store.record_incoming(conversation, early, b"s")

    bodies = [m.body for m in store.load_window(conversation)]

    assert bodies == ["dikirim belakangan", "dikirim duluan"]


def test_status_moves_forward(store: Store) -> None:
    _, conversation = add_student(store)
    sent = store.record_outgoing(conversation, message("halo"), b"env", b"s", destination=b"inbox")
    outbox_id = store.pending_outbox()[0].id
    store.record_send_attempt(outbox_id)
    assert store.pending_outbox()[0].attempts == 1

    store.mark_sent(sent.order)
    assert store.pending_outbox() == []
    store.mark_read(sent.order)
    store.mark_delivered(sent.order)
    store.mark_sent(sent.order)

    assert store.get_message(sent.order).status == "read"


def test_mark_failed_drops_outbox(store: Store) -> None:
    _, conversation = add_student(store)
    sent = store.record_outgoing(conversation, message("halo"), b"env", b"s", destination=b"inbox")

    store.mark_failed(sent.order)

    assert store.get_message(sent.order).status == "failed"
    assert store.pending_outbox() == []
    with pytest.raises(RecordNotFound):
        store.mark_read(10_000)


def test_contacts_crud(store: Store) -> None:
    inbox = os.urandom(16)
    contact = store.add_contact("Pak Hendra", "counselor", os.urandom(32), [inbox])
    assert store.find_contact_by_inbox(inbox) == contact

    new_inbox = os.urandom(16)
    updated = store.update_contact(
        contact.id, display_name="Pak Hendra S.", verified=True, inbox_ids=[new_inbox]
    )
    assert updated.display_name == "Pak Hendra S."
    assert updated.verified is True
    assert updated.inbox_ids == (new_inbox,)
    assert store.find_contact_by_inbox(inbox) is None
    assert store.list_contacts() == [updated]

    store.delete_contact(contact.id)
    with pytest.raises(RecordNotFound) as caught:
        store.get_contact(contact.id)
    assert caught.value.code == "record_not_found"


def test_migrations_from_zero(tmp_path: Path) -> None:
    connection = connect_encrypted(tmp_path / "fresh.db", os.urandom(32))
    try:
        assert apply_migrations(connection) == SCHEMA_VERSION
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master").fetchall()}
        assert {"messages", "messages_fts", "outbox", "follow_ups", "contacts"} <= tables
        assert apply_migrations(connection) == SCHEMA_VERSION
    finally:
        connection.close()


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    connection = connect_encrypted(tmp_path / "fresh.db", os.urandom(32))
    migrations = (
        Migration(1, ("CREATE TABLE a (x INTEGER)",)),
        Migration(2, ("CREATE TABLE b (x INTEGER)", "CREATE TABLE a (x INTEGER)")),
    )
    try:
        with pytest.raises(load_sqlcipher().OperationalError):
            apply_migrations(connection, migrations)
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        assert names == {"a"}
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        connection.close()


def test_schema_too_new(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(SchemaTooNew) as caught:
        Store.open(profile, passphrase)
    assert caught.value.found == SCHEMA_VERSION + 1
    assert caught.value.code == "schema_too_new"

    # The failed open released the profile lock.
    with pytest.raises(SchemaTooNew):
        Store.open(profile, passphrase)


def test_counseling_session_records(store: Store) -> None:
    contact_id, _ = add_student(store)
    consent_id = store.record_consent(
        contact_id, "online_counseling", "Saya setuju mengikuti konseling daring", granted=True
    )
    session_id = store.start_session(contact_id)
    store.set_field(session_id, "pengantaran", "cara_datang", "sendiri")
    store.change_stage(session_id, "penjajagan")
    store.set_field(session_id, "penjajagan", "risiko", "rendah")
    store.set_field(session_id, "penjajagan", "risiko", "sedang")
    store.add_note(session_id, "penjajagan", NOTE)
    store.change_stage(session_id, "pengantaran")
    store.change_stage(session_id, "penilaian")
    store.store_evaluation(
        session_id,
        "laiseg",
        {"understanding": "paham", "comfort": "lebih lega", "action": "bicara ke wali kelas"},
    )
    store.add_follow_up(session_id, "laijapen", due_at=5_000, note="cek rencana")
    store.add_follow_up(session_id, "laijapang", due_at=90_000)
    store.end_session(session_id)

    session = store.get_session(session_id)
    assert session.stage == "penilaian"
    assert [c.stage for c in session.stage_changes] == [
        "pengantaran",
        "penjajagan",
        "pengantaran",
        "penilaian",
    ]
    assert session.fields == {
        "pengantaran": {"cara_datang": "sendiri"},
        "penjajagan": {"risiko": "sedang"},
    }
    assert [note.body for note in session.notes] == [NOTE]
    assert session.ended_at is not None
    assert store.list_consents(contact_id)[0]["id"] == consent_id
    assert store.list_evaluations(session_id)[0][1]["comfort"] == "lebih lega"

    due = store.due_follow_ups(now=10_000)
    assert [f.kind for f in due] == ["laijapen"]
    store.complete_follow_up(due[0].id)
    assert store.due_follow_ups(now=10_000) == []
    assert [f.kind for f in store.due_follow_ups(now=100_000)] == ["laijapang"]

    with pytest.raises(ValueError, match="has ended"):
        store.change_stage(session_id, "pembinaan")
    with pytest.raises(ValueError, match="stage"):
        store.add_note(session_id, "tahap-lain", "x")


class SetClock:
    """A store clock that returns the time a test last set, in Unix milliseconds."""

    def __init__(self) -> None:
        self.now_ms = 1_000

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
def clocked_store(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams, clock: SetClock
) -> Iterator[Store]:
    """A new store whose clock is ``clock``, closed after the test."""
    opened = Store.create(profile, passphrase, kdf=cheap_kdf, clock=clock)
    yield opened
    opened.close()


def start_at(store: Store, clock: SetClock, contact_id: int, started_at: int) -> int:
    clock.now_ms = started_at
    return store.start_session(contact_id)


def test_list_sessions_range(clocked_store: Store, clock: SetClock) -> None:
    store = clocked_store
    contact_id, _ = add_student(store)
    before = start_at(store, clock, contact_id, 9_999)
    at_start = start_at(store, clock, contact_id, 10_000)
    late = start_at(store, clock, contact_id, 15_000)
    # Started later by id but earlier by clock: the list orders by start time.
    early = start_at(store, clock, contact_id, 12_000)
    same_time = start_at(store, clock, contact_id, 12_000)
    at_end = start_at(store, clock, contact_id, 20_000)

    sessions = store.list_sessions(10_000, 20_000)

    assert [s.id for s in sessions] == [at_start, early, same_time, late]
    assert before not in [s.id for s in sessions]
    assert at_end not in [s.id for s in sessions]
    assert sessions[1].started_at == 12_000
    assert sessions[1].contact_id == contact_id


def test_list_sessions_fields(clocked_store: Store, clock: SetClock) -> None:
    store = clocked_store
    contact_id, _ = add_student(store)
    session_id = start_at(store, clock, contact_id, 5_000)
    store.change_stage(session_id, "penjajagan")
    clock.now_ms = 6_000
    store.end_session(session_id)
    open_id = start_at(store, clock, contact_id, 7_000)

    closed, still_open = store.list_sessions(0, 10_000)

    assert closed.id == session_id
    assert closed.stage == "penjajagan"
    assert closed.ended_at == 6_000
    assert still_open.id == open_id
    assert still_open.stage == "pengantaran"
    assert still_open.ended_at is None


def test_list_sessions_empty_and_swapped(clocked_store: Store, clock: SetClock) -> None:
    store = clocked_store
    contact_id, _ = add_student(store)
    start_at(store, clock, contact_id, 5_000)

    assert store.list_sessions(5_000, 5_000) == []
    assert store.list_sessions(6_000, 9_000) == []
    with pytest.raises(ValueError, match="before its start"):
        store.list_sessions(9_000, 5_000)


def test_list_follow_ups_done_and_open(clocked_store: Store, clock: SetClock) -> None:
    store = clocked_store
    contact_id, _ = add_student(store)
    session_id = start_at(store, clock, contact_id, 1_000)
    other_session = start_at(store, clock, contact_id, 2_000)
    laijapang = store.add_follow_up(session_id, "laijapang", due_at=90_000)
    laijapen = store.add_follow_up(session_id, "laijapen", due_at=5_000, note="cek rencana")
    store.add_follow_up(other_session, "laijapen", due_at=6_000)
    clock.now_ms = 7_500
    store.complete_follow_up(laijapen)

    follow_ups = store.list_follow_ups(session_id)

    assert [f.id for f in follow_ups] == [laijapen, laijapang]
    done, still_open = follow_ups
    assert done.status == "done"
    assert done.done_at == 7_500
    assert done.note == "cek rencana"
    assert done.session_id == session_id
    assert still_open.status == "open"
    assert still_open.done_at is None
    assert still_open.due_at == 90_000
    assert store.due_follow_ups(now=10_000)[0].session_id == other_session


def test_list_follow_ups_missing_session(store: Store) -> None:
    contact_id, _ = add_student(store)
    session_id = store.start_session(contact_id)

    assert store.list_follow_ups(session_id) == []
    with pytest.raises(RecordNotFound):
        store.list_follow_ups(session_id + 1)


def test_list_evaluations_recorded_at(clocked_store: Store, clock: SetClock) -> None:
    store = clocked_store
    contact_id, _ = add_student(store)
    session_id = start_at(store, clock, contact_id, 1_000)
    clock.now_ms = 3_000
    laiseg = store.store_evaluation(session_id, "laiseg", {"comfort": "lebih lega"})
    clock.now_ms = 8_000
    laijapen = store.store_evaluation(session_id, "laijapen", {"action_done": "yes"})

    first, second = store.list_evaluations(session_id)

    assert first.kind == "laiseg"
    assert first.answers == {"comfort": "lebih lega"}
    assert first.recorded_at == 3_000
    assert first.id == laiseg
    assert second.recorded_at == 8_000
    assert second.id == laijapen
    # Position 0 and 1 stay the (kind, answers) that callers indexed before.
    assert second[0] == "laijapen"
    assert second[1] == {"action_done": "yes"}


def test_consent_text_version(store: Store) -> None:
    contact_id, _ = add_student(store)
    with_version = store.record_consent(
        contact_id,
        "online_counseling",
        "Saya setuju mengikuti konseling daring",
        granted=True,
        text_version="2026.1",
    )
    without_version = store.record_consent(
        contact_id, "guardian", "Orang tua setuju", granted=False
    )

    first, second = store.list_consents(contact_id)

    assert first["id"] == with_version
    assert first["text_version"] == "2026.1"
    assert first["consent_text"] == "Saya setuju mengikuti konseling daring"
    assert first["granted"] == 1
    assert second["id"] == without_version
    assert second["text_version"] is None
    assert second["granted"] == 0


@pytest.mark.parametrize("text_version", ["", "v 1", "v" * 33, "versi/2", "2026.1\n"])
def test_consent_text_version_invalid(store: Store, text_version: str) -> None:
    contact_id, _ = add_student(store)

    with pytest.raises(ValueError, match="consent text version"):
        store.record_consent(
            contact_id, "online_counseling", "teks", granted=True, text_version=text_version
        )
    assert store.list_consents(contact_id) == []


def test_consent_text_version_longest(store: Store) -> None:
    contact_id, _ = add_student(store)
    longest = "A-z_0.9" + "x" * 25

    store.record_consent(
        contact_id, "online_counseling", "teks", granted=True, text_version=longest
    )

    assert store.list_consents(contact_id)[0]["text_version"] == longest


def test_migration_upgrades_version_1(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    """A database written at schema version 1 opens at the current version, rows intact."""
    profile.ensure_directory()
    connection = create_database(profile, passphrase, cheap_kdf)
    try:
        assert apply_migrations(connection, MIGRATIONS[:1]) == 1
        connection.execute(
            "INSERT INTO contacts (id, display_name, role, identity_key, created_at) "
            "VALUES (1, 'Siti', 'student', ?, 100)",
            [os.urandom(32)],
        )
        connection.execute(
            "INSERT INTO counseling_sessions (id, contact_id, started_at, stage) "
            "VALUES (1, 1, 200, 'pengantaran')"
        )
        connection.execute(
            "INSERT INTO consents (contact_id, session_id, kind, consent_text, granted, "
            "recorded_at) VALUES (1, NULL, 'online_counseling', 'teks lama', 1, 150)"
        )
        connection.execute(
            "INSERT INTO evaluations (session_id, kind, answers, recorded_at) "
            "VALUES (1, 'laiseg', '{\"comfort\": \"lega\"}', 300)"
        )
    finally:
        connection.close()

    with Store.open(profile, passphrase) as store:
        assert read_schema_version(store.db.conn) == SCHEMA_VERSION
        columns = [row[1] for row in store.db.execute("PRAGMA table_info(consents)")]
        assert "text_version" in columns

        (old_consent,) = store.list_consents(1)
        assert old_consent["consent_text"] == "teks lama"
        assert old_consent["text_version"] is None
        assert old_consent["recorded_at"] == 150
        (evaluation,) = store.list_evaluations(1)
        assert evaluation.recorded_at == 300
        assert evaluation.answers == {"comfort": "lega"}
        assert [s.id for s in store.list_sessions(200, 201)] == [1]

        store.record_consent(1, "online_counseling", "teks baru", granted=True, text_version="2")
        assert [c["text_version"] for c in store.list_consents(1)] == [None, "2"]

    with Store.open(profile, passphrase) as store:
        assert read_schema_version(store.db.conn) == SCHEMA_VERSION
        assert [c["text_version"] for c in store.list_consents(1)] == [None, "2"]


class RecordingLock:
    """A reentrant lock that counts how often it was entered."""

    def __init__(self) -> None:
        self.inner = threading.RLock()
        self.entered = 0

    def __enter__(self) -> RecordingLock:
        self.inner.acquire()
        self.entered += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.inner.release()


def test_record_lists_take_call_lock(store: Store) -> None:
    contact_id, _ = add_student(store)
    session_id = store.start_session(contact_id)
    calls = {
        "list_sessions": lambda: store.list_sessions(0, 2**62),
        "list_follow_ups": lambda: store.list_follow_ups(session_id),
        "list_evaluations": lambda: store.list_evaluations(session_id),
        "list_consents": lambda: store.list_consents(contact_id),
    }

    for name, call in calls.items():
        lock = RecordingLock()
        store._lock = lock  # type: ignore[assignment]
        call()
        assert lock.entered == 1, name


class FailingClock(SetClock):
    """A store clock that raises on its next call once a test arms it with a countdown.

    Every row the store writes takes one timestamp, so the countdown picks which write of
    a transaction fails.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls_before_failure: int | None = None

    def __call__(self) -> int:
        if self.calls_before_failure is not None:
            if self.calls_before_failure == 0:
                self.calls_before_failure = None
                raise RuntimeError("clock failed on purpose")
            self.calls_before_failure -= 1
        return self.now_ms


def test_named_state_roundtrip(profile: Profile, passphrase: str, cheap_kdf: KdfParams) -> None:
    with Store.create(profile, passphrase, kdf=cheap_kdf) as store:
        assert store.get_named_state("engine") is None
        store.put_named_state("engine", b"engine-v1")
        store.put_named_state("engine", b"engine-v2")
        store.put_named_state("other", b"other-v1")

    with Store.open(profile, passphrase) as store:
        assert store.get_named_state("engine") == b"engine-v2"
        assert store.get_named_state("other") == b"other-v1"
        assert store.get_identity_state() is None
        assert store.get_prekey_state() is None


def test_named_state_reserved_names(store: Store) -> None:
    store.put_identity_state(b"identity")
    store.put_prekey_state(b"prekeys")

    for name in ("identity", "prekeys"):
        with pytest.raises(ValueError, match="reserved"):
            store.put_named_state(name, b"overwrite")
        with pytest.raises(ValueError, match="reserved"):
            store.get_named_state(name)

    assert store.get_identity_state() == b"identity"
    assert store.get_prekey_state() == b"prekeys"


def test_named_state_with_session_and_prekeys(store: Store) -> None:
    contact_id, _ = add_student(store)
    other_id, _ = add_student(store, "Dewi Lestari")
    store.put_session_state(other_id, b"other-session")

    store.put_named_state(
        "engine", b"engine-state", session=(contact_id, b"session"), prekey_state=b"prekeys"
    )

    assert store.get_named_state("engine") == b"engine-state"
    assert store.get_session_state(contact_id) == b"session"
    assert store.get_prekey_state() == b"prekeys"
    assert store.get_session_state(other_id) == b"other-session"


def test_named_state_rolls_back_all_parts(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    clock = FailingClock()
    with Store.create(profile, passphrase, kdf=cheap_kdf, clock=clock) as store:
        contact_id, _ = add_student(store)
        store.put_named_state("engine", b"engine-old", session=(contact_id, b"session-old"))
        store.put_prekey_state(b"prekeys-old")

        # The transaction writes three rows (session, prekeys, named state), so fail each in turn.
        for failing_write in range(3):
            clock.calls_before_failure = failing_write
            with pytest.raises(RuntimeError, match="on purpose"):
                store.put_named_state(
                    "engine",
                    b"engine-new",
                    session=(contact_id, b"session-new"),
                    prekey_state=b"prekeys-new",
                )

            assert store.get_named_state("engine") == b"engine-old", failing_write
            assert store.get_session_state(contact_id) == b"session-old", failing_write
            assert store.get_prekey_state() == b"prekeys-old", failing_write

        # The failed transactions were closed, so the next write commits.
        store.put_named_state("engine", b"engine-new", session=(contact_id, b"session-new"))

    with Store.open(profile, passphrase) as store:
        assert store.get_named_state("engine") == b"engine-new"
        assert store.get_session_state(contact_id) == b"session-new"
        assert store.get_prekey_state() == b"prekeys-old"


def test_named_state_unknown_contact(store: Store) -> None:
    store.put_named_state("engine", b"engine-old")
    store.put_prekey_state(b"prekeys-old")

    with pytest.raises(RecordNotFound) as caught:
        store.put_named_state(
            "engine", b"engine-new", session=(404, b"session"), prekey_state=b"prekeys-new"
        )

    assert caught.value.code == "record_not_found"
    assert store.get_named_state("engine") == b"engine-old"
    assert store.get_prekey_state() == b"prekeys-old"
    assert store.get_session_state(404) is None


def test_find_message_by_content_id(store: Store) -> None:
    _, conversation = add_student(store)
    _, other_conversation = add_student(store, "Dewi Lestari")
    incoming = store.record_incoming(conversation, message("pesan masuk"), b"state-1")
    outgoing = store.record_outgoing(
        conversation, message("pesan keluar"), b"envelope", b"state-2", destination=b"inbox"
    )

    assert store.find_message(conversation, incoming.content_id) == incoming
    assert store.find_message(conversation, outgoing.content_id) == outgoing
    assert store.find_message(other_conversation, incoming.content_id) is None
    assert store.find_message(conversation, os.urandom(16)) is None


def test_max_outgoing_seq(store: Store) -> None:
    _, conversation = add_student(store)
    _, other_conversation = add_student(store, "Dewi Lestari")
    assert store.max_outgoing_seq(conversation) == 0

    for seq in (3, 7, None):
        store.record_outgoing(
            conversation, message("keluar", seq), b"envelope", b"state", destination=b"inbox"
        )
    store.record_incoming(conversation, message("masuk", 50), b"state")
    store.record_outgoing(
        other_conversation, message("lain", 90), b"envelope", b"state", destination=b"inbox"
    )

    assert store.max_outgoing_seq(conversation) == 7
    assert store.max_outgoing_seq(other_conversation) == 90


def test_outbox_count(store: Store) -> None:
    _, conversation = add_student(store)
    assert store.outbox_count() == 0

    sent = [
        store.record_outgoing(
            conversation, message(f"pesan {number}"), b"envelope", b"state", destination=b"inbox"
        )
        for number in range(3)
    ]
    store.record_incoming(conversation, message("masuk"), b"state")
    assert store.outbox_count() == 3

    store.mark_sent(sent[0].order)
    store.mark_failed(sent[1].order)
    assert store.outbox_count() == 1


def test_engine_queries_take_call_lock(store: Store) -> None:
    contact_id, conversation = add_student(store)
    calls = {
        "get_named_state": lambda: store.get_named_state("engine"),
        "put_named_state": lambda: store.put_named_state(
            "engine", b"state", session=(contact_id, b"session"), prekey_state=b"prekeys"
        ),
        "find_message": lambda: store.find_message(conversation, os.urandom(16)),
        "max_outgoing_seq": lambda: store.max_outgoing_seq(conversation),
        "outbox_count": lambda: store.outbox_count(),
    }

    for name, call in calls.items():
        lock = RecordingLock()
        store._lock = lock  # type: ignore[assignment]
        call()
        assert lock.entered == 1, name


def test_session_content_id_link(store: Store) -> None:
    """A session started with a protocol id is found by it, and the id by the session."""
    contact_id, _ = add_student(store)
    content_id = os.urandom(16)
    linked = store.start_session(contact_id, content_id)
    local = store.start_session(contact_id)

    found = store.find_session_by_content_id(content_id)
    assert found is not None
    assert (found.id, found.contact_id, found.ended_at) == (linked, contact_id, None)
    assert store.content_session_id(linked) == content_id
    assert store.content_session_id(local) is None
    assert store.find_session_by_content_id(os.urandom(16)) is None

    store.end_session(linked)
    ended = store.find_session_by_content_id(content_id)
    assert ended is not None
    assert ended.ended_at is not None
    with pytest.raises(RecordNotFound):
        store.content_session_id(linked + local)


def test_session_content_id_invalid(store: Store) -> None:
    """A protocol id of the wrong size or used twice adds no session."""
    contact_id, _ = add_student(store)
    with pytest.raises(ValueError, match="15 bytes"):
        store.start_session(contact_id, os.urandom(15))
    content_id = os.urandom(16)
    store.start_session(contact_id, content_id)
    with pytest.raises(load_sqlcipher().IntegrityError):
        store.start_session(contact_id, content_id)
    assert len(store.list_sessions(0, 2**62)) == 1


def test_migration_upgrades_version_2(
    profile: Profile, passphrase: str, cheap_kdf: KdfParams
) -> None:
    """Sessions written at schema version 2 open at the current version with no protocol id."""
    profile.ensure_directory()
    connection = create_database(profile, passphrase, cheap_kdf)
    try:
        assert apply_migrations(connection, MIGRATIONS[:2]) == 2
        connection.execute(
            "INSERT INTO contacts (id, display_name, role, identity_key, created_at) "
            "VALUES (1, 'Siti', 'student', ?, 100)",
            [os.urandom(32)],
        )
        connection.execute(
            "INSERT INTO counseling_sessions (id, contact_id, started_at, stage) "
            "VALUES (1, 1, 200, 'pengantaran')"
        )
    finally:
        connection.close()

    with Store.open(profile, passphrase) as store:
        assert read_schema_version(store.db.conn) == SCHEMA_VERSION
        assert store.content_session_id(1) is None
        content_id = os.urandom(16)
        new_session = store.start_session(1, content_id)
        found = store.find_session_by_content_id(content_id)
        assert found is not None
        assert found.id == new_session
        assert [s.id for s in store.list_sessions(0, 2**62)] == [1, new_session]
