"""`manifest-gui watch add|list|remove`: the watchlist from the command line.

The watchlist lives beside the settings (engine/watchlist.py), so these commands need no
database: they set `needs_service=False`.
"""

from __future__ import annotations

import argparse
import json
import sys

from .engine.progress import Progress
from .engine.watchlist import Watchlist, WatchlistError, parse_target


def add_watch_commands(commands: argparse._SubParsersAction) -> None:
    watch = commands.add_parser("watch", help="the watchlist: entries listed first in notes")
    actions = watch.add_subparsers(dest="watch_command", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add", help="watch a definition by hash, or every name containing a text"
    )
    target_help = "a hash (signed or unsigned) or text to find in names (case-insensitive)"
    add.add_argument("target", type=_target, metavar="TEXT|HASH", help=target_help)
    add.add_argument("--table", metavar="NAME", help="only in this table")
    add.set_defaults(func=watch_add_command, needs_service=False)

    listing = actions.add_parser("list", help="list the watches with their ids")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=watch_list_command, needs_service=False)

    remove = actions.add_parser("remove", help="stop a watch (its id is in `watch list`)")
    remove.add_argument("id", type=_watch_id, metavar="ID")
    remove.set_defaults(func=watch_remove_command, needs_service=False)


def _target(text: str) -> int | str:
    try:
        return parse_target(text)
    except WatchlistError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _watch_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a watch id; `watch list` shows them"
        ) from None


def watch_add_command(args: argparse.Namespace, _service: object, _progress: Progress) -> int:
    watch = Watchlist().add(args.target, args.table)
    print(f"Watch {watch.id}: {watch.describe()}.")
    return 0


def watch_list_command(args: argparse.Namespace, _service: object, _progress: Progress) -> int:
    watches = Watchlist().watches()
    if args.json:
        sys.stdout.write(json.dumps([watch.to_json() for watch in watches], indent=2) + "\n")
    elif not watches:
        print("The watchlist is empty; `watch add TEXT|HASH` adds to it.")
    else:
        for watch in watches:
            print(f"{watch.id:>4}  {watch.describe()}")
    return 0


def watch_remove_command(args: argparse.Namespace, _service: object, _progress: Progress) -> int:
    watch = Watchlist().remove(args.id)
    print(f"Stopped watching {watch.describe()} (watch {watch.id}).")
    return 0
