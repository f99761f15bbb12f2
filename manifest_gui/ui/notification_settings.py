"""The Notifications section of Settings: the Discord webhook URL (kept in the keyring like
the API key, never shown in logs) with a Test button, the tray notification policy, and the
watchlist (shared with `manifest-gui watch`).

The webhook URL and the policy apply on OK, like every other setting; the watchlist changes at
once, as the Watch this buttons and the CLI change it.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..engine.discord import checked_webhook_url, send_test_message
from ..engine.progress import Progress
from ..engine.secrets import DISCORD_WEBHOOK_ENTRY, DISCORD_WEBHOOK_ENVIRONMENT, SecretStore
from .secret_row import secret_row
from .settings_fields import ERROR_COLOUR, set_buddy
from .test_button_runner import TestButtonRunner
from .tray_news import POLICY_WORDS, NotifyPolicy
from .whats_new.watches import Watches

log = logging.getLogger(__name__)


def _wrapping(text: str = "", *, hint: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
    label.setEnabled(not hint)  # a hint is greyed: an explanation, not a value
    return label


class NotificationSettingsWidget(QWidget):
    """A Settings tab. validate() before OK, then apply(session_only) stores the URL."""

    def __init__(
        self,
        secrets: SecretStore,
        watches: Watches,
        policy: NotifyPolicy,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("notificationSettings")
        self._secrets = secrets
        self._watches = watches
        self._clear_url = False
        self._tester = TestButtonRunner(
            self,
            name="test-webhook",
            bug_log="The webhook test failed unexpectedly",
            bug_words="The test failed unexpectedly; details are in the log.",
        )
        self._tester.busyChanged.connect(self._update_webhook_widgets)

        outer = QVBoxLayout(self)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)  # the rows keep their height; the space is left below them
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._webhook_rows(form)
        self._policy_rows(form, policy)
        self._watch_rows(form)
        watches.changed.connect(self.show_watches)
        self._update_webhook_widgets()
        self.show_watches()

    # Building ---------------------------------------------------------------------------------
    def _webhook_rows(self, form: QFormLayout) -> None:
        tip = "Forget the stored webhook URL (when you press OK)."
        url = secret_row("discordWebhookEdit", "Webhook", "S&how", tip)
        self.webhook_edit, self.show_url_box = url.edit, url.show_box
        self.clear_url_button = url.clear_button
        self.webhook_edit.textChanged.connect(self._update_webhook_widgets)
        self.clear_url_button.clicked.connect(self.clear_url)
        self.test_button = QPushButton("&Test")
        self.test_button.setObjectName("testWebhookButton")
        self.test_button.setToolTip("Post a short test message to the channel now.")
        self.test_button.clicked.connect(self.test_webhook)
        url.layout.addWidget(self.test_button)
        form.addRow("Discord &webhook URL:", url.layout)
        set_buddy(form, url.layout, self.webhook_edit)
        self.webhook_status = _wrapping()
        self.webhook_status.setObjectName("webhookStatusLabel")
        form.addRow("", self.webhook_status)
        self.test_result = _wrapping()
        self.test_result.setObjectName("webhookTestLabel")
        self.test_result.hide()
        self._tester.label = self.test_result
        form.addRow("", self.test_result)
        form.addRow(
            "",
            _wrapping(
                "After every load that changed the database, the release notes are posted "
                "there (watched items first). Any Discord-compatible webhook works.",
                hint=True,
            ),
        )

    def _policy_rows(self, form: QFormLayout, policy: NotifyPolicy) -> None:
        self.policy_group = QButtonGroup(self)
        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        self.policy_buttons: dict[NotifyPolicy, QRadioButton] = {}
        for value in NotifyPolicy:
            button = QRadioButton(POLICY_WORDS[value])
            button.setObjectName(f"notifyPolicy{value.value.capitalize()}Radio")
            button.setChecked(value is policy)
            self.policy_group.addButton(button)
            self.policy_buttons[value] = button
            box.addWidget(button)
        form.addRow("Tra&y notification:", box)
        label = form.labelForField(box)
        if isinstance(label, QLabel):
            label.setBuddy(self.policy_buttons[policy])

    def _watch_rows(self, form: QFormLayout) -> None:
        self.watch_list = QListWidget()
        self.watch_list.setObjectName("watchList")
        self.watch_list.setFixedHeight(110)
        self.watch_list.currentRowChanged.connect(lambda _row: self._update_watch_buttons())
        self.watch_text_edit = QLineEdit()
        self.watch_text_edit.setObjectName("watchTextEdit")
        self.watch_text_edit.setPlaceholderText("A hash, or text of a name (e.g. Pinnacle)")
        self.watch_text_edit.textChanged.connect(lambda _t: self._update_watch_buttons())
        self.watch_text_edit.returnPressed.connect(self.add_watch)
        self.add_watch_button = QPushButton("Add")  # no Alt letter: Enter in the box adds
        self.add_watch_button.setObjectName("addWatchButton")
        self.add_watch_button.clicked.connect(self.add_watch)
        self.remove_watch_button = QPushButton("&Remove")
        self.remove_watch_button.setObjectName("removeWatchButton")
        self.remove_watch_button.clicked.connect(self.remove_watch)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.watch_text_edit, 1)
        row.addWidget(self.add_watch_button)
        row.addWidget(self.remove_watch_button)
        form.addRow("Wat&ches:", self.watch_list)
        label = form.labelForField(self.watch_list)
        if isinstance(label, QLabel):
            label.setBuddy(self.watch_list)
        form.addRow("", row)
        self.watch_error = _wrapping()
        self.watch_error.setObjectName("watchErrorLabel")
        self.watch_error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.watch_error.hide()
        form.addRow("", self.watch_error)
        self._watches.failed.connect(self._show_watch_error)

    # The webhook --------------------------------------------------------------------------------
    def typed_url(self) -> str:
        return self.webhook_edit.text().strip()

    @Slot()
    def _update_webhook_widgets(self) -> None:
        from_environment = bool(os.environ.get(DISCORD_WEBHOOK_ENVIRONMENT, "").strip())
        stored = bool(self._secrets.get(DISCORD_WEBHOOK_ENTRY))
        if self._clear_url:
            text = "The stored webhook URL will be forgotten when you press OK."
        elif from_environment:
            text = f"The URL comes from {DISCORD_WEBHOOK_ENVIRONMENT}; it wins over this field."
        elif self._secrets.is_session_only(DISCORD_WEBHOOK_ENTRY):
            text = "A webhook URL is kept in memory for this run only."
        elif stored:
            text = f"A webhook URL is stored in the keyring ({self._secrets.backend_name()})."
        else:
            text = "No webhook is set: nothing is posted. Paste one to store it in the keyring."
        self.webhook_status.setText(text)
        self.clear_url_button.setEnabled(stored and not self._clear_url)
        self.webhook_edit.setPlaceholderText(
            "Stored · paste a new URL to replace it"
            if stored and not self._clear_url
            else "https://discord.com/api/webhooks/…"
        )
        usable = bool(self.typed_url()) or bool(self._secrets.discord_webhook_url())
        self.test_button.setEnabled(usable and not self._tester.busy)

    @Slot()
    def clear_url(self) -> None:
        self._clear_url = True
        self.webhook_edit.clear()
        self._update_webhook_widgets()

    @Slot()
    def test_webhook(self) -> bool:
        """Post the test message (to the typed URL, else the one in use) in a worker."""
        url = self.typed_url() or self._secrets.discord_webhook_url() or ""

        def function(progress: Progress) -> str:
            send_test_message(url, progress)
            return "The test message was posted."

        started = self._tester.run("test-webhook", "Posting a test message…", function)
        self._update_webhook_widgets()
        return started

    def validate(self) -> None:
        """ConfigurationError (which never quotes the URL) for a typed URL that is not one."""
        if self.typed_url():
            checked_webhook_url(self.typed_url())

    def apply(self, *, session_only: bool) -> None:
        """On OK: store the typed URL (keyring, or this run only), or forget a cleared one."""
        if self.typed_url():
            self._secrets.set_discord_webhook_url(self.typed_url(), session_only=session_only)
            log.info("The Discord webhook URL was %s", "kept" if session_only else "stored")
        elif self._clear_url:
            self._secrets.delete_discord_webhook_url()
            log.info("The Discord webhook URL was cleared")

    def policy(self) -> NotifyPolicy:
        return next(p for p, button in self.policy_buttons.items() if button.isChecked())

    def stop(self) -> None:
        """The dialog closes: a test still posting ends on its own (bounded by its timeouts)."""
        if self._tester.busy:
            self._tester.cancel()

    # Watches ------------------------------------------------------------------------------------
    @Slot()
    def show_watches(self) -> None:
        current = self.watch_list.currentItem()
        selected = current.data(Qt.ItemDataRole.UserRole) if current else None
        self.watch_list.clear()
        for watch in self._watches.all():
            item = QListWidgetItem(f"#{watch.id}  {watch.describe()}")
            item.setData(Qt.ItemDataRole.UserRole, watch.id)
            self.watch_list.addItem(item)
            if watch.id == selected:
                self.watch_list.setCurrentItem(item)
        if self.watch_list.count() == 0:
            empty = QListWidgetItem("Nothing is watched yet.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.watch_list.addItem(empty)
        self._update_watch_buttons()

    def _update_watch_buttons(self) -> None:
        current = self.watch_list.currentItem()
        self.remove_watch_button.setEnabled(
            current is not None and current.data(Qt.ItemDataRole.UserRole) is not None
        )
        self.add_watch_button.setEnabled(bool(self.watch_text_edit.text().strip()))

    @Slot()
    def add_watch(self) -> None:
        text = self.watch_text_edit.text().strip()
        if text and self._watches.add(text) is not None:
            self.watch_text_edit.clear()
            self.watch_error.hide()

    @Slot()
    def remove_watch(self) -> None:
        current = self.watch_list.currentItem()
        watch_id = current.data(Qt.ItemDataRole.UserRole) if current else None
        if watch_id is not None:
            self._watches.remove(int(watch_id))

    @Slot(str)
    def _show_watch_error(self, sentence: str) -> None:
        self.watch_error.setText(sentence)
        self.watch_error.show()
