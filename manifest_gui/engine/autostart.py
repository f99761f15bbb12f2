"""Start at login: one small interface over each platform's own mechanism.

- Linux and other XDG desktops: an autostart entry, $XDG_CONFIG_HOME/autostart/manifest-gui.desktop.
- Windows: a value under the per-user Run key (HKCU\\...\\CurrentVersion\\Run), running the
  environment's pythonw.exe (no console window) with -m manifest_gui.
- macOS: a LaunchAgent plist in ~/Library/LaunchAgents.

Each runs the installed `manifest-gui` entry point by absolute path with --hidden, so an install
in a virtual environment starts at login too. What each writes is built by a pure function, so
the Windows and macOS content is testable on any machine; only the write itself is platform's.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from .. import APP_NAME
from .errors import ManifestGuiError

HIDDEN_OPTION = "--hidden"
ENTRY_FILE = f"{APP_NAME}.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
LAUNCH_AGENT_LABEL = "net.manifest-gui.autostart"
# Characters the Desktop Entry spec reserves in an Exec argument: such an argument is quoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class DesktopIntegrationError(ManifestGuiError):
    """A start-at-login entry or a menu launcher could not be written or removed."""


def entry_point(argv0: str | None = None, executable: str | None = None) -> list[str]:
    """The command that starts the installed manifest-gui, by absolute path.

    In order: the script this process was started as, the script next to this Python (a venv's
    bin/ or Scripts/), the one on PATH; else this Python with -m manifest_gui.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    names = (APP_NAME, f"{APP_NAME}.exe")
    candidates: list[Path] = []
    if argv0 and Path(argv0).name in names:
        candidates.append(Path(argv0))
    if executable:
        # Not resolved: a venv's python is a symlink to the system's, whose bin/ has no script.
        folder = Path(os.path.abspath(executable)).parent
        candidates += [folder / name for name in names]
    found = shutil.which(APP_NAME)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [os.path.abspath(candidate)]
    return [os.path.abspath(executable or "python3"), "-m", "manifest_gui"]


def login_command(argv0: str | None = None, executable: str | None = None) -> list[str]:
    return [*entry_point(argv0, executable), HIDDEN_OPTION]


# --------------------------------------------------------------------------- XDG (Linux)


def exec_argument(argument: str) -> str:
    """One argument of a desktop entry's Exec key, quoted and escaped as the spec asks."""
    argument = argument.replace("%", "%%")  # a literal % among the field codes
    if argument and not _RESERVED.intersection(argument):
        return argument
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    # The value itself is a string whose backslashes are escaped once more.
    return '"' + quoted.replace("\\", "\\\\") + '"'


def exec_line(command: Sequence[str]) -> str:
    return " ".join(exec_argument(argument) for argument in command)


def xdg_config_home(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    value = environ.get("XDG_CONFIG_HOME", "")
    # The spec: a relative path is invalid and is ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".config"


def autostart_entry(command: Sequence[str]) -> str:
    """The text of the XDG autostart entry that runs `command` at login."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={APP_NAME}\n"
        "Comment=Keep Destiny 2's game manifest in PostgreSQL, from the system tray\n"
        f"Exec={exec_line(command)}\n"
        f"Icon={APP_NAME}\n"
        "Terminal=false\n"
        "Categories=Utility;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def write_text_atomically(path: Path, text: str) -> None:
    """Write a whole file or nothing (a half-written entry would start nothing)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise DesktopIntegrationError(
            f"{path} could not be written: {exc.strerror or exc}."
        ) from exc


def remove_file(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise DesktopIntegrationError(
            f"{path} could not be removed: {exc.strerror or exc}."
        ) from exc


class Autostart(Protocol):
    """Whether manifest-gui starts at login, and the switch for it."""

    def location(self) -> str: ...

    def is_enabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...


class _FileAutostart:
    """An entry that is one file: it exists or not."""

    def __init__(self, path: Path, command: Sequence[str] | None) -> None:
        self.path = path
        self.command = list(command) if command is not None else login_command()

    def location(self) -> str:
        return str(self.path)

    def text(self) -> str:
        raise NotImplementedError

    def is_enabled(self) -> bool:
        return self.path.is_file()

    def enable(self) -> None:
        write_text_atomically(self.path, self.text())

    def disable(self) -> None:
        remove_file(self.path)


class XdgAutostart(_FileAutostart):
    def __init__(self, folder: Path | None = None, command: Sequence[str] | None = None) -> None:
        super().__init__((folder or xdg_config_home() / "autostart") / ENTRY_FILE, command)

    def text(self) -> str:
        return autostart_entry(self.command)


# --------------------------------------------------------------------------- macOS


def launch_agent_plist(command: Sequence[str]) -> bytes:
    """The LaunchAgent that runs `command` once at login (launchd keeps no watch on it)."""
    agent = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML)


class MacLaunchAgent(_FileAutostart):
    def __init__(self, folder: Path | None = None, command: Sequence[str] | None = None) -> None:
        folder = folder or Path.home() / "Library" / "LaunchAgents"
        super().__init__(folder / f"{LAUNCH_AGENT_LABEL}.plist", command)

    def content(self) -> bytes:
        return launch_agent_plist(self.command)

    def text(self) -> str:
        return self.content().decode("utf-8")


# --------------------------------------------------------------------------- Windows


def windows_login_command(executable: str | None = None) -> list[str]:
    """pip's manifest-gui.exe is a console program: at login it would open a console window
    beside the tray icon. The environment's pythonw.exe runs the same module without one."""
    executable = sys.executable if executable is None else executable
    pythonw = Path(executable).with_name("pythonw.exe")
    if pythonw.is_file():
        return [str(pythonw), "-m", "manifest_gui", HIDDEN_OPTION]
    return login_command(executable=executable)


def run_key_value(command: Sequence[str]) -> str:
    """The command line stored under the Run key (quoted by Windows' own rules)."""
    return subprocess.list2cmdline(list(command))


class WindowsRunKey:
    """HKCU's Run key: the value named manifest-gui. winreg exists on Windows only."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command is not None else windows_login_command()

    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{APP_NAME}"

    def content(self) -> str:
        return run_key_value(self.command)

    def is_enabled(self) -> bool:
        if sys.platform != "win32":
            raise DesktopIntegrationError("The Run key exists on Windows only.")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, APP_NAME)
        except OSError:
            return False
        return True

    def enable(self) -> None:
        if sys.platform != "win32":
            raise DesktopIntegrationError("The Run key exists on Windows only.")
        import winreg

        try:
            with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.SetValueEx(key, APP_NAME, 0, winreg.REG_SZ, self.content())
        except OSError as exc:
            raise DesktopIntegrationError(
                f"The Run key could not be written: {exc.strerror or exc}."
            ) from exc

    def disable(self) -> None:
        if sys.platform != "win32":
            raise DesktopIntegrationError("The Run key exists on Windows only.")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, APP_NAME)
        except FileNotFoundError:
            return  # nothing to remove
        except OSError as exc:
            raise DesktopIntegrationError(
                f"The Run key could not be changed: {exc.strerror or exc}."
            ) from exc


def autostart_for_platform(platform: str | None = None) -> Autostart:
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return WindowsRunKey()
    if platform == "darwin":
        return MacLaunchAgent()
    return XdgAutostart()
