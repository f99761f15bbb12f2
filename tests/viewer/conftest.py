"""Fixtures for the viewer tests: a real PostgreSQL loaded by the engine over two versions,
and a ViewerWidget over it whose worker threads are joined at teardown.

Waiting happens on signals emitted in the GUI thread (the widget's runners relay worker
results there), never on a worker thread's own signals (pytest-qt killTimer issue).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from manifest_gui.ui.viewer import ViewerWidget
from tests.support.manifest_factory import GeneratedManifest, ManifestFactory

OFFSCREEN_LIMITS = r"^This plugin does not support (propagateSizeHints|raise|requestActivate)\(\)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/viewer/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS))


@dataclass(frozen=True)
class LoadedDatabase:
    url: str
    v1: GeneratedManifest
    v2: GeneratedManifest


def load_two_versions(
    url: str, factory: ManifestFactory, data_dir: Path, rows: int = 600
) -> LoadedDatabase:
    """Load a generated manifest and its next version through the engine, as the app does."""
    v1 = factory.generate(seed=41, rows=rows)
    v2 = factory.generate(seed=42, version_of=v1)
    with ManifestService(Settings(database_url=url, data_dir=str(data_dir))) as service:
        service.load_sqlite(v1.path, "v1.0", "/common/destiny2_content/sqlite/en/v1.content")
        service.load_sqlite(v2.path, "v2.0", "/common/destiny2_content/sqlite/en/v2.content")
    return LoadedDatabase(url, v1, v2)


@pytest.fixture
def loaded_db(
    database_url: str, manifest_factory: ManifestFactory, tmp_path: Path
) -> LoadedDatabase:
    return load_two_versions(database_url, manifest_factory, tmp_path / "data")


@pytest.fixture
def viewer(qtbot, loaded_db: LoadedDatabase) -> Iterator[ViewerWidget]:
    widget = ViewerWidget(lambda: loaded_db.url)
    qtbot.addWidget(widget)
    widget.resize(1400, 800)
    with qtbot.waitSignal(widget.tablesLoaded, timeout=20_000):
        widget.refresh()
    yield widget
    widget.shutdown()
