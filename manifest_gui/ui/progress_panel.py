"""One progress bar per stage (download bytes, extract bytes, upload bytes, load rows) with
throughput and time left; a busy bar while a stage's total is unknown or its last step cannot
be measured. The upload row (to the S3 archive) shows only while a bucket is configured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QProgressBar, QWidget

from ..engine.progress import ProgressEvent, Stage
from ..engine.wording import amount, duration, rate

# In the order the engine runs them (upload to the archive comes after extract, before load).
STAGES = (
    (Stage.DOWNLOAD, "Download:", "downloadProgressBar"),
    (Stage.EXTRACT, "Extract:", "extractProgressBar"),
    (Stage.UPLOAD, "Upload:", "uploadProgressBar"),
    (Stage.LOAD, "Load:", "loadProgressBar"),
)
SKIPPED_WORDS: dict[str, str] = {
    Stage.UPLOAD: "not needed (already archived, or not a download)",
}
DEFAULT_SKIPPED = "not needed (cached or local file)"
SCALE = 10_000  # bars count in 1/10,000ths: byte counts can pass QProgressBar's int range


@dataclass
class _Stage:
    bar: QProgressBar
    detail: QLabel
    caption: QLabel
    started: float = 0.0
    running: bool = False
    ran: bool = False


class ProgressPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Progress", parent)
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(10)
        self.stages: dict[str, _Stage] = {}
        width = QFontMetrics(self.font()).horizontalAdvance(
            "000,000 of 000,000 rows · 00,000 rows/s · 00:00 left"
        )
        for row, (stage, title, name) in enumerate(STAGES):
            caption = QLabel(title)
            caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            bar = QProgressBar()
            bar.setObjectName(name)
            bar.setTextVisible(True)
            detail = QLabel()
            detail.setObjectName(f"{stage}DetailLabel")
            detail.setMinimumWidth(width)
            caption.setBuddy(bar)
            grid.addWidget(caption, row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(detail, row, 2)
            self.stages[stage] = _Stage(bar, detail, caption)
        self.set_stage_visible(Stage.UPLOAD, False)
        self.reset()

    def bar(self, stage: str) -> QProgressBar:
        return self.stages[stage].bar

    def set_stage_visible(self, stage: str, visible: bool) -> None:
        """Show or hide a stage's row (the upload row exists only with an S3 bucket)."""
        state = self.stages[stage]
        for widget in (state.caption, state.bar, state.detail):
            widget.setVisible(visible)

    def reset(self) -> None:
        """Empty bars for a new job."""
        for state in self.stages.values():
            state.running = state.ran = False
            state.bar.setRange(0, SCALE)
            state.bar.setValue(0)
            state.bar.setFormat("")
            state.detail.setText("")

    def on_event(self, event: ProgressEvent) -> None:
        state = self.stages.get(event.stage)
        if state is None or event.message is not None:
            return
        now = time.monotonic()
        if not state.running and not event.finished:
            state.started, state.running, state.ran = now, True, True
            self._mark_skipped(event.stage)
        elapsed = max(now - state.started, 1e-6)
        bar = state.bar
        total = event.total
        if event.finished:
            state.running = False
            bar.setRange(0, SCALE)
            bar.setValue(SCALE)
            bar.setFormat("100%")
            average = f" ({rate(event.done / elapsed, event.unit)})" if elapsed > 0.05 else ""
            state.detail.setText(
                f"{amount(event.done, event.unit)} in {duration(elapsed)}{average}"
            )
            return
        suffix = f" · {event.detail}" if event.stage == Stage.LOAD and event.detail else ""
        if total is None or total <= 0 or event.done >= total:
            # Unknown total, or every row is read and the database is applying them: busy bar.
            bar.setRange(0, 0)
            bar.setFormat("")
            words = amount(event.done, event.unit) if event.done else "starting…"
            if total and event.done >= total:
                words = f"{amount(total, event.unit)} read · applying changes…"
            elif event.done and elapsed > 0.5:
                words += f" · {rate(event.done / elapsed, event.unit)}"
            state.detail.setText(words)
            bar.setToolTip(event.detail)
            return
        bar.setRange(0, SCALE)
        bar.setValue(int(event.done * SCALE // total))
        bar.setFormat("%p%" + suffix)
        bar.setToolTip(event.detail)
        words = f"{_short(event.done, event.unit)} of {amount(total, event.unit)}"
        if event.done and elapsed > 0.5:
            speed = event.done / elapsed
            words += f" · {rate(speed, event.unit)} · {duration((total - event.done) / speed)} left"
        state.detail.setText(words)

    def _mark_skipped(self, stage: str) -> None:
        """Earlier stages that never ran were served from the cache (or not needed); one that
        started but never finished gave up (e.g. a failed upload to the archive, which is only
        a warning: the load goes ahead)."""
        for name, state in self.stages.items():
            if name == stage:
                break
            if not state.ran:
                state.bar.setRange(0, SCALE)
                state.bar.setValue(0)
                state.bar.setFormat("")
                state.detail.setText(SKIPPED_WORDS.get(name, DEFAULT_SKIPPED))
            elif state.running:
                self._stop(state)

    def set_note(self, stage: str, text: str) -> None:
        """Replace a stage's detail text (e.g. why the upload failed)."""
        state = self.stages[stage]
        if state.running:
            self._stop(state)
        state.detail.setText(text)

    def stop(self) -> None:
        """The job ended early: no bar keeps spinning."""
        for state in self.stages.values():
            if state.running:
                self._stop(state)

    @staticmethod
    def _stop(state: _Stage) -> None:
        state.running = False
        if state.bar.maximum() == 0:
            state.bar.setRange(0, SCALE)
            state.bar.setValue(0)
        state.detail.setText(state.detail.text().split(" · ")[0] + " · stopped")


def _short(value: int, unit: str) -> str:
    """The done part of "x of y": without the unit for rows (the total carries it)."""
    return f"{value:,}" if unit == "rows" else amount(value, unit)
