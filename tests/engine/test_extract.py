"""Extraction refuses anything that is not exactly one SQLite database."""

from __future__ import annotations

import sqlite3
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from manifest_gui.engine.datadir import DiskFullError
from manifest_gui.engine.errors import BadManifestFileError, CancelledError
from manifest_gui.engine.extract import extract_content
from manifest_gui.engine.progress import Progress, ProgressEvent


def make_sqlite(path: Path, rows: int = 2000) -> Path:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE DestinyClassDefinition (id INTEGER PRIMARY KEY, json BLOB)")
        conn.executemany(
            "INSERT INTO DestinyClassDefinition VALUES (?, ?)",
            ((i, b'{"hash": %d, "pad": "%s"}' % (i, b"x" * 500)) for i in range(rows)),
        )
    conn.close()
    return path


def make_zip(path: Path, members: Mapping[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name.endswith("/"):
                archive.mkdir(name)
            elif isinstance(data, Path):
                archive.write(data, name)
            else:
                archive.writestr(name, data)
    return path


def test_extracts_the_one_database_with_progress(tmp_path: Path) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3")
    archive = make_zip(tmp_path / "m.content", {"m.content": database})
    events: list[ProgressEvent] = []
    out = extract_content(archive, tmp_path / "out" / "m.sqlite3", Progress(events.append, 0))
    assert out.read_bytes() == database.read_bytes()
    assert events[0].stage == "extract" and events[0].total == database.stat().st_size
    assert events[-1].finished


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"a.content": b"SQLite format 3\x00" + b"\x00" * 100, "b.txt": b"x"}, "holds 2 files"),
        ({}, "holds 0 files"),
        ({"../evil.content": b"SQLite format 3\x00"}, "suspicious member name"),
        ({"/abs/evil.content": b"SQLite format 3\x00"}, "suspicious member name"),
        ({"..\\evil.content": b"SQLite format 3\x00"}, "suspicious member name"),
        # A path trick in a folder entry is refused too, not skipped with the folder.
        ({"../": b"", "m.content": b"SQLite format 3\x00"}, "suspicious member name"),
        # A line break in a name would break the one-line error that names the member.
        ({"m\nerror x.content": b"not SQLite" * 10}, "suspicious member name"),
        ({"m.content": b""}, "does not contain a SQLite database"),
        ({"m.content": b"PK not a database at all" * 10}, "does not contain a SQLite database"),
    ],
)
def test_refuses_bad_archives(tmp_path: Path, members: dict[str, bytes], words: str) -> None:
    archive = make_zip(tmp_path / "m.content", members)
    with pytest.raises(BadManifestFileError, match=words):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())
    assert not (tmp_path / "out.sqlite3").exists()
    assert not list(tmp_path.glob("*.part"))


def test_refuses_garbage(tmp_path: Path) -> None:
    archive = tmp_path / "m.content"
    archive.write_bytes(b"\x13\x37" * 5000)
    with pytest.raises(BadManifestFileError, match="not a zip archive"):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())


def test_refuses_truncated_archive(tmp_path: Path) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3")
    archive = make_zip(tmp_path / "m.content", {"m.content": database})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadManifestFileError, match="not a zip archive|corrupt or truncated"):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())


def test_refuses_corrupt_member(tmp_path: Path) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3")
    archive = make_zip(tmp_path / "m.content", {"m.content": database})
    data = bytearray(archive.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64  # damage the deflate stream
    archive.write_bytes(bytes(data))
    with pytest.raises(BadManifestFileError, match="corrupt or truncated"):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())
    assert not list(tmp_path.glob("*.part"))


def _set_declared_size(archive: Path, size: int) -> None:
    """Rewrite the uncompressed size in the local header and the central directory."""
    data = bytearray(archive.read_bytes())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, size)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, size)
    archive.write_bytes(bytes(data))


def test_refuses_member_larger_than_declared(tmp_path: Path) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3")
    archive = make_zip(tmp_path / "m.content", {"m.content": database})
    _set_declared_size(archive, 4096)  # a zip bomb lies about its size
    with pytest.raises(BadManifestFileError, match="inflates past|corrupt"):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())
    assert not (tmp_path / "out.sqlite3").exists()


def test_refuses_member_larger_than_free_disk(tmp_path: Path) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3", rows=10)
    archive = make_zip(tmp_path / "m.content", {"m.content": database})
    _set_declared_size(archive, 0xFFFFFFF0)
    # 4 GB declared: refused up front when the disk has less free, otherwise caught by the
    # size check while inflating; either way nothing is written.
    with pytest.raises(BadManifestFileError):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())
    assert not (tmp_path / "out.sqlite3").exists()


def test_free_disk_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    database = make_sqlite(tmp_path / "db.sqlite3")
    archive = make_zip(tmp_path / "m.content", {"m.content": database})
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10**9, 10**9, 1000))
    # A full disk is not a bad manifest: the download it came from must be kept.
    with pytest.raises(DiskFullError, match="only 1,000 are free"):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())


def test_cancel_between_chunks(tmp_path: Path) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3", rows=8000)
    archive = make_zip(tmp_path / "m.content", {"m.content": database})
    progress = Progress(interval=0)
    progress.cancel()
    with pytest.raises(CancelledError):
        extract_content(archive, tmp_path / "out.sqlite3", progress)
    assert not list(tmp_path.glob("out*"))


def _patch_headers(archive: Path, *, flags: int = 0, method: int | None = None) -> None:
    """Set general-purpose flag bits and/or the compression method in both zip headers."""
    data = bytearray(archive.read_bytes())
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(signature)
        (current,) = struct.unpack_from("<H", data, at + flag_at)
        struct.pack_into("<H", data, at + flag_at, current | flags)
        if method is not None:
            struct.pack_into("<H", data, at + method_at, method)
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("flags", "method", "words"),
    [
        (0, 9, "compression method this tool cannot read \\(method 9\\)"),  # Deflate64
        (0, 99, "compression method"),  # AES, as 7-Zip writes it
        (0x1, None, "is encrypted"),
        (0x800, None, "not a zip archive"),  # names flagged UTF-8 that do not decode
    ],
)
def test_refuses_unreadable_members_in_a_sentence(
    tmp_path: Path, flags: int, method: int | None, words: str
) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3", rows=10)
    name = "m\xff.content" if flags & 0x800 else "m.content"
    archive = tmp_path / "m.content"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writer:
        info = zipfile.ZipInfo("m.content")
        writer.writestr(info, database.read_bytes(), zipfile.ZIP_DEFLATED)
    if flags & 0x800:
        raw = archive.read_bytes().replace(b"m.content", name.encode("latin-1"))
        archive.write_bytes(raw)
    _patch_headers(archive, flags=flags, method=method)
    with pytest.raises(BadManifestFileError, match=words):
        extract_content(archive, tmp_path / "out.sqlite3", Progress())
    assert not list(tmp_path.glob("out*"))


def test_folder_entries_and_zip64_are_fine(tmp_path: Path) -> None:
    database = make_sqlite(tmp_path / "db.sqlite3")
    archive = tmp_path / "m.content"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writer:
        writer.mkdir("sqlite")
        with writer.open("sqlite\\m.content", "w", force_zip64=True) as member:
            member.write(database.read_bytes())
    out = extract_content(archive, tmp_path / "out.sqlite3", Progress())
    assert out.read_bytes() == database.read_bytes()
