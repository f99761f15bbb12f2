"""Extract a .content file: a zip holding exactly one SQLite database, streamed with progress.

Anything else is refused with a clear error before it can reach the database: several members,
path tricks, an entry that inflates past its declared size or the free disk, a corrupt or
truncated archive, a member that is not SQLite.
"""

from __future__ import annotations

import errno
import os
import shutil
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .errors import BadManifestFileError
from .progress import Progress

SQLITE_MAGIC = b"SQLite format 3\x00"
CHUNK = 1 << 20
# Free space kept beyond the extracted file, so the extraction does not fill the disk.
DISK_MARGIN = 64 << 20


def is_sqlite_file(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def extract_content(archive: Path, destination: Path, progress: Progress) -> Path:
    """Extract the one SQLite database in `archive` to `destination` and return it."""
    name = archive.name
    try:
        zip_file = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, ValueError):
        # A central directory that is garbage or names that do not decode: no usable archive.
        raise BadManifestFileError(f"{name} is not a zip archive (corrupt or truncated).") from None
    except OSError as exc:
        raise BadManifestFileError(f"Cannot read {name}: {exc.strerror or exc}.") from None
    with zip_file:
        entries = zip_file.infolist()
        for entry in entries:  # folders too: a path trick is refused wherever it is
            _check_member_name(name, entry.filename)
        members = [info for info in entries if not info.is_dir()]
        if len(members) != 1:
            raise BadManifestFileError(
                f"{name} holds {len(members)} files; a manifest holds exactly one SQLite database."
            )
        member = members[0]
        declared = member.file_size
        destination.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(destination.parent).free
        if declared + DISK_MARGIN > free:
            raise BadManifestFileError(
                f"{name} would need {declared:,} bytes extracted but only {free:,} are free."
            )
        progress.start("extract", declared, "bytes", member.filename)
        partial = destination.with_name(destination.name + ".part")
        done = 0
        try:
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
                            f"{name} inflates past its declared size of {declared:,} bytes; "
                            "refusing it."
                        )
                    out.write(chunk)
                    progress.update(done)
            if done != declared:
                raise BadManifestFileError(
                    f"{name} is truncated ({done:,} of {declared:,} bytes extracted)."
                )
            os.replace(partial, destination)
        except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            raise BadManifestFileError(
                f"{name} is corrupt or truncated ({_reason(exc)})."
            ) from None
        except NotImplementedError:
            # zipfile's word for a compression method it cannot read (Bungie uses deflate).
            partial.unlink(missing_ok=True)
            raise BadManifestFileError(
                f"{name} uses a compression method this tool cannot read "
                f"(method {member.compress_type}); a manifest is deflated."
            ) from None
        except RuntimeError:
            # zipfile raises a bare RuntimeError for an encrypted member.
            partial.unlink(missing_ok=True)
            raise BadManifestFileError(f"{name} is encrypted; a manifest is a plain zip.") from None
        except OSError as exc:
            partial.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BadManifestFileError(
                    f"The disk filled up while extracting {name}; free some space and retry."
                ) from None
            if exc.filename is None:
                # Raised by the zip reader itself (e.g. a seek past the end): a broken archive.
                raise BadManifestFileError(
                    f"{name} is corrupt or truncated ({exc.strerror or exc})."
                ) from None
            raise BadManifestFileError(
                f"Cannot extract {name}: {exc.strerror or exc} ({Path(exc.filename).name})."
            ) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    progress.finish(done)
    return destination


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
