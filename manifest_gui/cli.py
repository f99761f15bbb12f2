"""The headless front end: `manifest-gui check|load|status|history` for cron jobs and servers.

Exit codes: 0 success (loaded, or already up to date), 1 a known failure (one line on stderr
beginning `error: `), 2 bad usage. Progress bars only on a terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .desktop_cli import add_desktop_commands
from .engine.errors import ManifestGuiError
from .engine.notify import notify_after_load
from .engine.progress import Progress, ProgressEvent, Stage
from .engine.secrets import SecretStore
from .engine.service import ManifestService, version_json
from .engine.settings import load_settings
from .engine.wording import amount, loaded_sentence, size, version_words
from .logs import hold_early_records, setup_logging
from .notes_cli import add_notes_commands
from .watch_cli import add_watch_commands

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# The stages with a size to show as a bar (a check has none).
SIZED_STAGES = (Stage.DOWNLOAD, Stage.EXTRACT, Stage.UPLOAD, Stage.LOAD)

# A subcommand: runs with the service and the progress handle, returns the exit status.
Command = Callable[[argparse.Namespace, ManifestService, Progress], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="manifest-gui",
        description="Keep Destiny 2's manifest in PostgreSQL. Without a command, opens the window.",
        epilog="Window options: --hidden (start in the system tray), --no-check.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser("check", help="compare Bungie.net's manifest with the database's")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=check_command)

    load = commands.add_parser("load", help="load the manifest when Bungie.net has a new one")
    load.add_argument("--force", action="store_true", help="load even when up to date")
    load.set_defaults(func=load_command)
    source = load.add_mutually_exclusive_group()
    source.add_argument(
        "--file",
        type=_non_empty_path,
        metavar="PATH",
        help="load a local .content zip or SQLite file instead",
    )
    source.add_argument(
        "--from-archive",
        type=_non_empty_key,
        metavar="KEY",
        help="load a manifest from the S3 archive (a key from `archive list`)",
    )
    load.add_argument("--json", action="store_true", help="print JSON")

    status = commands.add_parser("status", help="the current version and live rows per table")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=status_command)

    history = commands.add_parser("history", help="every version with its changes")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(func=history_command)

    archive = commands.add_parser("archive", help="the S3 manifest archive")
    archive_commands = archive.add_subparsers(
        dest="archive_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    archive_list = archive_commands.add_parser("list", help="list the archived manifests")
    archive_list.add_argument("--json", action="store_true", help="print JSON")
    archive_list.set_defaults(func=archive_list_command)
    add_notes_commands(commands)
    add_watch_commands(commands)
    add_desktop_commands(commands)
    return parser


class TerminalProgress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._line = False

    def __call__(self, event: ProgressEvent) -> None:
        if event.message:
            self._clear()
            self._stream.write(f"{event.message}\n")
        elif event.stage in SIZED_STAGES:
            if event.done == 0 and not event.finished:
                self._started = time.monotonic()
            self._draw(event)
            if event.finished:
                self._stream.write("\n")
                self._line = False
        self._stream.flush()

    def _draw(self, event: ProgressEvent) -> None:
        width = 30
        if event.total:
            fraction = min(1.0, event.done / event.total)
            bar = "#" * int(fraction * width)
            done = f"{amount(event.done, event.unit)} / {amount(event.total, event.unit)}"
            text = f"{event.stage:<8} [{bar:<{width}}] {fraction:6.1%} {done}"
        else:
            text = f"{event.stage:<8} {amount(event.done, event.unit)}"
        if event.detail:
            text += f"  {event.detail[:40]}"
        self._stream.write("\r" + text.ljust(100)[:110])
        self._line = True

    def _clear(self) -> None:
        if self._line:
            self._stream.write("\r" + " " * 110 + "\r")
            self._line = False


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def run_command(args: argparse.Namespace, service: ManifestService, progress: Progress) -> int:
    """Run the subcommand chosen on the command line (each parser sets its `func`)."""
    command: Command = args.func
    return command(args, service, progress)


def check_command(args: argparse.Namespace, service: ManifestService, progress: Progress) -> int:
    result = service.check(progress)
    if args.json:
        _print_json(result.as_json())
    else:
        db = result.database
        print(f"Bungie.net: {result.remote.version}  {result.remote.path}")
        print(f"Database:   {version_words(db) if db else 'empty'}")
        print("Update available." if result.update_available else "Up to date.")
    return EXIT_OK


def load_command(args: argparse.Namespace, service: ManifestService, progress: Progress) -> int:
    if args.file is not None:
        loaded = service.load_file(args.file, progress)
    elif args.from_archive is not None:
        loaded = service.load_from_archive(args.from_archive, progress, force=args.force)
    else:
        loaded = service.update(force=args.force, progress=progress)
    if args.json:
        _print_json(loaded.as_json())
    else:
        print(loaded_sentence(loaded))
    # Best-effort failures (an upload that failed). After a failed run the error is the one
    # line; its warnings are in the log.
    for warning in loaded.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    # Telling the clan's Discord is best effort too: a failure is a warning, never a failed load.
    notified = notify_after_load(service, loaded, progress)
    if notified.warning:
        sys.stderr.write(f"warning: {notified.warning}\n")
    return EXIT_OK


def status_command(args: argparse.Namespace, service: ManifestService, _progress: Progress) -> int:
    status = service.status()
    if args.json:
        _print_json(status.as_json())
        return EXIT_OK
    current = status.current
    if current is None:
        print("The database holds no manifest yet.")
    else:
        print(f"Version {current.manifest_id}: {current.version}")
        print(f"Content: {current.path}")
        print(f"Loaded:  {current.loaded_at:%Y-%m-%d %H:%M:%S %Z}")
    print(f"Live rows: {status.live_rows:,}")
    for table in status.tables:
        print(f"  {table.table_name:<50} {table.live_rows:>9,}")
    return EXIT_OK


def history_command(args: argparse.Namespace, service: ManifestService, _progress: Progress) -> int:
    history = service.history()
    if args.json:
        _print_json([version_json(version) for version in history])
        return EXIT_OK
    print(f"{'id':>4}  {'loaded':<19}  {'inserts':>8} {'updates':>8} {'deletes':>8}  version")
    for version in history:
        mark = "*" if version.current else " "
        print(
            f"{version.manifest_id:>4}{mark} {version.loaded_at:%Y-%m-%d %H:%M:%S}  "
            f"{version.inserts or 0:>8,} {version.updates or 0:>8,} "
            f"{version.deletes or 0:>8,}  {version.version}"
        )
    return EXIT_OK


def archive_list_command(
    args: argparse.Namespace, service: ManifestService, _progress: Progress
) -> int:
    archived = service.archive_list()
    if args.json:
        _print_json([item.as_json() for item in archived])
    elif not archived:
        print("The archive holds no manifests.")
    else:
        print(f"{'uploaded':<16}  {'lang':<6} {'size':>9}  {'version':<40} key")
        for item in archived:
            print(
                f"{item.last_modified:%Y-%m-%d %H:%M}  {item.language:<6} "
                f"{size(item.size):>9}  {item.version:<40} {item.key}"
            )
    return EXIT_OK


def _non_empty_key(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the key is empty; `archive list` shows the keys")
    return text.strip()


def _non_empty_path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(text)


def main(
    argv: Sequence[str] | None = None,
    *,
    service_factory: Callable[[], ManifestService] | None = None,
) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:  # e.g. `manifest-gui --json`: options without a command
        parser.print_usage(sys.stderr)
        sys.stderr.write(
            "error: a command is required (check, load, status, history, notes, archive, watch or "
            "desktop); "
            "without arguments manifest-gui opens the window\n"
        )
        return EXIT_USAGE
    interactive = sys.stderr.isatty()
    _tolerate_unencodable_output()
    with _terminate_like_interrupt():
        return _run(args, interactive, service_factory)


def _tolerate_unencodable_output() -> None:
    """Output the terminal's encoding cannot hold (notes' "→" redirected to a file on a cp1252
    Windows or in a Latin-1 locale) is written with "?" instead of ending in a traceback."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")


@contextmanager
def _terminate_like_interrupt() -> Iterator[None]:
    """SIGTERM (systemd, docker stop, kill) ends a run like Ctrl+C: the load rolls back and
    the embedded PostgreSQL is stopped instead of being left running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(
    args: argparse.Namespace,
    interactive: bool,
    service_factory: Callable[[], ManifestService] | None,
) -> int:
    try:
        hold_early_records()
        settings = load_settings()
        setup_logging(settings.log_path, console=False)
        progress = Progress(TerminalProgress(sys.stderr) if interactive else None)
        if not getattr(args, "needs_service", True):  # e.g. the watchlist: no database
            return run_command(args, None, progress)  # type: ignore[arg-type]
        service = service_factory() if service_factory else ManifestService(settings, SecretStore())
        with service:
            return run_command(args, service, progress)
    except ManifestGuiError as exc:
        log.warning("%s failed: %s", args.command, exc)
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write("error: Interrupted; the database was left as it was.\n")
        return EXIT_FAILURE
