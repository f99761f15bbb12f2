"""Extract a .content file: a zip holding exactly one SQLite database, streamed with progress.

Anything else is refused with a clear error before it can reach the database: several members,
path tricks, an entry that inflates past its declared size, a corrupt or truncated archive, a
member that is not SQLite. A disk that is (or becomes) too full is a DiskFullError, never a bad
manifest: the download it came from is good and is kept.

The phases: open the zip, find its one member, check the free space, inflate into a `.part`
file, and move that into place. The `.part` file is removed on any failure, in one place.
"""

from __future__ import annotations

import shutil
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .datadir import disk_full, is_disk_full, partial_file, unusable_folder
from .errors import BadManifestFileError
from .progress import Progress, Stage

SQLITE_MAGIC = b"SQLite format 3\x00"
CHUNK = 1 << 20
# Free space kept beyond the extracted file, so the extraction does not fill the disk.
DISK_MARGIN = 64 << 20
# Deflate cannot inflate more than about 1032 times: a member that declares more than this
# times its compressed size is lying about it (a zip bomb), whatever the free space.
MAX_DEFLATE_RATIO = 1100
_FOLDER_ROLE = "folder for the extracted manifest"


def is_sqlite_file(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def extract_content(archive: Path, destination: Path, progress: Progress) -> Path:
    """Extract the one SQLite database in `archive` to `destination` and return it."""
    name = archive.name
    with _open_zip(archive) as zip_file:
        member = _the_one_member(name, zip_file)
        folder = _prepare_folder(destination.parent)
        _require_space(name, member, folder)
        progress.start(Stage.EXTRACT, member.file_size, "bytes", member.filename)
        with _extraction_errors(name, member, folder), partial_file(destination) as partial:
            done = _inflate(name, zip_file, member, partial, progress)
    progress.finish(done)
    return destination


# Phases --------------------------------------------------------------------------------------
@contextmanager
def _open_zip(archive: Path) -> Iterator[zipfile.ZipFile]:
    name = archive.name
    try:
        zip_file = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, ValueError):
        # A central directory that is garbage or names that do not decode: no usable archive.
        raise BadManifestFileError(f"{name} is not a zip archive (corrupt or truncated).") from None
    except OSError as exc:
        raise BadManifestFileError(f"Cannot read {name}: {exc.strerror or exc}.") from None
    with zip_file:
        yield zip_file


def _the_one_member(name: str, zip_file: zipfile.ZipFile) -> zipfile.ZipInfo:
    entries = zip_file.infolist()
    for entry in entries:  # folders too: a path trick is refused wherever it is
        _check_member_name(name, entry.filename)
    members = [info for info in entries if not info.is_dir()]
    if len(members) != 1:
        raise BadManifestFileError(
            f"{name} holds {len(members)} files; a manifest holds exactly one SQLite database."
        )
    return members[0]


def _prepare_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full("extracting the manifest", folder, cause=exc) from None
        raise unusable_folder(folder, exc, _FOLDER_ROLE, in_data_dir=False) from None
    return folder


def _require_space(name: str, member: zipfile.ZipInfo, folder: Path) -> None:
    declared = member.file_size
    free = shutil.disk_usage(folder).free
    if declared + DISK_MARGIN <= free:
        return
    if declared > MAX_DEFLATE_RATIO * max(member.compress_size, 1):
        raise BadManifestFileError(
            f"{name} claims to inflate to {declared:,} bytes, more than deflate can from "
            f"{member.compress_size:,}; refusing it."
        )
    raise disk_full(f"extracting {name}", folder, declared + DISK_MARGIN)


def _inflate(
    name: str,
    zip_file: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    partial: Path,
    progress: Progress,
) -> int:
    """Stream the member into `partial`; return the bytes written."""
    declared = member.file_size
    with zip_file.open(member) as source, open(partial, "wb") as out:
        first = source.read(len(SQLITE_MAGIC))
        if first != SQLITE_MAGIC:
            raise BadManifestFileError(
                f"{name} does not contain a SQLite database ({member.filename})."
            )
        out.write(first)
        done = len(first)
        while chunk := source.read(CHUNK):
            progress.check_cancelled()
            done += len(chunk)
            if done > declared:
                raise BadManifestFileError(
                    f"{name} inflates past its declared size of {declared:,} bytes; refusing it."
                )
            out.write(chunk)
            progress.update(done)
    if done != declared:
        raise BadManifestFileError(
            f"{name} is truncated ({done:,} of {declared:,} bytes extracted)."
        )
    return done


@contextmanager
def _extraction_errors(name: str, member: zipfile.ZipInfo, folder: Path) -> Iterator[None]:
    """What went wrong while inflating, as one sentence: the archive's fault (a bad manifest)
    or the local disk's (full, read-only: the archive is fine)."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise BadManifestFileError(f"{name} is corrupt or truncated ({_reason(exc)}).") from None
    except NotImplementedError:
        # zipfile's word for a compression method it cannot read (Bungie uses deflate).
        raise BadManifestFileError(
            f"{name} uses a compression method this tool cannot read "
            f"(method {member.compress_type}); a manifest is deflated."
        ) from None
    except RuntimeError:
        # zipfile raises a bare RuntimeError for an encrypted member.
        raise BadManifestFileError(f"{name} is encrypted; a manifest is a plain zip.") from None
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(f"extracting {name}", folder, cause=exc) from None
        if exc.filename is None:
            # Raised by the zip reader itself (e.g. a seek past the end): a broken archive.
            raise BadManifestFileError(
                f"{name} is corrupt or truncated ({exc.strerror or exc})."
            ) from None
        raise unusable_folder(folder, exc, _FOLDER_ROLE, in_data_dir=False) from None


def _check_member_name(archive_name: str, member: str) -> None:
    path = PurePosixPath(member.replace("\\", "/"))
    if (
        path.is_absolute()
        or ".." in path.parts
        or ":" in member
        or not path.name
        or not member.isprintable()  # a line break or control character in a name
    ):
        raise BadManifestFileError(
            f"{archive_name} has a suspicious member name {member!r}; refusing it."
        )


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "CRC" in text:
        return "checksum mismatch"
    return text.split("\n")[0][:120] or type(exc).__name__
