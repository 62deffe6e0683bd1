"""Tests of the report export screen: files with mode 0600 that match the core export."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from engine_helpers import Relay
from kopasta_host import KeyboardHost, Pair, PanelHost, default_content, paired, shown, wait_for
from pairing_host import ScreenHost
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input

from konsel.client.core.report import export_session
from konsel.client.tui import catalog
from konsel.client.tui.catalog import t
from konsel.client.tui.screens.kopasta_report import KopastaReportScreen, report_paths
from konsel.client.tui.widgets.composer import Composer


async def _ended_session(engines: Pair) -> int:
    """Start a session with a field and a note, move it on once, and end it."""
    counselor = engines.counselor
    session_id: int = await counselor.start_counseling_session(engines.student_id)
    await counselor.record("set_field", session_id, "pengantaran", "arrival", "called")
    await counselor.record("add_note", session_id, "pengantaran", "Datang tepat waktu.")
    await counselor.record("change_stage", session_id, "penjajagan")
    await counselor.end_counseling_session(session_id)
    return session_id


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _export(app: ScreenHost, screen: KopastaReportScreen, pilot: Pilot[None]) -> None:
    screen.query_one("#report-export", Button).press()
    # The press is a message; once handled, the export worker exists.
    await pilot.pause()
    await wait_for(
        lambda: not any(w.group == "kopasta-report" and not w.is_finished for w in app.workers),
        "the export to finish",
    )


async def test_report_written_private(tmp_path: Path, tui_relay: Relay) -> None:
    """Markdown and JSON are written with mode 0600 and match export_session."""
    async with paired(tmp_path, tui_relay.url) as engines:
        session_id = await _ended_session(engines)
        folder = tmp_path / "laporan"
        folder.mkdir()
        screen = KopastaReportScreen(engines.counselor, session_id, folder=folder)
        app = ScreenHost(screen)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            typed = screen.query_one("#report-path", Input).value
            assert typed.startswith(str(folder))
            await _export(app, screen, pilot)

            assert screen.written is not None
            markdown_path, json_path = screen.written
            assert (markdown_path, json_path) == report_paths(typed)
            assert markdown_path.suffix == ".md" and json_path.suffix == ".json"
            assert _mode(markdown_path) == 0o600
            assert _mode(json_path) == 0o600
            expected = export_session(
                engines.counselor.store, session_id, language="id", counselor_name="Bu Sari"
            )
            assert markdown_path.read_text(encoding="utf-8") == expected.markdown
            assert json_path.read_text(encoding="utf-8") == expected.json
            assert json.loads(json_path.read_text())["sessions"][0]["session_id"] == session_id
            assert "Datang tepat waktu." in expected.markdown
            assert shown(screen, "#report-result") == t(
                "kopasta.report.written", markdown=str(markdown_path), json=str(json_path)
            )


async def test_report_existing_file_kept(tmp_path: Path, tui_relay: Relay) -> None:
    """An existing file is replaced only after ticking the box, and then gets mode 0600."""
    async with paired(tmp_path, tui_relay.url) as engines:
        session_id = await _ended_session(engines)
        target = tmp_path / "laporan-bu-sari.md"
        target.write_text("catatan lama", encoding="utf-8")
        target.chmod(0o644)
        screen = KopastaReportScreen(engines.counselor, session_id, folder=tmp_path)
        app = ScreenHost(screen)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen.query_one("#report-path", Input).value = str(tmp_path / "laporan-bu-sari")
            await _export(app, screen, pilot)
            assert shown(screen, "#report-error") == t("kopasta.report.exists", path=str(target))
            assert target.read_text(encoding="utf-8") == "catatan lama"
            assert screen.written is None

            screen.query_one("#report-replace", Checkbox).value = True
            await _export(app, screen, pilot)
            assert screen.written == (target, tmp_path / "laporan-bu-sari.json")
            assert target.read_text(encoding="utf-8").startswith("# ")
            assert _mode(target) == 0o600


async def test_report_missing_folder(tmp_path: Path, tui_relay: Relay) -> None:
    """A path in a folder that does not exist names the folder and writes nothing."""
    async with paired(tmp_path, tui_relay.url) as engines:
        session_id = await _ended_session(engines)
        screen = KopastaReportScreen(engines.counselor, session_id, folder=tmp_path)
        app = ScreenHost(screen)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            missing = tmp_path / "tidak-ada"
            screen.query_one("#report-path", Input).value = str(missing / "laporan.md")
            await _export(app, screen, pilot)
            assert shown(screen, "#report-error") == t(
                "kopasta.report.folder_missing", folder=str(missing)
            )
            assert not missing.exists()


async def test_report_from_panel_in_english(tmp_path: Path, tui_relay: Relay) -> None:
    """The panel's export button opens the screen; the English report matches the core."""
    catalog.use("en")
    async with paired(tmp_path, tui_relay.url) as engines:
        session_id = await _ended_session(engines)
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.panel.show_contact(engines.student_id)
            assert shown(app.panel, "#kopasta-status").startswith("Last session closed")
            app.panel.query_one("#kopasta-export", Button).press()
            await wait_for(
                lambda: (
                    isinstance(app.screen, KopastaReportScreen)
                    and bool(app.screen.query("#report-path"))
                ),
                "the export screen",
            )
            screen = app.screen
            assert isinstance(screen, KopastaReportScreen)
            path = tmp_path / "report.md"
            screen.query_one("#report-path", Input).value = str(path)
            screen.query_one("#report-export", Button).press()
            await wait_for(lambda: screen.written is not None, "the export")
            expected = export_session(
                engines.counselor.store, session_id, language="en", counselor_name="Bu Sari"
            )
            assert path.read_text(encoding="utf-8") == expected.markdown
            assert _mode(path) == 0o600
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, KopastaReportScreen)


async def test_report_keyboard_only(tmp_path: Path, tui_relay: Relay) -> None:
    """From the composer, Ctrl+R opens the export with the cursor in the path; a typed path
    and Enter export, and replacing the file takes the box ticked by keys."""
    async with paired(tmp_path, tui_relay.url) as engines:
        await _ended_session(engines)
        app = KeyboardHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.panel.show_contact(engines.student_id)
            await pilot.pause()
            assert isinstance(app.focused, Composer)
            await pilot.press("ctrl+r")
            await wait_for(lambda: isinstance(app.screen, KopastaReportScreen), "the export")
            screen = app.screen
            assert isinstance(screen, KopastaReportScreen)
            await pilot.pause()
            path_input = screen.query_one("#report-path", Input)
            assert app.focused is path_input

            target = tmp_path / "laporan-keyboard.md"
            await pilot.press("home", "ctrl+k", *str(target), "enter")
            await wait_for(lambda: screen.written is not None, "the export")
            assert screen.written == (target, tmp_path / "laporan-keyboard.json")
            assert _mode(target) == 0o600
            target.write_text("catatan lama", encoding="utf-8")

            await pilot.press("enter")
            await wait_for(lambda: shown(screen, "#report-error") != "", "the exists error")
            assert shown(screen, "#report-error") == t("kopasta.report.exists", path=str(target))
            assert target.read_text(encoding="utf-8") == "catatan lama"

            replace = screen.query_one("#report-replace", Checkbox)
            await pilot.press("tab")
            assert app.focused is replace
            await pilot.press("space")
            assert replace.value
            await pilot.press("tab")
            assert app.focused is screen.query_one("#report-export", Button)
            await pilot.press("enter")
            await wait_for(lambda: target.read_text(encoding="utf-8") != "catatan lama", "export")
            assert target.read_text(encoding="utf-8").startswith("# ")
            assert _mode(target) == 0o600

            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.focused, Composer)


async def test_report_key_without_session(tmp_path: Path, tui_relay: Relay) -> None:
    """Ctrl+R with no contact or no session opens nothing and says why."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = KeyboardHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("ctrl+r")
            await pilot.pause()
            await app.panel.show_contact(engines.student_id)
            await pilot.press("ctrl+r")
            await pilot.pause()
            notices = [str(notification.message) for notification in app._notifications]
            assert notices == [t("kopasta.panel.no_contact"), t("kopasta.session.none")]
            assert not isinstance(app.screen, KopastaReportScreen)
