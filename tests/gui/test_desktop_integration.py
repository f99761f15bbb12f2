"""Desktop integration on the real desktop stand-in: one window per data dir, a clean end on
every signal and on QApplication.quit() with a tray, and the Desktop page of Settings.

The window tests start `python -m manifest_gui` as real processes, as a user's desktop does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QDialogButtonBox, QLabel, QPushButton

from manifest_gui.engine.autostart import XdgAutostart
from manifest_gui.engine.desktop_entry import MenuEntry
from manifest_gui.logs import LOG_FILE
from manifest_gui.ui.desktop_settings import DesktopSettingsWidget
from manifest_gui.ui.single_instance import server_name
from manifest_gui.ui.unix_signals import SignalWatcher
from tests.conftest import IsolatedEnv
from tests.gui.conftest import AppFactory, Published
from tests.support import display_available
from tests.support.bungie_server import BungieServer, delayed, slow_body
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/none"
START_TIMEOUT = 60.0  # two cores shared with other test runs: a cold start can be slow


# --------------------------------------------------------------------------- window processes


def window_env(
    data_dir: Path, *, database_url: str | None = UNREACHABLE_DATABASE
) -> dict[str, str]:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        MANIFEST_GUI_DATA_DIR=str(data_dir),
        # No keyring prompt can block a window process on the virtual screen.
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        MANIFEST_GUI_BUNGIE_ROOT="http://127.0.0.1:1",
    )
    env.pop("MANIFEST_GUI_DATABASE_URL", None)
    if database_url is not None:
        env["MANIFEST_GUI_DATABASE_URL"] = database_url
    if not display_available():
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


class WindowProcess:
    """`python -m manifest_gui ARGS` with its output in files (a full pipe would block it)."""

    def __init__(self, env: dict[str, str], *args: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(env["MANIFEST_GUI_DATA_DIR"])
        self.output = folder / f"window-{time.monotonic_ns()}.txt"
        self._file = self.output.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "manifest_gui", *args],
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        path = self.data_dir / "logs" / LOG_FILE
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert self.process.poll() is None, f"the window exited early:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {text!r} in the log:\n{self.log[-3000:]}"
            time.sleep(0.1)

    def wait_for_log_count(self, text: str, count: int, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.log.count(text) < count:
            assert self.process.poll() is None, f"the window exited early:\n{self.text()}"
            assert time.monotonic() < deadline, f"{text!r} not {count} times:\n{self.log[-3000:]}"
            time.sleep(0.1)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def text(self) -> str:
        self._file.flush()
        return self.output.read_text(errors="replace")[-3000:]

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self._file.close()


@pytest.fixture
def windows(tmp_path: Path) -> Iterator[Callable[..., WindowProcess]]:
    started: list[WindowProcess] = []

    def start(env: dict[str, str], *args: str) -> WindowProcess:
        window = WindowProcess(env, *args, folder=tmp_path / "output")
        started.append(window)
        return window

    yield start
    for window in started:
        window.end()


LISTENING = "Listening for other launches"
STARTED = " started; database: "


def viewable_windows(title: str) -> list[str]:
    """Ids of mapped X windows with this title and a window's size (xwininfo, on tests/run's
    Xvfb)."""
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree"], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in tree.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[1] == f'"{title}":':
            info = subprocess.run(
                ["xwininfo", "-id", parts[0]], capture_output=True, text=True, check=False
            ).stdout
            height = next((int(x.split()[-1]) for x in info.splitlines() if "Height:" in x), 0)
            # Not the tray icon (22 px) nor a tray balloon (~90 px high): the window.
            if "IsViewable" in info and height > 300:
                found.append(parts[0])
    return found


def test_a_second_launch_hands_over_and_exits(
    tmp_path: Path, windows: Callable[..., WindowProcess]
) -> None:
    env = window_env(tmp_path / "data")
    first = windows(env, "--hidden", "--no-check")
    first.wait_for_log(STARTED)
    first.wait_for_log(LISTENING)
    with_x = display_available() and shutil.which("xwininfo") is not None
    if with_x:
        assert not viewable_windows("manifest-gui"), "--hidden with a tray shows no window"

    started = time.monotonic()
    second = windows(env, "--no-check")
    assert second.wait(10) == 0, second.text()
    took = time.monotonic() - started
    assert took < 10, f"the second launch took {took:.1f} s"
    first.wait_for_log("Another launch asked for the window")
    assert first.process.poll() is None, "the first window must keep running"
    if with_x:
        deadline = time.monotonic() + 10
        while not viewable_windows("manifest-gui"):
            assert time.monotonic() < deadline, "the running window was not shown"
            time.sleep(0.1)

    # At login (--hidden) the running window is left as it is.
    hidden = windows(env, "--hidden", "--no-check")
    assert hidden.wait(10) == 0, hidden.text()
    first.wait_for_log("Another launch with --hidden")
    assert first.log.count(STARTED) == 1, "only one window ever started"
    assert first.process.poll() is None


def test_another_data_dir_is_another_window(
    tmp_path: Path, windows: Callable[..., WindowProcess]
) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "x" / ".." / "a")
    first = windows(window_env(tmp_path / "a"), "--no-check")
    other = windows(window_env(tmp_path / "b"), "--no-check")
    first.wait_for_log(LISTENING)
    other.wait_for_log(LISTENING)
    assert first.process.poll() is None and other.process.poll() is None


def test_a_crashed_window_does_not_block_the_next_start(
    tmp_path: Path, windows: Callable[..., WindowProcess]
) -> None:
    env = window_env(tmp_path / "data")
    crashed = windows(env, "--no-check")
    crashed.wait_for_log(LISTENING)
    crashed.process.send_signal(signal.SIGKILL)  # no chance to remove its socket
    crashed.wait(10)
    socket = Path(os.environ.get("TMPDIR", "/tmp")) / server_name(tmp_path / "data")
    assert socket.exists(), "the killed window left its server name behind"

    # Both windows write the data dir's one log (the killed one may or may not have logged
    # its start): wait for the second window's own lines.
    after = windows(env, "--no-check")
    after.wait_for_log_count(LISTENING, 2)
    deadline = time.monotonic() + START_TIMEOUT
    while STARTED not in after.log.rpartition(LISTENING)[2]:
        assert after.process.poll() is None, f"the window exited early:\n{after.text()}"
        assert time.monotonic() < deadline, after.log[-3000:]
        time.sleep(0.1)
    time.sleep(1)
    assert after.process.poll() is None


def postgres_of(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL processes serving this data folder (a server's cwd is its data dir)."""
    found = []
    target = os.path.realpath(pgdata)
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] == "postgres" and process.cwd() == target:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def stop_stray_postgres() -> Iterator[list[Path]]:
    """Data folders whose server a failing test might leave running: stopped at the end."""
    folders: list[Path] = []
    yield folders
    for pgdata in folders:
        try:
            pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if any(process.pid == pid for process in postgres_of(pgdata)):
            os.kill(pid, signal.SIGTERM)


@pytest.mark.slow
def test_sigterm_during_a_job_leaves_no_embedded_server_behind(
    tmp_path: Path,
    windows: Callable[..., WindowProcess],
    stop_stray_postgres: list[Path],
    bungie_server: BungieServer,
    published: Published,
) -> None:
    data_dir = tmp_path / "data"
    pgdata = data_dir / "postgres" / "data"
    stop_stray_postgres.append(pgdata)
    # The startup check finds a new manifest; its download crawls, so the job is running.
    bungie_server.queue(slow_body(chunk_size=2048, interval=0.05), route="content")
    env = window_env(data_dir, database_url=None)
    env.update(MANIFEST_GUI_BUNGIE_ROOT=bungie_server.base_url, MANIFEST_GUI_API_KEY="k")
    window = windows(env)
    deadline = time.monotonic() + 120  # the first start runs initdb
    while not (postgres_of(pgdata) and bungie_server.requests_to("content")):
        assert window.process.poll() is None, window.text()
        assert time.monotonic() < deadline, f"no download on the embedded database:\n{window.log}"
        time.sleep(0.2)

    started = time.monotonic()
    window.process.send_signal(signal.SIGTERM)
    code = window.wait(15)
    took = time.monotonic() - started
    assert code == 0, window.text()
    assert took < 10, f"SIGTERM took {took:.1f} s"
    assert not postgres_of(pgdata), "the embedded PostgreSQL is still running"
    assert not (pgdata / "postmaster.pid").exists()
    assert "Quitting: received SIGTERM" in window.log
    assert "Quitting: cancelling the poll job" in window.log  # the startup check & load
    assert (Path(os.environ["XDG_CONFIG_HOME"]) / "manifest-gui" / "window.ini").is_file()

    # Nothing of the cancelled job reached the database.
    done = run_cli(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["current"] is None
    assert not postgres_of(pgdata)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_sigint_and_sighup_end_the_window_like_quit(
    tmp_path: Path, windows: Callable[..., WindowProcess], signum: signal.Signals
) -> None:
    window = windows(window_env(tmp_path / "data"), "--no-check")
    window.wait_for_log(STARTED)
    window.process.send_signal(signum)
    assert window.wait(10) == 0, window.text()
    assert f"Quitting: received {signum.name}" in window.log
    assert "manifest-gui stopped" in window.log


# QApplication.quit() from an embedding program (or a session manager): the driver owns the
# QApplication, runs main() in it, and calls quit() with the window shown (Qt closes it, the close
# goes to the tray, and the tray's balloon then vetoed the quit) or already in the tray; and the
# end of an X session, which Qt delivers as a Quit event when the session manager says "die".
QUIT_DRIVER = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QCoreApplication, QEvent, QTimer
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    qt_app = QApplication([sys.argv[0]])

    def ask_to_quit():
        if sys.argv[1] == "session-end":
            # What Qt does when the X session manager says the session ends ("die").
            QCoreApplication.sendEvent(qt_app, QEvent(QEvent.Type.Quit))
        else:
            QApplication.quit()

    def step():
        window = next(
            (w for w in qt_app.topLevelWidgets() if w.objectName() == "mainWindow"), None
        )
        tray = qt_app.findChild(QSystemTrayIcon, "trayIcon")
        if window is None or not window.isVisible() or tray is None:
            QTimer.singleShot(100, step)
            return
        print("tray available:", QSystemTrayIcon.isSystemTrayAvailable(), flush=True)
        if sys.argv[1] == "in-tray":
            window.close()  # the user's close: to the tray
        print("window visible:", window.isVisible(), flush=True)
        QTimer.singleShot(500, lambda: (print("quit()", flush=True), ask_to_quit()))
        QTimer.singleShot(8000, lambda: (print("quit was refused", flush=True), qt_app.exit(3)))

    QTimer.singleShot(100, step)
    from manifest_gui.__main__ import main
    code = main(["--no-check"])
    print("main returned", code, flush=True)
    sys.exit(code)
    """
)


@pytest.mark.display
@pytest.mark.parametrize("where", ["shown", "in-tray", "session-end"])
def test_qapplication_quit_ends_main_with_a_tray(tmp_path: Path, where: str) -> None:
    env = window_env(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", QUIT_DRIVER, where],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "tray available: True" in output, output
    assert f"window visible: {where != 'in-tray'}" in output, output
    assert "quit was refused" not in output, output
    assert "main returned 0" in output and done.returncode == 0, output


# --------------------------------------------------------------------------- signals, in-process


def test_a_signal_reaches_the_gui_thread_while_qt_waits(qtbot: Any) -> None:
    """Sent while the event loop waits in C++ (no Python running to notice a handler), the
    signal still arrives at once: through the socket notifier, not the next bytecode."""
    watcher = SignalWatcher()
    received: list[tuple[int, float, bool]] = []

    def record(signum: int) -> None:
        received.append((signum, time.monotonic(), threading.current_thread() is main))
        loop.quit()

    main = threading.main_thread()
    watcher.received.connect(record)
    loop = QEventLoop()
    guard = QTimer(singleShot=True, interval=10_000)
    guard.timeout.connect(loop.quit)
    sent: list[float] = []

    def send() -> None:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGHUP)

    try:
        threading.Timer(0.3, send).start()
        guard.start()
        loop.exec()
    finally:
        guard.stop()
        watcher.close()
    assert received, "the signal never reached the event loop"
    signum, at, in_main = received[0]
    assert signum == signal.SIGHUP and in_main
    assert at - sent[0] < 1.0, f"the signal took {at - sent[0]:.2f} s to arrive"
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL  # given back on close


# --------------------------------------------------------------------------- Settings: Desktop


def ok(dialog: Any) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def open_settings(app: Any) -> Any:
    app.window.findChild(QAction, "settingsAction").trigger()
    dialog = app.settings_dialog
    assert dialog is not None
    return dialog


def test_start_at_login_checkbox_writes_and_removes_the_entry(
    qtbot: Any, make_app: AppFactory, isolated_env: IsolatedEnv
) -> None:
    entry = isolated_env.config / "autostart" / "manifest-gui.desktop"
    app = make_app()
    dialog = open_settings(app)
    box = dialog.findChild(QCheckBox, "startAtLoginCheckBox")
    assert box is not None and not box.isChecked()
    box.setChecked(True)
    assert not entry.exists(), "nothing is written before OK"
    ok(dialog)
    text = entry.read_text(encoding="utf-8")
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    program, *arguments = exec_line[len("Exec=") :].split(" ")
    assert Path(program).is_absolute() and Path(program).name == "manifest-gui"
    assert arguments == ["--hidden"]

    again = open_settings(app)
    box = again.findChild(QCheckBox, "startAtLoginCheckBox")
    assert box.isChecked(), "the box shows that the entry exists"
    box.setChecked(False)
    again.reject()  # Cancel changes nothing
    assert entry.exists()

    third = open_settings(app)
    third.findChild(QCheckBox, "startAtLoginCheckBox").setChecked(False)
    ok(third)
    assert not entry.exists()
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(text)  # made by hand, or by another run: the box follows the file
    fourth = open_settings(app)
    assert fourth.findChild(QCheckBox, "startAtLoginCheckBox").isChecked()
    fourth.reject()


def test_start_at_login_is_written_at_once_while_a_job_runs(
    qtbot: Any, make_app: AppFactory, isolated_env: IsolatedEnv, bungie_server: BungieServer
) -> None:
    entry = isolated_env.config / "autostart" / "manifest-gui.desktop"
    bungie_server.queue(delayed(20.0), route="manifest")  # the check waits: a job runs
    app = make_app(bungie_root=bungie_server.base_url)
    with qtbot.waitSignal(app.jobFinished, timeout=60_000):
        app.check()
        qtbot.waitUntil(lambda: bool(bungie_server.requests), timeout=10_000)
        assert app.runner.busy
        dialog = open_settings(app)
        dialog.findChild(QCheckBox, "startAtLoginCheckBox").setChecked(True)
        ok(dialog)
        assert app.runner.busy and entry.is_file(), "written at once, not after the job"
        app.cancel()


def test_the_menu_button_adds_and_removes_the_launcher(
    qtbot: Any, isolated_env: IsolatedEnv
) -> None:
    widget = DesktopSettingsWidget(XdgAutostart(), MenuEntry.for_user())
    qtbot.addWidget(widget)
    launcher = isolated_env.data / "applications" / "manifest-gui.desktop"
    button = widget.findChild(QPushButton, "applicationsMenuButton")
    label = widget.findChild(QLabel, "applicationsMenuLabel")
    assert label.text() == "It is not in the menu yet."
    assert button.text().replace("&", "") == "Add to the applications menu"
    button.click()
    assert launcher.is_file()
    assert (
        isolated_env.data / "icons" / "hicolor" / "256x256" / "apps" / "manifest-gui.png"
    ).is_file()
    assert label.text() == "It is in the menu."
    assert button.text().replace("&", "") == "Remove from the applications menu"
    button.click()
    assert not launcher.exists()
    assert label.text() == "It is not in the menu yet."


def test_a_failed_write_is_a_sentence_on_the_page(qtbot: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "autostart"
    blocker.write_text("a file where the folder should be")
    widget = DesktopSettingsWidget(XdgAutostart(blocker), MenuEntry(tmp_path / "share"))
    qtbot.addWidget(widget)
    widget.findChild(QCheckBox, "startAtLoginCheckBox").setChecked(True)
    problem = widget.apply()
    assert problem is not None and "could not be written" in problem
    assert widget.findChild(QLabel, "desktopErrorLabel").text() == problem


def test_the_menu_button_is_off_where_the_menu_is_not_xdg(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    widget = DesktopSettingsWidget(XdgAutostart(tmp_path / "autostart"), MenuEntry(tmp_path))
    qtbot.addWidget(widget)
    assert not widget.findChild(QPushButton, "applicationsMenuButton").isEnabled()
    assert "README" in widget.findChild(QLabel, "applicationsMenuLabel").text()
