"""Settings: the API key (keyring), the database, language, polling, tray; and the archive
section when that feature is installed. Secrets go to the SecretStore, never to the file."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..engine.database import connect, describe_url, url_problem
from ..engine.errors import ConfigurationError, ManifestGuiError, SecretStoreError
from ..engine.progress import Progress
from ..engine.secrets import API_KEY_ENTRY, API_KEY_ENVIRONMENT, SecretStore, database_entry
from ..engine.settings import ENVIRONMENT, LANGUAGES, Settings, strip_password
from .workers import JobRunner

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
ERROR_COLOUR = "#b42318"
OK_COLOUR = "#1a7f37"


def _variable(field: str) -> str:
    return next((name for name, value in ENVIRONMENT.items() if value == field), field)


def _wrapping(label: QLabel) -> QLabel:
    """Wrapping labels report a narrow size hint; let them take the whole field column."""
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


def _hint(text: str) -> QLabel:
    label = _wrapping(QLabel(text))
    label.setEnabled(False)  # greyed: an explanation, not a value
    return label


def _password_with_stored(url: str, password: str, secrets: SecretStore) -> str:
    """The URL to connect with: the typed password, else the stored one."""
    from psycopg.conninfo import make_conninfo

    stripped = strip_password(url)
    if password:
        return make_conninfo(url, password=password)
    stored = secrets.get(database_entry(stripped))
    return make_conninfo(url, password=stored) if stored and stripped == url else url


def test_connection(url: str, progress: Progress) -> str:
    """Runs in a worker: connect, ask the server's version, return a sentence."""
    with connect(url, autocommit=True) as conn:
        progress.check_cancelled()
        row = conn.execute("SHOW server_version").fetchone()
    version = row[0] if row else "?"
    return f"Connected to PostgreSQL {version} at {describe_url(url)}."


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
        self._tester = JobRunner(self, name="test-connection")
        self._tester.succeeded.connect(self._on_test_succeeded)
        self._tester.failed.connect(self._on_test_failed)
        self._tester.busyChanged.connect(self._update_database_widgets)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_page(settings, tray_available), "&General")
        self.tabs.addTab(self._database_page(settings), "&Database")
        self.archive_widget: Any = None
        try:
            from .archive_settings import ArchiveSettingsWidget
        except ImportError:
            pass
        else:
            self.archive_widget = ArchiveSettingsWidget(settings, self)
            self.tabs.addTab(self.archive_widget, "&Archive")

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
        self._update_database_widgets()

    # General ------------------------------------------------------------------------------------
    def _general_page(self, settings: Settings, tray_available: bool) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.api_key_edit = QLineEdit()
        self.api_key_edit.setObjectName("apiKeyEdit")
        self.api_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key_edit.setClearButtonEnabled(True)
        self.api_key_edit.setMinimumWidth(280)
        self.show_key_box = QCheckBox("Sho&w")
        self.show_key_box.setObjectName("showApiKeyCheckBox")
        self.show_key_box.toggled.connect(
            lambda shown: self.api_key_edit.setEchoMode(
                QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
            )
        )
        self.clear_key_button = QPushButton("Cl&ear")
        self.clear_key_button.setObjectName("clearApiKeyButton")
        self.clear_key_button.setToolTip("Forget the stored API key (when you press OK).")
        self.clear_key_button.clicked.connect(self.clear_api_key)
        key_row = QHBoxLayout()
        key_row.setContentsMargins(0, 0, 0, 0)
        key_row.addWidget(self.api_key_edit, 1)
        key_row.addWidget(self.show_key_box)
        key_row.addWidget(self.clear_key_button)
        form.addRow("Bungie.net API &key:", key_row)
        self._set_buddy(form, key_row, self.api_key_edit)

        self.api_key_status = _wrapping(QLabel())
        self.api_key_status.setObjectName("apiKeyStatusLabel")
        form.addRow("", self.api_key_status)

        self.keyring_warning = _wrapping(
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
        self._environment_lock(self.language_combo, "language")
        form.addRow("Manifest &language:", self.language_combo)

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
        self._set_buddy(form, poll_row, self.poll_enabled_box)

        self.start_hidden_box = QCheckBox("Start &hidden in the system tray")
        self.start_hidden_box.setObjectName("startHiddenCheckBox")
        self.start_hidden_box.setChecked(settings.start_hidden)
        if not tray_available:
            self.start_hidden_box.setEnabled(False)
            self.start_hidden_box.setToolTip("No system tray is available on this desktop.")
        form.addRow("Startup:", self.start_hidden_box)
        return page

    @staticmethod
    def _set_buddy(form: QFormLayout, field: QHBoxLayout, buddy: QWidget) -> None:
        label = form.labelForField(field)
        if isinstance(label, QLabel):
            label.setBuddy(buddy)

    def _environment_lock(self, widget: QWidget, field: str) -> None:
        if field in self._settings.from_environment:
            widget.setEnabled(False)
            widget.setToolTip(f"Set by the environment variable {_variable(field)}.")

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

    # Database -----------------------------------------------------------------------------------
    def _database_page(self, settings: Settings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.embedded_radio = QRadioButton("&Embedded PostgreSQL, kept in the data folder")
        self.embedded_radio.setObjectName("embeddedRadio")
        self.server_radio = QRadioButton("PostgreSQL &server:")
        self.server_radio.setObjectName("serverRadio")
        group = QButtonGroup(page)
        group.addButton(self.embedded_radio)
        group.addButton(self.server_radio)
        (self.server_radio if settings.database_url else self.embedded_radio).setChecked(True)
        self.embedded_radio.toggled.connect(self._update_database_widgets)
        form.addRow(self.embedded_radio)
        form.addRow("", _hint(str(settings.embedded_database_path)))
        form.addRow(self.server_radio)

        self.database_url_edit = QLineEdit(settings.database_url or "")
        self.database_url_edit.setObjectName("databaseUrlEdit")
        self.database_url_edit.setPlaceholderText("postgresql://user@host:5432/dbname")
        self.database_url_edit.setMinimumWidth(320)
        # Asking the keyring whether a password is stored for the URL is a D-Bus round trip:
        # once typing pauses, not on every keystroke (started before the update below runs).
        self._password_lookup = QTimer(self, singleShot=True, interval=400)
        self._password_lookup.timeout.connect(self._show_stored_password)
        self.database_url_edit.textChanged.connect(self._password_lookup.start)
        self.database_url_edit.textChanged.connect(self._update_database_widgets)
        form.addRow("&URL:", self.database_url_edit)

        self.database_password_edit = QLineEdit()
        self.database_password_edit.setObjectName("databasePasswordEdit")
        self.database_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("&Password:", self.database_password_edit)

        self.test_button = QPushButton("&Test connection")
        self.test_button.setObjectName("testConnectionButton")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = _wrapping(QLabel())
        self.test_result.setObjectName("testConnectionLabel")
        test_row = QHBoxLayout()
        test_row.setContentsMargins(0, 0, 0, 0)
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        form.addRow("", test_row)
        form.addRow(
            "",
            _hint(
                "The password is kept in the keyring, never in the settings file."
                if self._keyring
                else "Without a keyring the password is kept for this run only."
            ),
        )

        if "database_url" in settings.from_environment:
            for widget in (self.embedded_radio, self.server_radio, self.database_url_edit):
                widget.setEnabled(False)
                widget.setToolTip("Set by the environment variable MANIFEST_GUI_DATABASE_URL.")
        return page

    def _server_url(self) -> str:
        return self.database_url_edit.text().strip()

    @Slot()
    def _update_database_widgets(self) -> None:
        server = self.server_radio.isChecked()
        locked = "database_url" in self._settings.from_environment
        self.database_url_edit.setEnabled(server and not locked)
        self.database_password_edit.setEnabled(server)
        self.test_button.setEnabled(server and bool(self._server_url()) and not self._tester.busy)
        if not self._password_lookup.isActive():
            self._show_stored_password()

    @Slot()
    def _show_stored_password(self) -> None:
        url = self._server_url()
        if self.server_radio.isChecked() and url:
            stored = self._secrets.get(database_entry(strip_password(url)))
            self.database_password_edit.setPlaceholderText(
                "Stored in the keyring · type to replace" if stored else "None stored"
            )
        else:
            self.database_password_edit.setPlaceholderText("")

    @Slot()
    def test_connection(self) -> None:
        if self._tester.busy:
            return
        url = _password_with_stored(
            self._server_url(), self.database_password_edit.text(), self._secrets
        )
        self.test_result.setStyleSheet("")
        self.test_result.setText("Connecting…")
        self._tester.start("test", lambda progress: test_connection(url, progress))

    @Slot(str, object)
    def _on_test_succeeded(self, _kind: str, sentence: object) -> None:
        self.test_result.setStyleSheet(f"color: {OK_COLOUR};")
        self.test_result.setText(str(sentence))

    @Slot(str, object, str)
    def _on_test_failed(self, _kind: str, error: object, details: str) -> None:
        self.test_result.setStyleSheet(f"color: {ERROR_COLOUR};")
        if details:
            log.error("Testing the database connection failed:\n%s", details)
            self.test_result.setText(f"Unexpected error ({type(error).__name__}); see the log.")
        else:
            self.test_result.setText(str(error))

    # Accept -------------------------------------------------------------------------------------
    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def new_settings(self) -> Settings:
        """The settings as the form shows them (ConfigurationError when invalid)."""
        settings = self._settings
        changes: dict[str, Any] = {
            "poll_enabled": self.poll_enabled_box.isChecked(),
            "poll_minutes": self.poll_spin.value(),
            "start_hidden": self.start_hidden_box.isChecked(),
        }
        if "language" not in settings.from_environment:
            changes["language"] = self.language_combo.currentData()
        if "database_url" not in settings.from_environment:
            if self.server_radio.isChecked():
                url = self._server_url()
                if not url:
                    raise ConfigurationError("Enter the PostgreSQL server's URL, or pick embedded.")
                problem = url_problem(url)
                if problem is not None:
                    raise ConfigurationError(problem)
                changes["database_url"] = strip_password(url)
            else:
                changes["database_url"] = None
        new = dataclasses.replace(settings, **changes)
        if self.archive_widget is not None:
            new = self.archive_widget.apply_to(new)
        return new.validated()

    def _store_secrets(self) -> None:
        session_only = self.session_only_box.isChecked() or not self._keyring
        key = self.api_key_edit.text().strip()
        if key:
            self._secrets.set_api_key(key, session_only=session_only)
            log.info("The API key was %s", "kept for this run" if session_only else "stored")
        elif self._clear_key:
            self._secrets.delete_api_key()
            log.info("The API key was cleared")
        url = self._server_url()
        if self.server_radio.isChecked() and url:
            from psycopg.conninfo import conninfo_to_dict

            password = self.database_password_edit.text()
            if not password:
                try:
                    password = str(conninfo_to_dict(url).get("password") or "")
                except Exception:
                    password = ""
            if password:
                entry = database_entry(strip_password(url))
                self._secrets.set(entry, password, session_only=session_only)

    def accept(self) -> None:
        try:
            settings = self.new_settings()
        except ConfigurationError as exc:
            self._show_error(str(exc))
            return
        typed = self.api_key_edit.text().strip() or self.database_password_edit.text()
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

    def add_tab(self, page: QWidget, title: str) -> int:
        """Add a page after the others; returns its index."""
        return self.tabs.addTab(page, title)

    def done(self, result: int) -> None:
        # A connection test or a cache clear still running ends on its own: closing never waits.
        self._tester.detach()
        if self.archive_widget is not None:
            self.archive_widget.shutdown()
        super().done(result)
