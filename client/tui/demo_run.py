"""Run ``konsel-chat demo`` in the terminal app: a counselor's real app played by a script.

Everything runs in one process and one asyncio loop. :class:`DemoEnvironment` makes a
temporary folder (mode 0700), starts a konsel-relay on a free loopback port with its
data inside it, and creates a throwaway counselor profile. :class:`DemoApp` is the real
:class:`~.app.KonselApp` on that profile. Its autoplay worker (:mod:`.demo_autoplay`)
does what a guru BK would do, and a scripted konseli (:mod:`.demo_student`) answers on
its own engine. Leaving the app (Ctrl+Q, F12), an error, SIGTERM or SIGHUP deletes
the folder.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from konsel.client.core.engine import Engine
from konsel.client.core.passphrase import MIN_MEMLIMIT, MIN_OPSLIMIT, KdfParams
from konsel.client.core.sync import SyncOptions
from konsel.relay.config import RelayConfig
from konsel.relay.server import open_relay

from .app import KonselApp
from .catalog import t
from .demo_autoplay import AUTOPLAY_GROUP, Autoplay
from .demo_script import script_for

DEMO_KDF = KdfParams(opslimit=MIN_OPSLIMIT, memlimit=MIN_MEMLIMIT)
"""The cheapest Argon2id cost, because the demo profiles contain only sample data and are
deleted on exit. A real profile keeps the default cost."""

DEMO_SYNC = SyncOptions(first_delay=0.05, max_delay=1.0, ping_interval=None)
"""Quick reconnects to the relay in the same process."""

FOLDER_MODE = 0o700


@dataclass(frozen=True)
class DemoOptions:
    """Pace and ending of one demo run."""

    language: str = "id"
    pause: float = 1.0
    """Seconds of one beat. Every wait of the demo is a number of beats, so 0 runs
    straight through."""
    exit_when_done: bool = False
    """Quit by itself after the last step instead of waiting for the user."""


class DemoEnvironment:
    """The temporary folder, the in-process relay and the counselor's throwaway profile.

    Use it as ``async with DemoEnvironment(language) as environment:``. Leaving the block
    stops the relay and deletes the folder, also after an error or a cancellation.
    """

    def __init__(self, language: str = "id") -> None:
        self.language = language
        self.folder = Path()
        """The temporary folder, made on entering the block."""
        self.passphrase = secrets.token_urlsafe(24)
        """The counselor profile's random passphrase, which the app is opened with."""
        self.relay_url = ""
        self._relay_stopping: asyncio.Event | None = None
        self._relay_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DemoEnvironment:
        self.folder = Path(tempfile.mkdtemp(prefix="konsel-demo-"))
        try:
            os.chmod(self.folder, FOLDER_MODE)
            await self._start_relay()
            await self._create_counselor()
            self.report_folder.mkdir(mode=FOLDER_MODE)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def relay_folder(self) -> Path:
        """The relay's data folder."""
        return self.folder / "relay"

    @property
    def counselor_folder(self) -> Path:
        """The counselor's profile folder."""
        return self.folder / "konselor"

    @property
    def student_folder(self) -> Path:
        """The scripted konseli's profile folder."""
        return self.folder / "konseli"

    @property
    def report_folder(self) -> Path:
        """Where the demo exports the session report."""
        return self.folder / "laporan"

    async def close(self) -> None:
        """Stop the relay and delete the folder with both profiles (safe to call twice)."""
        try:
            await self.stop_relay()
        finally:
            if self.folder != Path():
                shutil.rmtree(self.folder, ignore_errors=True)

    async def stop_relay(self) -> None:
        """Stop the relay and wait until it has closed its database (safe to call twice)."""
        task, self._relay_task = self._relay_task, None
        if task is None:
            return
        if self._relay_stopping is not None:
            self._relay_stopping.set()
        await task

    def relay_files_holding(self, sentences: list[str]) -> list[str]:
        """Return the sentences found as UTF-8 in any file of the relay's data folder."""
        contents = b"".join(
            path.read_bytes() for path in self.relay_folder.rglob("*") if path.is_file()
        )
        return [sentence for sentence in sentences if sentence.encode() in contents]

    async def _start_relay(self) -> None:
        config = RelayConfig(
            host="127.0.0.1",
            port=_free_port(),
            data_dir=self.relay_folder,
            log_level="WARNING",
        )
        relay = await open_relay(config)
        ready = asyncio.Event()
        self._relay_stopping = relay.stopping
        self._relay_task = asyncio.create_task(relay.serve_until_stopped(ready), name="demo-relay")
        await ready.wait()
        self.relay_url = f"ws://127.0.0.1:{config.port}"

    async def _create_counselor(self) -> None:
        script = script_for(self.language)
        engine = await Engine.create(
            self.counselor_folder,
            self.passphrase,
            script.counselor_name,
            "counselor",
            self.relay_url,
            kdf=DEMO_KDF,
            options=DEMO_SYNC,
        )
        await engine.close()


class DemoApp(KonselApp):
    """The counselor's app on the throwaway profile, with the autoplay worker.

    Quick exit (Ctrl+Q, F12) ends the demo, and locking is off because nobody knows the
    profile's passphrase.
    """

    def __init__(self, environment: DemoEnvironment, options: DemoOptions) -> None:
        super().__init__(
            environment.counselor_folder,
            language=options.language,
            relay_url=environment.relay_url,
            kdf=DEMO_KDF,
            sync_options=DEMO_SYNC,
            idle_lock_seconds=0,
            unlock_with=environment.passphrase,
        )
        self.environment = environment
        self.options = options
        self.finished = asyncio.Event()
        """Set when the autoplay has ended, after its last step or after a failure."""
        self.failure: BaseException | None = None
        """The error that stopped the autoplay, or None."""
        self.report_path: Path | None = None
        """The exported Markdown report, once written."""
        self.sent: list[str] = []
        """Every message text either side sent, for the check of the relay's files."""
        self.autoplay = Autoplay(self)

    def on_mount(self) -> None:
        super().on_mount()
        self.run_worker(self.autoplay.run(), group=AUTOPLAY_GROUP, exclusive=True)

    async def quick_exit(self) -> None:
        """Stop the autoplay and the konseli, show the neutral screen, and end the demo."""
        # Stopping the script first means no new message is queued behind the neutral screen.
        self.workers.cancel_group(self, AUTOPLAY_GROUP)
        await self.autoplay.close()
        await super().quick_exit()
        self.exit(0)

    async def action_lock(self) -> None:
        self.notify(t("demo.notices.lock_off"), timeout=6)

    async def on_unmount(self) -> None:
        try:
            await self.autoplay.close()
        finally:
            await super().on_unmount()


def run_tui_demo(options: DemoOptions) -> int:
    """Run the demo in the terminal app and return its exit status."""
    try:
        return asyncio.run(_run(options))
    except KeyboardInterrupt:
        return 130


async def _run(options: DemoOptions) -> int:
    async with DemoEnvironment(options.language) as environment:
        app = DemoApp(environment, options)
        loop = asyncio.get_running_loop()
        # SIGTERM and a closed terminal end the app normally, so the folder is deleted.
        # NOTE: SIGKILL cannot be caught, so it leaves the demo folder behind in TMPDIR.
        for signal_number in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signal_number, functools.partial(app.exit, return_code=143))
        try:
            await app.run_async()
        finally:
            for signal_number in (signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signal_number)
        if app.failure is not None:
            return 1
        return app.return_code or 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
