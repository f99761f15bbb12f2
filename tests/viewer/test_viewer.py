"""The viewer's models (qtmodeltester) and views against a real PostgreSQL loaded over two
versions by the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit, QTableView, QTreeView

from manifest_gui.engine.viewer_queries import Change, LinkTarget, RowQuery, SortColumn
from manifest_gui.ui.viewer import ViewerWidget
from manifest_gui.ui.viewer.json_tree_model import LINK_ROLE, MARK_ROLE, JsonTreeModel
from manifest_gui.ui.viewer.tables_model import TablesModel
from tests.support.manifest_factory import to_unsigned
from tests.viewer.conftest import LoadedDatabase

ITEM = "DestinyInventoryItemDefinition"
WAIT = 20_000


def _open_table(qtbot: Any, viewer: ViewerWidget, table: str) -> None:
    with qtbot.waitSignal(viewer.browse.rows_model.pageLoaded, timeout=WAIT):
        viewer.browse.select_table(table)


def test_object_names_exist(viewer: ViewerWidget) -> None:
    assert isinstance(viewer.findChild(QTreeView, "tableList"), QTreeView)
    assert isinstance(viewer.findChild(QTableView, "rowsView"), QTableView)
    assert isinstance(viewer.findChild(QLineEdit, "searchEdit"), QLineEdit)
    assert isinstance(viewer.findChild(QTreeView, "jsonTree"), QTreeView)
    assert isinstance(viewer.findChild(QTableView, "historyView"), QTableView)


def test_models_pass_qtmodeltester(
    qtbot: Any, qtmodeltester: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    qtmodeltester.check(viewer.browse.tables_model)
    _open_table(qtbot, viewer, ITEM)
    qtmodeltester.check(viewer.browse.rows_model)
    with qtbot.waitSignal(viewer.detail.definitionShown, timeout=WAIT):
        viewer.browse.rows_view.selectRow(0)
    qtmodeltester.check(viewer.detail.model)
    history = viewer.history
    qtbot.waitUntil(lambda: history.changes_model.rowCount() > 0, timeout=WAIT)
    qtmodeltester.check(history.versions_model)
    qtmodeltester.check(history.changes_model)
    qtbot.waitUntil(lambda: history.rows_model.rowCount() > 0, timeout=WAIT)
    qtmodeltester.check(history.rows_model)
    with qtbot.waitSignal(history.diffShown, timeout=WAIT):
        history.rows_view.selectRow(0)
    qtmodeltester.check(history.diff_view.before_model)
    qtmodeltester.check(history.diff_view.after_model)


def test_standalone_models_pass_qtmodeltester(qtmodeltester: Any) -> None:
    model = JsonTreeModel()
    model.set_document({"a": [1, {"b": None, "statHash": 1234567}], "c": "text", "d": {}})
    model.set_links({1234567: [LinkTarget("DestinyStatDefinition", 1234567, "Mobility")]})
    qtmodeltester.check(model)
    qtmodeltester.check(TablesModel())


def test_tables_with_live_counts_and_the_largest_table_opens_at_once(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    model = viewer.browse.tables_model
    counts = {t.name: t.live_rows for t in model.tables()}
    assert counts == {t: n for t, n in loaded_db.v2.table_rows.items() if n}
    _open_table(qtbot, viewer, ITEM)
    rows = viewer.browse.rows_model
    assert 0 < rows.rowCount() <= 200  # the first page only: lazy
    assert rows.canFetchMore(QModelIndex()) == (counts[ITEM] > rows.rowCount())
    while rows.canFetchMore(QModelIndex()):
        with qtbot.waitSignal(rows.pageLoaded, timeout=WAIT):
            rows.fetchMore(QModelIndex())
    assert rows.rowCount() == counts[ITEM]
    shown = [rows.index(r, 0).data() for r in range(rows.rowCount())]
    assert shown == [str(h) for h in sorted(to_unsigned(pk) for pk in loaded_db.v2.ids(ITEM))]
    headers = [rows.headerData(c, Qt.Orientation.Horizontal) for c in range(rows.columnCount())]
    assert headers == ["Hash", "Name", "Description", "Created by", "Last changed by"]
    assert "of" in viewer.browse.status.text()


def test_sorting_a_column_is_an_order_by_in_sql(qtbot: Any, viewer: ViewerWidget) -> None:
    _open_table(qtbot, viewer, ITEM)
    rows = viewer.browse.rows_model
    with qtbot.waitSignal(rows.pageLoaded, timeout=WAIT):
        viewer.browse.rows_view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert rows.query is not None
    assert (rows.query.sort, rows.query.descending) == (SortColumn.NAME, True)
    names = [rows.index(r, 1).data() for r in range(rows.rowCount())]
    assert names == sorted(names, reverse=True)


def test_search_as_you_type_debounced_and_stale_queries_dropped(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    rows = viewer.browse.rows_model
    pk = next(pk for pk in loaded_db.v2.ids(ITEM) if pk < 0)
    seen: list[RowQuery | None] = []
    rows.pageLoaded.connect(lambda _n: seen.append(rows.query))
    edit = viewer.browse.search_edit
    with qtbot.waitSignal(rows.pageLoaded, timeout=WAIT):
        for text in ("a", "ab", "abc", str(to_unsigned(pk))):
            edit.setText(text)  # faster than the debounce: only the last one runs
    assert [q.text if q else None for q in seen] == [str(to_unsigned(pk))]
    assert rows.rowCount() == 1
    assert rows.row_at(0).id == pk
    assert rows.headerData(0, Qt.Orientation.Horizontal) == "Table"

    name = loaded_db.v2.get(ITEM, pk)["displayProperties"]["name"]
    with qtbot.waitSignal(rows.countKnown, timeout=WAIT):
        edit.setText(name.upper())
    assert rows.rowCount() >= 1
    assert all(name.lower() in (rows.row_at(r).name or "").lower() for r in range(rows.rowCount()))
    # A search cancelled on the server mid-query does not break the next one.
    viewer.rows_runner.submit(
        lambda conn: conn.execute("SELECT pg_sleep(5)").fetchone(), lambda _r: None, tag="rows"
    )
    with qtbot.waitSignal(rows.pageLoaded, timeout=3_000):
        edit.setText(str(pk))
    assert rows.row_at(0).id == pk


def test_detail_tree_text_links_back_forward_and_copy(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    _open_table(qtbot, viewer, ITEM)
    detail = viewer.detail
    rows = viewer.browse.rows_model
    live = {to_unsigned(pk) for r in loaded_db.v2.rows.values() for pk in r if isinstance(pk, int)}
    model = detail.model
    link_index = None
    for row in range(rows.rowCount()):
        with qtbot.waitSignal(detail.definitionShown, timeout=WAIT):
            viewer.browse.rows_view.selectRow(row)
        link_index = _first_link(model)
        if link_index is not None:
            break
    assert link_index is not None, "no definition with a hash link"
    start = detail.location
    document = loaded_db.v2.get(ITEM, start.pk["id"])
    assert model.document() == document
    assert json.loads(detail.text.toPlainText()) == document
    assert "\n  " in detail.text.toPlainText()  # indented
    target = link_index.data(LINK_ROLE)
    assert isinstance(target, LinkTarget) and target.hash in live

    detail.tree.setCurrentIndex(link_index)
    assert detail.copy_value() == str(target.hash)
    assert QGuiApplication.clipboard().text() == str(target.hash)
    assert detail.copy_path().startswith("$.")

    with qtbot.waitSignal(detail.definitionShown, timeout=WAIT):
        detail.tree.clicked.emit(link_index)
    assert detail.location is not None
    assert (detail.location.table_name, detail.location.pk) == (
        target.table_name,
        {"id": target.id},
    )
    assert detail.can_go_back() and not detail.can_go_forward()
    with qtbot.waitSignal(detail.definitionShown, timeout=WAIT):
        detail.back()
    assert detail.location == start and detail.can_go_forward()
    with qtbot.waitSignal(detail.definitionShown, timeout=WAIT):
        detail.forward()
    assert detail.location.table_name == target.table_name


def _first_link(model: JsonTreeModel, parent: QModelIndex | None = None) -> QModelIndex | None:
    parent = parent or QModelIndex()
    for row in range(model.rowCount(parent)):
        value = model.index(row, 1, parent)
        if isinstance(value.data(LINK_ROLE), LinkTarget):
            return value
        found = _first_link(model, model.index(row, 0, parent))
        if found is not None:
            return found
    return None


def _first_key_link(model: JsonTreeModel, parent: QModelIndex | None = None) -> QModelIndex | None:
    """A key that is itself a hash of a loaded definition (e.g. stats.stats entries)."""
    parent = parent or QModelIndex()
    for row in range(model.rowCount(parent)):
        key = model.index(row, 0, parent)
        if isinstance(key.data(LINK_ROLE), LinkTarget):
            return key
        found = _first_key_link(model, key)
        if found is not None:
            return found
    return None


def test_a_click_reopens_the_selected_row_and_follows_hash_keys(
    qtbot: Any, viewer: ViewerWidget
) -> None:
    _open_table(qtbot, viewer, ITEM)
    detail, view = viewer.detail, viewer.browse.rows_view
    viewer.show()
    qtbot.waitExposed(viewer)
    key_link = None
    for row in range(viewer.browse.rows_model.rowCount()):
        with qtbot.waitSignal(detail.definitionShown, timeout=WAIT):
            view.selectRow(row)
        key_link = _first_key_link(detail.model)
        if key_link is not None:
            break
    assert key_link is not None, "no definition keyed by a hash"
    chosen = detail.location
    target = key_link.data(LINK_ROLE)
    with qtbot.waitSignal(detail.definitionShown, timeout=WAIT):
        detail.tree.clicked.emit(key_link)  # a single click on the blue key
    assert detail.location is not None and detail.location.pk == {"id": target.id}
    # The row is still highlighted: clicking it opens it again.
    rect = view.visualRect(view.currentIndex())
    with qtbot.waitSignal(detail.definitionShown, timeout=WAIT):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert detail.location == chosen


def test_history_versions_changes_and_diff(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    history = viewer.history
    qtbot.waitUntil(lambda: history.changes_model.rowCount() > 0, timeout=WAIT)
    versions = history.versions_model
    assert versions.rowCount() == 2
    texts = [versions.index(0, c).data() for c in range(versions.columnCount())]
    assert texts[0] == "2" and texts[1].startswith("v2.0") and texts[2].endswith("v2.content")
    assert history.selected_version().manifest_id == 2
    changes = loaded_db.v2.changes
    assert changes is not None
    totals = [
        sum(getattr(c, k) for c in history.changes_model.changes())
        for k in ("inserts", "updates", "deletes")
    ]
    assert totals[0] == len(changes.added) and totals[2] == len(changes.deleted)

    qtbot.waitUntil(lambda: history.rows_model.rowCount() > 0, timeout=WAIT)
    assert history.current_change() is Change.UPDATED
    with qtbot.waitSignal(history.diffShown, timeout=WAIT):
        history.rows_view.selectRow(0)
    diff = history.diff_view.current
    assert diff is not None
    assert diff.before == loaded_db.v1.get(diff.table_name, diff.pk)
    assert diff.after == loaded_db.v2.get(diff.table_name, diff.pk)
    marks = _marks(history.diff_view.after_model)
    assert "changed" in marks or "added" in marks
    assert re.search(r"\d+ differences?\.", history.diff_view.summary.text())
    assert "<span" in history.diff_view.text.toHtml()

    history.set_change(Change.DELETED)
    qtbot.waitUntil(
        lambda: history.rows_model.key is not None and history.rows_model.key[2] is Change.DELETED,
        timeout=WAIT,
    )


def test_history_opens_a_version_where_it_has_rows(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    """The first version only inserted: its changes open on Inserted, not an empty Updated."""
    history = viewer.history
    qtbot.waitUntil(lambda: history.versions_model.rowCount() == 2, timeout=WAIT)
    history.select_version(1)
    qtbot.waitUntil(
        lambda: history.rows_model.key is not None and history.rows_model.key[0] == 1,
        timeout=WAIT,
    )
    assert history.current_change() is Change.INSERTED
    qtbot.waitUntil(lambda: history.rows_model.rowCount() > 0, timeout=WAIT)


def test_a_diff_counts_each_difference_once(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    from manifest_gui.engine.viewer_queries import RowDiff

    before = {"hash": 1, "displayProperties": {"name": "Old", "description": "d"}, "gone": 1}
    after = {"hash": 1, "displayProperties": {"name": "New", "description": "d"}, "new": 2}
    viewer.history.diff_view.show_diff(
        RowDiff("DestinyClassDefinition", {"id": 1}, Change.UPDATED, before, after)
    )
    # name changed, "gone" removed, "new" added: three, not four (a change shows on both sides).
    assert "3 differences" in viewer.history.diff_view.summary.text()
    viewer.history.diff_view.show_diff(
        RowDiff("DestinyClassDefinition", {"id": 1}, Change.UPDATED, before, {**before, "x": 1})
    )
    assert "1 difference." in viewer.history.diff_view.summary.text()


def _marks(model: JsonTreeModel, parent: QModelIndex | None = None) -> set[str]:
    parent = parent or QModelIndex()
    found: set[str] = set()
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        if index.data(MARK_ROLE):
            found.add(index.data(MARK_ROLE))
        found |= _marks(model, index)
    return found


def test_export_shown_table_and_search(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase, tmp_path: Path
) -> None:
    _open_table(qtbot, viewer, "DestinyClassDefinition")
    with qtbot.waitSignal(viewer.exportFinished, timeout=WAIT) as blocker:
        assert viewer.export_to(tmp_path / "classes.csv", "csv")
    assert blocker.args[1] == loaded_db.v2.table_rows["DestinyClassDefinition"]
    # With a byte-order mark, so spreadsheets read the names as UTF-8.
    assert (tmp_path / "classes.csv").read_text(encoding="utf-8").startswith("\ufefftable,hash,")
    with qtbot.waitSignal(viewer.browse.rows_model.pageLoaded, timeout=WAIT):
        viewer.browse.search_edit.setText("e")
    with qtbot.waitSignal(viewer.exportFinished, timeout=WAIT) as blocker:
        viewer.export_to(tmp_path / "search.json", "json")
    exported = json.loads((tmp_path / "search.json").read_text(encoding="utf-8"))
    assert len(exported) == blocker.args[1] > 0
    assert all("e" in ((r["name"] or "") + (str(r["hash"]))).lower() for r in exported)


def test_refresh_after_a_new_load_updates_counts(
    qtbot: Any,
    viewer: ViewerWidget,
    loaded_db: LoadedDatabase,
    manifest_factory: Any,
    tmp_path: Path,
) -> None:
    from manifest_gui.engine.service import ManifestService
    from manifest_gui.engine.settings import Settings

    _open_table(qtbot, viewer, ITEM)
    rows = viewer.browse.rows_model
    while rows.canFetchMore(QModelIndex()):  # the whole table on screen
        with qtbot.waitSignal(rows.pageLoaded, timeout=WAIT):
            rows.fetchMore(QModelIndex())
    v3 = manifest_factory.generate(seed=43, version_of=loaded_db.v2, changed=0.1, deleted=0.2)
    with ManifestService(Settings(database_url=loaded_db.url, data_dir=str(tmp_path / "d"))) as svc:
        svc.load_sqlite(v3.path, "v3.0", "/p3")
    with (
        qtbot.waitSignal(viewer.tablesLoaded, timeout=WAIT),
        qtbot.waitSignal(rows.pageLoaded, timeout=WAIT),
    ):
        viewer.refresh()
    counts = {t.name: t.live_rows for t in viewer.browse.tables_model.tables()}
    assert counts == {t: n for t, n in v3.table_rows.items() if n}
    qtbot.waitUntil(lambda: viewer.history.versions_model.rowCount() == 3, timeout=WAIT)
    # The open table shows the new version's rows, not the ones it showed before the load.
    assert rows.total == v3.table_rows[ITEM]
    while rows.canFetchMore(QModelIndex()):
        with qtbot.waitSignal(rows.pageLoaded, timeout=WAIT):
            rows.fetchMore(QModelIndex())
    shown = {rows.row_at(i).pk["id"] for i in range(rows.rowCount())}
    assert shown == set(v3.rows[ITEM])


def test_an_export_to_a_missing_folder_is_a_sentence(
    qtbot: Any, viewer: ViewerWidget, tmp_path: Path
) -> None:
    _open_table(qtbot, viewer, "DestinyClassDefinition")
    target = tmp_path / "no-such-folder" / "classes.csv"
    with qtbot.waitSignal(viewer.exportFailed, timeout=WAIT) as blocker:
        assert viewer.export_to(target, "csv")
    assert blocker.args == [f"Cannot write {target}: No such file or directory."]
    assert not list(tmp_path.iterdir())


def test_no_viewer_session_stays_idle_in_a_transaction(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase
) -> None:
    """Every query ends its transaction: an idle one would hold table locks (schema changes
    wait behind it) and trip servers' idle_in_transaction_session_timeout."""
    import psycopg

    _open_table(qtbot, viewer, ITEM)
    with qtbot.waitSignal(viewer.detail.definitionShown, timeout=WAIT):
        viewer.browse.rows_view.selectRow(0)
    viewer.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: viewer.history.versions_model.rowCount() == 2, timeout=WAIT)
    qtbot.waitUntil(lambda: viewer.history.changes_model.rowCount() > 0, timeout=WAIT)
    with psycopg.connect(loaded_db.url, autocommit=True) as conn:
        idle = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction'"
        ).fetchone()
    assert idle == (0,)


def test_empty_database_shows_a_message(qtbot: Any, database_url: str) -> None:
    widget = ViewerWidget(lambda: database_url)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.tablesLoaded, timeout=WAIT):
        widget.refresh()
    assert "No manifest" in widget.message.text()
    widget.shutdown()


def test_an_export_can_be_cancelled_and_writes_nothing(
    qtbot: Any, viewer: ViewerWidget, loaded_db: LoadedDatabase, tmp_path: Path
) -> None:
    _open_table(qtbot, viewer, "DestinyInventoryItemDefinition")
    browse = viewer.browse
    finished: list[object] = []
    viewer.exportFinished.connect(lambda *args: finished.append(args))
    with qtbot.waitSignal(viewer.exportFailed, timeout=WAIT) as blocker:
        assert viewer.export_to(tmp_path / "items.json", "json")
        assert browse.cancel_export_button.isVisibleTo(viewer)
        assert not browse.export_json_button.isVisibleTo(viewer)
        qtbot.mouseClick(browse.cancel_export_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["Export cancelled; no file was written."]
    qtbot.wait(200)
    assert not finished
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .partial
    assert browse.export_json_button.isVisibleTo(viewer)
    assert not browse.cancel_export_button.isVisibleTo(viewer)
    # And the next export runs as usual.
    with qtbot.waitSignal(viewer.exportFinished, timeout=WAIT):
        assert viewer.export_to(tmp_path / "items.csv", "csv")
    assert (tmp_path / "items.csv").exists()
