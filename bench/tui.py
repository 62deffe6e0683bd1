"""Measure the terminal app: start-up, opening a long conversation, paging and memory.

Run by hand from the repository root:

    .venv/bin/python bench/tui.py [--messages 10000] [--small 100] [--repeat 5]

Every figure is compared with a baseline measured in the same run:

- start-up: from creating the app to its first drawn screen, for konsel-chat's KonselApp
  on an existing profile (the unlock screen, every day's start) and on an empty one (the
  first-run form, once) against a minimal Textual app with one label. All
  run headless through ``App.run_test`` in this process, so terminal I/O and Python's
  import time are left out and the ratio shows what the app itself adds;
- open and page: a host app with the chat view and the composer on a real SQLCipher
  profile of ``--messages`` messages against the same app on ``--small`` messages: time to
  open the conversation, to scroll one page, and to load an older page at the top;
- memory: each size is opened in a fresh child process, which reports its RSS and the
  tracemalloc peak while opening;
- input while opening: keys are pressed into the composer while the conversation opens,
  and the largest time one key took to appear is reported.

Each timing is the median of ``--repeat`` runs. The run stops after a fixed number of
rounds; with the defaults it takes about a minute on a 2-core machine and about 20 MB in a
temporary directory, removed at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import nacl.pwhash
from textual.app import App, ComposeResult
from textual.widgets import Label

from konsel.client.core.engine import Engine
from konsel.client.core.passphrase import KdfParams
from konsel.client.core.store import MessageFields
from konsel.client.tui.widgets.chat_view import ChatView
from konsel.client.tui.widgets.composer import Composer

PASSPHRASE = "bangku taman sekolah di bawah pohon mangga"
CHEAP_KDF = KdfParams(
    opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN, memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN
)
SIZE = (80, 24)
_WORD_TEXT = (
    "saya aku ibu bapak guru kelas sekolah teman ujian ulangan tugas nilai jadwal besok "
    "kemarin pagi siang malam pulang belajar merasa sedih senang cemas takut bingung capek "
    "tenang tidak belum sudah masih sering kadang karena tapi kalau supaya dengan untuk"
)
_WORDS = _WORD_TEXT.split()


def make_bodies(count: int, seed: int = 7) -> list[str]:
    """Return chat texts: mostly short, every 50th 2,000 characters, every 7th with emoji."""
    rng = random.Random(seed)
    bodies = []
    for number in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 25))]
        if number % 7 == 0:
            words.append("😊")
        body = " ".join(words).capitalize()
        if number % 50 == 0:
            body = ((body + " ") * (2000 // len(body) + 1))[:2000]
        bodies.append(body)
    return bodies


async def build_profile(directory: Path, count: int) -> int:
    """Create an offline counselor profile with one contact and ``count`` messages."""
    engine = await Engine.create(directory, PASSPHRASE, "Bu Rina", "counselor", None, kdf=CHEAP_KDF)
    try:
        store = engine.store
        contact = store.add_contact("Siti Rahmawati", "student", os.urandom(32), [os.urandom(16)])
        conversation_id = store.conversation_for_contact(contact.id)
        rng = random.Random(3)
        for number, body in enumerate(make_bodies(count)):
            sent_at = 1_717_200_000_000 + number * 20_000
            fields = MessageFields(rng.randbytes(16), rng.randbytes(16), body, None, sent_at)
            store.record_incoming(conversation_id, fields, b"")
        return contact.id
    finally:
        await engine.close()


class ChatHost(App[None]):
    """The chat view over the composer, opening no conversation by itself."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def compose(self) -> ComposeResult:
        yield ChatView(self.engine)
        yield Composer()


class MinimalApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Label("konsel")


async def wait_pages(app: App[None]) -> None:
    """Wait until the chat view's page loads are done (bounded)."""
    for _ in range(1000):
        if not any(w.group == "chat-page" and not w.is_finished for w in app.workers):
            return
        await asyncio.sleep(0.002)
    raise RuntimeError("page loads did not finish")


async def first_screen_seconds(make_app: object) -> float:
    start = time.perf_counter()
    app = make_app()  # type: ignore[operator]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return time.perf_counter() - start


async def measure_startup(root: Path, repeat: int) -> dict[str, float]:
    """Return the median start-up seconds of the minimal app and of KonselApp's two starts.

    ``unlock`` is every day's start (a profile exists, the unlock screen comes first);
    ``first run`` is the one-time start on an empty profile, with its longer form.
    """
    from konsel.client.tui.app import KonselApp

    existing = root / "startup-existing"
    engine = await Engine.create(existing, PASSPHRASE, "Bu Sari", "counselor", None, kdf=CHEAP_KDF)
    await engine.close()

    times: dict[str, list[float]] = {"minimal": [], "unlock": [], "first run": []}
    for run in range(repeat):
        times["minimal"].append(await first_screen_seconds(MinimalApp))
        times["unlock"].append(
            await first_screen_seconds(lambda: KonselApp(existing, language="id"))
        )
        empty = root / f"startup-empty-{run}"
        times["first run"].append(
            await first_screen_seconds(lambda empty=empty: KonselApp(empty, language="id"))
        )
    return {name: statistics.median(values) for name, values in times.items()}


async def slowest_echo(pilot: object, composer: Composer, until: object, limit: int) -> float:
    """Press keys into the composer until ``until()`` is true or ``limit`` keys; return the
    longest time one key took from the press to its character in the composer."""
    slowest = 0.0
    typed = len(composer.text)
    for _ in range(limit):
        if until():  # type: ignore[operator]
            break
        pressed = time.perf_counter()
        await pilot.press("a")  # type: ignore[attr-defined]
        typed += 1
        assert len(composer.text) == typed
        slowest = max(slowest, time.perf_counter() - pressed)
    return slowest


async def measure_chat(directory: Path, contact_id: int, repeat: int) -> dict[str, float]:
    """Time opening, one page of scrolling and one older page, each on a fresh app; then
    the slowest key echo while opening and while idle."""
    opens, pages, older, gaps, idle = [], [], [], [], []
    for _ in range(repeat):
        engine = await Engine.open(directory, PASSPHRASE)
        try:
            app = ChatHost(engine)
            async with app.run_test(size=SIZE) as pilot:
                view = app.query_one(ChatView)
                composer = app.query_one(Composer)
                composer.focus()
                await pilot.pause()
                idle.append(await slowest_echo(pilot, composer, lambda: False, 20))

                start = time.perf_counter()
                await view.show_conversation(contact_id)
                await pilot.pause()
                opens.append(time.perf_counter() - start)

                view.focus()
                await pilot.pause()
                start = time.perf_counter()
                await pilot.press("pageup")
                await pilot.pause()
                pages.append(time.perf_counter() - start)

                await pilot.press("home")
                start = time.perf_counter()
                await pilot.press("home")
                await wait_pages(app)
                await pilot.pause()
                older.append(time.perf_counter() - start)

                # Open again while typing: the keys must keep appearing during the load.
                composer.focus()
                opening = asyncio.create_task(view.show_conversation(contact_id))
                gaps.append(await slowest_echo(pilot, composer, opening.done, 200))
                await opening
        finally:
            await engine.close()
    return {
        "open": statistics.median(opens),
        "page": statistics.median(pages),
        "older": statistics.median(older),
        "gap": max(gaps),
        "idle": max(idle),
    }


async def child_memory(directory: Path, contact_id: int) -> dict[str, float]:
    """Open the conversation once in this process; return RSS and tracemalloc figures."""
    engine = await Engine.open(directory, PASSPHRASE)
    try:
        app = ChatHost(engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            tracemalloc.start()
            await app.query_one(ChatView).show_conversation(contact_id)
            await pilot.pause()
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            held = len(app.query_one(ChatView).window.messages)  # type: ignore[union-attr]
    finally:
        await engine.close()
    rss_kib = 0
    status = await asyncio.to_thread(Path("/proc/self/status").read_text)
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
    return {
        "rss_mib": rss_kib / 1024,
        "peak_mib": peak / 2**20,
        "kept_mib": current / 2**20,
        "held": held,
    }


def memory_in_child(directory: Path, contact_id: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(directory), str(contact_id)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def run(arguments: argparse.Namespace) -> None:
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"date:    {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"machine: {machine_line()}")
    print(f"python:  {platform.python_version()}, terminal size {SIZE[0]}x{SIZE[1]}, headless")

    with tempfile.TemporaryDirectory(prefix="konsel-bench-tui-") as name:
        root = Path(name)
        startup = await measure_startup(root, arguments.repeat)
        minimal = startup["minimal"]
        print()
        print(f"start-up to first screen (minimal Textual app {ms(minimal)}):")
        for name in ("unlock", "first run"):
            print(f"  KonselApp, {name:9} {ms(startup[name])}, ratio {startup[name] / minimal:.2f}")

        sizes = (arguments.small, arguments.messages)
        profiles = {}
        for count in sizes:
            start = time.perf_counter()
            contact_id = await build_profile(root / f"history-{count}", count)
            profiles[count] = (root / f"history-{count}", contact_id)
            print(f"built {count} messages in {time.perf_counter() - start:.1f} s")

        results = {count: await measure_chat(*profiles[count], arguments.repeat) for count in sizes}
        memory = {count: memory_in_child(*profiles[count]) for count in sizes}

    small, large = arguments.small, arguments.messages
    print()
    print(f"{'chat view':34} {str(large) + ' msgs':>11} {str(small) + ' msgs':>11} {'ratio':>6}")
    rows = [
        ("open conversation", "open"),
        ("scroll one page (Page Up)", "page"),
        ("load an older page at the top", "older"),
        ("slowest key echo while opening", "gap"),
        ("slowest key echo, idle", "idle"),
    ]
    for label, key in rows:
        a, b = results[large][key], results[small][key]
        print(f"{label:34} {ms(a):>11} {ms(b):>11} {a / b:6.2f}")
    for label, key in (
        ("RSS after open", "rss_mib"),
        ("tracemalloc peak while opening", "peak_mib"),
        ("tracemalloc kept after opening", "kept_mib"),
    ):
        a, b = memory[large][key], memory[small][key]
        print(f"{label:34} {a:8.1f} MiB {b:8.1f} MiB {a / b:6.2f}")
    print(
        f"{'messages held by the view':34} {memory[large]['held']:11.0f} {memory[small]['held']:11.0f}"
    )


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        figures = asyncio.run(child_memory(Path(sys.argv[2]), int(sys.argv[3])))
        print(json.dumps(figures))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the long history")
    parser.add_argument("--small", type=int, default=100, help="messages in the baseline history")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
