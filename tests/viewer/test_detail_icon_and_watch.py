"""The detail pane shows the definition's icon (from the Bungie.net stand-in) and has Watch this
/ Stop watching, sharing the watchlist file the CLI uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QImage

from manifest_gui.engine.icons import IconStore
from manifest_gui.engine.watchlist import Watchlist
from manifest_gui.ui.viewer import ViewerWidget
from manifest_gui.ui.whats_new import IconLoader, Watches
from manifest_gui.ui.whats_new.definition_badge import DefinitionBadge
from manifest_gui.ui.whats_new.icon_loader import ICON_SIZE
from tests.support.bungie_server import BungieServer, png_image
from tests.support.manifest_factory import to_unsigned
from tests.viewer.conftest import LoadedDatabase

ITEM = "DestinyInventoryItemDefinition"
WAIT = 20_000


def test_detail_pane_shows_the_icon_and_watches_the_definition(
    qtbot: Any,
    viewer: ViewerWidget,
    loaded_db: LoadedDatabase,
    bungie_server: BungieServer,
    tmp_path: Path,
) -> None:
    rows = loaded_db.v2.rows
    assert rows is not None
    with_icon = next(
        (pk, doc)
        for pk, doc in rows[ITEM].items()
        if isinstance(pk, int) and doc.get("displayProperties", {}).get("icon")
    )
    pk, document = with_icon
    icon = document["displayProperties"]["icon"]
    bungie_server.serve(icon, png_image((10, 200, 90)))
    icons = IconLoader(IconStore(bungie_server.base_url, tmp_path / "icons"))
    watchlist = Watchlist(tmp_path / "watchlist.json")
    badge = DefinitionBadge(icons, Watches(watchlist))
    viewer.detail.attach_badge(badge)
    try:
        assert not badge.watch_button.isEnabled()
        with qtbot.waitSignal(viewer.detail.definitionShown, timeout=WAIT):
            viewer.detail.show_definition(ITEM, {"id": pk})
        assert badge.icon_path == icon
        qtbot.waitUntil(lambda: icons.has_icon(icon), timeout=WAIT)
        shown: QImage = badge.icon_label.pixmap().toImage()
        assert shown.width() == ICON_SIZE
        assert shown.pixelColor(ICON_SIZE // 2, ICON_SIZE // 2).name() == "#0ac85a"
        assert badge.watch_button.isEnabled() and badge.watch_button.text() == "Watch this"
        badge.watch_button.click()
        assert [(w.hash, w.table) for w in watchlist.watches()] == [(to_unsigned(pk), ITEM)]
        assert badge.watch_button.text() == "Stop watching"
        badge.watch_button.click()
        assert watchlist.watches() == []
        viewer.detail.clear()
        assert not badge.watch_button.isEnabled()
    finally:
        icons.close()
