"""A client process for the crash tests: it opens a profile and stops at a chosen point.

Usage: ``python engine_client.py MODE PROFILE_DIR [TEXT]``, with MODE one of:

* ``send``: send TEXT to the first contact and print ``SEND-STARTED`` once the SEND frame
  is written. Then wait for the test's SIGKILL before the relay's reply is read.
* ``receive``: print ``DECRYPTED`` after the first decryption and then wait, before the
  commit, for the test's SIGKILL.

Every wait is bounded by ``HANG_SECONDS``, so a process the test forgot still ends.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine_helpers import FAST_SYNC, PASSPHRASE

from konsel.client.core.engine import Engine
from konsel.client.core.relay_connection import Delivery
from konsel.client.core.sync import EngineHooks

HANG_SECONDS = 30.0


async def hang(marker: str) -> None:
    """Print ``marker`` for the test and wait to be killed."""
    print(marker, flush=True)
    await asyncio.sleep(HANG_SECONDS)


async def main(mode: str, directory: Path, text: str) -> None:
    """Open the profile and run ``mode`` until the test kills this process."""
    hooks = EngineHooks()
    if mode == "send":

        async def on_send(envelope: bytes) -> None:
            del envelope
            await hang("SEND-STARTED")

        hooks.send_started = on_send
    else:

        async def on_decrypt(delivery: Delivery) -> None:
            del delivery
            await hang("DECRYPTED")

        hooks.after_decrypt = on_decrypt

    engine = await Engine.open(directory, PASSPHRASE, options=FAST_SYNC, hooks=hooks)
    if mode == "send":
        contact_id = next(iter(engine.state.routes))
        await engine.send_text(contact_id, text)
    await asyncio.sleep(HANG_SECONDS)
    await engine.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), " ".join(sys.argv[3:]) or "tes"))
