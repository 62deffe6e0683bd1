"""The list of the five KOPASTA stages, with the current one marked and its time so far."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from konsel.client.core.kopasta import KopastaGuide, Stage
from konsel.client.tui.catalog import t
from konsel.client.tui.widgets.kopasta_session import language

MS_PER_MINUTE = 60_000


class KopastaStageList(Static):
    """Show every stage on its own line; the current stage gets a marker, bold text and its minutes.

    The marker carries the meaning, so the list reads the same without colour.
    """

    DEFAULT_CSS = """
    KopastaStageList {
        height: auto;
        padding: 0 0 1 0;
    }
    """

    def __init__(self, guide: KopastaGuide, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.guide = guide
        self.current: Stage | None = None
        """The session's stage, or None when no session is open."""
        self.entered_at_ms: int | None = None
        """When the session entered the current stage, in Unix ms."""

    def show_stage(self, stage: Stage | None, entered_at_ms: int | None, now_ms: int) -> None:
        """Mark ``stage`` as current, entered at ``entered_at_ms``, and redraw."""
        self.current = stage
        self.entered_at_ms = entered_at_ms
        self.refresh_time(now_ms)

    def refresh_time(self, now_ms: int) -> None:
        """Redraw the list with the time spent in the current stage up to ``now_ms``."""
        parts: list[str | tuple[str, str]] = []
        for stage_guide in self.guide.stages:
            is_current = stage_guide.stage is self.current
            marker = t("kopasta.stages.marker") if is_current else " "
            title = stage_guide.title.in_language(language())
            line = f"{marker} {stage_guide.stage.number}. {title}"
            if is_current and self.entered_at_ms is not None:
                minutes = max(0, now_ms - self.entered_at_ms) // MS_PER_MINUTE
                line += "  " + t("kopasta.stages.elapsed", minutes=minutes)
            if parts:
                parts.append("\n")
            parts.append((line, "bold") if is_current else line)
        self.update(Content.assemble(*parts))
