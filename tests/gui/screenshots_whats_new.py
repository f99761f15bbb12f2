"""Screenshots of release news for tests/gui/screenshots.py: the What's new page after a load
(icons from the Bungie.net stand-in), the same page filtered to one section, the detail pane
with a definition's icon and watch button, and Settings' Notifications tab."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from manifest_gui.app import Application
from manifest_gui.engine.notes_model import EntryKind

Save = Callable[[QWidget, str], None]
Wait = Callable[..., None]


def whats_new_shots(
    app: Application, save: Save, wait_until: Wait, settle: Callable[[], None]
) -> None:
    """After a load that changed the database: the page, then Browse on one of its entries."""
    window, page = app.window, app.news.page
    # The second load's notes (the first load's come first, and list no entries).
    wait_until(lambda: page.notes is not None and not page.notes.first_load, timeout=120)
    notes = page.notes
    assert notes is not None
    window.tabs.setCurrentWidget(page)
    page.tree.scrollToTop()
    icons = page.icons
    shown = [e.icon for s in notes.sections for e in s.entries if e.icon][:12]
    for path in shown:
        icons.icon(path)
    wait_until(lambda: all(icons.has_icon(p) or icons.is_missing(p) for p in shown), timeout=60)
    model = page.tree.model()
    page.tree.setCurrentIndex(model.index(0, 0, model.index(0, 0)))  # Watch this is enabled
    settle()
    save(window, "whats-new")

    # One section, filtered to what changed: each entry's changes, before → after.
    weapons = page.sections_model.row_of("weapons")
    if weapons >= 0:
        page.sections.setCurrentIndex(page.sections_model.index(weapons))
    page.filter_edit.setText("changed")
    model = page.tree.model()
    section = model.index(0, 0)
    if model.rowCount(section):
        page.tree.setCurrentIndex(model.index(0, 0, section))
    page.tree.scrollToTop()
    page.request_visible_icons()
    settle()
    save(window, "whats-new-section")
    page.filter_edit.clear()
    page.sections.setCurrentIndex(page.sections_model.index(0))

    # An entry opened in Browse: the detail pane with its icon and Watch this.
    entries = [e for s in notes.sections for e in s.entries]
    entry = next((e for e in entries if e.icon and e.kind != EntryKind.REMOVED), None)
    if entry is not None:
        detail = app.viewer.detail
        page.openRequested.emit(entry.table, entry.hash)
        wait_until(lambda: detail.definition is not None and icons.has_icon(entry.icon))
        settle()
        save(window, "viewer-detail-icon")
    window.tabs.setCurrentIndex(0)
    settle()


def notifications_settings_shot(dialog: QWidget, save: Save, settle: Callable[[], None]) -> None:
    tab = dialog.findChild(QWidget, "notificationSettings")
    tabs = getattr(dialog, "tabs", None)
    if tab is None or tabs is None:
        return
    tabs.setCurrentWidget(tab)
    settle()
    save(dialog, "settings-notifications")
