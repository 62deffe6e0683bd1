"""The SQLite backend on real files, and a relay killed with SIGKILL mid-conversation."""

from __future__ import annotations

import asyncio
import stat
import subprocess
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from relay_process import RELAY_COMMAND, RelayLauncher, free_port, receive

from konsel.relay.sqlite_store import DATABASE_NAME, SQLiteStore
from konsel.relay.storage import QueueLimits, QuotaExceededError, StorageFullError

LIMITS = QueueLimits(max_messages=100, max_bytes=100_000, max_prekeys=50, max_storage_bytes=10**7)
NOW = 1_800_000_000


@pytest.fixture
async def store(tmp_path: Path) -> SQLiteStore:
    opened = await SQLiteStore.open(tmp_path / "data", LIMITS)
    yield opened  # type: ignore[misc]
    await opened.close()


async def test_append_read_in_order(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("private", bytes(32), NOW)
    appended = [await store.append(inbox.inbox_id, b"m%d" % index, NOW) for index in range(5)]

    messages = await store.read_queue(inbox.inbox_id, 0, 10, 10_000)

    assert [message.envelope for message in messages] == [b"m%d" % index for index in range(5)]
    assert messages == appended
    later = await store.read_queue(inbox.inbox_id, messages[1].sequence, 2, 10_000)
    assert [message.envelope for message in later] == [b"m2", b"m3"]


async def test_read_queue_byte_bound(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("private", bytes(32), NOW)
    for size in (600, 600, 600):
        await store.append(inbox.inbox_id, bytes(size), NOW)

    assert len(await store.read_queue(inbox.inbox_id, 0, 10, 1300)) == 2
    # The first message comes back even when it alone is above the byte bound.
    assert len(await store.read_queue(inbox.inbox_id, 0, 10, 10)) == 1


async def test_concurrent_appends_batched(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("private", bytes(32), NOW)
    before = store.batches_committed

    await asyncio.gather(
        *(store.append(inbox.inbox_id, b"%d" % index, NOW) for index in range(100))
    )

    assert store.batches_committed - before < 50
    messages = await store.read_queue(inbox.inbox_id, 0, 200, 10**6)
    assert [message.envelope for message in messages] == [b"%d" % index for index in range(100)]


async def test_acknowledge_own_inbox_only(store: SQLiteStore) -> None:
    first = await store.create_inbox("private", bytes(32), NOW)
    second = await store.create_inbox("private", bytes(32), NOW)
    message_id = (await store.append(first.inbox_id, b"x", NOW)).message_id

    assert await store.acknowledge(second.inbox_id, (message_id,)) == 0
    assert await store.acknowledge(first.inbox_id, (message_id,)) == 1
    assert await store.acknowledge(first.inbox_id, (message_id,)) == 0
    assert (await store.totals()).messages == 0


async def test_quota_rejects_without_storing(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("private", bytes(32), NOW)
    await store.append(inbox.inbox_id, bytes(99_000), NOW)

    with pytest.raises(QuotaExceededError):
        await store.append(inbox.inbox_id, bytes(1001), NOW)

    looked_up = await store.inbox_by_receive_id(inbox.receive_id)
    assert looked_up is not None
    assert looked_up.queued_count == 1
    assert looked_up.queued_bytes == 99_000


async def test_storage_cap(tmp_path: Path) -> None:
    limits = QueueLimits(100, 100_000, 10, max_storage_bytes=1000)
    store = await SQLiteStore.open(tmp_path / "data", limits)
    inbox = await store.create_inbox("private", bytes(32), NOW)

    with pytest.raises(StorageFullError):
        await store.append(inbox.inbox_id, bytes(800), NOW)
    await store.append(inbox.inbox_id, bytes(700), NOW)
    await store.close()


async def test_prekeys_popped_once_concurrently(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("contact", bytes(32), NOW)
    prekeys = tuple(b"otk-%d" % index for index in range(20))
    assert await store.put_prekeys(inbox.inbox_id, b"bundle", prekeys) == 20

    results = await asyncio.gather(*(store.pop_prekey(inbox.inbox_id) for _ in range(30)))

    handed_out = [result[1] for result in results if result is not None and result[1]]
    assert sorted(handed_out) == sorted(prekeys)
    assert await store.count_prekeys(inbox.inbox_id) == 0
    assert await store.pop_prekey(inbox.inbox_id) == (b"bundle", None)


async def test_pop_without_bundle(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("contact", bytes(32), NOW)
    await store.put_prekeys(inbox.inbox_id, None, (b"otk",))

    assert await store.pop_prekey(inbox.inbox_id) is None
    assert await store.count_prekeys(inbox.inbox_id) == 1


async def test_expire_old_messages(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("private", bytes(32), NOW)
    await store.append(inbox.inbox_id, b"old", NOW - 100)
    await store.append(inbox.inbox_id, b"new", NOW)

    assert await store.expire(NOW - 50) == 1

    messages = await store.read_queue(inbox.inbox_id, 0, 10, 10_000)
    assert [message.envelope for message in messages] == [b"new"]
    looked_up = await store.inbox_by_receive_id(inbox.receive_id)
    assert looked_up is not None
    assert looked_up.queued_count == 1
    assert (await store.totals()).messages == 1


async def test_delete_inbox_removes_all(store: SQLiteStore) -> None:
    inbox = await store.create_inbox("contact", bytes(32), NOW)
    await store.append(inbox.inbox_id, b"x", NOW)
    await store.put_prekeys(inbox.inbox_id, b"bundle", (b"otk",))

    await store.delete_inbox(inbox.inbox_id)

    assert await store.inbox_by_send_id(inbox.send_id) is None
    assert await store.pop_prekey(inbox.inbox_id) is None
    assert await store.totals() == type(await store.totals())(0, 0, 0)


async def test_files_private_and_reopen(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = await SQLiteStore.open(data_dir, LIMITS)
    inbox = await store.create_inbox("private", bytes(32), NOW)
    await store.append(inbox.inbox_id, b"tahan lama", NOW)

    for path in data_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    await store.close()
    await store.close()

    reopened = await SQLiteStore.open(data_dir, LIMITS)
    totals = await reopened.totals()
    assert (totals.inboxes, totals.messages) == (1, 1)
    messages = await reopened.read_queue(inbox.inbox_id, 0, 10, 10_000)
    assert messages[0].envelope == b"tahan lama"
    assert (data_dir / DATABASE_NAME).exists()
    await reopened.close()


async def test_relay_sigkill_keeps_confirmed(relay_launcher: RelayLauncher) -> None:
    """The relay dies by SIGKILL right after the third OK; nothing confirmed is lost."""
    relay = relay_launcher.start()
    envelopes = [b"pesan %d" % index for index in range(1, 6)]
    sender = await relay.client()
    owner = SigningKey.generate()
    inbox = await sender.create_inbox("private", bytes(owner.verify_key))

    confirmed = 0
    for envelope in envelopes[:3]:
        await sender.send(inbox.send_id, envelope)
        confirmed += 1
    relay.kill()
    await sender.close()

    restarted = relay_launcher.start(data_dir=relay.data_dir)
    sender = await restarted.client()
    for envelope in envelopes[confirmed:]:
        await sender.send(inbox.send_id, envelope)

    bob = await restarted.client()
    subscribed = await bob.subscribe(inbox.receive_id, owner)
    assert subscribed.queued == 5
    deliveries = await receive(bob, 5)
    assert [delivery.envelope for delivery in deliveries] == envelopes
    await bob.ack(inbox.receive_id, [delivery.message_id for delivery in deliveries])
    assert (await bob.subscribe(inbox.receive_id, owner)).queued == 0
    await sender.close()
    await bob.close()


async def test_relay_sigkill_keeps_acks(relay_launcher: RelayLauncher) -> None:
    """ACK deletes commit without an fsync, but a SIGKILL right after still keeps them."""
    relay = relay_launcher.start()
    client = await relay.client()
    owner = SigningKey.generate()
    inbox = await client.create_inbox("private", bytes(owner.verify_key))
    for index in range(3):
        await client.send(inbox.send_id, b"pesan %d" % index)
    await client.subscribe(inbox.receive_id, owner)
    deliveries = await receive(client, 3)

    deleted = await client.ack(
        inbox.receive_id, [delivery.message_id for delivery in deliveries[:2]]
    )
    relay.kill()
    await client.close()

    assert deleted == 2
    restarted = relay_launcher.start(data_dir=relay.data_dir)
    client = await restarted.client()
    assert (await client.subscribe(inbox.receive_id, owner)).queued == 1
    [left] = await receive(client, 1)
    assert left.envelope == b"pesan 2"
    assert left.message_id == deliveries[2].message_id
    await client.close()


async def test_data_dir_locked(tmp_path: Path) -> None:
    first = await SQLiteStore.open(tmp_path / "data", LIMITS)

    with pytest.raises(OSError, match="in use by another konsel-relay"):
        await SQLiteStore.open(tmp_path / "data", LIMITS)

    await first.close()
    second = await SQLiteStore.open(tmp_path / "data", LIMITS)
    await second.close()


def test_second_relay_same_dir_exits(relay_launcher: RelayLauncher) -> None:
    relay = relay_launcher.start()
    second = subprocess.run(
        [*RELAY_COMMAND, "--port", str(free_port()), "--data-dir", str(relay.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert second.returncode == 1
    assert "in use by another konsel-relay" in second.stderr
    assert relay.http_get("/healthz") == (200, "ok\n")
