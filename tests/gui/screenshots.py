"""Screenshots of the real window with real data, for README and for looking at the UI.

Run under a virtual display with a tray host, for example:

    xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- \\
        sh -c 'trayer --edge top --align right --widthtype request --height 24 & sleep 0.5; \\
               .venv/bin/python -m tests.gui.screenshots'

It starts the fake Bungie.net and a throwaway PostgreSQL, loads generated manifests through the
window and writes resources/screenshots/{idle,loading,failed,settings,tray-menu}.png and
settings-desktop.png (the Desktop page of Settings).
Release news adds whats-new, whats-new-section, viewer-detail-icon and settings-notifications.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.postgres import ensure_runtime_dir

ensure_runtime_dir()  # before Qt or pgserver are imported (platformdirs' warning as root)

from PySide6.QtCore import QEventLoop, QPoint, QRect, QSettings, QTimer  # noqa: E402
from PySide6.QtGui import QGuiApplication, QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget  # noqa: E402

from manifest_gui.app import Application  # noqa: E402
from manifest_gui.engine.secrets import SecretStore  # noqa: E402
from manifest_gui.engine.settings import Settings  # noqa: E402
from tests.gui.conftest import MemoryKeyring, quick_service  # noqa: E402
from tests.gui.screenshots_whats_new import (  # noqa: E402
    notifications_settings_shot,
    whats_new_shots,
)
from tests.support.bungie_server import BungieServer, error_envelope  # noqa: E402
from tests.support.manifest_factory import ManifestFactory  # noqa: E402
from tests.support.postgres import start_server  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "resources" / "screenshots"


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run the event loop until predicate() holds (checked every 20 ms)."""
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(
        lambda: loop.quit() if predicate() or time.monotonic() > deadline else None
    )
    timer.start()
    if not predicate():
        loop.exec()
    timer.stop()
    if not predicate():
        raise TimeoutError("the window never reached the expected state")


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget_or_pixmap: QWidget | QPixmap, name: str) -> None:
    pixmap = widget_or_pixmap if isinstance(widget_or_pixmap, QPixmap) else widget_or_pixmap.grab()
    path = OUT / f"{name}.png"
    pixmap.save(str(path))
    print(f"wrote {path} ({pixmap.width()}x{pixmap.height()})")


def s3_archive(work: Path) -> dict[str, Any]:
    """An S3 archive on moto's loopback server when moto is installed (the Upload bar shows)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        return {}
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="screenshots",
        AWS_SECRET_ACCESS_KEY="screenshots",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(work / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    import boto3

    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="clan-manifests")
    return {"s3_bucket": "clan-manifests", "s3_endpoint_url": endpoint}


def main() -> int:
    if not os.environ.get("DISPLAY"):
        print("Run this under Xvfb (see the module docstring).", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="manifest-gui-shots-"))
    os.environ.setdefault("MANIFEST_GUI_DATA_DIR", str(work / "data"))
    factory = ManifestFactory(work / "manifests")
    first = factory.generate(seed=11, rows=6000)
    second = factory.generate(seed=12, version_of=first, changed=0.2, added=0.05)
    big = factory.generate(seed=13, rows=60_000)

    with BungieServer() as bungie, start_server("pg15") as pg:
        bungie.any_icon = True  # the generated definitions name random icons
        bungie.publish(factory.content_file(first))
        secrets = SecretStore()  # the OS keyring when there is one (gnome-keyring under dbus)
        if not secrets.keyring_available():
            secrets = SecretStore(MemoryKeyring())
        secrets.set_api_key("0123456789abcdef0123456789abcdef")
        settings = Settings(
            database_url=pg.create_database("shots"),
            bungie_root=bungie.base_url,
            data_dir=str(work / "data"),
            **s3_archive(work),
        )
        app = Application(
            settings,
            secrets=secrets,
            service_factory=quick_service,
            settings_path=work / "settings.json",
            state=QSettings(str(work / "window.ini"), QSettings.Format.IniFormat),
        )
        app.start(hidden=False, startup_job=None)
        window = app.window
        wait_until(lambda: window.isVisible())
        done: list[str] = []
        app.jobFinished.connect(lambda kind, outcome: done.append(outcome))

        def run(start: Callable[[], object]) -> str:
            count = len(done)
            start()
            wait_until(lambda: len(done) > count, timeout=300)
            return done[-1]

        # Idle: a first load, then a release, loaded on the next Check & Load, then a check.
        assert run(app.check_and_load) == "ok"
        bungie.publish(factory.content_file(second))
        assert run(app.check_and_load) == "ok"
        assert run(app.check) == "ok"
        settle()
        whats_new_shots(app, save, wait_until, settle)  # then back on the Manifest page
        save(window, "idle")

        # Loading: a big release through Check & Load, caught with the load bar part-way.
        bungie.publish(factory.content_file(big))
        count = len(done)
        app.check_and_load()
        bar = window.progress_panel.bar("load")
        wait_until(lambda: 0.3 * bar.maximum() < bar.value() < 0.7 * bar.maximum(), timeout=300)
        save(window, "loading")
        app.cancel()
        wait_until(lambda: len(done) > count, timeout=60)

        # Failed: Bungie.net in maintenance.
        bungie.queue(error_envelope(5), times=2)
        assert run(app.check_and_load) == "failed"
        settle()
        save(window, "failed")

        # Settings.
        dialog = app.open_settings()
        settle()
        save(dialog, "settings")
        notifications_settings_shot(dialog, save, settle)
        desktop_page = dialog.findChild(QWidget, "desktopSettings")
        assert desktop_page is not None
        dialog.tabs.setCurrentWidget(desktop_page)
        settle()
        save(dialog, "settings-desktop")
        dialog.reject()

        # The tray menu, next to the tray icon.
        tray = app.tray
        if tray is None or not QSystemTrayIcon.isSystemTrayAvailable():
            print("No system tray here: tray-menu.png not written (start trayer).", file=sys.stderr)
        else:
            wait_until(lambda: not tray.geometry().isEmpty(), timeout=10)
            icon = tray.geometry()
            menu = tray.contextMenu()
            menu.aboutToShow.emit()
            size = menu.sizeHint()
            menu.popup(QPoint(icon.right() - size.width(), icon.bottom() + 2))
            settle(400)
            area = QRect(menu.geometry()).united(icon).adjusted(-40, -6, 6, 30)
            screen = QGuiApplication.primaryScreen()
            shot = screen.grabWindow(0, area.x(), area.y(), area.width(), area.height())
            save(shot, "tray-menu")
            menu.hide()

        app.shutdown()
        window.deleteLater()
    del qt_app
    return 0


if __name__ == "__main__":
    sys.exit(main())
