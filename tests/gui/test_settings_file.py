"""A bad value in settings.json: a warning in the log names the file and the key, the value
falls back to its default, the others are kept, and the window still opens."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox

from manifest_gui.app import Application
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.settings import Settings, environment_variable, load_settings, options

BAD_VALUES = {
    "poll_minutes": 0,
    "language": "English",
    "cache_days": "weekly",
    "start_hidden": [1],
    "bungie_root": "ftp://example.com",
}


def _write(path: Path, values: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values), encoding="utf-8")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_each_bad_value_falls_back_to_its_default_with_a_warning_naming_file_and_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config" / "settings.json"
    _write(path, {**BAD_VALUES, "s3_prefix": "kept/here", "archive_days": 3})
    with caplog.at_level(logging.WARNING):
        settings = load_settings(path, environ={})
    defaults = Settings()
    for name in BAD_VALUES:
        assert getattr(settings, name) == getattr(defaults, name), name
        (warning,) = [w for w in _warnings(caplog) if repr(name) in w]
        assert str(path) in warning and "using its default" in warning
    assert (settings.s3_prefix, settings.archive_days) == ("kept/here", 3)
    assert settings.validated() is settings
    # Why each one was refused is said in the sentence (the same words validated() uses).
    assert any("at least one minute" in w and "'poll_minutes'" in w for w in _warnings(caplog))
    assert any("not a language code" in w for w in _warnings(caplog))


def test_the_window_opens_with_the_default_and_the_warning_in_the_log(
    qtbot: Any,
    tmp_path: Path,
    secrets: SecretStore,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MANIFEST_GUI_DATABASE_URL", raising=False)
    path = tmp_path / "config" / "settings.json"
    _write(path, {"poll_minutes": -5, "poll_enabled": False})
    with caplog.at_level(logging.WARNING):
        app = Application(
            secrets=secrets,
            settings_path=path,
            state=QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat),
            tray=False,
        )
    qtbot.addWidget(app.window)
    try:
        app.start(hidden=False, startup_job=None)
        assert app.window.isVisible()
        assert app.settings.poll_minutes == Settings().poll_minutes
        assert app.settings.poll_enabled is False  # the good value next to it is kept
        box = app.window.findChild(QCheckBox, "pollCheckBox")
        assert box.text() == f"Check every {Settings().poll_minutes} minutes"
        assert any(str(path) in w and "'poll_minutes'" in w for w in _warnings(caplog))
    finally:
        app.shutdown()


def test_every_setting_is_declared_once_with_its_variable() -> None:
    names = [field.name for field in options()]
    assert "from_environment" not in names and len(names) == len(set(names))
    assert environment_variable("database_url") == "MANIFEST_GUI_DATABASE_URL"
    assert environment_variable("poll_minutes") is None
