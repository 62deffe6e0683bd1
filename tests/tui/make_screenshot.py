"""Draw the README screenshot: a counselor's main screen mid-session, as an SVG.

Run from the repository root after a change to the screens:

    .venv/bin/python tests/tui/make_screenshot.py

It starts a konsel-relay subprocess on a free loopback port and builds, in a temporary
folder, the same paired counselor and konseli profiles as the snapshot tests
(tests/tui/snapshot_apps.py). Then it opens the counselor's profile in konsel-chat without
a terminal and saves the screen to docs/images/konsel-chat.svg. At the end it stops the
relay and deletes the folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(HERE), str(HERE.parent / "client")]

from engine_helpers import PASSPHRASE, start_relay  # noqa: E402
from snapshot_apps import TIME_ZONE, SnapshotApp, after_main, run_scene  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

DEFAULT_OUTPUT = ROOT / "docs" / "images" / "konsel-chat.svg"
DEFAULT_SIZE = (120, 36)
TITLE = "konsel-chat"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="SVG file to write")
    parser.add_argument("--lang", choices=("id", "en"), default="id", help="screen language")
    parser.add_argument("--width", type=int, default=DEFAULT_SIZE[0], help="columns")
    parser.add_argument("--height", type=int, default=DEFAULT_SIZE[1], help="rows")
    return parser.parse_args()


def draw(output: Path, language: str, size: tuple[int, int]) -> None:
    """Build the scene on a fresh relay and write the counselor's main screen to ``output``."""
    os.environ["TZ"] = TIME_ZONE
    time.tzset()
    with tempfile.TemporaryDirectory(prefix="konsel-screenshot-") as folder:
        root = Path(folder)
        relay = start_relay(root)
        try:
            scene = run_scene(root, relay.url)
            app = SnapshotApp(
                scene.counselor_dir, now=scene.app_time, language=language, unlock_with=PASSPHRASE
            )
            settle = after_main()

            async def capture(pilot: Pilot[Any]) -> None:
                await settle(pilot)
                app.exit(app.export_screenshot(title=TITLE))

            svg = app.run(headless=True, size=size, auto_pilot=capture)
        finally:
            relay.stop()
    if not isinstance(svg, str):
        raise SystemExit("the app ended before the screenshot was taken")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(svg, encoding="utf-8")


def main() -> None:
    arguments = parse_arguments()
    draw(arguments.output, arguments.lang, (arguments.width, arguments.height))
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
