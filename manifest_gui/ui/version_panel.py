"""The versions at a glance: Bungie.net's, the database's, a status in words, the next check."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QWidget,
)

from ..engine.bungie import path_name
from ..engine.database import DatabaseVersion
from ..engine.wording import Tone, clock_time, until

STATUS_COLOURS = {
    Tone.OK: "#1a7f37",
    Tone.UPDATE: "#0b5cad",
    Tone.BUSY: "#0b5cad",
    Tone.ERROR: "#b42318",
    Tone.NEUTRAL: "",
}


def _value_label(name: str, text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    # Wrapping labels report a narrow size hint; let them take the whole field column.
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


class VersionPanel(QGroupBox):
    pollToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Versions", parent)
        self.remote_label = _value_label("remoteVersionLabel", "Not checked yet.")
        self.database_label = _value_label("databaseVersionLabel", "Not read yet.")
        self.status_label = _value_label("statusLabel", "Starting…")
        font = self.status_label.font()
        font.setBold(True)
        self.status_label.setFont(font)
        self.next_check_label = _value_label("nextCheckLabel", "")
        self.next_check_label.setWordWrap(False)
        self.poll_check_box = QCheckBox("Check every 20 minutes")
        self.poll_check_box.setObjectName("pollCheckBox")
        self.poll_check_box.setToolTip(
            "Check Bungie.net on a schedule and load a new manifest when there is one."
        )
        self.poll_check_box.toggled.connect(self.pollToggled)

        next_row = QHBoxLayout()
        next_row.setContentsMargins(0, 0, 0, 0)
        next_row.addWidget(self.next_check_label, 1)
        next_row.addWidget(self.poll_check_box)

        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.addRow("Bungie.net:", self.remote_label)
        form.addRow("Database:", self.database_label)
        form.addRow("Status:", self.status_label)
        form.addRow("Next check:", next_row)

    # Updates ------------------------------------------------------------------------------------
    def show_remote(self, version: str, path: str, checked_at: datetime) -> None:
        self.remote_label.setText(
            f"{version} · checked at {clock_time(checked_at)}\n{path_name(path)}"
        )
        self.remote_label.setToolTip(path)

    def show_database(self, current: DatabaseVersion | None, live_rows: int | None) -> None:
        if current is None:
            self.database_label.setText("Empty: no manifest loaded yet.")
            self.database_label.setToolTip("")
            return
        rows = f" · {live_rows:,} live rows" if live_rows is not None else ""
        self.database_label.setText(
            f"{current.version}\n#{current.manifest_id} · loaded {clock_time(current.loaded_at)}"
            f"{rows}"
        )
        self.database_label.setToolTip(current.path)

    def show_database_text(self, text: str) -> None:
        self.database_label.setText(text)

    def set_status(self, text: str, tone: Tone = Tone.NEUTRAL) -> None:
        self.status_label.setText(text)
        colour = STATUS_COLOURS.get(tone, "")
        self.status_label.setStyleSheet(f"color: {colour};" if colour else "")
        self.status_label.setProperty("statusKind", str(tone))

    def set_poll_minutes(self, minutes: int) -> None:
        self.poll_check_box.setText(
            "Check every minute" if minutes == 1 else f"Check every {minutes} minutes"
        )

    def set_polling(self, enabled: bool) -> None:
        blocked = self.poll_check_box.blockSignals(True)
        self.poll_check_box.setChecked(enabled)
        self.poll_check_box.blockSignals(blocked)

    def show_next_check(self, moment: datetime | None, now: datetime) -> None:
        if moment is None:
            self.next_check_label.setText("Automatic checks are paused.")
        else:
            self.next_check_label.setText(f"{clock_time(moment, now)} ({until(moment, now)})")
