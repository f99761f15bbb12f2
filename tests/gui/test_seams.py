"""The seams other parts of the window build on: one JobSpec per kind with its flags, the
presenter's loadFinished after a load that changed the database, pages and Settings tabs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel, QTabWidget

from manifest_gui.engine.jobs import (
    ArchiveJob,
    CheckJob,
    FileJob,
    ForceJob,
    JobKind,
    PollJob,
    StatusJob,
    UpdateJob,
)
from manifest_gui.engine.loader import LoadResult
from manifest_gui.ui.settings_dialog import SettingsDialog
from tests.gui.conftest import AppFactory, Published, run_job
from tests.support.bungie_server import BungieServer


def test_each_job_kind_has_one_spec_with_its_flags() -> None:
    specs = [
        CheckJob(),
        UpdateJob(),
        PollJob(),
        ForceJob(),
        FileJob(path=Path("x.content")),
        ArchiveJob(key="k"),
        StatusJob(),
    ]
    assert sorted(spec.kind for spec in specs) == sorted(JobKind)
    flags = {spec.kind: (spec.checks_bungie, spec.loads, spec.force_load) for spec in specs}
    assert flags[JobKind.CHECK] == (True, False, False)
    assert flags[JobKind.UPDATE] == flags[JobKind.POLL] == (True, True, False)
    assert flags[JobKind.FORCE] == (True, True, True)
    assert flags[JobKind.FILE] == flags[JobKind.ARCHIVE] == (False, True, False)
    assert [spec.kind for spec in specs if not spec.cancellable] == [JobKind.STATUS]
    assert all(spec.words.endswith("…") for spec in specs)


def test_load_finished_follows_only_a_load_that_changed_the_database(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    loads: list[LoadResult] = []
    app.presenter.loadFinished.connect(loads.append)
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    (loaded,) = loads
    assert loaded.loaded and loaded.version == published.version
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")  # up to date
    assert run_job(qtbot, app, app.check) == ("check", "ok")
    assert loads == [loaded]


def test_other_parts_add_pages_and_settings_tabs(make_app: AppFactory) -> None:
    app = make_app()
    tabs = app.window.findChild(QTabWidget, "mainTabs")
    before = tabs.count()
    index = app.window.add_page(QLabel("a page"), "&Extra")
    assert index == before and tabs.tabText(index) == "&Extra"

    def add_tab(dialog: SettingsDialog) -> None:
        dialog.add_tab(QLabel("a tab"), "E&xtra")

    app.settingsDialogOpened.connect(add_tab)
    dialog = app.open_settings()
    assert dialog.tabs.tabText(dialog.tabs.count() - 1) == "E&xtra"
    dialog.reject()
