"""The Database page of Settings: the embedded PostgreSQL or a server's URL, its password (to the
keyring, never the file), a connection test that runs in a worker, and the data folder (the
embedded database, the download cache and the logs)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import platformdirs
from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from .. import APP_NAME
from ..engine.database import connect, describe_url, url_problem
from ..engine.datadir import data_dir_problem
from ..engine.errors import ConfigurationError
from ..engine.progress import Progress
from ..engine.secrets import SecretStore, database_entry
from ..engine.settings import Settings, strip_password
from .settings_fields import (
    form_page,
    hint,
    lock_from_environment,
    set_buddy,
    wrapping,
)
from .test_button_runner import TestButtonRunner

log = logging.getLogger(__name__)


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


class DatabaseSettingsPage(QWidget):
    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        *,
        keyring: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._secrets = secrets
        self._tester = TestButtonRunner(
            self,
            name="test-connection",
            bug_log="Testing the database connection failed:",
            bug_words="Unexpected error ({name}); see the log.",
        )
        self._tester.busyChanged.connect(self._update_widgets)
        form = form_page(self)

        self.embedded_radio = QRadioButton("&Embedded PostgreSQL, kept in the data folder")
        self.embedded_radio.setObjectName("embeddedRadio")
        self.server_radio = QRadioButton("PostgreSQL &server:")
        self.server_radio.setObjectName("serverRadio")
        group = QButtonGroup(self)
        group.addButton(self.embedded_radio)
        group.addButton(self.server_radio)
        (self.server_radio if settings.database_url else self.embedded_radio).setChecked(True)
        self.embedded_radio.toggled.connect(self._update_widgets)
        form.addRow(self.embedded_radio)
        form.addRow("", hint(str(settings.embedded_database_path)))
        form.addRow(self.server_radio)

        self.url_edit = QLineEdit(settings.database_url or "")
        self.url_edit.setObjectName("databaseUrlEdit")
        self.url_edit.setPlaceholderText("postgresql://user@host:5432/dbname")
        self.url_edit.setMinimumWidth(320)
        # Asking the keyring whether a password is stored for the URL is a D-Bus round trip:
        # once typing pauses, not on every keystroke (started before the update below runs).
        self._password_lookup = QTimer(self, singleShot=True, interval=400)
        self._password_lookup.timeout.connect(self._show_stored_password)
        self.url_edit.textChanged.connect(self._password_lookup.start)
        self.url_edit.textChanged.connect(self._update_widgets)
        form.addRow("&URL:", self.url_edit)

        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("databasePasswordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("&Password:", self.password_edit)

        self.test_button = QPushButton("&Test connection")
        self.test_button.setObjectName("testConnectionButton")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = wrapping(QLabel())
        self.test_result.setObjectName("testConnectionLabel")
        self._tester.label = self.test_result
        test_row = QHBoxLayout()
        test_row.setContentsMargins(0, 0, 0, 0)
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        form.addRow("", test_row)
        form.addRow(
            "",
            hint(
                "The password is kept in the keyring, never in the settings file."
                if keyring
                else "Without a keyring the password is kept for this run only."
            ),
        )
        self._locked = lock_from_environment(
            settings, "database_url", self.embedded_radio, self.server_radio, self.url_edit
        )
        self._add_data_dir_row(form, settings)
        self._update_widgets()

    def _add_data_dir_row(self, form: QFormLayout, settings: Settings) -> None:
        self.data_dir_edit = QLineEdit(settings.data_dir or "")
        self.data_dir_edit.setObjectName("dataDirEdit")
        self.data_dir_edit.setPlaceholderText(platformdirs.user_data_dir(APP_NAME))
        self.data_dir_edit.setToolTip(
            "Where the embedded database, the download cache and the logs are kept; "
            "empty for the default."
        )
        browse = QPushButton("&Browse…")
        browse.setObjectName("dataDirBrowseButton")
        browse.clicked.connect(self._choose_data_dir)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.data_dir_edit, 1)
        row.addWidget(browse)
        form.addRow("Data &folder:", row)
        set_buddy(form, row, self.data_dir_edit)
        self._data_dir_locked = lock_from_environment(
            settings, "data_dir", self.data_dir_edit, browse
        )

    @Slot()
    def _choose_data_dir(self) -> None:
        start = self.data_dir_edit.text().strip() or self.data_dir_edit.placeholderText()
        folder = QFileDialog.getExistingDirectory(self, "Choose the data folder", start)
        if folder:
            self.data_dir_edit.setText(folder)

    def server_url(self) -> str:
        return self.url_edit.text().strip()

    def apply_to(self, settings: Settings) -> Settings:
        """The settings with this page's database and data folder (ConfigurationError when
        either is unusable)."""
        settings = self._apply_data_dir(settings)
        if self._locked:
            return settings
        if not self.server_radio.isChecked():
            return dataclasses.replace(settings, database_url=None)
        url = self.server_url()
        if not url:
            raise ConfigurationError("Enter the PostgreSQL server's URL, or pick embedded.")
        problem = url_problem(url)
        if problem is not None:
            raise ConfigurationError(problem)
        return dataclasses.replace(settings, database_url=strip_password(url))

    def _apply_data_dir(self, settings: Settings) -> Settings:
        if self._data_dir_locked:
            return settings
        text = self.data_dir_edit.text().strip()
        data_dir = str(Path(text).expanduser()) if text else None
        if data_dir != settings.data_dir:
            new = dataclasses.replace(settings, data_dir=data_dir)
            problem = data_dir_problem(new.data_path)
            if problem is not None:
                raise ConfigurationError(str(problem))
            return new
        return settings

    def typed_secret(self) -> bool:
        return bool(self.password_edit.text())

    def store_password(self, *, session_only: bool) -> None:
        """The typed password (or one written in the URL) to the keyring."""
        url = self.server_url()
        if not (self.server_radio.isChecked() and url):
            return
        from psycopg.conninfo import conninfo_to_dict

        password = self.password_edit.text()
        if not password:
            try:
                password = str(conninfo_to_dict(url).get("password") or "")
            except Exception:
                password = ""
        if password:
            entry = database_entry(strip_password(url))
            self._secrets.set(entry, password, session_only=session_only)

    @Slot()
    def _update_widgets(self) -> None:
        server = self.server_radio.isChecked()
        self.url_edit.setEnabled(server and not self._locked)
        self.password_edit.setEnabled(server)
        self.test_button.setEnabled(server and bool(self.server_url()) and not self._tester.busy)
        if not self._password_lookup.isActive():
            self._show_stored_password()

    @Slot()
    def _show_stored_password(self) -> None:
        url = self.server_url()
        if self.server_radio.isChecked() and url:
            stored = self._secrets.get(database_entry(strip_password(url)))
            self.password_edit.setPlaceholderText(
                "Stored in the keyring · type to replace" if stored else "None stored"
            )
        else:
            self.password_edit.setPlaceholderText("")

    @Slot()
    def test_connection(self) -> None:
        if self._tester.busy:
            return
        url = _password_with_stored(self.server_url(), self.password_edit.text(), self._secrets)
        self._tester.run("test", "Connecting…", lambda progress: test_connection(url, progress))

    def shutdown(self) -> None:
        """A connection test still running ends on its own: closing never waits."""
        self._tester.detach()
