"""Tests of the crisis panel and the risk card with the packaged and a school's crisis file."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import Relay
from kopasta_host import PanelHost, default_content, paired, shown, wait_for
from pairing_host import ScreenHost
from screen_text import content_words, screen_text, words_outside
from textual.widgets import Button

from konsel.client.core.content_files import load_crisis_guide, load_risk_cues
from konsel.client.tui import catalog
from konsel.client.tui.catalog import Catalog, t
from konsel.client.tui.screens.crisis_panel import CrisisPanelScreen
from konsel.client.tui.screens.risk_card import RiskCardScreen
from konsel.client.tui.widgets.kopasta_session import load_school_content

PACKAGED = Path(__file__).resolve().parents[2] / "client" / "data" / "crisis-contacts.toml"


async def test_crisis_lists_every_contact() -> None:
    """Each contact shows its name and channels; an empty school slot says so."""
    guide = load_crisis_guide()
    app = ScreenHost(CrisisPanelScreen(guide))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CrisisPanelScreen)
        for contact in guide.contacts:
            text = shown(screen, f"#crisis-contact-{contact.key}")
            assert contact.name.id in text
            assert contact.description.id in text
            if contact.phone is not None and contact.extension is None:
                assert t("kopasta.crisis.phone", phone=contact.phone) in text
            if contact.extension is not None:
                phone = t(
                    "kopasta.crisis.phone_extension",
                    phone=contact.phone,
                    extension=contact.extension,
                )
                assert phone in text
            if contact.whatsapp is not None:
                assert t("kopasta.crisis.whatsapp", number=contact.whatsapp) in text
            if contact.website is not None:
                assert t("kopasta.crisis.website", address=contact.website) in text
            assert (t("kopasta.crisis.not_filled") in text) == (not contact.is_filled_in)
        assert "500-454" not in "".join(str(s.content) for s in screen.query(".crisis-contact"))
        steps = shown(screen, "#crisis-risk-questions")
        for step in guide.risk_questions:
            assert step.title.id in steps

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CrisisPanelScreen)
        assert app.results == [None]


async def test_crisis_school_override(tmp_path: Path, tui_relay: Relay) -> None:
    """The panel's crisis key shows the school's own TPPK number from its override file."""
    folder = tmp_path / "school"
    folder.mkdir()
    text = PACKAGED.read_text(encoding="utf-8")
    slot = 'key = "school_tppk"\nfilled_by_school = true\n'
    assert slot in text
    filled = text.replace(slot, slot + 'phone = "0274-555-0199"\n')
    (folder / "crisis-contacts.toml").write_text(filled, encoding="utf-8")
    content = load_school_content(folder)
    assert content.error is None

    async with paired(tmp_path, tui_relay.url) as engines:
        app = PanelHost(engines.counselor, content)
        async with app.run_test(size=(80, 24)) as pilot:
            app.panel.open_crisis()
            await wait_for(
                lambda: (
                    isinstance(app.screen, CrisisPanelScreen)
                    and bool(app.screen.query("#crisis-contact-school_tppk"))
                ),
                "the crisis panel",
            )
            screen = app.screen
            tppk = shown(screen, "#crisis-contact-school_tppk")
            assert t("kopasta.crisis.phone", phone="0274-555-0199") in tppk
            assert t("kopasta.crisis.not_filled") not in tppk
            assert t("kopasta.crisis.not_filled") in shown(screen, "#crisis-contact-school_office")
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, CrisisPanelScreen)


async def test_crisis_bad_override_falls_back(tmp_path: Path) -> None:
    """An invalid school file is reported, and the packaged contacts are used."""
    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "crisis-contacts.toml").write_text("format = 1\n", encoding="utf-8")
    content = load_school_content(folder)
    assert content.error is not None
    assert content.bundle.crisis == load_crisis_guide()


async def test_crisis_panel_in_english() -> None:
    """With the English catalog, names and descriptions are English."""
    catalog.use("en")
    guide = load_crisis_guide()
    app = ScreenHost(CrisisPanelScreen(guide))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sapa = shown(app.screen, "#crisis-contact-sapa129")
        assert guide.contact("sapa129").name.en in sapa
        assert "WhatsApp 08111-129-129" in sapa
        assert "Not filled in yet" in shown(app.screen, "#crisis-contact-school_tppk")


async def test_risk_card_shows_cues() -> None:
    """The card names each cue with its group and leads to the crisis panel."""
    guide = load_crisis_guide()
    cues = load_risk_cues()
    app = ScreenHost(RiskCardScreen(("bunuh diri", "dipukul", "kata lama"), cues, guide))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        card = app.screen
        lines = shown(card, "#risk-cues").splitlines()
        assert lines == [
            t("kopasta.risk.cue_in_group", phrase="bunuh diri", group=cues.groups[0].label.id),
            t("kopasta.risk.cue_in_group", phrase="dipukul", group=cues.groups[1].label.id),
            t("kopasta.risk.cue", phrase="kata lama"),
        ]
        card.query_one("#risk-crisis", Button).press()
        await pilot.pause()
        assert isinstance(app.screen, CrisisPanelScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is card
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]


def test_default_content_used(tmp_path: Path) -> None:
    """Without a school folder the packaged files are used and no error is reported."""
    content = default_content(tmp_path)
    assert content.error is None
    assert content.bundle.crisis == load_crisis_guide()


async def test_crisis_screens_catalog_words() -> None:
    """The crisis panel and the risk card show only catalog and content words, in both languages."""
    for language in ("id", "en"):
        catalog.use(language)
        Catalog.shown = set()
        screens = (
            CrisisPanelScreen(load_crisis_guide()),
            RiskCardScreen(("bunuh diri",), load_risk_cues(), load_crisis_guide()),
        )
        for screen in screens:
            app = ScreenHost(screen)
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                text = screen_text(app)
                strays = words_outside(text, [*(Catalog.shown or set()), *content_words()])
                assert strays == [], f"words no catalog gave: {strays}\n{text}"
    Catalog.shown = None
