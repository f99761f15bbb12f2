"""Settings: the API key (keyring), language, polling, tray on the General page; the Database
and Archive pages are widgets of their own, and other parts add pages with add_tab(). Secrets
go to the SecretStore, never to the file."""

from __future__ import annotations

import dataclasses
import logging
import os

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..engine.errors import ConfigurationError, ManifestGuiError, SecretStoreError
from ..engine.secrets import API_KEY_ENTRY, API_KEY_ENVIRONMENT, SecretStore
from ..engine.settings import LANGUAGES, Settings
from .archive_settings import ArchiveSettingsWidget
from .database_settings import DatabaseSettingsPage
from .secret_row import secret_row
from .settings_fields import ERROR_COLOUR, form_page, lock_from_environment, set_buddy, wrapping

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "es-mx": "Español (México)",
    "de": "Deutsch",
    "it": "Italiano",
    "ja": "日本語",
    "pt-br": "Português (Brasil)",
    "ru": "Русский",
    "pl": "Polski",
    "ko": "한국어",
    "zh-cht": "中文 (繁體)",
    "zh-chs": "中文 (简体)",
}


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        *,
        tray_available: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self._settings = settings
        self._secrets = secrets
        self.result_settings: Settings | None = None
        self._keyring = secrets.keyring_available()
        self._clear_key = False  # Clear pressed: forget the stored key on OK

        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_page(settings, tray_available), "&General")
        self.database_page = DatabaseSettingsPage(
            settings, secrets, keyring=self._keyring, parent=self
        )
        self.tabs.addTab(self.database_page, "&Database")
        self.archive_widget = ArchiveSettingsWidget(settings, self)
        self.tabs.addTab(self.archive_widget, "&Archive")
        # The Database page's fields, by the names tests and automation know them by.
        self.server_radio = self.database_page.server_radio
        self.database_url_edit = self.database_page.url_edit
        self.database_password_edit = self.database_page.password_edit

        self.error_label = QLabel()
        self.error_label.setObjectName("settingsErrorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error_label.hide()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        QWidget.setTabOrder(self.tabs, self.api_key_edit)  # the tabs first, then the form
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(max(620, self.sizeHint().width()), self.sizeHint().height())
        self._update_api_key_status()

    # General ------------------------------------------------------------------------------------
    def _general_page(self, settings: Settings, tray_available: bool) -> QWidget:
        page = QWidget()
        form = form_page(page)
        self._add_api_key_rows(form)
        self._add_language_row(form, settings)
        self._add_polling_rows(form, settings, tray_available)
        return page

    def _add_api_key_rows(self, form: QFormLayout) -> None:
        key = secret_row(
            "apiKeyEdit", "ApiKey", "Sho&w", "Forget the stored API key (when you press OK)."
        )
        self.api_key_edit, self.show_key_box = key.edit, key.show_box
        self.clear_key_button = key.clear_button
        self.api_key_edit.setMinimumWidth(280)
        self.clear_key_button.clicked.connect(self.clear_api_key)
        form.addRow("Bungie.net API &key:", key.layout)
        set_buddy(form, key.layout, self.api_key_edit)

        self.api_key_status = wrapping(QLabel())
        self.api_key_status.setObjectName("apiKeyStatusLabel")
        form.addRow("", self.api_key_status)

        self.keyring_warning = wrapping(
            QLabel(
                "No OS keyring is available on this system, so the API key and database "
                "password cannot be stored. manifest-gui never writes them to disk; it can keep "
                "them in memory for this run only."
            )
        )
        self.keyring_warning.setObjectName("keyringWarningLabel")
        self.keyring_warning.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.session_only_box = QCheckBox("Keep secrets for this r&un only")
        self.session_only_box.setObjectName("sessionOnlyCheckBox")
        self.session_only_box.setChecked(not self._keyring)
        form.addRow("", self.keyring_warning)
        form.addRow("", self.session_only_box)
        self.keyring_warning.setVisible(not self._keyring)
        self.session_only_box.setVisible(not self._keyring)

    def _add_language_row(self, form: QFormLayout, settings: Settings) -> None:
        self.language_combo = QComboBox()
        self.language_combo.setObjectName("languageCombo")
        self.language_combo.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        for code in LANGUAGES:
            self.language_combo.addItem(f"{LANGUAGE_NAMES.get(code, code)} ({code})", code)
        if self.language_combo.findData(settings.language) < 0:
            # A code Bungie.net added since (or a typo): shown and kept as it is, not replaced.
            self.language_combo.addItem(
                f"{settings.language} (not in the usual list)", settings.language
            )
        self.language_combo.setCurrentIndex(max(0, self.language_combo.findData(settings.language)))
        lock_from_environment(settings, "language", self.language_combo)
        form.addRow("Manifest &language:", self.language_combo)

    def _add_polling_rows(
        self, form: QFormLayout, settings: Settings, tray_available: bool
    ) -> None:
        self.poll_spin = QSpinBox()
        self.poll_spin.setObjectName("pollIntervalSpinBox")
        self.poll_spin.setRange(1, 24 * 60)
        self.poll_spin.setSuffix(" min")
        self.poll_spin.setValue(settings.poll_minutes)
        self.poll_enabled_box = QCheckBox("Check automatically every")
        self.poll_enabled_box.setObjectName("pollEnabledCheckBox")
        self.poll_enabled_box.setChecked(settings.poll_enabled)
        self.poll_enabled_box.toggled.connect(self.poll_spin.setEnabled)
        self.poll_spin.setEnabled(settings.poll_enabled)
        poll_row = QHBoxLayout()
        poll_row.setContentsMargins(0, 0, 0, 0)
        poll_row.addWidget(self.poll_enabled_box)
        poll_row.addWidget(self.poll_spin)
        poll_row.addStretch(1)
        form.addRow("&Polling:", poll_row)
        set_buddy(form, poll_row, self.poll_enabled_box)

        self.start_hidden_box = QCheckBox("Start &hidden in the system tray")
        self.start_hidden_box.setObjectName("startHiddenCheckBox")
        self.start_hidden_box.setChecked(settings.start_hidden)
        if not tray_available:
            self.start_hidden_box.setEnabled(False)
            self.start_hidden_box.setToolTip("No system tray is available on this desktop.")
        form.addRow("Startup:", self.start_hidden_box)

    def _update_api_key_status(self) -> None:
        secrets = self._secrets
        if self._clear_key:
            self.api_key_status.setText("The stored key will be forgotten when you press OK.")
            self.clear_key_button.setEnabled(False)
            self.api_key_edit.setPlaceholderText("Paste your API key")
            return
        if os.environ.get(API_KEY_ENVIRONMENT):
            text = f"The key comes from {API_KEY_ENVIRONMENT}; that variable wins over this field."
        elif secrets.is_session_only(API_KEY_ENTRY):
            text = "A key is kept in memory for this run only."
        elif secrets.get(API_KEY_ENTRY):
            text = f"A key is stored in the keyring ({secrets.backend_name()})."
        else:
            text = "No key is stored. Type one to store it in the keyring."
            if not self._keyring:
                text = "No key is stored."
        self.api_key_status.setText(text)
        stored = bool(secrets.get(API_KEY_ENTRY))
        self.clear_key_button.setEnabled(stored)
        self.api_key_edit.setPlaceholderText(
            "Stored · type a new key to replace it" if stored else "Paste your API key"
        )

    @Slot()
    def clear_api_key(self) -> None:
        """Mark the stored key to be forgotten on OK (Cancel keeps it, like every change)."""
        self._clear_key = True
        self.api_key_edit.clear()
        self._update_api_key_status()

    # Accept -------------------------------------------------------------------------------------
    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def new_settings(self) -> Settings:
        """The settings as the form shows them (ConfigurationError when invalid)."""
        settings = self._settings
        new = dataclasses.replace(
            settings,
            poll_enabled=self.poll_enabled_box.isChecked(),
            poll_minutes=self.poll_spin.value(),
            start_hidden=self.start_hidden_box.isChecked(),
        )
        if "language" not in settings.from_environment:
            new = dataclasses.replace(new, language=self.language_combo.currentData())
        new = self.database_page.apply_to(new)
        return self.archive_widget.apply_to(new).validated()

    def _store_secrets(self) -> None:
        session_only = self.session_only_box.isChecked() or not self._keyring
        key = self.api_key_edit.text().strip()
        if key:
            self._secrets.set_api_key(key, session_only=session_only)
            log.info("The API key was %s", "kept for this run" if session_only else "stored")
        elif self._clear_key:
            self._secrets.delete_api_key()
            log.info("The API key was cleared")
        self.database_page.store_password(session_only=session_only)

    def accept(self) -> None:
        try:
            settings = self.new_settings()
        except ConfigurationError as exc:
            self._show_error(str(exc))
            return
        typed = self.api_key_edit.text().strip() or self.database_page.typed_secret()
        if typed and not self._keyring and not self.session_only_box.isChecked():
            # Nowhere to store it, and not allowed to keep it in memory: ask, never guess.
            self._show_error(
                "There is no keyring to store the key or password in; tick “Keep secrets for "
                "this run only” to keep them until manifest-gui quits."
            )
            self.tabs.setCurrentIndex(0)
            return
        try:
            self._store_secrets()
        except SecretStoreError as exc:
            # The keyring failed now although it looked usable: offer this run only.
            self._show_error(f"{exc} Tick “Keep secrets for this run only” to continue.")
            self.keyring_warning.show()
            self.session_only_box.show()
            self.tabs.setCurrentIndex(0)
            return
        except ManifestGuiError as exc:
            self._show_error(str(exc))
            return
        self.result_settings = settings
        super().accept()

    def follow_polling(self, enabled: bool) -> None:
        """Polling was switched elsewhere (tray, window): OK must not undo it."""
        self.poll_enabled_box.setChecked(enabled)

    def show_data_dir(self) -> None:
        """Open on the data folder (the window's data dir dialog points here)."""
        self.tabs.setCurrentWidget(self.database_page)
        self.database_page.data_dir_edit.setFocus()

    def add_tab(self, page: QWidget, title: str) -> int:
        """Add a page after the others; returns its index."""
        return self.tabs.addTab(page, title)

    def done(self, result: int) -> None:
        # A connection test or a cache clear still running ends on its own: closing never waits.
        self.database_page.shutdown()
        self.archive_widget.shutdown()
        super().done(result)
