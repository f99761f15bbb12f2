"""The watchlist: parsing, matching, storage beside the settings, and `manifest-gui watch`
through a real CLI process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from manifest_gui.engine.notes_model import (
    Entry,
    EntryKind,
    ReleaseNotes,
    Section,
    TableCounts,
    VersionRef,
)
from manifest_gui.engine.settings import settings_file
from manifest_gui.engine.watchlist import (
    Watch,
    Watchlist,
    WatchlistError,
    fill_watched,
    parse_target,
    watchlist_file,
)
from tests.conftest import IsolatedEnv
from tests.support.processes import run_cli

ITEMS = "DestinyInventoryItemDefinition"
ACTIVITIES = "DestinyActivityDefinition"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1363886209", 1363886209),
        ("-1363886209", 2931081087),  # the signed id of a hash over 2**31
        ("-1", 4294967295),
        ("4294967295", 4294967295),
        ("0", 0),
        ("  Pinnacle ", "Pinnacle"),
        ("12 Gauge", "12 Gauge"),
    ],
)
def test_a_number_is_a_hash_signed_or_unsigned(text: str, expected: int | str) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["4294967296", "-2147483649", "", "   "])
def test_what_is_not_a_watch(text: str) -> None:
    with pytest.raises(WatchlistError):
        parse_target(text)


def test_matching_by_hash_text_and_table() -> None:
    by_hash = Watch(1, hash=2931081087)
    by_text = Watch(2, text="pinnacle")
    in_items = Watch(3, text="pinnacle", table="InventoryItem")
    assert by_hash.matches(ITEMS, 2931081087, None)
    assert by_hash.matches(ITEMS, -1363886209, "x")  # a signed id is the same definition
    assert not by_hash.matches(ITEMS, 1363886209, "x")
    assert by_text.matches(ACTIVITIES, 1, "Grasp of Avarice: PINNACLE Run")
    assert not by_text.matches(ACTIVITIES, 1, "Pinnacl")
    assert not by_text.matches(ACTIVITIES, 1, None)
    assert in_items.matches(ITEMS, 5, "Pinnacle Weapon")
    assert not in_items.matches(ACTIVITIES, 5, "Pinnacle Weapon")
    assert Watch(4, hash=5, table="destinyinventoryitemdefinition").matches(ITEMS, 5, None)
    assert not Watch(5, hash=5, table="Activity").matches(ITEMS, 5, None)


def test_fill_watched_takes_matching_entries_in_section_order(isolated_env: IsolatedEnv) -> None:
    gjally = Entry(EntryKind.CHANGED, ITEMS, 1363886209, "Gjallarhorn", None)
    pinnacle_item = Entry(EntryKind.ADDED, ITEMS, 7, "Pinnacle Engram", None)
    pinnacle_run = Entry(EntryKind.ADDED, ACTIVITIES, 8, "Pinnacle Run", None)
    other = Entry(EntryKind.REMOVED, ITEMS, 9, "Old Ghost", None)
    notes = ReleaseNotes(
        VersionRef(1, "a"),
        VersionRef(2, "b"),
        {ITEMS: TableCounts(1, 1, 1), ACTIVITIES: TableCounts(1, 0, 0)},
        (
            Section("weapons", "Weapons", (pinnacle_item, gjally)),
            Section("activities", "Activities", (pinnacle_run,)),
            Section("ghosts", "Ghosts", (other,)),
        ),
    )
    watchlist = Watchlist()
    assert fill_watched(notes).watched == ()  # no watchlist yet
    watchlist.add("1363886209")
    watchlist.add("PINNACLE", table="InventoryItem")
    watchlist.add("gjallar")  # matches an entry the hash watch matches too: listed once
    assert fill_watched(notes).watched == (pinnacle_item, gjally)
    assert fill_watched(notes).to_json()["watched"][1]["hash"] == 1363886209


def test_storage_is_beside_the_settings_and_ids_are_never_reused(
    isolated_env: IsolatedEnv,
) -> None:
    assert watchlist_file() == settings_file().with_name("watchlist.json")
    assert watchlist_file().is_relative_to(isolated_env.config)
    watchlist = Watchlist()
    first = watchlist.add(1363886209)
    second = watchlist.add("Pinnacle", table="DestinyActivityDefinition")
    assert (first.id, second.id) == (1, 2)
    assert watchlist.add("pinnacle", table="Activity") == second  # the same watch again
    watchlist.remove(2)
    third = watchlist.add("Gjallarhorn")
    assert third.id == 3
    # Another process (the window) sees the file as written.
    assert Watchlist(watchlist_file()).watches() == [first, third]
    assert watchlist.watching(ITEMS, 1363886209, "Gjallarhorn") == [first, third]
    with pytest.raises(WatchlistError, match="There is no watch 2"):
        watchlist.remove(2)


def test_a_damaged_file_is_a_sentence_and_is_not_overwritten(isolated_env: IsolatedEnv) -> None:
    path = watchlist_file()
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(WatchlistError, match="cannot be read"):
        Watchlist().add("x")
    assert path.read_text(encoding="utf-8") == "{not json"
    notes = ReleaseNotes(None, VersionRef(1, "a"), {}, ())
    assert fill_watched(notes) == notes  # notes and notifications go on without it


# --------------------------------------------------------------------------- the CLI


def cli_env() -> dict[str, str]:
    return dict(os.environ)


def test_watch_add_list_remove_through_the_cli(isolated_env: IsolatedEnv) -> None:
    env = cli_env()
    added = run_cli(env, "watch", "add", "-1363886209")
    assert (added.returncode, added.stderr) == (0, "")
    assert added.stdout == "Watch 1: hash 2931081087.\n"
    added = run_cli(env, "watch", "add", "Pinnacle", "--table", "DestinyInventoryItemDefinition")
    assert added.returncode == 0, added.stderr

    listed = run_cli(env, "watch", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {"id": 1, "hash": 2931081087, "table": None},
        {"id": 2, "text": "Pinnacle", "table": "DestinyInventoryItemDefinition"},
    ]
    text = run_cli(env, "watch", "list")
    assert text.stdout.splitlines() == [
        "   1  hash 2931081087",
        "   2  names containing 'Pinnacle' in DestinyInventoryItemDefinition",
    ]

    removed = run_cli(env, "watch", "remove", "1")
    assert removed.returncode == 0, removed.stderr
    listed = run_cli(env, "watch", "list", "--json")
    assert [watch["id"] for watch in json.loads(listed.stdout)] == [2]
    assert not (isolated_env.app_data / "postgres").exists()  # no database was started

    missing = run_cli(env, "watch", "remove", "1")
    assert missing.returncode == 1
    assert missing.stderr == "error: There is no watch 1; `watch list` shows their ids.\n"


def test_output_the_terminal_cannot_encode_is_replaced_not_a_traceback(
    isolated_env: IsolatedEnv,
) -> None:
    # A Latin-1 locale, or a cp1252 Windows with output redirected to a file.
    env = {**cli_env(), "PYTHONIOENCODING": "ascii"}
    added = run_cli(env, "watch", "add", "Ωmega → Prime")
    assert (added.returncode, added.stderr) == (0, "")
    assert added.stdout == "Watch 1: names containing '?mega ? Prime'.\n"
    listed = run_cli(cli_env(), "watch", "list", "--json")
    assert json.loads(listed.stdout)[0]["text"] == "Ωmega → Prime"


@pytest.mark.parametrize(
    "argv",
    [("watch", "add", "99999999999"), ("watch", "remove", "one"), ("watch",), ("watch", "add")],
)
def test_watch_bad_usage_exits_2(isolated_env: IsolatedEnv, argv: tuple[str, ...]) -> None:
    done = run_cli(cli_env(), *argv)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("error: ")
    assert not Path(watchlist_file()).exists()
