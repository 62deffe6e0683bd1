"""The demo in the terminal app: the whole scripted session, played with no pauses.

Each test runs the real demo: a konsel-relay in this process, the counselor's KonselApp
driven by the autoplay, and the scripted konseli on its own engine. The checks read the
results where they are kept: both stores, the report files and the relay's data files.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from konsel.client.core.engine import Engine
from konsel.client.core.kopasta import Stage
from konsel.client.core.profile import resolve_profile
from konsel.client.tui.demo_run import DemoApp, DemoEnvironment, DemoOptions
from konsel.client.tui.demo_script import script_for
from konsel.client.tui.screens.main import MainScreen

DEMO_SECONDS = 60.0
"""Upper bound in seconds for one whole demo run, which takes about five."""


async def wait_until_finished(app: DemoApp) -> None:
    """Wait for the autoplay to end, after its last step or a failure."""
    async with asyncio.timeout(DEMO_SECONDS):
        await app.finished.wait()


async def wait_for(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds, looking every 50 ms for at most DEMO_SECONDS."""
    for _ in range(int(DEMO_SECONDS / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the condition did not hold in time")


async def only_contact(engine: Engine) -> Any:
    """Return the one contact of a demo profile."""
    contacts = await engine.contacts()
    assert len(contacts) == 1
    return contacts[0]


async def bodies(engine: Engine, contact_id: int, direction: str) -> list[str]:
    """Return the bodies of a conversation's messages in one direction, oldest first."""
    messages = await engine.history(contact_id, limit=200)
    return [message.body for message in messages if message.direction == direction]


def private_file(path: Path) -> bool:
    """Return whether ``path`` is a regular file that only its owner may read or write."""
    return path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("language", "size"),
    [("id", (120, 40)), ("en", (80, 24))],
    ids=["id-120x40", "en-80x24"],
)
async def test_demo_plays_whole_session(language: str, size: tuple[int, int]) -> None:
    script = script_for(language)

    async with DemoEnvironment(language) as environment:
        folder = environment.folder
        app = DemoApp(environment, DemoOptions(language, pause=0.0))
        async with app.run_test(size=size) as pilot:
            await wait_until_finished(app)
            assert app.failure is None
            assert app.engine is not None
            assert app.autoplay.student is not None
            counselor = app.engine
            student = app.autoplay.student.engine

            # Paired by short code, and the safety code was marked as compared.
            contact = await only_contact(counselor)
            assert contact.display_name == script.student_name
            assert contact.verified
            teacher = await only_contact(student)
            assert teacher.display_name == script.counselor_name

            # Every line arrived on the other side.
            replies = [turn.reply for part in script.stages for turn in part.turns]
            assert await bodies(counselor, contact.id, "in") == replies
            sent_by_counselor = await bodies(counselor, contact.id, "out")
            assert await bodies(student, teacher.id, "in") == sent_by_counselor
            assert len(sent_by_counselor) == len(replies)
            own_lines = [turn.line for part in script.stages for turn in part.turns if turn.line]
            for line in own_lines:
                assert any(message.endswith(line) for message in sent_by_counselor)

            # The session went through every stage and ended, with its record filled in.
            sessions = await counselor.record("list_sessions", 0, 2**62)
            assert len(sessions) == 1
            session = await counselor.record("get_session", sessions[0].id)
            entered = [change.stage for change in session.stage_changes]
            assert entered == [stage.value for stage in Stage]
            assert session.ended_at is not None
            for part in script.stages:
                for key, value in part.fields:
                    assert session.fields[part.stage.value][key] == value

            consents = await counselor.record("list_consents", contact.id)
            assert len(consents) == 1
            assert consents[0]["granted"]

            evaluations = await counselor.record("list_evaluations", session.id)
            assert [evaluation.kind for evaluation in evaluations] == ["laiseg"]
            answers = evaluations[0].answers
            assert answers["understanding"] == script.laiseg.understanding
            assert answers["comfort"] == script.laiseg.comfort
            assert answers["action"] == script.laiseg.action

            follow_ups = await counselor.record("list_follow_ups", session.id)
            assert sorted(follow_up.kind for follow_up in follow_ups) == ["laijapang", "laijapen"]

            # The report was written into the demo folder, readable by its owner only.
            report = app.report_path
            assert report is not None
            assert report.parent == environment.report_folder
            assert private_file(report)
            markdown = report.read_text(encoding="utf-8")
            assert script.student_name in markdown
            assert script.laiseg.understanding in markdown
            json_report = report.with_suffix(".json")
            assert private_file(json_report)
            document = json.loads(json_report.read_text(encoding="utf-8"))
            assert script.laiseg.action in json.dumps(document, ensure_ascii=False)

            # Quick exit ends the demo.
            await pilot.press("ctrl+q")
            await pilot.pause()
        assert app.return_code == 0

        # The relay's files, closed now, contain none of the sentences it carried.
        await environment.stop_relay()
        relay_files = [path for path in environment.relay_folder.rglob("*") if path.is_file()]
        assert sum(path.stat().st_size for path in relay_files) > 0
        assert len(app.sent) == 2 * len(replies)
        assert environment.relay_files_holding(app.sent) == []

    assert not folder.exists()


async def test_demo_exits_when_done() -> None:
    async with DemoEnvironment("id") as environment:
        folder = environment.folder
        app = DemoApp(environment, DemoOptions("id", pause=0.0, exit_when_done=True))
        async with app.run_test(size=(80, 24)):
            await wait_until_finished(app)
            await wait_for(lambda: not app.is_running)
        assert app.failure is None
        assert app.return_code == 0
        assert app.autoplay.student is None

    assert not folder.exists()


async def test_demo_stops_on_quick_exit_midway() -> None:
    async with DemoEnvironment("id") as environment:
        folder = environment.folder
        app = DemoApp(environment, DemoOptions("id", pause=0.05))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.autoplay.step == "conversation")

            # Nobody knows the throwaway passphrase, so the lock key only shows a notice.
            await pilot.press("ctrl+l")
            await pilot.pause()
            assert app.engine is not None
            assert isinstance(app.screen, MainScreen)

            await pilot.press("ctrl+q")
            await pilot.pause()
        assert app.return_code == 0
        assert app.report_path is None
        assert app.engine is None
        assert app.autoplay.student is None

    assert not folder.exists()


async def test_environment_removes_folder_after_error() -> None:
    with pytest.raises(RuntimeError, match="stop here"):
        async with DemoEnvironment("id") as environment:
            folder = environment.folder
            assert resolve_profile(directory=environment.counselor_folder).has_store
            raise RuntimeError("stop here")

    assert not folder.exists()
