"""The worker behind a Test button in Settings (a database connection, a webhook post): it
shows the test's one sentence in a label, green when it worked and red when it did not; a bug's
traceback goes to the log, and the label says so."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from .settings_fields import ERROR_COLOUR, OK_COLOUR
from .workers import JobFunction, JobRunner

log = logging.getLogger(__name__)


class TestButtonRunner(JobRunner):
    """`bug_log` heads the traceback in the log; `bug_words` is what the label says then
    ("{name}" is the error's class)."""

    __test__ = False  # a window part, not a pytest class

    def __init__(self, parent: QObject, *, name: str, bug_log: str, bug_words: str) -> None:
        super().__init__(parent, name=name)
        self.label: QLabel | None = None  # set once the page has built its rows
        self._bug_log = bug_log
        self._bug_words = bug_words
        self.succeeded.connect(self._on_succeeded)
        self.failed.connect(self._on_failed)

    def run(self, kind: str, busy_text: str, function: JobFunction) -> bool:
        """Say `busy_text` and start the test; False (and nothing done) when one is running."""
        if self.busy:
            return False
        self.show(busy_text, None)
        return self.start(kind, function)

    def show(self, text: str, colour: str | None) -> None:
        if self.label is not None:
            self.label.setStyleSheet(f"color: {colour};" if colour else "")
            self.label.setText(text)
            self.label.show()

    @Slot(str, object)
    def _on_succeeded(self, _kind: str, sentence: object) -> None:
        self.show(str(sentence), OK_COLOUR)

    @Slot(str, object, str)
    def _on_failed(self, _kind: str, error: object, details: str) -> None:
        if details:  # a bug: the traceback goes to the log, never a secret
            log.error("%s\n%s", self._bug_log, details)
            self.show(self._bug_words.format(name=type(error).__name__), ERROR_COLOUR)
        else:
            self.show(str(error), ERROR_COLOUR)
