"""Copy and export of the shown release notes: Markdown (the same text as `notes --markdown`)
and one self-contained HTML file with the icons embedded. Files are written in a worker: the
HTML export may fetch icons that are not cached yet."""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from ...engine.icons import IconStore
from ...engine.notes_model import ReleaseNotes, Section
from ...engine.notes_text import to_markdown
from .html_export import IconFile, notes_html
from .icon_loader import IconLoader

log = logging.getLogger(__name__)

FILTERS = {"markdown": "Markdown files (*.md)", "html": "Web pages (*.html)"}
SUFFIXES = {"markdown": ".md", "html": ".html"}


class NotesExporter(QObject):
    exported = Signal(str)  # the file written
    exportFailed = Signal(str)  # a sentence
    finished = Signal(str)  # what to tell the user either way
    _done = Signal(str, str)  # path, sentence ("" when it worked); from the worker

    def __init__(self, icons: IconLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._icons = icons
        self._notes: ReleaseNotes | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._done.connect(self._on_done)

    def set_notes(self, notes: ReleaseNotes | None) -> None:
        self._notes = notes

    def markdown(self) -> str:
        return _markdown(self._notes) if self._notes is not None else ""

    def ask(self, parent: QWidget, fmt: str) -> None:
        notes = self._notes
        if notes is None:
            return
        name = f"whats-new-{notes.to_version.version}{SUFFIXES[fmt]}"
        path, _ = QFileDialog.getSaveFileName(
            parent, "Export the release notes", name, FILTERS[fmt]
        )
        if path:
            self.export(Path(path), fmt)

    def export(self, path: Path, fmt: str) -> bool:
        """Write the shown notes to `path` as "markdown" or "html" in a worker; exported or
        exportFailed says how it went. False when there is nothing to export."""
        notes = self._notes
        if notes is None or self._closed or fmt not in SUFFIXES:
            return False
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notes-export")
        store = self._icons.store
        self._pool.submit(self._write, notes, Path(path), fmt, store)
        self.finished.emit(f"Exporting to {Path(path).name}…")
        return True

    def _write(self, notes: ReleaseNotes, path: Path, fmt: str, store: IconStore | None) -> None:
        """In the worker."""
        try:
            if fmt == "html":
                text = notes_html(notes, _icon_files(notes, store))
            else:
                text = _markdown(notes)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self._done.emit(str(path), f"Could not write {path}: {exc.strerror or exc}.")
        except Exception as exc:  # a bug: the traceback goes to the log
            log.exception("Exporting the release notes failed")
            self._done.emit(str(path), f"The export failed ({type(exc).__name__}); see the log.")
        else:
            self._done.emit(str(path), "")

    @Slot(str, str)
    def _on_done(self, path: str, sentence: str) -> None:
        if sentence:
            self.exportFailed.emit(sentence)
            self.finished.emit(sentence)
        else:
            self.exported.emit(path)
            self.finished.emit(f"Exported the notes to {path}.")

    def shutdown(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _icon_files(notes: ReleaseNotes, store: IconStore | None) -> IconFile:
    """Every icon of the notes asked for at once (the icon pool fetches four at a time), then
    read one by one as the page is written."""
    if store is None:
        return lambda _path: None
    paths = {e.icon for s in (*notes.sections, Section("", "", notes.watched)) for e in s.entries}
    pending = {path: store.request(path) for path in sorted(p for p in paths if p)}

    def icon_file(path: str) -> Path | None:
        future = pending.get(path)
        if future is None:
            return store.get(path)
        try:
            return future.result()
        except CancelledError:  # the store closed (quitting): the placeholder
            return None

    return icon_file


def _markdown(notes: ReleaseNotes) -> str:
    return to_markdown(notes)  # the CLI's writer: the same text as notes --markdown
