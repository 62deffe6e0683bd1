"""KonselApp: the konsel-chat terminal app, from first run or unlock to the main screen.

The app owns the engine. Unlocking opens it, locking closes it, so a locked app holds no
key and no message in memory; the relay keeps what arrives meanwhile. Quick exit shows a
neutral screen at once and locks behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3.dbapi2 as sqlcipher_errors
from textual import events
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import WorkerFailed

from konsel.client.core.engine import Engine
from konsel.client.core.errors import StoreError
from konsel.client.core.events import EngineError
from konsel.client.core.passphrase import DEFAULT_KDF, KdfParams
from konsel.client.core.profile import resolve_profile
from konsel.client.core.sync import SyncOptions

from . import catalog, clock_zone
from .bindings import localize_bindings
from .error_text import error_text
from .settings import Settings, load_settings, save_settings
from .setup import NewProfile

logger = logging.getLogger("konsel.client.tui")

IDLE_CHECK_SECONDS = 5.0
CLOSED_DATABASE = "closed database"
"""Part of the message SQLite gives for a call on a closed connection."""


class KonselApp(App[int]):
    """The terminal app for counselors and konseli."""

    TITLE = "konsel"
    CSS_PATH = "konsel.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f1", "help", "app.keys.help", priority=True),
        Binding("ctrl+q,f12", "quick_exit", "app.keys.quick_exit", priority=True),
        Binding("ctrl+l", "lock", "app.keys.lock", priority=True),
    ]

    def __init__(
        self,
        profile_dir: Path,
        *,
        language: str | None = None,
        relay_url: str | None = None,
        kdf: KdfParams = DEFAULT_KDF,
        sync_options: SyncOptions | None = None,
        idle_lock_seconds: float | None = None,
        unlock_with: str | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        """Prepare the app; ``unlock_with`` opens an existing profile without asking
        (the demo and tests use it; people always type their passphrase). ``clock`` gives
        the engine a clock in Unix milliseconds (snapshot tests fix it)."""
        super().__init__()
        self.profile_dir = Path(profile_dir)
        self.settings: Settings = load_settings(self.profile_dir)
        if language is not None:
            self.settings.language = language
        self.language = self.settings.language
        self.relay_url = relay_url
        self.kdf = kdf
        self.sync_options = sync_options
        self.idle_lock_seconds = (
            idle_lock_seconds
            if idle_lock_seconds is not None
            else self.settings.idle_lock_minutes * 60.0
        )
        self.engine: Engine | None = None
        self.unlock_with = unlock_with
        self.clock = clock
        self.last_activity = time.monotonic()
        catalog.use(self.language)
        clock_zone.use(self.settings.time_zone)
        localize_bindings(self)

    # --- start ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.idle_lock_seconds > 0:
            # Check often enough that a short idle time (tests use a fraction of a second)
            # still locks close to its limit.
            interval = min(IDLE_CHECK_SECONDS, max(0.05, self.idle_lock_seconds / 4))
            self.set_interval(interval, self._lock_when_idle)
        if resolve_profile(directory=self.profile_dir).has_store():
            if self.unlock_with is not None:
                passphrase, self.unlock_with = self.unlock_with, None
                self.run_worker(self.unlock(passphrase), group="unlock", exclusive=True)
                return
            self.show_unlock()
        else:
            from .screens.first_run import FirstRunScreen

            self._replace_screens(FirstRunScreen())

    def set_language(self, language: str) -> None:
        """Switch every later string to ``language`` and remember it for the next start."""
        self.language = language
        self.settings.language = language
        catalog.use(language)
        localize_bindings(self)
        if self.profile_dir.exists():
            save_settings(self.profile_dir, self.settings)

    async def create_profile(self, choice: NewProfile) -> None:
        """Create a profile from the first-run choices and open the main screen.

        Raises:
            StoreError, EngineError, ValueError: shown by the first-run screen.
        """
        self.set_language(choice.language)
        engine = await Engine.create(
            self.profile_dir,
            choice.passphrase,
            choice.display_name,
            choice.role,
            choice.relay_url or self.relay_url,
            kdf=self.kdf,
            **self._engine_options(),
        )
        save_settings(self.profile_dir, self.settings)
        self._open(engine)

    async def unlock(self, passphrase: str) -> None:
        """Open the profile with ``passphrase`` and show the main screen.

        Raises:
            WrongPassphrase, ProfileLocked, DatabaseCorrupted: shown by the unlock screen.
        """
        engine = await Engine.open(self.profile_dir, passphrase, **self._engine_options())
        self._open(engine)

    def show_unlock(self) -> None:
        """Show the unlock screen alone."""
        from .screens.unlock import UnlockScreen

        self._replace_screens(UnlockScreen())

    # --- lock and quick exit -------------------------------------------------------------

    async def lock(self) -> None:
        """Close the engine and ask for the passphrase again."""
        await self._close_engine()
        self.show_unlock()

    async def quick_exit(self) -> None:
        """Show the neutral screen at once, then close the engine behind it."""
        from .screens.neutral import NeutralScreen

        self._replace_screens(NeutralScreen())
        await self._close_engine()

    async def action_lock(self) -> None:
        if self.engine is not None:
            await self.lock()

    async def action_quick_exit(self) -> None:
        await self.quick_exit()

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Turn off app keys that would do nothing, or give the app away, on start screens."""
        from .screens.neutral import NeutralScreen

        if action == "quick_exit" and self.engine is None:
            # Nothing is open to hide, so ctrl+q reaches the screen's own quit key.
            return False
        # Help on the neutral screen would list the app's keys and give it away.
        return not (action == "help" and isinstance(self.screen, NeutralScreen))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown | events.Paste):
            self.last_activity = time.monotonic()
        await super().on_event(event)

    async def _lock_when_idle(self) -> None:
        if self.engine is None or self.idle_lock_seconds <= 0:
            return
        if time.monotonic() - self.last_activity >= self.idle_lock_seconds:
            logger.info("locking after %.0f idle seconds", self.idle_lock_seconds)
            await self.lock()

    # --- errors and shutdown -------------------------------------------------------------

    def show_error(self, error: BaseException) -> None:
        """Tell the user about an error in their language."""
        self.notify(error_text(error), severity="error", timeout=8)

    def _handle_exception(self, error: Exception) -> None:
        # Closing the engine (lock, quick exit, idle lock) removes the screens first, but a
        # worker already waiting on a store call in a thread can still finish against the
        # closed database. Its result is of no use to anyone; the app must not end over it.
        cause = error.error if isinstance(error, WorkerFailed) else error
        if _outlived_its_engine(cause, locked=self.engine is None):
            logger.info("dropped %s from a worker that outlived its engine", type(cause).__name__)
            return
        super()._handle_exception(error)

    async def on_unmount(self) -> None:
        await self._close_engine()

    # --- helpers -------------------------------------------------------------------------

    def _open(self, engine: Engine) -> None:
        from .screens.main import MainScreen

        self.engine = engine
        self.last_activity = time.monotonic()
        self._replace_screens(MainScreen(engine))

    async def _close_engine(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.close()

    def _replace_screens(self, screen: Screen[Any]) -> None:
        # The default screen stays at the bottom; everything above it is replaced, so no
        # conversation is left underneath a lock or quick-exit screen.
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen)

    def _engine_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.sync_options is not None:
            options["options"] = self.sync_options
        if self.clock is not None:
            options["clock"] = self.clock
        return options


def _outlived_its_engine(error: BaseException, *, locked: bool) -> bool:
    """Tell whether ``error`` comes from a store or engine that was closed under a worker."""
    if isinstance(error, sqlcipher_errors.ProgrammingError):
        return CLOSED_DATABASE in str(error)
    return locked and isinstance(error, EngineError | StoreError)
