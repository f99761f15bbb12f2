"""`manifest-gui notes [--from ID] [--to ID] [--json | --markdown]`: what a version changed.

Plain text by default; --markdown is ready to paste into Discord or a forum; --json is the
shape documented in README. IDs are the version numbers `manifest-gui history` lists; an ID the
database does not hold is a known failure (exit 1, one `error:` line).
"""

from __future__ import annotations

import argparse
import json
import sys

from .engine.notes_text import to_markdown, to_text
from .engine.progress import Progress
from .engine.service import ManifestService
from .engine.watchlist import fill_watched


def _version_id(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a version ID; `manifest-gui history` lists them"
        ) from None


def add_notes_commands(commands: argparse._SubParsersAction) -> None:
    notes = commands.add_parser(
        "notes",
        help="release notes: what a version changed",
        description=(
            "What a loaded version changed against another: new, changed, removed, "
            "unclassified and reclassified definitions by section, and counts per table. "
            "By default the current version against the one loaded before it."
        ),
    )
    notes.add_argument(
        "--from",
        dest="from_id",
        type=_version_id,
        metavar="ID",
        help="the version to compare with (default: the one loaded before --to)",
    )
    notes.add_argument(
        "--to",
        dest="to_id",
        type=_version_id,
        metavar="ID",
        help="the version whose changes to show (default: the current one)",
    )
    output = notes.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--markdown", action="store_true", help="print Markdown")
    notes.add_argument(
        "--art",
        action="store_true",
        help="also list definitions whose only changes are images",
    )
    notes.set_defaults(func=notes_command)


def notes_command(args: argparse.Namespace, service: ManifestService, _progress: Progress) -> int:
    notes = fill_watched(service.release_notes(args.from_id, args.to_id, include_art=args.art))
    if args.json:
        sys.stdout.write(json.dumps(notes.to_json(), indent=2) + "\n")
    elif args.markdown:
        sys.stdout.write(to_markdown(notes))
    else:
        sys.stdout.write(to_text(notes))
    return 0
