"""Command line of konsel-chat.

Until the terminal app lands, the only subcommand is ``demo``: an end-to-end run of the
protocol between two identities in this process, through a real relay started on a free
loopback port.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__


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
        default="id",
        help="bahasa tampilan / display language (default: id)",
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
        default=0.3,
        metavar="DETIK",
        help="jeda antarbaris dalam detik / pause between lines in seconds (default: 0.3)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run konsel-chat and return its exit status."""
    parser = build_parser()
    arguments = parser.parse_args(argv)

    if arguments.command == "demo":
        from .demo import run_demo

        try:
            return run_demo(language=arguments.lang, pause=max(0.0, arguments.pause))
        except BrokenPipeError:
            # The reader of our output went away (for example `| head`); stop quietly.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
