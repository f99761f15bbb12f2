"""The settings dialog: API key through the SecretStore, database URL and its password,
language, polling; and the plain no-keyring path."""

from __future__ import annotations

import json
from typing import Any

import keyring.backends.fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
)

from manifest_gui.engine.secrets import API_KEY_ENTRY, SecretStore, database_entry
from manifest_gui.ui.settings_dialog import SettingsDialog
from tests.gui.conftest import AppFactory, MemoryKeyring


def ok(dialog: SettingsDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_api_key_round_trips_through_the_secret_store(
    qtbot: Any, make_app: AppFactory, memory_keyring: MemoryKeyring, secrets: SecretStore
) -> None:
    app = make_app()
    dialog = app.open_settings()
    key_edit = dialog.findChild(QLineEdit, "apiKeyEdit")
    assert key_edit.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.findChild(QLabel, "apiKeyStatusLabel").text().startswith("No key is stored")
    assert not dialog.findChild(QLabel, "keyringWarningLabel").isVisibleTo(dialog)
    qtbot.keyClicks(key_edit, "abc123secret")
    ok(dialog)
    assert app.settings_dialog is None
    assert memory_keyring.passwords[("manifest-gui", API_KEY_ENTRY)] == "abc123secret"
    assert secrets.api_key() == "abc123secret"
    assert "abc123secret" not in make_app.settings_path.read_text()

    again = app.open_settings()
    status = again.findChild(QLabel, "apiKeyStatusLabel").text()
    assert status.startswith("A key is stored in the keyring"), status
    assert again.findChild(QLineEdit, "apiKeyEdit").text() == ""
    clear = again.findChild(QPushButton, "clearApiKeyButton")
    assert clear.isEnabled()
    clear.click()
    assert "forgotten when you press OK" in again.findChild(QLabel, "apiKeyStatusLabel").text()
    again.reject()  # Cancel undoes Clear, like every other change
    assert secrets.api_key() == "abc123secret"

    third = app.open_settings()
    third.findChild(QPushButton, "clearApiKeyButton").click()
    ok(third)
    assert secrets.api_key() is None
    fourth = app.open_settings()
    assert fourth.findChild(QLabel, "apiKeyStatusLabel").text().startswith("No key is stored")
    fourth.reject()


def test_general_settings_are_saved(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app()
    dialog = app.open_settings()
    combo = dialog.findChild(QComboBox, "languageCombo")
    combo.setCurrentIndex(combo.findData("fr"))
    spin = dialog.findChild(QSpinBox, "pollIntervalSpinBox")
    spin.setValue(45)
    ok(dialog)
    saved = json.loads(make_app.settings_path.read_text())
    assert saved["language"] == "fr" and saved["poll_minutes"] == 45
    assert app.service.settings.language == "fr"
    assert app.scheduler.minutes == 45
    assert app.window.findChild(QCheckBox, "pollCheckBox").text() == "Check every 45 minutes"


def test_database_url_password_goes_to_the_keyring(
    qtbot: Any, make_app: AppFactory, memory_keyring: MemoryKeyring
) -> None:
    app = make_app(database_url=None)
    dialog = app.open_settings()
    dialog.findChild(QRadioButton, "serverRadio").setChecked(True)
    url_edit = dialog.findChild(QLineEdit, "databaseUrlEdit")
    url_edit.setText("postgresql://admin:s3cret@db.example:5432/manifest")
    ok(dialog)
    saved = json.loads(make_app.settings_path.read_text())
    assert saved["database_url"] == "postgresql://admin@db.example:5432/manifest"
    entry = database_entry("postgresql://admin@db.example:5432/manifest")
    assert memory_keyring.passwords[("manifest-gui", entry)] == "s3cret"
    assert "s3cret" not in make_app.settings_path.read_text()
    assert "db.example:5432/manifest" in app.window.database_label.text()
    qtbot.waitUntil(lambda: not app.runner.busy)  # the switch job (the server is unreachable)


def test_test_connection_button(qtbot: Any, make_app: AppFactory, database_url: str) -> None:
    app = make_app(database_url=database_url)
    dialog = app.open_settings()
    result = dialog.findChild(QLabel, "testConnectionLabel")
    qtbot.mouseClick(
        dialog.findChild(QPushButton, "testConnectionButton"), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: result.text().startswith("Connected to PostgreSQL"), timeout=20_000)
    button = dialog.findChild(QPushButton, "testConnectionButton")
    dialog.findChild(QLineEdit, "databaseUrlEdit").setText("postgresql://nobody@127.0.0.1:1/x")
    qtbot.waitUntil(button.isEnabled)
    button.click()
    qtbot.waitUntil(lambda: result.text().startswith("Cannot connect"), timeout=20_000)
    dialog.reject()


def test_empty_server_url_is_refused_in_words(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app(database_url=None)
    dialog = app.open_settings()
    dialog.findChild(QRadioButton, "serverRadio").setChecked(True)
    ok(dialog)
    error = dialog.findChild(QLabel, "settingsErrorLabel")
    assert dialog.isVisible() and error.isVisibleTo(dialog)
    assert error.text() == "Enter the PostgreSQL server's URL, or pick embedded."
    dialog.reject()


def test_an_invalid_server_url_is_refused_and_nothing_saved(
    qtbot: Any, make_app: AppFactory
) -> None:
    app = make_app(database_url=None)
    before = make_app.settings_path.read_text() if make_app.settings_path.exists() else None
    dialog = app.open_settings()
    dialog.findChild(QRadioButton, "serverRadio").setChecked(True)
    dialog.findChild(QLineEdit, "databaseUrlEdit").setText("not a url")
    ok(dialog)
    error = dialog.findChild(QLabel, "settingsErrorLabel")
    assert dialog.isVisible() and error.text().startswith("The database URL is not a PostgreSQL")
    dialog.reject()
    after = make_app.settings_path.read_text() if make_app.settings_path.exists() else None
    assert after == before and app.settings.database_url is None


def test_a_language_bungie_added_later_is_kept(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app(language="xx-new")
    dialog = app.open_settings()
    combo = dialog.findChild(QComboBox, "languageCombo")
    assert combo.currentData() == "xx-new" and "xx-new" in combo.currentText()
    ok(dialog)
    assert app.settings.language == "xx-new"


def test_without_a_keyring_the_key_is_kept_for_this_run_only(
    qtbot: Any, make_app: AppFactory, tmp_path: Any
) -> None:
    secrets = SecretStore(keyring.backends.fail.Keyring())
    make_app.secrets = secrets
    app = make_app()
    dialog = app.open_settings()
    warning = dialog.findChild(QLabel, "keyringWarningLabel")
    assert warning.isVisibleTo(dialog)
    assert "No OS keyring is available" in warning.text()
    session_only = dialog.findChild(QCheckBox, "sessionOnlyCheckBox")
    assert session_only.isVisibleTo(dialog) and session_only.isChecked()
    qtbot.keyClicks(dialog.findChild(QLineEdit, "apiKeyEdit"), "only-in-memory")
    ok(dialog)
    assert secrets.api_key() == "only-in-memory"
    assert secrets.is_session_only(API_KEY_ENTRY)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"only-in-memory" not in path.read_bytes(), path
    again = app.open_settings()
    assert "for this run only" in again.findChild(QLabel, "apiKeyStatusLabel").text()
    again.reject()


def test_without_a_keyring_an_unticked_run_only_box_is_a_question_not_a_guess(
    qtbot: Any, make_app: AppFactory
) -> None:
    secrets = SecretStore(keyring.backends.fail.Keyring())
    make_app.secrets = secrets
    app = make_app()
    dialog = app.open_settings()
    dialog.findChild(QCheckBox, "sessionOnlyCheckBox").setChecked(False)
    qtbot.keyClicks(dialog.findChild(QLineEdit, "apiKeyEdit"), "where-to-put-it")
    ok(dialog)
    assert dialog.isVisible()
    assert "no keyring" in dialog.findChild(QLabel, "settingsErrorLabel").text()
    assert secrets.api_key() is None
    dialog.findChild(QCheckBox, "sessionOnlyCheckBox").setChecked(True)
    ok(dialog)
    assert not dialog.isVisible() and secrets.api_key() == "where-to-put-it"


def test_typing_a_url_asks_the_keyring_once_typing_pauses(
    qtbot: Any, make_app: AppFactory, memory_keyring: MemoryKeyring, secrets: SecretStore
) -> None:
    url = "postgresql://clan@db.example.test:5432/manifest"
    memory_keyring.passwords[("manifest-gui", database_entry(url))] = "hunter2"
    asked: list[str] = []
    lookup = memory_keyring.get_password

    def recording_lookup(service: str, username: str) -> str | None:
        asked.append(username)
        return lookup(service, username)

    memory_keyring.get_password = recording_lookup  # type: ignore[method-assign]
    app = make_app()
    dialog = app.open_settings()
    dialog.server_radio.setChecked(True)
    password = dialog.database_password_edit
    dialog.database_url_edit.clear()
    asked.clear()
    qtbot.keyClicks(dialog.database_url_edit, url)
    assert len(asked) <= 1, f"the keyring was asked {len(asked)} times while typing"
    qtbot.waitUntil(lambda: password.placeholderText().startswith("Stored in the keyring"))
    assert asked[-1] == database_entry(url)
    dialog.reject()


def test_pausing_elsewhere_while_settings_are_open_is_not_undone_by_ok(
    qtbot: Any, make_app: AppFactory
) -> None:
    app = make_app()
    assert app.settings.poll_enabled
    dialog = app.open_settings()
    app.set_polling(False)  # from the tray menu or the window's checkbox
    assert not dialog.findChild(QCheckBox, "pollEnabledCheckBox").isChecked()
    ok(dialog)
    assert not app.settings.poll_enabled
