"""The What's new page: sections and counts, entries with icons and stat changes, filter,
version picker, opening in Browse, watch buttons, copy and export."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication

from manifest_gui.engine.icons import IconStore
from manifest_gui.engine.watchlist import Watchlist
from manifest_gui.ui.whats_new import IconLoader, Watches, WhatsNewView
from manifest_gui.ui.whats_new.entries_model import ENTRY_ROLE, Column
from manifest_gui.ui.whats_new.icon_loader import placeholder_icon
from manifest_gui.ui.whats_new.notes_words import tray_line
from tests.gui.whats_new_support import ICON, StaticNotes, known_notes
from tests.support.bungie_server import BungieServer, http_error, png_image

WAIT_MS = 10_000


def _loader(root: str, tmp_path: Path) -> IconLoader:
    return IconLoader(IconStore(root, tmp_path / "data" / "icons"))


@pytest.fixture
def source() -> StaticNotes:
    return StaticNotes()


@pytest.fixture
def watches(tmp_path: Path) -> Watches:
    return Watches(Watchlist(tmp_path / "config" / "watchlist.json"))


@pytest.fixture
def view(
    qtbot: Any, bungie_server: BungieServer, tmp_path: Path, source: StaticNotes, watches: Watches
) -> Iterator[WhatsNewView]:
    bungie_server.serve_icon("ace.png", (200, 40, 40))
    bungie_server.serve_icon("fate.png", (40, 160, 60))
    bungie_server.serve_icon("missing.png")
    bungie_server.queue(http_error(404), route=ICON + "missing.png", times=5)
    page = WhatsNewView(lambda: source, _loader(bungie_server.base_url, tmp_path), watches)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    with qtbot.waitSignal(page.notesShown, timeout=WAIT_MS):
        page.show()  # first shown: it reads the newest notes by itself
    assert source.asked == [(None, None)]
    yield page
    page.shutdown()
    page.icons.close()


def _show(qtbot: Any, page: WhatsNewView) -> None:
    with qtbot.waitSignal(page.notesShown, timeout=WAIT_MS):
        page.show_latest()


def _rows(page: WhatsNewView, parent: QModelIndex | None = None) -> list[str]:
    model = page.tree.model()
    parent = parent or QModelIndex()
    return [str(model.index(r, 0, parent).data()) for r in range(model.rowCount(parent))]


def _entry_index(page: WhatsNewView, name: str, column: int = 0) -> QModelIndex:
    model = page.tree.model()
    for section in range(model.rowCount()):
        parent = model.index(section, 0)
        for row in range(model.rowCount(parent)):
            index = model.index(row, column, parent)
            if model.index(row, 0, parent).data() == name:
                return index
    raise AssertionError(f"{name} is not shown")


def test_sections_with_counts_and_entries_with_their_changes(
    qtbot: Any, view: WhatsNewView
) -> None:
    _show(qtbot, view)
    sections = [view.sections_model.index(r).data() for r in range(view.sections_model.rowCount())]
    # Sections without entries (Ghosts) are left out; the counts are the entries in each.
    assert sections == ["All sections  (5)", "Weapons  (2)", "Armour  (2)", "Activities  (1)"]
    assert _rows(view) == ["Weapons (2)", "Armour (2)", "Activities (1)"]
    weapons = view.tree.model().index(0, 0)
    assert _rows(view, weapons) == ["Ace of Spades", "Fatebringer"]
    fate = _entry_index(view, "Fatebringer")
    model = view.tree.model()
    assert model.index(fate.row(), Column.KIND, fate.parent()).data() == "changed"
    changes = [
        (model.index(r, 0, fate).data(), model.index(r, Column.CHANGE, fate).data())
        for r in range(model.rowCount(fate))
    ]
    assert changes == [("Rounds Per Minute", "120 → 140"), ("Outlaw", "11 → 12")]
    assert view.tree.isExpanded(fate), "changes are shown without a click"
    kinds = {
        model.index(r, Column.KIND, model.index(1, 0)).data()
        for r in range(model.rowCount(model.index(1, 0)))
    }
    assert kinds == {"removed", "unclassified"}
    assert "245000.26.12.01 (#3) compared with 244900.26.11.24 (#2)" in view.title.text()


def test_icons_arrive_and_a_missing_one_stays_the_placeholder(
    qtbot: Any, view: WhatsNewView, bungie_server: BungieServer
) -> None:
    _show(qtbot, view)
    icons = view.icons
    qtbot.waitUntil(lambda: icons.has_icon(ICON + "ace.png"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: icons.is_missing(ICON + "missing.png"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: icons.has_icon(ICON + "fate.png"), timeout=WAIT_MS)
    ace = _entry_index(view, "Ace of Spades").data(Qt.ItemDataRole.DecorationRole)
    image = ace.pixmap(24, 24).toImage()
    assert image.pixelColor(12, 12).name() == "#c82828", "the served icon is drawn"
    helm = _entry_index(view, "Old Helm").data(Qt.ItemDataRole.DecorationRole)
    assert helm.cacheKey() == placeholder_icon().cacheKey()
    no_icon = _entry_index(view, "Secret Raid").data(Qt.ItemDataRole.DecorationRole)
    assert no_icon.cacheKey() == placeholder_icon().cacheKey()
    assert icons.store is not None and any(icons.store.folder.glob("*.png")), "cached on disk"
    assert len(bungie_server.requests_to(ICON + "ace.png")) == 1


def test_without_a_network_the_notes_show_with_placeholders(
    qtbot: Any, tmp_path: Path, refused_url: str, source: StaticNotes, watches: Watches
) -> None:
    page = WhatsNewView(lambda: source, _loader(refused_url, tmp_path), watches)
    qtbot.addWidget(page)
    page.show()
    try:
        _show(qtbot, page)
        assert _rows(page) == ["Weapons (2)", "Armour (2)", "Activities (1)"]
        qtbot.waitUntil(lambda: page.icons.is_missing(ICON + "ace.png"), timeout=WAIT_MS)
        ace = _entry_index(page, "Ace of Spades").data(Qt.ItemDataRole.DecorationRole)
        assert ace.cacheKey() == placeholder_icon().cacheKey()
    finally:
        page.shutdown()
        page.icons.close()


def test_filter_box_and_section_list_narrow_the_entries(qtbot: Any, view: WhatsNewView) -> None:
    _show(qtbot, view)
    qtbot.keyClicks(view.filter_edit, "pinnacle")
    assert _rows(view) == ["Armour (2)"]
    assert _rows(view, view.tree.model().index(0, 0)) == ["Pinnacle Gauntlets"]
    view.filter_edit.setText("2222")  # a hash
    assert _rows(view) == ["Weapons (2)"]
    fate = _entry_index(view, "Fatebringer")
    assert view.tree.model().rowCount(fate) == 2, "a matching entry keeps its changes"
    view.filter_edit.setText("rounds per")  # a change's label
    assert _rows(view, view.tree.model().index(0, 0)) == ["Fatebringer"]
    view.filter_edit.clear()
    view.sections.setCurrentIndex(view.sections_model.index(3))  # Activities
    assert _rows(view) == ["Activities (1)"]
    view.sections.setCurrentIndex(view.sections_model.index(0))
    assert len(_rows(view)) == 3


def test_the_version_picker_reads_the_chosen_versions(
    qtbot: Any, view: WhatsNewView, source: StaticNotes
) -> None:
    _show(qtbot, view)
    assert source.asked == [(None, None), (None, None)]
    assert view.to_combo.count() == 3 and view.to_combo.currentData() == 3
    assert view.from_combo.itemText(0) == "the version before"
    with qtbot.waitSignal(view.notesShown, timeout=WAIT_MS) as shown:
        view.from_combo.setCurrentIndex(view.from_combo.findData(1))
    assert source.asked[-1] == (1, 3)
    assert shown.args[0].notes.from_version.manifest_id == 1
    assert view.to_combo.currentData() == 3 and view.from_combo.currentData() == 1
    assert "compared with 244900.26.11.24 (#1)" in view.title.text()


def test_a_failed_read_is_one_sentence_on_the_page(
    qtbot: Any, view: WhatsNewView, source: StaticNotes
) -> None:
    source.fail = "The database is not reachable."
    with qtbot.waitSignal(view.failed, timeout=WAIT_MS) as failed:
        view.show_latest()
    assert failed.args == ["The database is not reachable."]
    assert view.message.text() == "The database is not reachable." and view.message.isVisible()


def test_double_click_or_hash_click_opens_the_entry_in_browse(
    qtbot: Any, view: WhatsNewView
) -> None:
    _show(qtbot, view)
    ace = _entry_index(view, "Ace of Spades")
    with qtbot.waitSignal(view.openRequested) as opened:
        view.tree.activated.emit(ace)
    assert opened.args == ["DestinyInventoryItemDefinition", 1111]
    raid_hash = _entry_index(view, "Secret Raid", Column.HASH)
    view.tree.scrollTo(raid_hash)
    rect = view.tree.visualRect(raid_hash)
    with qtbot.waitSignal(view.openRequested) as opened:
        qtbot.mouseClick(view.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == ["DestinyActivityDefinition", 5555]
    view.tree.setCurrentIndex(_entry_index(view, "Old Helm"))
    with qtbot.waitSignal(view.openRequested) as opened:
        view.open_button.click()
    assert opened.args == ["DestinyInventoryItemDefinition", 3333]


def test_watch_this_and_stop_watching(
    qtbot: Any, view: WhatsNewView, watches: Watches, tmp_path: Path
) -> None:
    _show(qtbot, view)
    button = view.watch_button
    assert not button.isEnabled()
    view.tree.setCurrentIndex(_entry_index(view, "Fatebringer"))
    assert button.isEnabled() and button.text() == "Watch this"
    button.click()
    assert button.text() == "Stop watching"
    stored = Watchlist(tmp_path / "config" / "watchlist.json").watches()
    assert [(w.hash, w.table) for w in stored] == [(2222, "DestinyInventoryItemDefinition")]
    assert [e.name for e in view.notes.watched] == ["Fatebringer"]
    assert "1 watched" in view.title.text()
    # A text watch (from Settings or the CLI) is named, and Stop watching leaves it alone.
    watches.add("Pinnacle")
    view.tree.setCurrentIndex(_entry_index(view, "Pinnacle Gauntlets"))
    assert button.text() == "Watch this"
    assert "names containing 'Pinnacle'" in button.toolTip()
    assert {e.name for e in view.notes.watched} == {"Fatebringer", "Pinnacle Gauntlets"}
    view.tree.setCurrentIndex(_entry_index(view, "Fatebringer"))
    button.click()
    assert button.text() == "Watch this"
    assert [w.text for w in watches.all()] == ["Pinnacle"]
    assert [e.name for e in view.notes.watched] == ["Pinnacle Gauntlets"]


def test_export_html_is_one_file_with_the_icons_inside(
    qtbot: Any, view: WhatsNewView, tmp_path: Path
) -> None:
    _show(qtbot, view)
    target = tmp_path / "notes.html"
    with qtbot.waitSignal(view.exporter.exported, timeout=WAIT_MS):
        assert view.exporter.export(target, "html")
    html = target.read_text(encoding="utf-8")
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == 5 and all(s.startswith("data:image/") for s in sources)
    assert base64.b64encode(png_image((200, 40, 40))).decode() in html  # Ace of Spades' icon
    assert "data:image/svg+xml" in html, "the 404 icon is the placeholder"
    assert "Rounds Per Minute 120 → 140" in html
    assert "http://" not in html and "https://" not in html.replace("http://www.w3.org", "")


def test_export_to_an_unwritable_place_is_a_sentence(
    qtbot: Any, view: WhatsNewView, tmp_path: Path
) -> None:
    _show(qtbot, view)
    with qtbot.waitSignal(view.exporter.exportFailed, timeout=WAIT_MS) as failed:
        view.exporter.export(tmp_path / "no" / "such" / "folder" / "notes.html", "html")
    assert failed.args[0].startswith("Could not write ")
    assert view.message.text() == failed.args[0]


def test_tray_line_names_sections_and_watched() -> None:
    notes = known_notes()
    assert tray_line(notes) == "New manifest 245000.26.12.01: 2 weapons, 2 armour, 1 activity"
    from manifest_gui.engine.watchlist import Watch, with_watched

    watched = with_watched(notes, [Watch(1, hash=2222), Watch(2, text="helm")])
    assert tray_line(watched).endswith("; 2 watched items changed")
    from dataclasses import replace

    first = replace(notes, from_version=None, sections=())
    assert tray_line(first) == "New manifest 245000.26.12.01 (the first load): 6 definitions"


def test_copy_and_export_as_markdown(qtbot: Any, view: WhatsNewView, tmp_path: Path) -> None:
    _show(qtbot, view)
    text = view.copy_markdown()
    assert QGuiApplication.clipboard().text() == text
    assert "Fatebringer" in text and "120 → 140" in text
    target = tmp_path / "notes.md"
    with qtbot.waitSignal(view.exporter.exported, timeout=WAIT_MS):
        view.exporter.export(target, "markdown")
    assert target.read_text(encoding="utf-8") == text
    assert view.notes is not None and view.tree.currentIndex().data(ENTRY_ROLE) is None


def test_models_pass_qtmodeltester(qtbot: Any, qtmodeltester: Any, view: WhatsNewView) -> None:
    _show(qtbot, view)
    qtmodeltester.check(view.entries_model)
    qtmodeltester.check(view.sections_model)
    view.filter_edit.setText("fate")
    qtmodeltester.check(view.proxy)


def test_the_outline_comes_first_then_the_entries(qtbot: Any, view: WhatsNewView) -> None:
    from dataclasses import replace

    from manifest_gui.ui.whats_new.notes_loader import LoadedNotes
    from tests.gui.whats_new_support import VERSIONS

    full = known_notes(3, 4)  # a newer load than the notes the page shows
    outline = LoadedNotes(replace(full, sections=()), VERSIONS, 0.01, outline=True)
    with qtbot.waitSignal(view.firstViewShown) as first:
        view.show_outline(outline)
    assert first.args == [outline]
    assert "6 definitions changed in 2 tables." in view.title.text()
    assert view.message.text() == "Reading what changed, entry by entry…"
    assert _rows(view) == []
    with qtbot.assertNotEmitted(view.firstViewShown), qtbot.waitSignal(view.notesShown):
        view.show_loaded(LoadedNotes(full, VERSIONS, 0.5))
    assert _rows(view) == ["Weapons (2)", "Armour (2)", "Activities (1)"]
    assert not view.message.isVisible()
    view.show_outline(outline)  # late: the whole notes are shown already
    assert _rows(view) == ["Weapons (2)", "Armour (2)", "Activities (1)"]


def test_only_the_icons_on_screen_are_fetched(
    qtbot: Any, bungie_server: BungieServer, tmp_path: Path, watches: Watches
) -> None:
    from manifest_gui.engine.notes_model import Entry, EntryKind, Section
    from tests.gui.whats_new_support import ITEMS

    bungie_server.any_icon = True
    many = tuple(
        Entry(EntryKind.ADDED, ITEMS, 10_000 + i, f"Item {i:03d}", f"{ICON}{i:03d}.png")
        for i in range(300)
    )
    notes = known_notes()
    source = StaticNotes(
        type(notes)(
            notes.from_version,
            notes.to_version,
            notes.counts,
            (Section("weapons", "Weapons", many),),
        )
    )
    page = WhatsNewView(lambda: source, _loader(bungie_server.base_url, tmp_path), watches)
    qtbot.addWidget(page)
    page.resize(900, 500)
    try:
        with qtbot.waitSignal(page.notesShown, timeout=WAIT_MS):
            page.show()
        qtbot.waitUntil(lambda: len(bungie_server.requests_to("content")) > 0, timeout=WAIT_MS)
        qtbot.wait(300)
        first = {r.path for r in bungie_server.requests_to("content")}
        assert 3 <= len(first) <= 30, "the rows on screen, not all 300"
        assert ICON + "000.png" in first
        page.tree.scrollToBottom()
        qtbot.waitUntil(lambda: page.icons.has_icon(ICON + "299.png"), timeout=WAIT_MS)
        assert len({r.path for r in bungie_server.requests_to("content")}) < 80
    finally:
        page.shutdown()
        page.icons.close()


def test_icons_in_memory_are_bounded_and_come_back_from_disk(
    qtbot: Any, bungie_server: BungieServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from manifest_gui.ui.whats_new import icon_loader

    monkeypatch.setattr(icon_loader, "MAX_ICONS", 3)
    bungie_server.any_icon = True
    loader = _loader(bungie_server.base_url, tmp_path)
    paths = [f"{ICON}lru{i}.png" for i in range(5)]
    try:
        for path in paths:
            with qtbot.waitSignal(loader.iconArrived, timeout=WAIT_MS):
                loader.request(path)
        assert [loader.has_icon(p) for p in paths] == [False, False, True, True, True]
        with qtbot.waitSignal(loader.iconArrived, timeout=WAIT_MS):
            loader.icon(paths[0])  # shown again: asked again
        assert loader.has_icon(paths[0]) and not loader.has_icon(paths[2])
        assert len(bungie_server.requests_to(paths[0])) == 1, "the second time from the disk"
    finally:
        loader.close()


def test_an_empty_list_says_why(qtbot: Any, view: WhatsNewView) -> None:
    from dataclasses import replace

    from manifest_gui.ui.whats_new.notes_loader import LoadedNotes
    from tests.gui.whats_new_support import VERSIONS

    first = replace(known_notes(), from_version=None, sections=())
    view.show_loaded(LoadedNotes(first, VERSIONS, 0.1))
    assert view.message.text().startswith("The first version loaded")
    noise = replace(known_notes(), sections=())
    view.show_loaded(LoadedNotes(noise, VERSIONS, 0.1))
    assert view.message.text().startswith("Nothing to list")
    view.show_loaded(LoadedNotes(known_notes(), VERSIONS, 0.1))
    assert not view.message.isVisible()


def test_a_damaged_watchlist_is_a_sentence_on_the_page(
    qtbot: Any, view: WhatsNewView, tmp_path: Path
) -> None:
    _show(qtbot, view)
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "watchlist.json").write_text("{not json", encoding="utf-8")
    view.tree.setCurrentIndex(_entry_index(view, "Fatebringer"))
    view.watch_button.click()
    assert view.message.isVisible() and "watchlist" in view.message.text()
    assert "fix or delete the file" in view.message.text()
