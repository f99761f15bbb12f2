"""Plugs release news into the Application: the What's new page after Manifest, the detail
pane's icon and watch button, the Notifications tab of Settings, the tray's one line after a
load made while the window is hidden (a click on it opens What's new), and the Discord post's
warnings in the log and the tray. The Application makes one call (plug_in) and calls
shutdown() on what it returns."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from ..engine.errors import ManifestGuiError
from ..engine.loader import LoadResult
from ..engine.settings import Settings
from .notification_settings import NotificationSettingsWidget
from .release_news import ReleaseNews
from .settings_dialog import SettingsDialog
from .tray_news import NotifyPolicy

if TYPE_CHECKING:
    from ..app import Application

log = logging.getLogger(__name__)

DATABASE_FIELDS = ("database_url", "data_dir")  # another database: the page starts afresh
POLICY_KEY = "notifications/tray_policy"  # in the window state (QSettings), not a secret
PAGE_TITLE = "&What's new"


class NewsPlugin(QObject):
    def __init__(self, app: Application) -> None:
        super().__init__(app)
        self.setObjectName("newsPlugin")
        self._app = app
        self._news_shown_in_tray = False  # the tray's last message was release news
        self.last_tray_message: tuple[str, str] | None = None  # title, text
        self._settings = app.settings
        self.news = ReleaseNews(lambda: app.service, app.settings, policy=self.policy, parent=self)
        window = app.window
        self.page = self.news.page
        window.tabs.insertTab(1, self.page, PAGE_TITLE)  # after Manifest, before Browse
        app.viewer.detail.attach_badge(self.news.badge(self))
        app.presenter.loadFinished.connect(self._on_load_finished)
        app.settingsDialogOpened.connect(self._add_settings_tab)
        app.dialogs.settingsChosen.connect(self._on_settings_chosen)
        self.news.showPageRequested.connect(self.show_page)
        self.news.openDefinitionRequested.connect(self._open_definition)
        self.news.trayNews.connect(self._on_tray_news)
        self.news.warning.connect(self._on_warning)
        self.news.watches.failed.connect(lambda sentence: app.presenter.log(sentence, "error"))
        if app.tray is not None:
            app.tray.messageClicked.connect(self._on_message_clicked)
        # The presenter's plain "New manifest loaded" gives way to the notes' one line.
        app.presenter.announce_loads = False

    # Policy -------------------------------------------------------------------------------------
    def policy(self) -> NotifyPolicy:
        return NotifyPolicy.parse(self._app.state.value(POLICY_KEY, NotifyPolicy.ALWAYS.value))

    def set_policy(self, policy: NotifyPolicy) -> None:
        self._app.state.setValue(POLICY_KEY, policy.value)
        self._app.state.sync()

    # After loads ----------------------------------------------------------------------------------
    @Slot(object)
    def _on_load_finished(self, loaded: LoadResult) -> None:
        app = self._app
        hidden = app.tray is not None and not app.window.isVisible()
        if not self.news.after_load(loaded, hidden=hidden) and hidden:
            self._notify("New manifest loaded", f"{loaded.version} was loaded.")

    @Slot()
    def show_page(self) -> None:
        self._app.window.tabs.setCurrentWidget(self.page)

    @Slot(str, str)
    def _on_tray_news(self, title: str, line: str) -> None:
        if self._app.window.isVisible():
            return  # the page shows it
        self._notify(title, line)
        self._news_shown_in_tray = True

    def _notify(self, title: str, text: str, *, error: bool = False) -> None:
        tray = self._app.tray
        if tray is not None:
            self._news_shown_in_tray = False
            self.last_tray_message = (title, text)
            tray.notify(title, text, error=error)

    @Slot()
    def _on_message_clicked(self) -> None:
        if self._news_shown_in_tray:
            self._news_shown_in_tray = False
            self._app.show_window()
            self.show_page()

    @Slot(str)
    def _on_warning(self, sentence: str) -> None:
        self._app.presenter.log(sentence, "warning")
        if not self._app.window.isVisible():
            self._notify("Discord notification failed", sentence, error=True)

    @Slot(str, int)
    def _open_definition(self, table: str, signed_id: int) -> None:
        viewer = self._app.viewer
        self._app.window.tabs.setCurrentWidget(viewer)
        viewer.tabs.setCurrentIndex(0)  # Definitions
        viewer.detail.show_definition(table, {"id": signed_id})

    # Settings -----------------------------------------------------------------------------------
    @Slot(object)
    def _add_settings_tab(self, dialog: SettingsDialog) -> None:
        app = self._app
        tab = NotificationSettingsWidget(app.secrets, self.news.watches, self.policy(), dialog)
        dialog.add_tab(tab, "&Notifications")

        def apply() -> None:
            self.set_policy(tab.policy())
            session_only = (
                dialog.session_only_box.isChecked() or not app.secrets.keyring_available()
            )
            try:
                tab.apply(session_only=session_only)
            except ManifestGuiError as exc:
                app.presenter.log(f"The Discord webhook URL was not stored: {exc}", "error")

        dialog.accepted.connect(apply)
        dialog.finished.connect(lambda _result: tab.stop())

    @Slot(object)
    def _on_settings_chosen(self, settings: Settings) -> None:
        # Connected after the Application's own slot: the service is the new one by now.
        previous, self._settings = self._settings, settings
        self.news.set_settings(settings)
        if any(getattr(previous, name) != getattr(settings, name) for name in DATABASE_FIELDS):
            self.page.forget()

    def shutdown(self) -> None:
        self.news.shutdown()


def plug_in(app: Application) -> NewsPlugin:
    return NewsPlugin(app)
