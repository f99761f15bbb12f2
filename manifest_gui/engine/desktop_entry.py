"""The applications-menu entry: a launcher and the app icon, in the user's own XDG folders.

`manifest-gui desktop install` writes $XDG_DATA_HOME/applications/manifest-gui.desktop and the
icon at every shipped size into the hicolor theme under $XDG_DATA_HOME/icons; `uninstall` removes
exactly those files. A pip install leaves no menu entry, so this is how one appears.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import APP_NAME
from .autostart import (
    DesktopIntegrationError,
    entry_point,
    exec_line,
    remove_file,
    write_text_atomically,
)
from .database import shipped_folder

ICON_FILE = re.compile(rf"{re.escape(APP_NAME)}-(\d+)\.png")


def xdg_data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):  # the spec ignores a relative path
        return Path(value)
    return Path.home() / ".local" / "share"


def launcher_entry(command: Sequence[str]) -> str:
    """The text of the menu launcher that runs `command` (the window)."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={APP_NAME}\n"
        "GenericName=Destiny 2 manifest loader\n"
        "Comment=Keep Destiny 2's game manifest in PostgreSQL\n"
        f"Exec={exec_line(command)}\n"
        f"Icon={APP_NAME}\n"
        "Terminal=false\n"
        "Categories=Development;Database;\n"
        "Keywords=Destiny;Bungie;manifest;PostgreSQL;\n"
        "StartupNotify=true\n"
        f"StartupWMClass={APP_NAME}\n"
    )


@dataclass(frozen=True)
class MenuEntry:
    """Where the launcher and icons go for one user (data_home: $XDG_DATA_HOME)."""

    data_home: Path

    @classmethod
    def for_user(cls) -> MenuEntry:
        return cls(xdg_data_home())

    @property
    def launcher(self) -> Path:
        return self.data_home / "applications" / f"{APP_NAME}.desktop"

    @property
    def icon_theme(self) -> Path:
        return self.data_home / "icons" / "hicolor"

    def icon_files(self) -> dict[Path, bytes]:
        """Every shipped size of the app icon, keyed by where it goes in the theme."""
        files: dict[Path, bytes] = {}
        folder = shipped_folder("resources")
        for entry in folder.iterdir():
            match = ICON_FILE.fullmatch(entry.name)
            if match:
                size = match.group(1)
                files[self.icon_theme / f"{size}x{size}" / "apps" / f"{APP_NAME}.png"] = (
                    entry.read_bytes()
                )
            elif entry.name == f"{APP_NAME}.svg":
                files[self.icon_theme / "scalable" / "apps" / entry.name] = entry.read_bytes()
        return files

    def is_installed(self) -> bool:
        return self.launcher.is_file()

    @staticmethod
    def supported() -> bool:
        """Whether this system's menu is made of XDG launchers (not Windows', not macOS')."""
        return sys.platform not in ("win32", "darwin")

    def install(self, command: Sequence[str] | None = None) -> list[Path]:
        """Write the icons, then the launcher (which names the icon); the paths written."""
        if not self.supported():
            raise DesktopIntegrationError(
                "An applications-menu entry is made on Linux and other XDG desktops only; "
                "the README says what to do on this system."
            )
        written: list[Path] = []
        for path, data in sorted(self.icon_files().items()):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except OSError as exc:
                raise DesktopIntegrationError(
                    f"{path} could not be written: {exc.strerror or exc}."
                ) from exc
            written.append(path)
        text = launcher_entry(list(command) if command is not None else entry_point())
        write_text_atomically(self.launcher, text)
        written.append(self.launcher)
        self._touch_theme()
        return written

    def uninstall(self) -> list[Path]:
        """Remove the launcher and icons this wrote; the paths that were there."""
        removed = [path for path in [self.launcher, *self.icon_files()] if path.exists()]
        for path in removed:
            remove_file(path)
        self._touch_theme()
        return removed

    def _touch_theme(self) -> None:
        # Icon caches look at the theme folder's time to notice new or removed icons.
        if self.icon_theme.is_dir():
            with contextlib.suppress(OSError):
                os.utime(self.icon_theme)
