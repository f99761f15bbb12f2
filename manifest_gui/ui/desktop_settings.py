"""The Desktop page of Settings: start at login, and the applications-menu entry.

Both act on the desktop at once, not on the settings file: the start-at-login entry is written
or removed when Settings is accepted, even while a job runs (it does not affect the job), and
the menu button adds or removes the launcher when clicked. The checkbox shows whether the entry
exists now, not what a setting says.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ..engine.autostart import Autostart, DesktopIntegrationError, autostart_for_platform
from ..engine.desktop_entry import MenuEntry
from .settings_dialog import SettingsDialog

log = logging.getLogger(__name__)


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    label.setEnabled(False)  # greyed: an explanation, not a value
    return label


def _short(path: str) -> str:
    """A path under the home folder written with ~, as users know it."""
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + os.sep) else path


class DesktopSettingsWidget(QWidget):
    def __init__(
        self,
        autostart: Autostart | None = None,
        menu_entry: MenuEntry | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("desktopSettings")
        self.autostart = autostart if autostart is not None else autostart_for_platform()
        self.menu_entry = menu_entry if menu_entry is not None else MenuEntry.for_user()

        self.start_at_login_box = QCheckBox("Start manifest-gui when I &log in")
        self.start_at_login_box.setObjectName("startAtLoginCheckBox")
        self.start_at_login_box.setChecked(self.autostart.is_enabled())
        login_hint = _hint(
            "It starts hidden in the system tray and keeps checking for new manifests. "
            f"Written to {_short(self.autostart.location())} when you press OK."
        )
        login_hint.setObjectName("startAtLoginHint")

        self.menu_button = QPushButton()
        self.menu_button.setObjectName("applicationsMenuButton")
        self.menu_button.clicked.connect(self.toggle_menu_entry)
        self.menu_status = QLabel()
        self.menu_status.setObjectName("applicationsMenuLabel")
        menu_row = QHBoxLayout()
        menu_row.setContentsMargins(0, 0, 0, 0)
        menu_row.addWidget(self.menu_button)
        menu_row.addWidget(self.menu_status, 1)

        self.error_label = QLabel()
        self.error_label.setObjectName("desktopErrorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b42318;")
        self.error_label.hide()

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.addRow("Login:", self.start_at_login_box)
        form.addRow("", login_hint)
        form.addRow("Applications menu:", menu_row)
        form.addRow(
            "", _hint(f"A launcher and the icons, in {_short(str(self.menu_entry.data_home))}.")
        )
        form.addRow("", self.error_label)
        self._show_menu_state()

    def _show_menu_state(self) -> None:
        if not self.menu_entry.supported():
            self.menu_button.setText("Add to the applications &menu")
            self.menu_button.setEnabled(False)
            self.menu_status.setText("Not on this system; the README says why.")
        elif self.menu_entry.is_installed():
            self.menu_button.setText("Remove from the applications &menu")
            self.menu_status.setText("It is in the menu.")
        else:
            self.menu_button.setText("Add to the applications &menu")
            self.menu_status.setText("It is not in the menu yet.")

    @Slot()
    def toggle_menu_entry(self) -> None:
        try:
            if self.menu_entry.is_installed():
                self.menu_entry.uninstall()
                log.info("Removed the applications-menu entry")
            else:
                self.menu_entry.install()
                log.info("Added the applications-menu entry %s", self.menu_entry.launcher)
        except DesktopIntegrationError as exc:
            self._show_error(str(exc))
        else:
            self.error_label.hide()
        self._show_menu_state()

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def apply(self) -> str | None:
        """Write or remove the start-at-login entry as ticked; a sentence when that failed."""
        wanted = self.start_at_login_box.isChecked()
        try:
            if wanted and not self.autostart.is_enabled():
                self.autostart.enable()
                log.info("Start at login: wrote %s", self.autostart.location())
            elif not wanted and self.autostart.is_enabled():
                self.autostart.disable()
                log.info("Start at login: removed %s", self.autostart.location())
        except DesktopIntegrationError as exc:
            self._show_error(str(exc))
            return str(exc)
        return None


def add_desktop_page(
    dialog: SettingsDialog, report: Callable[[str, str], None]
) -> DesktopSettingsWidget:
    """Add the Desktop page to an opened Settings dialog; its OK writes the login entry at once
    (a job that runs meanwhile is not waited for); a failure goes to report(sentence, level)."""
    page = DesktopSettingsWidget(parent=dialog)
    dialog.add_tab(page, "Deskt&op")

    def apply() -> None:
        problem = page.apply()
        if problem is not None:
            report(f"Start at login was not changed: {problem}", "error")

    dialog.accepted.connect(apply)
    return page
