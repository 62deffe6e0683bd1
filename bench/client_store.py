"""Measure the encrypted client store against a plain SQLite copy with the same schema.

Run by hand from the repository root:

    .venv/bin/python bench/client_store.py [--messages 100000] [--repeat 7]

It builds one conversation of ``--messages`` Indonesian chat messages of varied length
twice. One copy is an encrypted store (SQLCipher, default Argon2id cost). The other is a
plain file with the same schema, opened through the same SQLite build without a key. Then
it times these operations on both:

- unlock: Argon2id alone, and Argon2id + open + newest 50, for the encrypted store only
  (slow by design, so reported on its own);
- open + newest 50: open the database with the key already derived and load the newest
  window of 50 messages;
- page back 50: load the 50 messages before an order number in the middle of history;
- search: full-text search for a common word and for two words, newest 50 matches.

Each figure is the median of ``--repeat`` runs, and each ratio is encrypted / plain. A cold
run is the first on a newly opened connection, and a warm run repeats the operation on an
open one. Both files stay in the OS page cache, so the ratios show the decryption cost,
not disk speed.

The run stops after the build plus a fixed number of rounds. With the defaults it takes
about 10 s on a 2-core machine and about 60 MB in a temporary directory, removed at exit.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from konsel.client.core.passphrase import DEFAULT_KDF, derive_key, read_header
from konsel.client.core.profile import Profile, ProfileLock, create_private_file
from konsel.client.core.store import Store
from konsel.client.core.store_connection import connect_encrypted, load_sqlcipher
from konsel.client.core.store_schema import apply_migrations

PASSPHRASE = "bangku taman sekolah di bawah pohon mangga"
WINDOW = 50

# Words of everyday school chat between a student and a guru BK.
_WORD_TEXT = (
    "saya aku kamu ibu bapak bu pak guru kelas sekolah teman kakak adik orang tua rumah "
    "ujian ulangan tugas nilai pelajaran matematika bahasa olahraga jadwal besok kemarin "
    "hari ini minggu depan tadi pagi siang malam pulang berangkat belajar tidur makan "
    "merasa sedih senang cemas takut marah bingung capek lega tenang khawatir malu "
    "tidak belum sudah masih sering kadang selalu jarang sangat sekali juga lagi saja "
    "karena tapi jadi kalau supaya agar dengan di ke dari untuk yang ini itu ada "
    "cerita bicara dengar tanya jawab bantu coba mau ingin bisa harus perlu boleh "
    "grup chat pesan hp internet main game bola futsal pramuka osis ekskul kantin "
    "terima kasih maaf tolong iya oke baik benar salah sulit mudah banyak sedikit"
)
WORDS = tuple(_WORD_TEXT.split())


def make_messages(count: int, seed: int = 7) -> list[str]:
    """Return ``count`` chat lines of 3 to 60 words, mostly short, like a real chat."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        length = min(60, max(3, int(rng.expovariate(1 / 12))))
        words = [rng.choice(WORDS) for _ in range(length)]
        words[0] = words[0].capitalize()
        bodies.append(" ".join(words) + rng.choice([".", "?", "!", "...", ""]))
    return bodies


def fill(connection: Any, conversation_id: int, bodies: list[str]) -> None:
    """Insert the messages in one transaction; the triggers fill the FTS index."""
    rng = random.Random(11)
    base_time = 1_700_000_000_000
    rows = [
        (
            conversation_id,
            "in" if number % 2 else "out",
            rng.randbytes(16),
            rng.randbytes(16),
            number,
            body,
            "read",
            base_time + number * 60_000,
            base_time + number * 60_000 + 500,
        )
        for number, body in enumerate(bodies)
    ]
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO messages (conversation_id, direction, content_id, envelope_id, "
        "sender_seq, body, status, sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    connection.execute("COMMIT")


def build_encrypted(directory: Path, bodies: list[str]) -> tuple[Profile, int]:
    profile = Profile(directory)
    with Store.create(profile, PASSPHRASE, kdf=DEFAULT_KDF) as store:
        contact = store.add_contact("Siti Rahmawati", "student", os.urandom(32), [b"inbox"])
        conversation = store.conversation_for_contact(contact.id)
        fill(store.db.conn, conversation, bodies)
    return profile, conversation


def open_plain(profile: Profile) -> Store:
    """Open the plain copy through the same SQLite build as a Store, without any key."""
    lock = ProfileLock(profile)
    lock.acquire()
    connection = load_sqlcipher().connect(
        str(profile.database_path), isolation_level=None, check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode = WAL").fetchone()
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    apply_migrations(connection)
    return Store(profile, connection, lock)


def build_plain(directory: Path, bodies: list[str]) -> int:
    profile = Profile(directory)
    profile.ensure_directory()
    create_private_file(profile.database_path)
    with open_plain(profile) as store:
        contact = store.add_contact("Siti Rahmawati", "student", os.urandom(32), [b"inbox"])
        conversation = store.conversation_for_contact(contact.id)
        fill(store.db.conn, conversation, bodies)
    return conversation


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def timed_on_fresh_store(
    opener: Callable[[], Store], operation: Callable[[Store], object], repeat: int
) -> float:
    """Median time of ``operation`` alone, each run on a newly opened store."""
    samples = []
    for _ in range(repeat):
        store = opener()
        try:
            start = time.perf_counter()
            result = operation(store)
            samples.append(time.perf_counter() - start)
            assert result, "the operation returned no rows"
        finally:
            store.close()
    return statistics.median(samples)


def timed_on_warm_store(
    opener: Callable[[], Store], operation: Callable[[Store], object], repeat: int
) -> float:
    """Median time of ``operation`` repeated on one open store whose pages it has read."""
    store = opener()
    try:
        operation(store)
        return median_seconds(lambda: operation(store), repeat)
    finally:
        store.close()


def milliseconds(seconds: float, width: int = 9) -> str:
    return f"{seconds * 1000:{width - 3}.2f} ms"


def machine_line() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="messages to store")
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (median)")
    arguments = parser.parse_args()

    sqlcipher = load_sqlcipher()
    probe = sqlcipher.connect(":memory:")
    cipher_version = probe.execute("PRAGMA cipher_version").fetchone()[0]
    sqlite_version = probe.execute("SELECT sqlite_version()").fetchone()[0]
    probe.close()

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"date:    {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"machine: {machine_line()}")
    print(
        f"sqlite:  {sqlite_version}, SQLCipher {cipher_version}, Python {platform.python_version()}"
    )
    kdf = DEFAULT_KDF
    print(f"argon2id: opslimit {kdf.opslimit}, memlimit {kdf.memlimit // (1024 * 1024)} MiB")

    with tempfile.TemporaryDirectory(prefix="konsel-bench-") as root:
        bodies = make_messages(arguments.messages)
        start = time.perf_counter()
        encrypted_profile, conversation = build_encrypted(Path(root) / "encrypted", bodies)
        build_encrypted_seconds = time.perf_counter() - start
        start = time.perf_counter()
        plain_profile = Profile(Path(root) / "plain")
        plain_conversation = build_plain(plain_profile.directory, bodies)
        build_plain_seconds = time.perf_counter() - start
        assert plain_conversation == conversation

        # The plain copy starts with SQLite's magic string and the encrypted one does not.
        with plain_profile.database_path.open("rb") as file:
            assert file.read(16) == b"SQLite format 3\x00"
        with encrypted_profile.database_path.open("rb") as file:
            assert file.read(16) != b"SQLite format 3\x00"

        encrypted_size = encrypted_profile.database_path.stat().st_size
        plain_size = plain_profile.database_path.stat().st_size
        print(
            f"build:   {arguments.messages} messages in one transaction, encrypted "
            f"{build_encrypted_seconds:.1f} s ({encrypted_size / 1e6:.1f} MB), plain "
            f"{build_plain_seconds:.1f} s ({plain_size / 1e6:.1f} MB)"
        )

        header = read_header(encrypted_profile.header_path)
        argon_seconds = median_seconds(
            lambda: derive_key(PASSPHRASE, header.salt, header.kdf), max(arguments.repeat, 9)
        )

        key = derive_key(PASSPHRASE, header.salt, header.kdf)

        def unlock_encrypted() -> Store:
            return Store.open(encrypted_profile, PASSPHRASE)

        def open_encrypted() -> Store:
            # What Store.open does after Argon2id: connect under the key, check the schema.
            lock = ProfileLock(encrypted_profile)
            lock.acquire()
            connection = connect_encrypted(encrypted_profile.database_path, key)
            apply_migrations(connection)
            return Store(encrypted_profile, connection, lock)

        def open_plain_store() -> Store:
            return open_plain(plain_profile)

        def open_and_window(opener: Callable[[], Store]) -> Callable[[], object]:
            def run() -> object:
                store = opener()
                try:
                    window = store.load_window(conversation, limit=WINDOW)
                    assert len(window) == WINDOW
                    return window
                finally:
                    store.close()

            return run

        middle = arguments.messages // 2
        operations: list[tuple[str, Callable[[Store], object]]] = [
            ("page back 50 (middle)", lambda s: s.load_window(conversation, middle, WINDOW)),
            ("search 'ujian'", lambda s: s.search("ujian", WINDOW)),
            ("search 'takut pulang'", lambda s: s.search("takut pulang", WINDOW)),
        ]

        # Each row: name, encrypted cold, plain cold, encrypted warm, plain warm.
        rows: list[tuple[str, float, float, float | None, float | None]] = []
        unlock_seconds = median_seconds(open_and_window(unlock_encrypted), arguments.repeat)
        rows.append(
            (
                "open + newest 50 (no Argon2id)",
                median_seconds(open_and_window(open_encrypted), arguments.repeat),
                median_seconds(open_and_window(open_plain_store), arguments.repeat),
                None,
                None,
            )
        )
        for name, operation in operations:
            rows.append(
                (
                    name,
                    timed_on_fresh_store(open_encrypted, operation, arguments.repeat),
                    timed_on_fresh_store(open_plain_store, operation, arguments.repeat),
                    timed_on_warm_store(open_encrypted, operation, arguments.repeat),
                    timed_on_warm_store(open_plain_store, operation, arguments.repeat),
                )
            )

    print()
    print(f"unlock (Argon2id alone): {argon_seconds * 1000:.0f} ms")
    print(f"unlock + open + newest 50 (encrypted): {unlock_seconds * 1000:.0f} ms")
    print()
    print("cold: first run on a newly opened connection; warm: repeated on an open one")
    print(f"{'operation':32} {'cold enc':>9} {'cold plain':>10} {'ratio':>6}   ", end="")
    print(f"{'warm enc':>9} {'warm plain':>10} {'ratio':>6}")
    for name, cold_encrypted, cold_plain, warm_encrypted, warm_plain in rows:
        print(f"{name:32} {milliseconds(cold_encrypted)} {milliseconds(cold_plain, 10)}", end="")
        print(f" {cold_encrypted / cold_plain:6.2f}   ", end="")
        if warm_encrypted is None or warm_plain is None:
            print(f"{'-':>9} {'-':>10} {'-':>6}")
            continue
        print(f"{milliseconds(warm_encrypted)} {milliseconds(warm_plain, 10)}", end="")
        print(f" {warm_encrypted / warm_plain:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
