"""The What's new page of the main window: what a loaded version changed against another.

A page, never a modal dialog: polls and loads go on around it. The notes are read in their own
worker (NotesLoader), icons arrive from the icon pool as they are fetched. A double click (or
Enter) on an entry, or a click on its hash, opens it in Browse through openRequested.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QItemSelection, QModelIndex, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ...engine.database import DatabaseVersion
from ...engine.notes_model import Entry, ReleaseNotes, VersionRef
from ...engine.watchlist import with_watched
from ..viewer.widgets import button_row
from .entries_model import ENTRY_ROLE, Column, EntriesFilter, EntriesModel
from .exporter import NotesExporter
from .icon_loader import ICON_SIZE, IconLoader
from .notes_loader import LoadedNotes, NotesLoader, NotesSource
from .notes_words import entry_count, versions_title
from .sections_model import KEY_ROLE, SectionsModel
from .watches import WatchButton, Watches

log = logging.getLogger(__name__)

PREVIOUS = -1  # the From picker's "the version before" item
EXPAND_ALL_LIMIT = 4000  # entries; beyond this the changes open on demand
EXPAND_AT_ONCE = 60  # entries opened before the page shows them (more than a screenful)
ICON_DELAY_MS = 30  # after a scroll or a new list, before the visible rows' icons are asked for


class WhatsNewView(QWidget):
    openRequested = Signal(str, object)  # table, unsigned hash (over the range of a Qt int)
    notesShown = Signal(object)  # LoadedNotes, once the page shows them
    firstViewShown = Signal(object)  # LoadedNotes: the outline or the notes, whichever first
    failed = Signal(str)

    def __init__(
        self,
        source: Callable[[], NotesSource],
        icons: IconLoader,
        watches: Watches,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("whatsNew")
        self.icons = icons
        self.watches = watches
        self.loaded: LoadedNotes | None = None
        self.loader = NotesLoader(source, self)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busyChanged.connect(self._on_busy)
        self.exporter = NotesExporter(icons, self)
        self.exporter.finished.connect(self._set_message)
        self._picking = False  # the pickers are being filled, not chosen
        self._asked_from: int | None = None  # the From the newest request named
        self._shown = False
        self._first_view_of: VersionRef | None = None  # of the last firstViewShown

        self.from_combo = _combo("fromVersionCombo", "Compare with this version")
        self.to_combo = _combo("toVersionCombo", "The version whose changes are shown")
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("whatsNewFilter")
        self.filter_edit.setPlaceholderText("Filter by name, hash, kind or table")
        self.filter_edit.setClearButtonEnabled(True)
        self.title = QLabel("Load a manifest to see what it changed.")
        self.title.setObjectName("whatsNewTitle")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message = QLabel()
        self.message.setObjectName("whatsNewMessage")
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.sections_model = SectionsModel(self)
        self.sections = QListView()
        self.sections.setObjectName("whatsNewSections")
        self.sections.setModel(self.sections_model)
        self.entries_model = EntriesModel(icons, self)
        self.proxy = EntriesFilter(self)
        self.proxy.setSourceModel(self.entries_model)
        self.tree = _tree(self.proxy)

        self.watch_button = WatchButton(watches, self)
        self.open_button = QPushButton("&Open in Browse")
        self.open_button.setObjectName("openInBrowseButton")
        self.copy_button = QPushButton("Cop&y as Markdown")
        self.copy_button.setObjectName("copyMarkdownButton")
        self.export_button = QToolButton()
        self.export_button.setObjectName("exportNotesButton")
        self.export_button.setText("E&xport")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("As &Markdown…", lambda: self.exporter.ask(self, "markdown"))
        menu.addAction("As &HTML (icons included)…", lambda: self.exporter.ask(self, "html"))
        self.export_button.setMenu(menu)
        self._lay_out()
        self._connect()
        self._update_buttons()

    # Building ---------------------------------------------------------------------------------
    def _lay_out(self) -> None:
        picker = QHBoxLayout()
        to_label = QLabel("&Version:")
        to_label.setBuddy(self.to_combo)
        from_label = QLabel("compared wi&th:")
        from_label.setBuddy(self.from_combo)
        for widget in (to_label, self.to_combo, from_label, self.from_combo):
            picker.addWidget(widget)
        picker.addSpacing(12)
        picker.addWidget(self.filter_edit, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.sections)
        split.addWidget(self.tree)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 900])
        buttons = button_row(
            [self.watch_button, self.open_button], [self.copy_button, self.export_button]
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(picker)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)

    def _connect(self) -> None:
        self.from_combo.currentIndexChanged.connect(self._on_picked)
        self.to_combo.currentIndexChanged.connect(self._on_picked)
        self.filter_edit.textChanged.connect(self._on_filter)
        self.sections.selectionModel().selectionChanged.connect(self._on_section)
        self.tree.selectionModel().currentChanged.connect(self._update_buttons)
        self.tree.activated.connect(self._open_index)
        self.tree.clicked.connect(self._on_clicked)
        self.open_button.clicked.connect(lambda: self._open_index(self.tree.currentIndex()))
        self.copy_button.clicked.connect(self.copy_markdown)
        self.watches.changed.connect(self._on_watches_changed)
        self.watches.failed.connect(lambda sentence: self._set_message(sentence, error=True))
        # Icons are fetched for the rows on screen, a moment after the view settles.
        self._icon_timer = QTimer(self)
        self._icon_timer.setObjectName("whatsNewIconTimer")
        self._icon_timer.setSingleShot(True)
        self._icon_timer.setInterval(ICON_DELAY_MS)
        self._icon_timer.timeout.connect(self.request_visible_icons)
        for changed in (
            self.tree.verticalScrollBar().valueChanged,
            self.tree.expanded,
            self.tree.collapsed,
            self.proxy.layoutChanged,
            self.proxy.modelReset,
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
        ):
            changed.connect(self._icon_timer.start)

    @Slot()
    def request_visible_icons(self) -> list[str]:
        """Ask for the icons of the entries on screen; returns their paths."""
        paths = _visible_icons(self.tree)
        for path in paths:
            self.icons.request(path)
        return paths

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._icon_timer.start()

    # What the app asks ------------------------------------------------------------------------
    @property
    def notes(self) -> ReleaseNotes | None:
        return self.loaded.notes if self.loaded else None

    def show_latest(self) -> None:
        """The newest version against the one before it (after a load)."""
        self.icons.retry_missing()
        self.show_versions(None, None)

    def show_versions(self, from_id: int | None, to_id: int | None) -> None:
        self._asked_from = from_id
        self.loader.load(from_id, to_id)

    @Slot(object)
    def show_outline(self, outline: LoadedNotes) -> None:
        """The version and its counts while the entries are read (after a load)."""
        if self.loaded is not None and self.loaded.notes.to_version == outline.notes.to_version:
            return  # the whole notes came first
        self.entries_model.set_notes(None)
        self.sections_model.set_notes(None)
        self._fill_pickers(outline.versions, outline.notes)
        self._show_title(outline.notes, outline=True)
        self._set_message("Reading what changed, entry by entry…")
        self._first_view_of = outline.notes.to_version
        self.firstViewShown.emit(outline)

    def show_loaded(self, loaded: LoadedNotes) -> None:
        """Show notes read elsewhere (after a load: the newest against the one before)."""
        self._asked_from = None
        self._on_loaded(loaded)

    def showEvent(self, event: QShowEvent) -> None:
        """First shown without notes (no load in this run yet): read the newest release's."""
        super().showEvent(event)
        if self.loaded is None and not self.loader.busy and not self._shown:
            self.show_latest()
        self._shown = True

    def expect_notes(self) -> None:
        """Notes read elsewhere are on their way (show_loaded): no read of its own meanwhile."""
        self._shown = True

    def forget(self) -> None:
        """Another database: drop what is shown; read again now if shown, else when shown."""
        self.loaded = None
        self.entries_model.set_notes(None)
        self.sections_model.set_notes(None)
        self.exporter.set_notes(None)
        self.title.setText("Load a manifest to see what it changed.")
        self._set_message("")
        self._shown = False
        self._first_view_of = None
        self._update_buttons()
        if self.isVisible():
            self.show_latest()

    def shutdown(self) -> None:
        self.loader.shutdown()
        self.exporter.shutdown()

    def selected_entry(self) -> Entry | None:
        entry = self.tree.currentIndex().data(ENTRY_ROLE)
        return entry if isinstance(entry, Entry) else None

    # Showing notes ----------------------------------------------------------------------------
    @Slot(object)
    def _on_loaded(self, loaded: LoadedNotes) -> None:
        self.loaded = loaded
        notes = loaded.notes
        self._fill_pickers(loaded.versions, notes)
        self.entries_model.set_notes(notes)
        self.sections_model.set_notes(notes)
        self.proxy.set_section(None)
        self.sections.setCurrentIndex(self.sections_model.index(0, 0))
        _expand(self.tree, self.entries_model)
        self._show_title(notes)
        if self.entries_model.entry_rows() == 0:
            self._set_message(_nothing_listed(notes))
        self.exporter.set_notes(notes)
        self._update_buttons()
        if self._first_view_of != notes.to_version:
            self._first_view_of = notes.to_version
            self.firstViewShown.emit(loaded)
        self.notesShown.emit(loaded)

    def _show_title(self, notes: ReleaseNotes, *, outline: bool = False) -> None:
        changed = sum(c.added + c.changed + c.removed for c in notes.counts.values())
        tables = f"{len(notes.counts)} table{'' if len(notes.counts) == 1 else 's'}"
        words = [f"<b>{versions_title(notes)}</b>"]
        if notes.first_load:
            words.append(f"The first load: {changed:,} definitions.")
        elif outline:
            words.append(f"{changed:,} definitions changed in {tables}.")
        else:
            entries = entry_count(notes.sections)
            words.append(
                f"{entries:,} entries listed; {changed:,} definitions changed in {tables}."
            )
        if notes.watched:
            words.append(f"<b>{len(notes.watched)} watched</b> among them.")
        self.title.setText(" ".join(words))
        self._set_message("")

    def _fill_pickers(self, versions: list[DatabaseVersion], notes: ReleaseNotes) -> None:
        self._picking = True
        try:
            self.to_combo.clear()
            self.from_combo.clear()
            self.from_combo.addItem("the version before", PREVIOUS)
            for version in versions:
                text = f"#{version.manifest_id}  {version.version}"
                self.to_combo.addItem(text, version.manifest_id)
                self.from_combo.addItem(text, version.manifest_id)
            self.to_combo.setCurrentIndex(
                max(0, self.to_combo.findData(notes.to_version.manifest_id))
            )
            chosen = PREVIOUS if self._asked_from is None else self._asked_from
            self.from_combo.setCurrentIndex(max(0, self.from_combo.findData(chosen)))
        finally:
            self._picking = False

    @Slot()
    def _on_picked(self) -> None:
        if self._picking or self.to_combo.count() == 0:
            return
        to_id = self.to_combo.currentData()
        from_id = self.from_combo.currentData()
        self.show_versions(None if from_id == PREVIOUS else from_id, to_id)

    @Slot(str)
    def _on_failed(self, sentence: str) -> None:
        self._set_message(sentence, error=True)
        self.failed.emit(sentence)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        if busy:
            self._set_message("Reading the release notes…")
        elif self.message.text() == "Reading the release notes…":
            self._set_message("")

    def _set_message(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b42318;" if error else "")
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # Filtering, selection, opening ------------------------------------------------------------
    @Slot(str)
    def _on_filter(self, text: str) -> None:
        self.proxy.set_text(text)
        if text and self.proxy.rowCount() and self.entries_model.entry_rows() > EXPAND_ALL_LIMIT:
            self.tree.expandToDepth(0)

    @Slot(QItemSelection, QItemSelection)
    def _on_section(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        index = self.sections.currentIndex()
        self.proxy.set_section(index.data(KEY_ROLE) if index.isValid() else None)

    @Slot(QModelIndex)
    def _on_clicked(self, index: QModelIndex) -> None:
        if index.column() == Column.HASH and index.parent().isValid():
            entry = index.data(ENTRY_ROLE)
            if isinstance(entry, Entry) and not index.parent().parent().isValid():
                self._open_index(index)  # the hash of an entry row: a link

    @Slot(QModelIndex)
    def _open_index(self, index: QModelIndex) -> None:
        entry = index.data(ENTRY_ROLE) if index.isValid() else None
        if isinstance(entry, Entry):
            self.openRequested.emit(entry.table, entry.hash)

    @Slot()
    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        self.open_button.setEnabled(entry is not None)
        if entry is None:
            self.watch_button.set_definition(None, None, None)
        else:
            self.watch_button.set_definition(entry.table, entry.hash, entry.name)
        has_notes = self.notes is not None
        self.copy_button.setEnabled(has_notes)
        self.export_button.setEnabled(has_notes)

    @Slot()
    def _on_watches_changed(self) -> None:
        """A watch was added or removed: the watched entries are worked out again here (the
        notes themselves do not change)."""
        if self.loaded is None:
            return
        notes = with_watched(self.loaded.notes, self.watches.all())
        self.loaded = LoadedNotes(notes, self.loaded.versions, self.loaded.seconds)
        self.exporter.set_notes(notes)
        self._show_title(notes)

    def copy_markdown(self) -> str:
        text = self.exporter.markdown()
        if text:
            QGuiApplication.clipboard().setText(text)
            self._set_message("The notes are on the clipboard as Markdown.")
        return text


def _combo(name: str, tip: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setToolTip(tip)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    combo.setMinimumContentsLength(14)
    return combo


def _tree(model: EntriesFilter) -> QTreeView:
    tree = QTreeView()
    tree.setObjectName("whatsNewTree")
    tree.setModel(model)
    tree.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
    tree.setAlternatingRowColors(True)
    tree.setUniformRowHeights(False)
    tree.setIndentation(14)  # three levels: sections, entries, changes
    tree.setExpandsOnDoubleClick(False)  # a double click opens the entry in Browse
    tree.header().setStretchLastSection(True)
    for column, width in ((Column.NAME, 330), (Column.KIND, 110), (Column.CHANGE, 260)):
        tree.setColumnWidth(column, width)
    return tree


def _expand(tree: QTreeView, entries: EntriesModel) -> None:
    """Open the sections and, up to EXPAND_ALL_LIMIT entries, every entry's changes: the first
    screenful at once, the rest on the next turn of the event loop. Opening ~2,000 entries
    and their changes in one go held the page back by ~0.15 s before it showed anything."""
    tree.expandToDepth(0)
    if entries.entry_rows() > EXPAND_ALL_LIMIT:
        return
    model, opened = tree.model(), 0
    for row in range(model.rowCount()):
        section = model.index(row, 0)
        for entry_row in range(min(model.rowCount(section), EXPAND_AT_ONCE - opened)):
            tree.expand(model.index(entry_row, 0, section))
            opened += 1
    notes = entries.notes
    if opened < entries.entry_rows():
        QTimer.singleShot(0, tree, lambda: tree.expandAll() if entries.notes is notes else None)


def _nothing_listed(notes: ReleaseNotes) -> str:
    """Why the list is empty."""
    if notes.first_load:
        return (
            "The first version loaded: its definitions are counted, not listed. The next "
            "load's notes list what it changes."
        )
    if notes.counts:
        return (
            "Nothing to list: what changed was only index numbers or image paths, or in tables "
            "without a section (the counts above)."
        )
    return "These two versions hold the same definitions."


def _visible_icons(tree: QTreeView) -> list[str]:
    """The icon paths of the entry rows on screen, top to bottom."""
    viewport = tree.viewport()
    index = tree.indexAt(viewport.rect().topLeft())
    paths: list[str] = []
    while index.isValid() and tree.visualRect(index).top() < viewport.height():
        entry = index.data(ENTRY_ROLE)
        if isinstance(entry, Entry) and entry.icon and not index.parent().parent().isValid():
            paths.append(entry.icon)
        index = tree.indexBelow(index)
    return paths
