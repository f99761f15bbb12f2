"""The Archive section of Settings: S3 bucket, prefix, endpoint, AWS profile, lifetimes, and
the local cache's size with "Clear cache".

Nothing secret is entered here: credentials come from boto3's chain (environment, ~/.aws
profiles, instance roles); only the profile's name is stored.

"Clear cache" deletes files (hundreds of MB each) in a worker thread, never in the GUI thread.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from ..engine.archive import endpoint_problem, list_profiles
from ..engine.cache import ManifestCache
from ..engine.errors import ConfigurationError
from ..engine.progress import Progress
from ..engine.settings import Settings
from ..engine.wording import size as format_size
from .settings_fields import hint, lock_from_environment
from .workers import JobRunner

log = logging.getLogger(__name__)

DEFAULT_PREFIX = Settings().s3_prefix
MAX_DAYS = 3650


class ArchiveSettingsWidget(QWidget):
    """A form section; the settings dialog calls apply_to() when OK is pressed."""

    cacheCleared = Signal(int)  # bytes freed; emitted once the size shown is the new one
    cacheMeasured = Signal(int)  # bytes; the size shown comes from a worker (disks may be slow)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("archiveSettings")
        self._settings = settings
        self._cache = ManifestCache(settings.cache_path, settings.cache_days)
        self._runner = self._new_runner()
        self._size_runner = self._new_size_runner()
        form = QFormLayout(self)
        # Laid out like the dialog's other tabs.
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.bucket_edit = QLineEdit(settings.s3_bucket or "")
        self.bucket_edit.setObjectName("s3BucketEdit")
        self.bucket_edit.setPlaceholderText("None: keep manifests in the local cache only")
        self.bucket_edit.setClearButtonEnabled(True)
        form.addRow("S3 &bucket:", self.bucket_edit)

        self.prefix_edit = QLineEdit(settings.s3_prefix)
        self.prefix_edit.setObjectName("s3PrefixEdit")
        self.prefix_edit.setPlaceholderText(DEFAULT_PREFIX)
        form.addRow("&Prefix:", self.prefix_edit)

        self.endpoint_edit = QLineEdit(settings.s3_endpoint_url or "")
        self.endpoint_edit.setObjectName("s3EndpointEdit")
        self.endpoint_edit.setPlaceholderText("AWS S3; for MinIO e.g. http://localhost:9000")
        self.endpoint_edit.setClearButtonEnabled(True)
        form.addRow("&Endpoint URL:", self.endpoint_edit)

        self.profile_combo = QComboBox()
        self.profile_combo.setObjectName("awsProfileCombo")
        self._fill_profiles(settings.s3_profile)
        form.addRow("AWS p&rofile:", self.profile_combo)
        form.addRow(
            "",
            hint(
                "Credentials come from the environment (AWS_ACCESS_KEY_ID…), the chosen "
                "profile in ~/.aws, or an instance role; none are stored by manifest-gui."
            ),
        )

        self.archive_days_spin = self._days(settings.archive_days, "archiveDaysSpin")
        form.addRow("&Keep archived for:", self.archive_days_spin)
        form.addRow(
            "",
            hint(
                "A lifecycle rule on the bucket deletes archived manifests after this many "
                "days; other rules on the bucket are left alone."
            ),
        )

        self.cache_days_spin = self._days(settings.cache_days, "cacheDaysSpin")
        form.addRow("Keep &cached for:", self.cache_days_spin)

        self.cache_size_label = QLabel()
        self.cache_size_label.setObjectName("cacheSizeLabel")
        self.clear_cache_button = QPushButton("C&lear cache")
        self.clear_cache_button.setObjectName("clearCacheButton")
        self.clear_cache_button.clicked.connect(self.clear_cache)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache_size_label, 1)
        cache_row.addWidget(self.clear_cache_button)
        form.addRow("Local cache:", cache_row)
        self.cache_path_label = hint(str(settings.cache_path))
        self.cache_path_label.setObjectName("cachePathLabel")
        form.addRow("", self.cache_path_label)

        lock_from_environment(settings, "s3_bucket", self.bucket_edit)
        lock_from_environment(settings, "s3_prefix", self.prefix_edit)
        lock_from_environment(settings, "s3_endpoint_url", self.endpoint_edit)
        self.refresh_cache_size()

    # Building ------------------------------------------------------------------------------
    def _fill_profiles(self, current: str | None) -> None:
        combo = self.profile_combo
        combo.addItem("Default (environment or the default profile)", None)
        profiles = list_profiles()
        for name in profiles:
            combo.addItem(name, name)
        if current and current not in profiles:
            combo.addItem(f"{current} (not found)", current)
        index = combo.findData(current) if current else 0
        combo.setCurrentIndex(max(index, 0))

    @staticmethod
    def _days(value: int, name: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(1, MAX_DAYS)
        spin.setSuffix(" days")
        spin.setValue(max(1, min(value, MAX_DAYS)))
        spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        return spin

    # Cache ---------------------------------------------------------------------------------
    def _new_runner(self) -> JobRunner:
        runner = JobRunner(self, name="clear-cache")
        runner.succeeded.connect(self._on_cleared)
        runner.failed.connect(self._on_clear_failed)
        return runner

    def _new_size_runner(self) -> JobRunner:
        runner = JobRunner(self, name="cache-size")
        runner.succeeded.connect(self._on_measured)
        runner.failed.connect(self._on_measure_failed)
        return runner

    def cache_size(self) -> int:
        return self._cache.size()

    @Slot()
    def refresh_cache_size(self) -> None:
        """Measure the cache in a worker; cacheMeasured(bytes) follows."""
        if self._runner.busy:  # a clear shows the new size when it ends
            return
        cache = self._cache
        if self._size_runner.start("cache-size", lambda _progress: cache.size()):
            self.cache_size_label.setText("measuring…")
            self.clear_cache_button.setEnabled(False)

    @Slot(str, object)
    def _on_measured(self, _kind: str, size: object) -> None:
        if self._runner.busy:  # a clear started meanwhile: its result is the newer one
            return
        assert isinstance(size, int)
        self._show_size(size)
        self.cacheMeasured.emit(size)

    @Slot(str, object, str)
    def _on_measure_failed(self, _kind: str, error: object, details: str) -> None:
        log.warning("Measuring the cache failed: %s\n%s", error, details)
        if not self._runner.busy:
            self.cache_size_label.setText("unknown")
            self.clear_cache_button.setEnabled(True)

    def _show_size(self, size: int) -> None:
        self.cache_size_label.setText("empty" if size == 0 else format_size(size))
        self.clear_cache_button.setEnabled(size > 0)

    @property
    def clearing(self) -> bool:
        return self._runner.busy

    @Slot()
    def clear_cache(self) -> bool:
        """Delete the cached downloads in a worker; they are downloaded again when needed.
        cacheCleared(bytes freed) follows. False when a clear is already running."""
        cache = self._cache

        def run(_progress: Progress) -> tuple[int, int]:
            return cache.clear(), cache.size()

        if not self._runner.start("clear-cache", run):
            return False
        self.clear_cache_button.setEnabled(False)
        self.cache_size_label.setText("clearing…")
        return True

    @Slot(str, object)
    def _on_cleared(self, _kind: str, result: object) -> None:
        assert isinstance(result, tuple)
        freed, size = int(result[0]), int(result[1])
        log.info("Cleared the cache: %d bytes freed", freed)
        self._show_size(size)
        self.cacheCleared.emit(freed)

    @Slot(str, object, str)
    def _on_clear_failed(self, _kind: str, error: object, details: str) -> None:
        log.error("Clearing the cache failed: %s\n%s", error, details)
        self.cache_size_label.setText(f"Clearing failed: {error}")
        self.clear_cache_button.setEnabled(True)

    def shutdown(self) -> None:
        """The dialog closes: a running clear finishes on its own, nobody waits for it."""
        if self._runner.detach():
            self._runner = self._new_runner()
        if self._size_runner.detach():
            self._size_runner = self._new_size_runner()

    # Result --------------------------------------------------------------------------------
    def apply_to(self, settings: Settings) -> Settings:
        """`settings` with this section's fields; environment-set fields stay as they are.
        Raises ConfigurationError for an endpoint URL that is not usable."""
        changes: dict[str, Any] = {
            "s3_profile": self.profile_combo.currentData() or None,
            "archive_days": self.archive_days_spin.value(),
            "cache_days": self.cache_days_spin.value(),
        }
        if "s3_bucket" not in settings.from_environment:
            changes["s3_bucket"] = self.bucket_edit.text().strip() or None
        if "s3_prefix" not in settings.from_environment:
            changes["s3_prefix"] = self.prefix_edit.text().strip().strip("/") or DEFAULT_PREFIX
        if "s3_endpoint_url" not in settings.from_environment:
            changes["s3_endpoint_url"] = _endpoint(self.endpoint_edit.text())
        return dataclasses.replace(settings, **changes)


def _endpoint(text: str) -> str | None:
    url = text.strip()
    if not url:
        return None
    problem = endpoint_problem(url)  # the archive's own test, so the two never disagree
    if problem:
        raise ConfigurationError(problem)
    return url
