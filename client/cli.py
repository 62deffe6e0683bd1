"""Command line of konsel-chat.

Without a subcommand it starts the terminal app on a profile (the default one, or the one
named by ``--profile`` or ``--profile-dir``). ``demo`` runs the walk-through.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .tui.clock_zone import TIME_ZONES

TEXT_DEMO_PAUSE = 0.3
"""Seconds between the lines of the text demo."""
TUI_DEMO_PAUSE = 1.0
"""Seconds of one beat of the demo in the terminal app."""


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser, with help text in Indonesian first."""
    parser = argparse.ArgumentParser(
        prog="konsel-chat",
        description=(
            "Konseling teks terenkripsi ujung ke ujung untuk sekolah. "
            "(End-to-end encrypted text counseling for schools.)"
        ),
    )
    parser.add_argument("--version", action="version", version=f"konsel-chat {__version__}")
    parser.add_argument(
        "--lang",
        choices=("id", "en"),
        default=None,
        help="bahasa tampilan / display language (default: id, or the profile's setting)",
    )
    parser.add_argument(
        "--profile",
        metavar="NAMA",
        help="nama profil / profile name (default: default)",
    )
    parser.add_argument(
        "--profile-dir",
        metavar="FOLDER",
        help="folder profil / profile folder (overrides --profile)",
    )
    parser.add_argument(
        "--relay",
        metavar="URL",
        help="alamat relay untuk profil baru / relay address for a new profile (ws:// or wss://)",
    )
    parser.add_argument(
        "--lock-after",
        type=lock_minutes,
        metavar="MENIT",
        help=(
            "kunci otomatis setelah sekian menit tanpa aktivitas, 0 = mati; disimpan di profil "
            "/ lock after this many idle minutes, 0 = off; kept in the profile (default: 10)"
        ),
    )
    parser.add_argument(
        "--time-zone",
        type=str.upper,
        choices=tuple(TIME_ZONES),
        metavar="ZONA",
        help=(
            "zona waktu untuk jam di layar dan laporan: WIB, WITA atau WIT; disimpan di profil "
            "/ time zone of times on screen and in reports: WIB, WITA or WIT; kept in the "
            "profile (default: WIB)"
        ),
    )
    subcommands = parser.add_subparsers(dest="command", metavar="PERINTAH")
    demo = subcommands.add_parser(
        "demo",
        help=(
            "jalankan demo: dua identitas berpasangan dan bertukar pesan terenkripsi "
            "(run the demo: two identities pair and exchange encrypted messages)"
        ),
    )
    demo.add_argument(
        "--pause",
        type=float,
        default=None,
        metavar="DETIK",
        help=(
            "jeda dasar dalam detik; 0 = tanpa jeda / base pause in seconds; 0 = no pauses "
            f"(default: {TUI_DEMO_PAUSE} in the app, {TEXT_DEMO_PAUSE} in text)"
        ),
    )
    demo.add_argument(
        "--text",
        action="store_true",
        help=(
            "tampilkan demo sebagai teks biasa, seperti saat keluaran bukan terminal "
            "/ show the demo as plain text, as when the output is not a terminal"
        ),
    )
    demo.add_argument(
        "--exit-when-done",
        action="store_true",
        help="keluar sendiri setelah demo selesai / quit by itself when the demo is finished",
    )
    return parser


def lock_minutes(text: str) -> int:
    """Parse ``--lock-after``: whole minutes from 0 to one day."""
    from .tui.settings import MAX_IDLE_LOCK_MINUTES

    try:
        minutes = int(text)
    except ValueError:
        minutes = -1
    if not 0 <= minutes <= MAX_IDLE_LOCK_MINUTES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: pakai bilangan bulat 0 sampai {MAX_IDLE_LOCK_MINUTES} "
            f"/ use a whole number from 0 to {MAX_IDLE_LOCK_MINUTES}"
        )
    return minutes


def main(argv: Sequence[str] | None = None) -> int:
    """Run konsel-chat and return its exit status."""
    parser = build_parser()
    arguments = parser.parse_args(argv)

    if arguments.command == "demo":
        return run_demo_command(arguments)

    return run_app(arguments)


def run_demo_command(arguments: argparse.Namespace) -> int:
    """Run the demo in the terminal app, or as text when stdout is not a terminal."""
    language = arguments.lang or "id"
    if not arguments.text and sys.stdin.isatty() and sys.stdout.isatty():
        from .tui.demo_run import DemoOptions, run_tui_demo

        pause = TUI_DEMO_PAUSE if arguments.pause is None else max(0.0, arguments.pause)
        options = DemoOptions(language, pause, exit_when_done=arguments.exit_when_done)
        return run_tui_demo(options)

    from .demo import run_demo

    pause = TEXT_DEMO_PAUSE if arguments.pause is None else max(0.0, arguments.pause)
    try:
        return run_demo(language=language, pause=pause)
    except BrokenPipeError:
        # The reader of our output went away (for example `| head`); stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run_app(arguments: argparse.Namespace) -> int:
    """Start the terminal app on the chosen profile."""
    from .core.errors import InvalidProfileName
    from .core.profile import resolve_profile
    from .tui.app import KonselApp

    try:
        profile = resolve_profile(arguments.profile, arguments.profile_dir)
    except InvalidProfileName as error:
        print(f"konsel-chat: {error}", file=sys.stderr)
        return 2
    if arguments.lock_after is not None:
        remember_lock_after(profile.directory, arguments.lock_after)
    if arguments.time_zone is not None:
        remember_time_zone(profile.directory, arguments.time_zone)
    app = KonselApp(profile.directory, language=arguments.lang, relay_url=arguments.relay)
    app.run()
    return app.return_code or 0


def remember_lock_after(profile_dir: Path, minutes: int) -> None:
    """Store the idle-lock minutes in the profile's settings for this and later starts."""
    from .tui.settings import load_settings, save_settings

    settings = load_settings(profile_dir)
    settings.idle_lock_minutes = minutes
    save_settings(profile_dir, settings)


def remember_time_zone(profile_dir: Path, abbreviation: str) -> None:
    """Store the zone named ``abbreviation`` (WIB, WITA or WIT) in the profile's settings."""
    from .tui.settings import load_settings, save_settings

    settings = load_settings(profile_dir)
    settings.time_zone = TIME_ZONES[abbreviation]
    save_settings(profile_dir, settings)


if __name__ == "__main__":
    sys.exit(main())
