"""The main window: a view. It emits what the user asks for and shows what it is told through a
few intent-level methods (show_status, set_cancelling, show_database, ...); it never calls the
engine itself, and nobody outside reaches into its widgets."""

from __future__ import annotations

import itertools
import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME, __version__
from ..engine.database import DatabaseVersion
from ..engine.progress import ProgressEvent, Stage
from ..engine.wording import Tone
from .icons import app_icon
from .log_view import LogView
from .progress_panel import ProgressPanel
from .version_panel import VersionPanel

log = logging.getLogger(__name__)

MANIFEST_FILES = "Manifest files (*.content *.sqlite *.sqlite3 *.db *.zip);;All files (*)"


class MainWindow(QMainWindow):
    checkLoadRequested = Signal()
    checkRequested = Signal()
    loadFileRequested = Signal(Path)
    forceReloadRequested = Signal()
    cancelRequested = Signal()
    settingsRequested = Signal()
    archiveRequested = Signal()
    quitRequested = Signal()
    openLogRequested = Signal()
    hiddenToTray = Signal()
    closed = Signal()

    DEFAULT_SIZE = (1180, 760)  # the viewer's three panes need the width

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.hide_on_close = False  # set by the Application when a tray exists
        self._busy = False
        self._archive_configured = True
        self.viewer: QWidget | None = None  # the Browse page

        self.version_panel = VersionPanel()
        self.progress_panel = ProgressPanel()
        self.log_view = LogView()

        self.check_load_button = self._button("Check && &Load", "checkLoadButton")
        self.check_load_button.setDefault(True)
        self.check_button = self._button("&Check", "checkButton")
        self.file_button = self._button("Load from f&ile…", "loadFileButton")
        self.force_button = self._button("Force &reload", "forceReloadButton")
        self.archive_button = self._button("Load from &archive…", "loadArchiveButton")
        self.cancel_button = self._button("Cancel", "cancelButton")
        self.cancel_button.setEnabled(False)

        self.check_load_button.clicked.connect(self.checkLoadRequested)
        self.check_button.clicked.connect(self.checkRequested)
        self.file_button.clicked.connect(self.choose_file)
        self.force_button.clicked.connect(self.forceReloadRequested)
        self.archive_button.clicked.connect(self.archiveRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.manifest_page = self._manifest_page()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.manifest_page, "Ma&nifest")
        self.setCentralWidget(self.tabs)

        self.database_label = QLabel()
        self.database_label.setObjectName("databaseDescriptionLabel")
        # A long data-dir path is cut at the window's edge, never widening the window.
        self.database_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.statusBar().addWidget(self.database_label, 1)
        self.statusBar().setSizeGripEnabled(True)

        self._build_actions()
        # Tab order follows the page top to bottom: the polling box sits in the version panel.
        chain = [
            self.version_panel.poll_check_box,
            self.check_load_button,
            self.check_button,
            self.file_button,
            self.force_button,
            self.archive_button,
            self.cancel_button,
            self.log_view,
        ]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)
        self.resize(*self.DEFAULT_SIZE)

    def _manifest_page(self) -> QWidget:
        """The versions, the job buttons, the progress bars and the session's log."""
        buttons = QHBoxLayout()
        for button in (
            self.check_load_button,
            self.check_button,
            self.file_button,
            self.force_button,
            self.archive_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)

        log_caption = QLabel("Lo&g of this session:")
        log_caption.setBuddy(self.log_view)

        page = QWidget()
        page.setObjectName("manifestPage")
        layout = QVBoxLayout(page)
        layout.addWidget(self.version_panel)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_panel)
        layout.addWidget(log_caption)
        layout.addWidget(self.log_view, 1)
        return page

    @staticmethod
    def _button(text: str, name: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        return button

    def _build_actions(self) -> None:
        def action(
            text: str,
            shortcut: QKeySequence | QKeySequence.StandardKey | str | None,
            slot: object,
            name: str,
        ) -> QAction:
            act = QAction(text, self)
            act.setObjectName(name)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            return act

        self.check_load_action = action(
            "Check && &Load", "F5", self.checkLoadRequested, "checkLoadAction"
        )
        self.check_action = action("&Check", "Ctrl+F5", self.checkRequested, "checkAction")
        self.file_action = action(
            "Load from &file…", QKeySequence.StandardKey.Open, self.choose_file, "loadFileAction"
        )
        self.force_action = action(
            "&Force reload", "Ctrl+Shift+F5", self.forceReloadRequested, "forceReloadAction"
        )
        self.archive_action = action(
            "Load from &archive…", None, self.archiveRequested, "loadArchiveAction"
        )
        self.cancel_action = action("C&ancel", "Esc", self.cancelRequested, "cancelAction")
        self.cancel_action.setEnabled(False)
        # Esc cancels only from the Manifest page (and its menu): in the viewer it belongs to
        # the search box and dialogs, and must not stop a load the user is not looking at.
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.manifest_page.addAction(self.cancel_action)
        self.settings_action = action(
            "&Settings…",
            QKeySequence.StandardKey.Preferences,
            self.settingsRequested,
            "settingsAction",
        )
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.close_action = action(
            "&Close window", QKeySequence.StandardKey.Close, self.close, "closeAction"
        )
        self.quit_action = action(
            "&Quit", QKeySequence.StandardKey.Quit, self.quitRequested, "quitAction"
        )
        self.log_action = action("Open &log file", None, self.openLogRequested, "openLogAction")
        about = action("&About", None, self._about, "aboutAction")

        for button, act in (
            (self.check_load_button, self.check_load_action),
            (self.check_button, self.check_action),
            (self.file_button, self.file_action),
            (self.force_button, self.force_action),
            (self.cancel_button, self.cancel_action),
        ):
            if not act.shortcut().isEmpty():
                button.setToolTip(
                    f"{act.text().replace('&&', '&').replace('&', '')} "
                    f"({act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                )

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.file_action)
        file_menu.addAction(self.archive_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.close_action)
        file_menu.addAction(self.quit_action)
        manifest_menu = menus.addMenu("&Manifest")
        for act in (self.check_load_action, self.check_action, self.force_action):
            manifest_menu.addAction(act)
        manifest_menu.addSeparator()
        manifest_menu.addAction(self.cancel_action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self.log_action)
        help_menu.addAction(about)

    # What the presenter and the Application tell it ----------------------------------------------
    def show_status(self, text: str, tone: Tone = Tone.NEUTRAL, *, note: str | None = None) -> None:
        """The status line; `note` (when given) becomes its tooltip, e.g. why a step failed."""
        self.version_panel.set_status(text, tone)
        if note is not None:
            self.version_panel.status_label.setToolTip(note)

    def set_cancelling(self) -> None:
        """A cancel was asked for: say so, and offer no second one."""
        self.version_panel.set_status("Cancelling…", Tone.BUSY)
        self.cancel_button.setEnabled(False)

    def show_database(self, text: str) -> None:
        """Which database the app uses, in the status bar."""
        self.database_label.setText(text)

    def show_remote(self, version: str, path: str, checked_at: datetime) -> None:
        self.version_panel.show_remote(version, path, checked_at)

    def show_database_version(self, current: DatabaseVersion | None, live_rows: int | None) -> None:
        self.version_panel.show_database(current, live_rows)

    def show_polling(self, enabled: bool, minutes: int) -> None:
        self.version_panel.set_poll_minutes(minutes)
        self.version_panel.set_polling(enabled)

    def show_next_check(self, moment: datetime | None, now: datetime) -> None:
        self.version_panel.show_next_check(moment, now)

    def show_progress(self, event: ProgressEvent) -> None:
        self.progress_panel.on_event(event)

    def reset_progress(self) -> None:
        self.progress_panel.reset()

    def stop_progress(self) -> None:
        self.progress_panel.stop()

    def note_stage(self, stage: Stage, text: str) -> None:
        self.progress_panel.set_note(stage, text)

    def show_upload_stage(self, visible: bool) -> None:
        self.progress_panel.set_stage_visible(Stage.UPLOAD, visible)

    def log(self, text: str, level: str = "info") -> None:
        """A line in the session's log view."""
        self.log_view.add(text, level)

    def set_busy(self, busy: bool, *, cancellable: bool = True) -> None:
        """One job at a time: while one runs only Cancel is enabled."""
        for widget in (
            self.check_load_button,
            self.check_button,
            self.file_button,
            self.force_button,
            self.archive_button,
            self.check_load_action,
            self.check_action,
            self.file_action,
            self.force_action,
        ):
            widget.setEnabled(not busy)
        self._busy = busy
        self._update_archive_widgets()
        self.cancel_button.setEnabled(busy and cancellable)
        self.cancel_action.setEnabled(busy and cancellable)

    def set_archive_configured(self, configured: bool) -> None:
        """Load from archive needs a bucket: without one it is disabled and says why."""
        self._archive_configured = configured
        self._update_archive_widgets()

    def _update_archive_widgets(self) -> None:
        hint = (
            "Load a manifest kept in the S3 archive."
            if self._archive_configured
            else "Set an S3 bucket in Settings (Archive) to load manifests from the archive."
        )
        for widget in (self.archive_button, self.archive_action):
            widget.setEnabled(self._archive_configured and not self._busy)
            widget.setToolTip(hint)

    def add_page(self, page: QWidget, title: str) -> int:
        """Add a page (a tab after the others); returns its index."""
        return self.tabs.addTab(page, title)

    def add_viewer(self, viewer: QWidget) -> None:
        self.viewer = viewer
        self.add_page(viewer, "&Browse")

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load a manifest file", str(Path.home()), MANIFEST_FILES
        )
        if path:
            self.loadFileRequested.emit(Path(path))

    def restore_geometry(self, geometry: QByteArray | bytes | None) -> None:
        if geometry and self.restoreGeometry(QByteArray(geometry)):
            return
        width, height = self.DEFAULT_SIZE
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:  # a small screen: 90 % of it
            available = screen.availableGeometry()
            width = min(width, int(available.width() * 0.9))
            height = min(height, int(available.height() * 0.9))
        self.resize(width, height)

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME} {__version__}</b><p>Keeps Destiny 2's game manifest in PostgreSQL.</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.hide_on_close:
            event.ignore()
            self.hide()
            self.hiddenToTray.emit()
            return
        event.accept()
        self.closed.emit()
        super().closeEvent(event)
