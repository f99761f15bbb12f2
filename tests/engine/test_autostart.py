"""Start at login and the applications-menu entry, as files on disk: the XDG entries end to end
(validated by desktop-file-validate), and what the Windows Run key and the macOS LaunchAgent
would hold, built by the same functions their platform writers use."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from manifest_gui.engine import autostart
from manifest_gui.engine.autostart import (
    DesktopIntegrationError,
    MacLaunchAgent,
    WindowsRunKey,
    XdgAutostart,
    autostart_for_platform,
    entry_point,
    exec_line,
    login_command,
    windows_login_command,
)
from manifest_gui.engine.desktop_entry import MenuEntry, launcher_entry
from tests.conftest import IsolatedEnv
from tests.support import skip_or_fail
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]
ICON_SIZES = ("16", "22", "32", "48", "64", "128", "256")


def desktop_file_validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        skip_or_fail("desktop-file-validate is not installed (Debian package desktop-file-utils)")
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def exec_value(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Exec="))[len("Exec=") :]


def split_exec(value: str) -> list[str]:
    """Read an Exec value the way the Desktop Entry spec says a desktop does: string escapes
    first (\\\\ is one backslash), then quoting (inside "...", a backslash before " ` $ or
    itself stands for that character), then %% is a literal %."""
    text = value.replace("\\\\", "\\")
    arguments: list[str] = []
    current: list[str] = []
    quoted = started = False
    index = 0
    while index < len(text):
        char = text[index]
        if quoted and char == "\\" and text[index + 1 : index + 2] in ('"', "`", "$", "\\"):
            current.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            quoted = not quoted
            started = True
        elif char == " " and not quoted:
            if started or current:
                arguments.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
        index += 1
    assert not quoted, f"unbalanced quotes in {value!r}"
    if started or current:
        arguments.append("".join(current))
    return [argument.replace("%%", "%") for argument in arguments]


def fake_script(folder: Path, name: str = "manifest-gui") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


# --------------------------------------------------------------------------- the command


def test_the_entry_point_is_the_venvs_script_by_absolute_path() -> None:
    # The test runs in the project's venv: its bin/ holds the installed manifest-gui script.
    command = entry_point(argv0="-c")
    script = Path(command[0])
    assert command == [str(script)] and script.is_absolute()
    assert script.name == "manifest-gui"
    assert script.parent == Path(os.path.abspath(sys.executable)).parent
    assert login_command(argv0="-c") == [str(script), "--hidden"]


def test_the_entry_point_prefers_the_script_this_process_started_as(tmp_path: Path) -> None:
    script = fake_script(tmp_path / "other env" / "bin")
    assert entry_point(argv0=str(script)) == [str(script)]


def test_a_venv_python_is_not_resolved_to_the_system_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A venv's python is a symlink into the system's bin/, where no manifest-gui is installed.
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    venv_bin = tmp_path / "venv" / "bin"
    script = fake_script(venv_bin)
    (venv_bin / "python").symlink_to(sys.executable)
    assert entry_point(argv0="-c", executable=str(venv_bin / "python")) == [str(script)]


def test_without_any_script_the_module_is_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    assert entry_point(argv0="-c", executable=str(python)) == [
        str(python),
        "-m",
        "manifest_gui",
    ]


def test_exec_arguments_with_spaces_and_shell_characters_survive_quoting() -> None:
    command = ['/home/me/My Apps/a$b`c"d\\e 100%/bin/manifest-gui', "--hidden"]
    assert split_exec(exec_line(command)) == command
    assert exec_line(["/opt/venv/bin/manifest-gui", "--hidden"]) == (
        "/opt/venv/bin/manifest-gui --hidden"
    )


# --------------------------------------------------------------------------- XDG autostart


def test_xdg_autostart_is_written_validated_and_removed(isolated_env: IsolatedEnv) -> None:
    entry = XdgAutostart()
    path = isolated_env.config / "autostart" / "manifest-gui.desktop"
    assert entry.location() == str(path)
    assert not entry.is_enabled()
    entry.enable()
    assert entry.is_enabled() and path.is_file()
    text = path.read_text(encoding="utf-8")
    command = split_exec(exec_value(text))
    assert Path(command[0]).is_absolute() and Path(command[0]).name == "manifest-gui"
    assert command[1:] == ["--hidden"]
    assert os.access(command[0], os.X_OK)
    desktop_file_validate(path)
    entry.disable()
    assert not path.exists() and not entry.is_enabled()
    entry.disable()  # removing what is not there is fine


def test_xdg_autostart_defaults_to_dot_config(
    isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert XdgAutostart().path == isolated_env.home / ".config" / "autostart" / (
        "manifest-gui.desktop"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")  # the spec ignores relative paths
    assert XdgAutostart().path.parent == isolated_env.home / ".config" / "autostart"


def test_an_entry_with_an_odd_path_is_still_valid(tmp_path: Path) -> None:
    script = fake_script(tmp_path / "my apps $HOME" / "bin")
    entry = XdgAutostart(tmp_path / "autostart", [str(script), "--hidden"])
    entry.enable()
    desktop_file_validate(entry.path)
    assert split_exec(exec_value(entry.path.read_text())) == [str(script), "--hidden"]


def test_a_folder_that_cannot_be_written_is_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "autostart"
    blocker.write_text("a file where the folder should be")
    entry = XdgAutostart(blocker, ["/usr/bin/manifest-gui", "--hidden"])
    with pytest.raises(DesktopIntegrationError, match="could not be written"):
        entry.enable()
    assert not entry.is_enabled()


# --------------------------------------------------------------------------- Windows and macOS


def test_windows_run_key_value_quotes_the_script_path() -> None:
    key = WindowsRunKey([r"C:\Users\Ann Lee\venv\Scripts\manifest-gui.exe", "--hidden"])
    assert key.location() == (
        r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\manifest-gui"
    )
    assert key.content() == r'"C:\Users\Ann Lee\venv\Scripts\manifest-gui.exe" --hidden'
    plain = WindowsRunKey([r"C:\venv\Scripts\manifest-gui.exe", "--hidden"])
    assert plain.content() == r"C:\venv\Scripts\manifest-gui.exe --hidden"


def test_windows_login_runs_without_a_console_window(tmp_path: Path) -> None:
    scripts = tmp_path / "venv" / "Scripts"
    fake_script(scripts, "python.exe")
    fake_script(scripts, "manifest-gui.exe")
    # Without pythonw.exe (not Windows): the entry point, like everywhere else.
    assert WindowsRunKey(windows_login_command(str(scripts / "python.exe"))).command == [
        str(scripts / "manifest-gui.exe"),
        "--hidden",
    ]
    fake_script(scripts, "pythonw.exe")
    key = WindowsRunKey(windows_login_command(str(scripts / "python.exe")))
    assert key.command == [str(scripts / "pythonw.exe"), "-m", "manifest_gui", "--hidden"]


def test_macos_launch_agent_runs_the_script_hidden_at_login(tmp_path: Path) -> None:
    command = ["/Users/ann/Library/Application Support/venv/bin/manifest-gui", "--hidden"]
    agent = MacLaunchAgent(tmp_path / "LaunchAgents", command)
    assert agent.path == tmp_path / "LaunchAgents" / "net.manifest-gui.autostart.plist"
    content = plistlib.loads(agent.content())
    assert content == {
        "Label": "net.manifest-gui.autostart",
        "ProgramArguments": command,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
    }
    # Writing a plist is only a file: the same code path macOS runs works here too.
    agent.enable()
    assert agent.is_enabled()
    assert plistlib.loads(agent.path.read_bytes()) == content
    agent.disable()
    assert not agent.is_enabled()


def test_each_platform_gets_its_own_mechanism() -> None:
    assert isinstance(autostart_for_platform("linux"), XdgAutostart)
    assert isinstance(autostart_for_platform("freebsd14"), XdgAutostart)
    assert isinstance(autostart_for_platform("darwin"), MacLaunchAgent)
    assert isinstance(autostart_for_platform("win32"), WindowsRunKey)
    assert autostart.RUN_KEY == r"Software\Microsoft\Windows\CurrentVersion\Run"


# --------------------------------------------------------------------------- applications menu


def test_menu_entry_installs_a_valid_launcher_and_every_icon(isolated_env: IsolatedEnv) -> None:
    entry = MenuEntry.for_user()
    written = entry.install()
    launcher = isolated_env.data / "applications" / "manifest-gui.desktop"
    assert entry.launcher == launcher and launcher in written
    desktop_file_validate(launcher)
    text = launcher.read_text(encoding="utf-8")
    command = split_exec(exec_value(text))
    assert command == entry_point() and Path(command[0]).is_absolute()
    assert "\nIcon=manifest-gui\n" in text
    theme = isolated_env.data / "icons" / "hicolor"
    for size in ICON_SIZES:
        icon = theme / f"{size}x{size}" / "apps" / "manifest-gui.png"
        assert icon.read_bytes() == (REPO / "resources" / f"manifest-gui-{size}.png").read_bytes()
    svg = theme / "scalable" / "apps" / "manifest-gui.svg"
    assert svg.read_bytes() == (REPO / "resources" / "manifest-gui.svg").read_bytes()
    assert len(written) == len(ICON_SIZES) + 2

    removed = entry.uninstall()
    assert sorted(removed) == sorted(written)
    assert not launcher.exists()
    assert not [p for p in theme.rglob("*") if p.is_file()]
    assert entry.uninstall() == []


def test_the_launcher_text_validates_for_an_odd_path(tmp_path: Path) -> None:
    launcher = tmp_path / "manifest-gui.desktop"
    launcher.write_text(launcher_entry(["/srv/my env %d/bin/manifest-gui"]))
    desktop_file_validate(launcher)


def test_desktop_commands_need_no_database(isolated_env: IsolatedEnv) -> None:
    # A database URL where nothing listens: the commands must not try it.
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        MANIFEST_GUI_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
    )
    done = run_cli(env, "desktop", "install", timeout=60)
    assert done.returncode == 0, done.stderr
    launcher = isolated_env.data / "applications" / "manifest-gui.desktop"
    assert str(launcher) in done.stdout
    desktop_file_validate(launcher)
    assert (
        isolated_env.data / "icons" / "hicolor" / "48x48" / "apps" / "manifest-gui.png"
    ).is_file()

    done = run_cli(env, "desktop", "uninstall", timeout=60)
    assert done.returncode == 0, done.stderr
    assert not launcher.exists()
    done = run_cli(env, "desktop", "uninstall", timeout=60)
    assert done.returncode == 0 and "was not in the applications menu" in done.stdout

    done = run_cli(env, "desktop", timeout=60)
    assert done.returncode == 2 and "error:" in done.stderr


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_no_menu_entry_where_the_menu_is_not_xdg(
    platform: str, isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    entry = MenuEntry.for_user()
    assert not entry.supported()
    with pytest.raises(DesktopIntegrationError, match="README"):
        entry.install()
    assert not (isolated_env.data / "applications").exists()
    assert not (isolated_env.data / "icons").exists()
