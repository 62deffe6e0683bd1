"""Export one counseling session as a Markdown report and a JSON file, where the user chooses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import platformdirs
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from konsel.client.core.engine import Engine
from konsel.client.core.kopasta import EvaluationForms, KopastaGuide
from konsel.client.core.report import export_session, write_report
from konsel.client.tui.catalog import t
from konsel.client.tui.widgets.choice_button import ChoiceCheckbox
from konsel.client.tui.widgets.kopasta_session import (
    language,
    report_zone_name,
    run_guarded,
    today,
)


def default_report_folder() -> Path:
    """Return the user's documents folder if it exists, else the home folder."""
    documents = Path(platformdirs.user_documents_dir())
    return documents if documents.is_dir() else Path.home()


def report_paths(typed: str) -> tuple[Path, Path]:
    """Return the Markdown and JSON paths for a typed path; ``.md`` is added when missing."""
    path = Path(typed).expanduser()
    markdown = path if path.suffix == ".md" else path.with_name(path.name + ".md")
    return markdown, markdown.with_suffix(".json")


class KopastaReportScreen(ModalScreen[None]):
    """Write the session's report through the core report module, as files only the user can read.

    The Markdown "laporan pelaksanaan layanan konseling perorangan" goes to the typed path
    and the JSON document next to it. Both are created with mode 0600. An existing file is
    replaced only when the counselor ticks the box. Escape closes.
    """

    DEFAULT_CSS = """
    KopastaReportScreen { align: center middle; }
    KopastaReportScreen #report-frame {
        width: 90%; max-width: 90; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    KopastaReportScreen #report-scroll { height: auto; }
    KopastaReportScreen .report-heading { text-style: bold; }
    KopastaReportScreen #report-warning { color: $warning; margin-bottom: 1; }
    KopastaReportScreen #report-error { color: $error; }
    KopastaReportScreen Horizontal { height: auto; margin-top: 1; }
    KopastaReportScreen Horizontal Button { margin-right: 1; }
    """

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(
        self,
        engine: Engine,
        session_id: int,
        *,
        guide: KopastaGuide | None = None,
        forms: EvaluationForms | None = None,
        folder: Path | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.session_id = session_id
        self.guide = guide
        self.forms = forms
        self.folder = folder or default_report_folder()
        self.written: tuple[Path, Path] | None = None
        """The Markdown and JSON files of the last export, or None before one."""

    def compose(self) -> ComposeResult:
        stamp = today().strftime("%Y%m%d")
        name = t("kopasta.report.file_name", session=self.session_id, date=stamp)
        with Vertical(id="report-frame"):
            with VerticalScroll(id="report-scroll"):
                yield Static(t("kopasta.report.title"), classes="report-heading")
                yield Static(t("kopasta.report.warning"), id="report-warning")
                yield Label(t("kopasta.report.path_label"))
                yield Input(str(self.folder / name), id="report-path", compact=True)
                yield Static(t("kopasta.report.json_hint"))
                yield ChoiceCheckbox(t("kopasta.report.replace"), id="report-replace", compact=True)
                yield Static("", id="report-error")
                yield Static("", id="report-result")
            with Horizontal():
                yield Button(
                    t("kopasta.report.export"), id="report-export", variant="primary", compact=True
                )
                yield Button(t("kopasta.common.close"), id="report-close", compact=True)

    def on_mount(self) -> None:
        # The path is the one field to check before exporting, and Enter in it exports.
        self.query_one("#report-path", Input).focus()

    @on(Input.Submitted, "#report-path")
    @on(Button.Pressed, "#report-export")
    def _export_pressed(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        self.run_worker(run_guarded(self._export(), self), group="kopasta-report", exclusive=True)

    async def _export(self) -> None:
        error = self.query_one("#report-error", Static)
        result = self.query_one("#report-result", Static)
        error.update("")
        result.update("")

        typed = self.query_one("#report-path", Input).value.strip()
        if not typed:
            error.update(t("kopasta.report.path_missing"))
            return
        markdown_path, json_path = report_paths(typed)
        if not markdown_path.parent.is_dir():
            error.update(
                Content(t("kopasta.report.folder_missing", folder=str(markdown_path.parent)))
            )
            return
        replace = self.query_one("#report-replace", Checkbox).value
        existing = [path for path in (markdown_path, json_path) if path.exists()]
        if existing and not replace:
            error.update(Content(t("kopasta.report.exists", path=str(existing[0]))))
            return

        report = await asyncio.to_thread(
            export_session,
            self.engine.store,
            self.session_id,
            language=language(),
            tz=report_zone_name(),
            counselor_name=self.engine.state.display_name,
            guide=self.guide,
            forms=self.forms,
        )
        for path, text in ((markdown_path, report.markdown), (json_path, report.json)):
            try:
                await asyncio.to_thread(write_report, path, text)
            except OSError as failure:
                reason = failure.strerror or type(failure).__name__
                error.update(
                    Content(t("kopasta.report.write_failed", path=str(path), reason=reason))
                )
                return

        self.written = (markdown_path, json_path)
        shown = t("kopasta.report.written", markdown=str(markdown_path), json=str(json_path))
        result.update(Content(shown))
        self.notify(t("kopasta.report.done"))

    @on(Button.Pressed, "#report-close")
    def _close_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        """Close the export screen."""
        self.dismiss(None)
