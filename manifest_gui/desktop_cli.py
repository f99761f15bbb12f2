"""`manifest-gui desktop install|uninstall`: the applications-menu entry. Needs no database
(needs_service=False: the CLI passes no service)."""

from __future__ import annotations

import argparse
import logging

from .engine.desktop_entry import MenuEntry
from .engine.progress import Progress

log = logging.getLogger(__name__)

EXIT_OK = 0


def add_desktop_commands(commands: argparse._SubParsersAction) -> None:
    desktop = commands.add_parser("desktop", help="the applications-menu entry and its icons")
    actions = desktop.add_subparsers(dest="desktop_command", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install", help="add manifest-gui to the applications menu (a launcher and its icons)"
    )
    install.set_defaults(func=desktop_install_command, needs_service=False)
    uninstall = actions.add_parser(
        "uninstall", help="remove the launcher and icons that `desktop install` wrote"
    )
    uninstall.set_defaults(func=desktop_uninstall_command, needs_service=False)


def desktop_install_command(_args: argparse.Namespace, _service: None, _progress: Progress) -> int:
    entry = MenuEntry.for_user()
    written = entry.install()
    icons = len(written) - 1
    log.info("Installed the launcher %s and %d icons", entry.launcher, icons)
    print(f"Added to the applications menu: {entry.launcher}")
    print(f"Icons: {icons} files in {entry.icon_theme}")
    return EXIT_OK


def desktop_uninstall_command(
    _args: argparse.Namespace, _service: None, _progress: Progress
) -> int:
    entry = MenuEntry.for_user()
    removed = entry.uninstall()
    log.info("Removed %d files of the applications-menu entry", len(removed))
    if removed:
        print(f"Removed from the applications menu: {len(removed)} files.")
    else:
        print("manifest-gui was not in the applications menu.")
    return EXIT_OK
