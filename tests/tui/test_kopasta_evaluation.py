"""Tests of penilaian: LAISEG through a real relay, follow-up dates and ending the session."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine_helpers import Relay, drain, reopen
from kopasta_host import KeyboardHost, PanelHost, default_content, paired, shown, wait_for
from screen_text import content_words, screen_text, words_outside
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Button, Input, OptionList, Static

from konsel.client.core.events import CounselingSessionChanged, EvaluationRequested, Event
from konsel.client.core.kopasta import Stage
from konsel.client.core.store_records import FollowUp
from konsel.client.tui import catalog
from konsel.client.tui.catalog import Catalog, t
from konsel.client.tui.screens.kopasta_evaluation import KopastaEvaluationScreen, shown_date
from konsel.client.tui.widgets.composer import Composer
from konsel.client.tui.widgets.conversation_list import ConversationList
from konsel.client.tui.widgets.kopasta_panel import KopastaPanel
from konsel.client.tui.widgets.kopasta_session import (
    follow_up_state,
    format_date,
    parse_date,
    start_of_day_ms,
    today,
)

ANSWERS = {
    "understanding": "Diam saja tidak menyelesaikan masalah.",
    "comfort": "Lebih lega dari tadi.",
    "action": "Bicara dengan Rani hari Senin.",
}


async def _open_evaluation(
    app: PanelHost,
    contact_id: int,
    before_open: Callable[[int], Awaitable[object]] | None = None,
) -> tuple[int, KopastaEvaluationScreen]:
    """Start a session, move it to penilaian and open the evaluation screen.

    ``before_open`` gets the session id once the session is at penilaian, to seed records
    that the screen should read when it opens.
    """
    await app.panel.show_contact(contact_id)
    app.panel.query_one("#kopasta-start", Button).press()
    await wait_for(lambda: app.panel.open_session is not None, "the session")
    session = app.panel.open_session
    assert session is not None
    for stage in list(Stage)[1:]:
        app.panel.next_stage()

        async def reached(stage: Stage = stage) -> bool:
            stored = await app.engine.record("get_session", session.id)
            return bool(stored.stage == stage.value)

        await wait_for(reached, f"stage {stage.value}")
    await wait_for(
        lambda: (
            bool(app.panel.query("#kopasta-open-evaluation"))
            and app.panel.query_one("#kopasta-laiseg").display
        ),
        "the LAISEG box",
    )
    if before_open is not None:
        await before_open(session.id)
    app.panel.query_one("#kopasta-open-evaluation", Button).press()
    await wait_for(lambda: isinstance(app.screen, KopastaEvaluationScreen), "the evaluation screen")
    screen = app.screen
    assert isinstance(screen, KopastaEvaluationScreen)
    await wait_for(lambda: screen.session is not None, "the evaluation screen to load")
    return session.id, screen


def listed(screen: KopastaEvaluationScreen) -> str:
    """Return the lines of the follow-up list, one per follow-up."""
    statics = screen.query("#evaluation-scheduled Static").results(Static)
    return "\n".join(str(static.content) for static in statics)


async def follow_ups_of(app: PanelHost, session_id: int) -> list[FollowUp]:
    """Return the session's follow-ups as stored now."""
    follow_ups: list[FollowUp] = await app.engine.record("list_follow_ups", session_id)
    return follow_ups


class ListAndPanelHost(PanelHost):
    """The panel host with the conversation list next to the panel, as on the main screen."""

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ConversationList(self.engine)
            yield KopastaPanel(self.engine, content=self.content)


def contact_label(app: PanelHost, contact_id: int) -> str:
    """Return the text of a contact's line in the conversation list."""
    option = app.query_one(ConversationList).get_option(f"contact-{contact_id}")
    return str(option.prompt)


async def test_evaluation_laiseg_round_trip(tmp_path: Path, tui_relay: Relay) -> None:
    """The request reaches the student engine; its answers show in the panel and the screen."""
    async with paired(tmp_path, tui_relay.url) as engines:
        student_events = engines.student.events()
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            assert shown(app.panel, "#kopasta-laiseg-answers") == t("kopasta.laiseg.none_yet")

            screen.query_one("#evaluation-request", Button).press()
            seen: list[Event] = []

            def requested() -> bool:
                seen.extend(drain(student_events))
                return any(isinstance(event, EvaluationRequested) for event in seen)

            await wait_for(requested, "the LAISEG request at the student")
            request = next(event for event in seen if isinstance(event, EvaluationRequested))
            assert [question.key for question in request.questions][:3] == list(ANSWERS)
            content_id = await engines.counselor.record("content_session_id", session_id)
            assert request.session_id == content_id

            await engines.student.answer_evaluation(
                engines.counselor_id, request.session_id, ratings={"rating_feeling": 4}, **ANSWERS
            )
            await wait_for(
                lambda: ANSWERS["action"] in shown(screen, "#evaluation-answers"),
                "the answers in the evaluation screen",
            )
            screen.dismiss(None)
            await pilot.pause()
            panel_answers = shown(app.panel, "#kopasta-laiseg-answers")
            for answer in ANSWERS.values():
                assert answer in panel_answers
            assert "4 Setuju" in panel_answers
            (evaluation,) = await engines.counselor.record("list_evaluations", session_id)
            assert evaluation.answers == {**ANSWERS, "rating_feeling": "4"}
        student_events.close()


async def test_evaluation_dates_validated(tmp_path: Path, tui_relay: Relay) -> None:
    """A bad or past date shows a catalog error naming it; good dates become follow-ups."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            laijapen = screen.query_one("#evaluation-date-laijapen", Input)
            laijapang = screen.query_one("#evaluation-date-laijapang", Input)
            save = screen.query_one("#evaluation-save-dates", Button)

            laijapen.value = "31-02-2027"
            save.press()
            await pilot.pause()
            expected = t("kopasta.dates.invalid", value="31-02-2027")
            assert shown(screen, "#evaluation-date-laijapen-error") == expected
            assert "31-02-2027" in expected

            laijapen.value = "01-01-2020"
            save.press()
            await pilot.pause()
            expected = t("kopasta.dates.past", value="01-01-2020")
            assert shown(screen, "#evaluation-date-laijapen-error") == expected
            assert await engines.counselor.record("list_follow_ups", session_id) == []

            short_term = today() + datetime.timedelta(days=14)
            long_term = today() + datetime.timedelta(days=120)
            laijapen.value = format_date(short_term)
            laijapang.value = long_term.isoformat()
            save.press()

            async def scheduled() -> bool:
                return len(await engines.counselor.record("list_follow_ups", session_id)) == 2

            await wait_for(scheduled, "two follow-ups")
            follow_ups = await engines.counselor.record("list_follow_ups", session_id)
            assert [(f.kind, f.due_at) for f in follow_ups] == [
                ("laijapen", start_of_day_ms(short_term)),
                ("laijapang", start_of_day_ms(long_term)),
            ]
            stored = await engines.counselor.record("get_session", session_id)
            assert stored.fields["penilaian"] == {
                "laijapen_date": short_term.isoformat(),
                "laijapang_date": long_term.isoformat(),
            }
            assert shown(screen, "#evaluation-date-laijapen-error") == ""
            await wait_for(
                lambda: format_date(short_term) in listed(screen),
                "the scheduled dates listed",
            )
            assert t("kopasta.evaluation.state_scheduled") in listed(screen)


async def test_evaluation_end_session(tmp_path: Path, tui_relay: Relay) -> None:
    """The end button asks for a second press, then ends the session at both sides."""
    async with paired(tmp_path, tui_relay.url) as engines:
        student_events = engines.student.events()
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            end = screen.query_one("#evaluation-end", Button)
            end.press()
            await pilot.pause()
            assert str(end.label) == t("kopasta.evaluation.end_confirm")
            stored = await engines.counselor.record("get_session", session_id)
            assert stored.ended_at is None

            end.press()

            async def ended() -> bool:
                stored = await engines.counselor.record("get_session", session_id)
                return stored.ended_at is not None

            await wait_for(ended, "the session to end")
            seen: list[Event] = []

            def told() -> bool:
                seen.extend(drain(student_events))
                return any(
                    isinstance(event, CounselingSessionChanged) and event.action == "end"
                    for event in seen
                )

            await wait_for(told, "the end at the student")
            await wait_for(
                lambda: screen.query_one("#evaluation-request", Button).disabled,
                "the request button to be disabled",
            )

            screen.dismiss(None)
            await wait_for(lambda: app.panel.open_session is None, "the panel to see the end")
            assert app.panel.query_one("#kopasta-start", Button).display
            assert not app.panel.query_one("#kopasta-export", Button).disabled
        student_events.close()


async def test_follow_up_mark_done_clears_due(tmp_path: Path, tui_relay: Relay) -> None:
    """A due LAIJAPEN marked done is no longer due, and the list drops its ⏰ on reload."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = ListAndPanelHost(engines.counselor, default_content(tmp_path))
        passed = start_of_day_ms(today() - datetime.timedelta(days=3))

        async def seed_due(session_id: int) -> object:
            # The screen refuses past dates, so a date that has passed is written directly.
            return await engines.counselor.record("add_follow_up", session_id, "laijapen", passed)

        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id, seed_due)
            (due,) = await engines.counselor.due_follow_ups()
            assert due.session_id == session_id
            await wait_for(
                lambda: t("kopasta.evaluation.state_due") in listed(screen), "the due state"
            )
            assert format_date(today() - datetime.timedelta(days=3)) in listed(screen)
            conversations = app.query_one(ConversationList)
            await conversations.reload()
            assert "⏰" in contact_label(app, engines.student_id)

            # The due date has passed, yet saving a new LAIJAPANG date next to it works.
            passed_input = screen.query_one("#evaluation-date-laijapen", Input)
            assert passed_input.value == format_date(today() - datetime.timedelta(days=3))
            long_term = today() + datetime.timedelta(days=120)
            screen.query_one("#evaluation-date-laijapang", Input).value = format_date(long_term)
            screen.query_one("#evaluation-save-dates", Button).press()

            async def laijapang_added() -> bool:
                return len(await follow_ups_of(app, session_id)) == 2

            await wait_for(laijapang_added, "the LAIJAPANG follow-up")
            assert shown(screen, "#evaluation-date-laijapen-error") == ""
            await wait_for(lambda: len(listed(screen).splitlines()) == 2, "two listed")

            screen.query_one(f"#follow-up-done-{due.id}", Button).press()

            async def nothing_due() -> bool:
                return await engines.counselor.due_follow_ups() == []

            await wait_for(nothing_due, "no follow-up due")
            await wait_for(
                lambda: t("kopasta.evaluation.state_done") in listed(screen), "the done state"
            )
            assert not screen.query(f"#follow-up-done-{due.id}")
            assert not screen.query(f"#follow-up-cancel-{due.id}")
            done, _ = await follow_ups_of(app, session_id)
            assert done.id == due.id
            assert done.done_at is not None
            assert screen.query_one("#evaluation-date-laijapen", Input).value == ""

            screen.dismiss(None)
            await pilot.pause()
            await conversations.reload()
            assert "⏰" not in contact_label(app, engines.student_id)


async def test_follow_up_reschedule_persists(tmp_path: Path, tui_relay: Relay) -> None:
    """Saving another date moves the open LAIJAPEN, a past date is rejected, a reopen keeps it."""
    first = today() + datetime.timedelta(days=14)
    moved = today() + datetime.timedelta(days=21)
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            laijapen = screen.query_one("#evaluation-date-laijapen", Input)
            save = screen.query_one("#evaluation-save-dates", Button)
            laijapen.value = format_date(first)
            save.press()

            async def has_first() -> bool:
                return len(await follow_ups_of(app, session_id)) == 1

            await wait_for(has_first, "the first LAIJAPEN date")
            (scheduled,) = await follow_ups_of(app, session_id)

            laijapen.value = format_date(moved)
            save.press()

            async def is_moved() -> bool:
                follow_ups = await follow_ups_of(app, session_id)
                return [f.due_at for f in follow_ups] == [start_of_day_ms(moved)]

            await wait_for(is_moved, "the moved LAIJAPEN date")
            (rescheduled,) = await follow_ups_of(app, session_id)
            assert rescheduled.id == scheduled.id
            stored = await engines.counselor.record("get_session", session_id)
            assert stored.fields["penilaian"]["laijapen_date"] == moved.isoformat()
            await wait_for(lambda: format_date(moved) in listed(screen), "the new date listed")
            assert format_date(first) not in listed(screen)
            assert laijapen.value == format_date(moved)

            laijapen.value = "01-01-2020"
            save.press()
            await pilot.pause()
            expected = t("kopasta.dates.past", value="01-01-2020")
            assert shown(screen, "#evaluation-date-laijapen-error") == expected
            assert "01-01-2020" in expected
            (unchanged,) = await follow_ups_of(app, session_id)
            assert unchanged.due_at == start_of_day_ms(moved)

        engines.counselor = await reopen(engines.counselor)
        (kept,) = await engines.counselor.record("list_follow_ups", session_id)
        assert kept.due_at == start_of_day_ms(moved)
        assert await engines.counselor.due_follow_ups(start_of_day_ms(first)) == []
        due = await engines.counselor.due_follow_ups(start_of_day_ms(moved))
        assert [f.id for f in due] == [kept.id]


async def test_follow_up_cancel_second_press(tmp_path: Path, tui_relay: Relay) -> None:
    """Cancel asks for a second press, then removes the follow-up and clears its date field."""
    short_term = today() + datetime.timedelta(days=14)
    long_term = today() + datetime.timedelta(days=120)
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id, screen = await _open_evaluation(app, engines.student_id)
            screen.query_one("#evaluation-date-laijapen", Input).value = format_date(short_term)
            screen.query_one("#evaluation-date-laijapang", Input).value = format_date(long_term)
            screen.query_one("#evaluation-save-dates", Button).press()

            async def both() -> bool:
                return len(await follow_ups_of(app, session_id)) == 2

            await wait_for(both, "two follow-ups")
            laijapen, laijapang = await follow_ups_of(app, session_id)
            await wait_for(
                lambda: bool(screen.query(f"#follow-up-cancel-{laijapen.id}")), "the cancel button"
            )

            cancel = screen.query_one(f"#follow-up-cancel-{laijapen.id}", Button)
            cancel.press()
            await pilot.pause()
            assert str(cancel.label) == t("kopasta.evaluation.cancel_confirm")
            assert len(await follow_ups_of(app, session_id)) == 2

            cancel.press()

            async def cancelled() -> bool:
                return [f.id for f in await follow_ups_of(app, session_id)] == [laijapang.id]

            await wait_for(cancelled, "the LAIJAPEN follow-up to go")
            far_future = start_of_day_ms(long_term + datetime.timedelta(days=1))
            due = await engines.counselor.due_follow_ups(far_future)
            assert [f.id for f in due] == [laijapang.id]
            stored = await engines.counselor.record("get_session", session_id)
            assert stored.fields["penilaian"]["laijapen_date"] == ""
            assert stored.fields["penilaian"]["laijapang_date"] == long_term.isoformat()
            await wait_for(lambda: format_date(short_term) not in listed(screen), "the list")
            assert format_date(long_term) in listed(screen)
            assert screen.query_one("#evaluation-date-laijapen", Input).value == ""
            assert screen.query_one("#evaluation-date-laijapang", Input).value == format_date(
                long_term
            )


async def test_follow_up_list_catalog_words(tmp_path: Path, tui_relay: Relay) -> None:
    """A list with a due, a scheduled and a done follow-up shows only catalog and content words."""
    for language in ("id", "en"):
        catalog.use(language)
        Catalog.shown = set()
        await _assert_follow_up_words(tmp_path / language, tui_relay.url)
    Catalog.shown = None


async def _assert_follow_up_words(tmp_path: Path, relay_url: str) -> None:
    async with paired(tmp_path, relay_url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        yesterday = start_of_day_ms(today() - datetime.timedelta(days=1))
        tomorrow = start_of_day_ms(today() + datetime.timedelta(days=1))

        async def seed(session_id: int) -> None:
            record = engines.counselor.record
            await record("add_follow_up", session_id, "laijapen", yesterday)
            done = await record("add_follow_up", session_id, "laijapen", 0)
            await record("complete_follow_up", done)
            await record("add_follow_up", session_id, "laijapang", tomorrow)

        async with app.run_test(size=(80, 24)) as pilot:
            _, screen = await _open_evaluation(app, engines.student_id, seed)
            await wait_for(lambda: len(listed(screen).splitlines()) == 3, "three follow-ups")
            screen.query_one("#evaluation-scroll", VerticalScroll).scroll_end(animate=False)
            await pilot.pause()

            text = screen_text(app)
            strays = words_outside(text, [*(Catalog.shown or set()), *content_words()])
            assert strays == [], f"words on screen that no catalog gave: {strays}\n{text}"
            for state in ("due", "scheduled", "done"):
                assert t(f"kopasta.evaluation.state_{state}") in listed(screen)


async def test_evaluation_in_english(tmp_path: Path, tui_relay: Relay) -> None:
    """The screen is English with the English catalog: states, buttons and date errors."""
    catalog.use("en")
    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            _, screen = await _open_evaluation(app, engines.student_id)
            laijapang = screen.query_one("#evaluation-date-laijapang", Input)
            laijapang.value = "besok"
            screen.query_one("#evaluation-save-dates", Button).press()
            await pilot.pause()
            error = shown(screen, "#evaluation-date-laijapang-error")
            assert (
                error == 'The date "besok" cannot be read. Write it like 31-12-2026 or 2026-12-31.'
            )

            short_term = today() + datetime.timedelta(days=14)
            laijapang.value = format_date(short_term)
            screen.query_one("#evaluation-save-dates", Button).press()
            await wait_for(lambda: "(scheduled)" in listed(screen), "the English state")
            labels = [
                str(button.label) for button in screen.query(".follow-up-action").results(Button)
            ]
            assert labels == ["Mark done", "Cancel date"]

            laijapang.value = "01-01-2020"
            screen.query_one("#evaluation-save-dates", Button).press()
            await pilot.pause()
            error = shown(screen, "#evaluation-date-laijapang-error")
            assert error == "The date 01-01-2020 has passed. Choose today or a later date."


def test_parse_date_forms() -> None:
    """Day-first with -, / or . and ISO dates parse; other text does not."""
    expected = datetime.date(2026, 12, 31)
    for text in ("31-12-2026", "31/12/2026", "31.12.2026", "2026-12-31", " 31-12-2026 "):
        assert parse_date(text) == expected
    for text in ("2026/12/31", "31-13-2026", "12-31-2026", "", "31 Desember 2026"):
        try:
            parse_date(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} parsed")


def test_follow_up_state_by_time() -> None:
    """Open follow-ups are scheduled before their due time and due from it; done is done."""
    follow_up = FollowUp(1, 1, "laijapen", due_at=5_000, note="", done_at=None)
    assert follow_up_state(follow_up, 4_999) == "scheduled"
    assert follow_up_state(follow_up, 5_000) == "due"
    done = FollowUp(1, 1, "laijapen", due_at=5_000, note="", done_at=6_000)
    assert follow_up_state(done, 4_999) == "done"


def test_shown_date_choices() -> None:
    """The input shows the open date, else the field unless a done follow-up had that date."""
    day = datetime.date(2026, 12, 31)
    due_at = start_of_day_ms(day)
    open_one = FollowUp(1, 1, "laijapen", due_at, "", None)
    done_one = FollowUp(2, 1, "laijapen", due_at, "", due_at)
    other_kind = FollowUp(3, 1, "laijapang", due_at, "", None)

    assert shown_date("laijapen", [open_one], "") == "31-12-2026"
    assert shown_date("laijapen", [done_one], "2026-12-31") == ""
    assert shown_date("laijapen", [done_one], "2027-01-15") == "15-01-2027"
    assert shown_date("laijapen", [other_kind], "") == ""
    assert shown_date("laijapen", [], "tidak jelas") == "tidak jelas"


async def _keyboard_to_penilaian(app: KeyboardHost, contact_id: int, pilot: Pilot[None]) -> int:
    """Start a session and move it to penilaian with keys only; return the session id.

    The panel itself is the next Tab stop after the composer (it scrolls with the
    arrow keys), and "Mulai sesi" is the one after it.
    """
    await app.panel.show_contact(contact_id)
    await pilot.pause()
    assert isinstance(app.focused, Composer)
    await pilot.press("tab", "tab")
    assert app.focused is app.panel.query_one("#kopasta-start", Button)
    await pilot.press("enter")
    await wait_for(lambda: app.panel.open_session is not None, "the session")
    session = app.panel.open_session
    assert session is not None
    for stage in list(Stage)[1:]:
        await pilot.press("f8")

        async def reached(stage: Stage = stage) -> bool:
            stored = await app.engine.record("get_session", session.id)
            return bool(stored.stage == stage.value)

        await wait_for(reached, f"stage {stage.value}")
    await wait_for(lambda: app.panel.query_one("#kopasta-laiseg").display, "the LAISEG box")
    await pilot.pause()
    # Focus followed each new stage view, so the keys still have a place to go.
    assert app.focused is app.panel.query_one("#kopasta-prompts", OptionList)
    return session.id


async def _press_f9(app: KeyboardHost, pilot: Pilot[None]) -> KopastaEvaluationScreen:
    await pilot.press("f9")
    await wait_for(lambda: isinstance(app.screen, KopastaEvaluationScreen), "the penilaian screen")
    screen = app.screen
    assert isinstance(screen, KopastaEvaluationScreen)
    await wait_for(lambda: screen.session is not None, "the penilaian screen to load")
    await pilot.pause()
    return screen


async def test_evaluation_keyboard_only(tmp_path: Path, tui_relay: Relay) -> None:
    """From the composer, F9 opens penilaian with the cursor in the LAIJAPEN date; a typed
    date and Enter schedule it, and Tab, Enter, Enter end the session with the whole
    confirmation on screen."""
    short_term = today() + datetime.timedelta(days=14)
    async with paired(tmp_path, tui_relay.url) as engines:
        app = KeyboardHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            session_id = await _keyboard_to_penilaian(app, engines.student_id, pilot)
            screen = await _press_f9(app, pilot)
            laijapen = screen.query_one("#evaluation-date-laijapen", Input)
            assert app.focused is laijapen

            await pilot.press(*format_date(short_term), "enter")

            async def scheduled() -> bool:
                return len(await follow_ups_of(app, session_id)) == 1

            await wait_for(scheduled, "the LAIJAPEN follow-up")
            (follow_up,) = await follow_ups_of(app, session_id)
            assert (follow_up.kind, follow_up.due_at) == ("laijapen", start_of_day_ms(short_term))
            await wait_for(lambda: format_date(short_term) in listed(screen), "the listed date")

            # LAIJAPANG date, "Simpan jadwal", the follow-up's two buttons, then "Tutup sesi".
            end = screen.query_one("#evaluation-end", Button)
            await pilot.press("tab", "tab", "tab", "tab", "tab")
            assert app.focused is end
            await pilot.press("enter")
            await pilot.pause()
            confirm = t("kopasta.evaluation.end_confirm")
            assert str(end.label) == confirm
            assert confirm in screen_text(app)
            stored = await engines.counselor.record("get_session", session_id)
            assert stored.ended_at is None

            # A button ignores Enter while its press effect shows, as a person reads first.
            await wait_for(lambda: not end.has_class("-active"), "the press effect to end")
            await pilot.press("enter")

            async def ended() -> bool:
                stored = await engines.counselor.record("get_session", session_id)
                return stored.ended_at is not None

            await wait_for(ended, "the session to end")
            close = screen.query_one("#evaluation-close", Button)
            assert app.focused is close
            await pilot.press("enter")
            await wait_for(lambda: app.panel.open_session is None, "the panel to see the end")
            await pilot.pause()
            assert app.focused is app.panel.query_one("#kopasta-start", Button)


async def test_evaluation_f9_before_penilaian(tmp_path: Path, tui_relay: Relay) -> None:
    """F9 without a session or before penilaian opens nothing and says why."""
    async with paired(tmp_path, tui_relay.url) as engines:
        app = KeyboardHost(engines.counselor, default_content(tmp_path))
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("f9")
            await pilot.pause()
            assert t("kopasta.panel.no_contact") in _notices(app)

            await app.panel.show_contact(engines.student_id)
            await pilot.press("f9")
            await pilot.pause()
            assert t("kopasta.session.none_open") in _notices(app)

            await pilot.press("tab", "tab", "enter")
            await wait_for(lambda: app.panel.open_session is not None, "the session")
            await pilot.press("f9")
            await pilot.pause()
            assert t("kopasta.laiseg.not_yet", stage="Penilaian") in _notices(app)
            assert not isinstance(app.screen, KopastaEvaluationScreen)


def _notices(app: KeyboardHost) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


async def test_evaluation_confirm_labels_whole(tmp_path: Path, tui_relay: Relay) -> None:
    """The cancel and end buttons show their whole confirmation at 80x24 in both languages,
    and a confirmed cancel leaves focus on the next useful button."""
    for language in ("id", "en"):
        catalog.use(language)
        await _assert_confirm_labels(tmp_path / language, tui_relay.url)


async def _assert_confirm_labels(tmp_path: Path, relay_url: str) -> None:
    tomorrow = start_of_day_ms(today() + datetime.timedelta(days=1))
    async with paired(tmp_path, relay_url) as engines:
        app = PanelHost(engines.counselor, default_content(tmp_path))

        async def seed(session_id: int) -> object:
            return await engines.counselor.record("add_follow_up", session_id, "laijapen", tomorrow)

        async with app.run_test(size=(80, 24)) as pilot:
            _, screen = await _open_evaluation(app, engines.student_id, seed)
            await wait_for(lambda: bool(screen.query(".follow-up-action")), "the buttons")
            _, cancel_button = screen.query(".follow-up-action").results(Button)
            # LAIJAPANG date, "Simpan jadwal", "Tandai selesai", then the cancel button.
            await pilot.press("tab", "tab", "tab", "tab")
            assert app.focused is cancel_button
            await pilot.press("enter")
            await pilot.pause()
            confirm = t("kopasta.evaluation.cancel_confirm")
            assert str(cancel_button.label) == confirm
            assert confirm in screen_text(app)

            await wait_for(lambda: not cancel_button.has_class("-active"), "the press effect")
            await pilot.press("enter")
            await wait_for(lambda: not screen.query(".follow-up-action"), "the cancelled row")
            await pilot.pause()
            assert app.focused is screen.query_one("#evaluation-save-dates", Button)

            # "Simpan jadwal", then "Tutup sesi".
            end = screen.query_one("#evaluation-end", Button)
            await pilot.press("tab")
            assert app.focused is end
            await pilot.press("enter")
            await pilot.pause()
            confirm = t("kopasta.evaluation.end_confirm")
            assert str(end.label) == confirm
            assert confirm in screen_text(app)
