"""The Archive settings section and the Load-from-archive dialog (pytest-qt, offscreen)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from manifest_gui.engine.archive import S3Archive
from manifest_gui.engine.errors import ConfigurationError
from manifest_gui.engine.progress import Progress
from manifest_gui.engine.settings import Settings
from manifest_gui.ui.archive_dialog import ArchiveDialog
from manifest_gui.ui.archive_settings import ArchiveSettingsWidget

from .conftest import make_service, random_file

# The offscreen platform plugin says so on every show(); it is not about our code.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

# --------------------------------------------------------------------------- settings section


def test_settings_widget_shows_and_applies_the_fields(
    qtbot: QtBot, tmp_path: Path, aws_environment: Path
) -> None:
    (aws_environment / "config").write_text("[profile work]\nregion = eu-west-1\n")
    (aws_environment / "credentials").write_text("[archive]\naws_access_key_id = A\n")
    settings = Settings(data_dir=str(tmp_path), s3_bucket="old-bucket", archive_days=7)
    widget = ArchiveSettingsWidget(settings)
    qtbot.addWidget(widget)

    assert widget.bucket_edit.text() == "old-bucket"
    assert widget.prefix_edit.text() == "manifests"
    combo = widget.profile_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [None, "archive", "work"]

    widget.bucket_edit.setText("  new-bucket ")
    widget.prefix_edit.setText("/d2/manifests/")
    widget.endpoint_edit.setText("http://127.0.0.1:9000")
    combo.setCurrentIndex(combo.findData("work"))
    widget.archive_days_spin.setValue(14)
    widget.cache_days_spin.setValue(3)
    applied = widget.apply_to(settings)
    assert applied == dataclasses.replace(
        settings,
        s3_bucket="new-bucket",
        s3_prefix="d2/manifests",
        s3_endpoint_url="http://127.0.0.1:9000",
        s3_profile="work",
        archive_days=14,
        cache_days=3,
    )

    widget.bucket_edit.clear()
    widget.prefix_edit.clear()
    widget.endpoint_edit.clear()
    combo.setCurrentIndex(0)
    applied = widget.apply_to(settings)
    assert (applied.s3_bucket, applied.s3_prefix, applied.s3_endpoint_url, applied.s3_profile) == (
        None,
        "manifests",
        None,
        None,
    )


def test_settings_widget_keeps_an_unknown_profile(qtbot: QtBot, tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), s3_profile="gone")
    widget = ArchiveSettingsWidget(settings)
    qtbot.addWidget(widget)
    assert widget.profile_combo.currentText() == "gone (not found)"
    assert widget.apply_to(settings).s3_profile == "gone"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host", "is not valid"),
        ("localhost:9000", "is not valid"),
        ("http://127.0.0.1:abc", "is not valid"),
        ("http://[::1", "is not valid"),
        ("http://key:secret@host:9000", "must not contain a user name or password"),
    ],
)
def test_settings_widget_refuses_bad_endpoints(
    qtbot: QtBot, tmp_path: Path, url: str, message: str
) -> None:
    widget = ArchiveSettingsWidget(Settings(data_dir=str(tmp_path)))
    qtbot.addWidget(widget)
    widget.endpoint_edit.setText(url)
    with pytest.raises(ConfigurationError, match=message):
        widget.apply_to(Settings(data_dir=str(tmp_path)))


def test_environment_fields_are_locked_and_kept(qtbot: QtBot, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=str(tmp_path),
        s3_bucket="from-env",
        from_environment=frozenset({"s3_bucket"}),
    )
    widget = ArchiveSettingsWidget(settings)
    qtbot.addWidget(widget)
    assert not widget.bucket_edit.isEnabled()
    assert "MANIFEST_GUI_S3_BUCKET" in widget.bucket_edit.toolTip()
    widget.bucket_edit.setText("changed")
    assert widget.apply_to(settings).s3_bucket == "from-env"


def test_cache_size_and_clear(qtbot: QtBot, tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    cached = settings.cache_path / "en" / "world_sql_content_x.sqlite3"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x" * 3 * 1024 * 1024)
    # Measured in a worker: the dialog opens at once whatever the disk.
    widget = ArchiveSettingsWidget(settings)
    qtbot.addWidget(widget)
    assert widget.cache_size_label.text() == "measuring…"
    with qtbot.waitSignal(widget.cacheMeasured, timeout=10_000) as measured:
        pass
    assert measured.args == [3 * 1024 * 1024]
    assert widget.cache_size_label.text() == "3.1 MB"
    assert widget.clear_cache_button.isEnabled()

    with qtbot.waitSignal(widget.cacheCleared) as blocker:
        qtbot.mouseClick(widget.clear_cache_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [3 * 1024 * 1024]
    assert not cached.exists()
    assert widget.cache_size_label.text() == "empty"
    assert not widget.clear_cache_button.isEnabled()


# --------------------------------------------------------------------------- archive dialog


def archive_two(settings: Settings, tmp_path: Path) -> list[str]:
    keys = []
    with S3Archive(settings) as archive:
        for n, version in enumerate(("v-older", "v-newer")):
            keys.append(
                archive.upload(
                    random_file(tmp_path / f"{n}.sqlite3", 1000 * (n + 1)),
                    language="en",
                    version=version,
                    content_path=f"/c/en/world_sql_content_{n}.content",
                    progress=Progress(),
                ).key
            )
    return keys


def test_dialog_lists_and_requests_a_load(qtbot: QtBot, settings: Settings, tmp_path: Path) -> None:
    older, newer = archive_two(settings, tmp_path)
    with make_service(settings) as service:
        dialog = ArchiveDialog(service)
        qtbot.addWidget(dialog)
        with qtbot.waitSignal(dialog.listed, timeout=10_000) as blocker:
            dialog.show()
        assert blocker.args == [2]

        table = dialog.table

        def text(row: int, column: int) -> str:
            item = table.item(row, column)
            assert item is not None
            return item.text()

        rows = {text(r, 0): r for r in range(table.rowCount())}
        assert set(rows) == {"v-older", "v-newer"}
        assert text(rows["v-older"], 1) == "en"
        assert text(rows["v-older"], 3) == "1.0 kB"
        assert dialog.selected_key() in (older, newer)  # the newest is preselected
        assert dialog.load_button.isEnabled()

        table.selectRow(rows["v-older"])
        assert dialog.selected_key() == older
        with qtbot.waitSignal(dialog.loadRequested) as requested:
            qtbot.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
        assert requested.args == [older]
        assert dialog.result() == ArchiveDialog.DialogCode.Accepted


def test_dialog_shows_a_failure_in_one_sentence(qtbot: QtBot, settings: Settings) -> None:
    with make_service(dataclasses.replace(settings, s3_bucket=None)) as service:
        dialog = ArchiveDialog(service)
        qtbot.addWidget(dialog)
        with qtbot.waitSignal(dialog.listFailed, timeout=10_000) as blocker:
            dialog.show()
        assert blocker.args == [
            "No S3 bucket is configured; set one in Settings or MANIFEST_GUI_S3_BUCKET."
        ]
        assert dialog.status_label.text() == blocker.args[0]
        assert dialog.selected_key() is None
        assert not dialog.load_button.isEnabled()
        dialog.request_load()  # nothing selected: nothing happens
        assert dialog.result() == 0


def test_dialog_empty_archive_and_close_while_listing(qtbot: QtBot, settings: Settings) -> None:
    with make_service(settings) as service:
        dialog = ArchiveDialog(service)
        qtbot.addWidget(dialog)
        with qtbot.waitSignal(dialog.listed, timeout=10_000) as blocker:
            dialog.show()
        assert blocker.args == [0]
        assert "no manifests" in dialog.status_label.text()

        dialog.refresh()  # closing while a listing runs joins its thread
        dialog.reject()
        assert not dialog.refresh_button.isEnabled() or dialog.result() == 0
