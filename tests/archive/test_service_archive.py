"""The archive wired into ManifestService: upload after extraction (best effort), load from the
archive into a real PostgreSQL, and the sha256 check before loading."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

import pytest

from manifest_gui.engine.cache import manifest_stem
from manifest_gui.engine.errors import ArchiveError, CancelledError
from manifest_gui.engine.progress import Progress, ProgressEvent
from manifest_gui.engine.service import CheckResult, Status
from manifest_gui.engine.settings import Settings
from tests.support.bungie_server import BungieServer
from tests.support.manifest_factory import ManifestFactory

from .conftest import DUMMY_SECRET, make_service, record_messages

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def publish(bungie: BungieServer, factory: ManifestFactory, seed: int = 1) -> str:
    """Publish a small generated manifest as the English one; return its content path."""
    manifest = factory.generate(seed=seed, rows=150)
    return bungie.publish(factory.content_file(manifest))["en"]


def key_of(content_path: str, language: str = "en") -> str:
    return f"manifests/{language}/{manifest_stem(content_path)}.sqlite3"


def test_update_archives_the_extracted_manifest(
    service_settings: Settings,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    s3: S3Client,
    bucket: str,
) -> None:
    path = publish(bungie_server, manifest_factory)
    events: list[ProgressEvent | CheckResult | Status] = []
    with make_service(service_settings) as service:
        result = service.update(
            progress=Progress(events.append, interval=0, on_partial=events.append)
        )
        assert result.warnings == ()
    assert result.loaded
    head = s3.head_object(Bucket=bucket, Key=key_of(path))
    sqlite_path = service_settings.cache_path / "en" / f"{manifest_stem(path)}.sqlite3"
    assert head["Metadata"]["version"] == bungie_server.version
    assert head["Metadata"]["content-path"] == path
    assert head["Metadata"]["sha256"] == hashlib.sha256(sqlite_path.read_bytes()).hexdigest()
    positions = [e for e in events if isinstance(e, ProgressEvent)]
    stages = [e.stage for e in positions if e.message is None]
    assert stages.index("upload") < stages.index("load")
    # The check's answer reaches the front end before the download starts, on its own channel.
    (checked,) = [e for e in events if isinstance(e, CheckResult)]
    assert checked.update_available
    assert checked.remote.path == path
    first_download = next(
        i for i, e in enumerate(events) if isinstance(e, ProgressEvent) and e.stage == "download"
    )
    assert events.index(checked) < first_download


def test_update_goes_ahead_when_archiving_fails(
    service_settings: Settings,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    refused_url: str,
) -> None:
    publish(bungie_server, manifest_factory)
    down = dataclasses.replace(service_settings, s3_endpoint_url=refused_url)
    messages: list[str] = []
    events: list[ProgressEvent] = []

    def listener(event: ProgressEvent) -> None:
        record_messages(messages)(event)
        events.append(event)

    with make_service(down) as service:
        result = service.update(progress=Progress(listener))
        assert result.loaded and result.manifest_id is not None
        (warning,) = result.warnings
    assert warning.startswith("Cannot reach the S3 endpoint 127.0.0.1:")
    assert DUMMY_SECRET not in warning
    assert any(warning in m for m in messages)
    # Front ends tell the warning from ordinary messages by its level, not by its words.
    (flagged,) = [e for e in events if e.level == "warning"]
    assert flagged.message is not None and warning in flagged.message


def test_cancelled_upload_cancels_the_update(
    service_settings: Settings,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    s3: S3Client,
    bucket: str,
) -> None:
    publish(bungie_server, manifest_factory)
    progress: Progress

    def listener(event: ProgressEvent) -> None:
        if event.stage == "upload" and event.message is None:
            progress.cancel()

    progress = Progress(listener, interval=0)
    with make_service(service_settings) as service:
        with pytest.raises(CancelledError):
            service.update(progress=progress)
        assert service.database_version() is None
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_load_from_archive_goes_back_to_an_earlier_manifest(
    service_settings: Settings,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    refused_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    first = publish(bungie_server, manifest_factory, seed=1)
    with make_service(service_settings) as service:
        service.update()
        first_version = bungie_server.version
        second = publish(bungie_server, manifest_factory, seed=2)
        service.update()
        assert service.database_version().path == second
        listed = service.archive_list()
    assert {a.key for a in listed} == {key_of(first), key_of(second)}

    # Another machine: empty cache, Bungie.net down.
    elsewhere = dataclasses.replace(
        service_settings,
        data_dir=str(tmp_path_factory.mktemp("elsewhere")),
        bungie_root=refused_url,
    )
    events: list[ProgressEvent] = []
    with make_service(elsewhere) as service:
        result = service.load_from_archive(key_of(first), Progress(events.append, interval=0))
        current = service.database_version()
    assert result.loaded
    assert current is not None
    assert (current.version, current.path) == (first_version, first)
    assert (elsewhere.cache_path / "en" / f"{manifest_stem(first)}.sqlite3").is_file()
    assert any(e.stage == "download" and e.finished for e in events)


def test_load_from_archive_refuses_a_sha256_mismatch(
    service_settings: Settings,
    manifest_factory: ManifestFactory,
    s3: S3Client,
    bucket: str,
) -> None:
    manifest = manifest_factory.generate(seed=3, rows=50)
    key = "manifests/en/world_sql_content_tampered.sqlite3"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=manifest.path.read_bytes(),
        Metadata={
            "version": "v-tampered",
            "content-path": "/common/destiny2_content/sqlite/en/world_sql_content_tampered.content",
            "sha256": hashlib.sha256(b"something else").hexdigest(),
        },
    )
    with make_service(service_settings) as service:
        with pytest.raises(ArchiveError) as error:
            service.load_from_archive(key)
        assert service.database_version() is None
    assert "does not match its sha256 checksum" in str(error.value)
    assert not list(service_settings.cache_path.rglob("*tampered*"))


def test_load_from_archive_refuses_another_language(
    service_settings: Settings,
    manifest_factory: ManifestFactory,
    s3: S3Client,
    bucket: str,
) -> None:
    manifest = manifest_factory.generate(seed=4, rows=50)
    data = manifest.path.read_bytes()
    key = "manifests/fr/world_sql_content_fr.sqlite3"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        Metadata={
            "version": "v-fr",
            "content-path": "/x/fr/world_sql_content_fr.content",
            "language": "fr",
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    with make_service(service_settings) as service, pytest.raises(ArchiveError, match="'fr'"):
        service.load_from_archive(key)


def test_archive_list_without_a_bucket(service_settings: Settings) -> None:
    with (
        make_service(dataclasses.replace(service_settings, s3_bucket=None)) as service,
        pytest.raises(ArchiveError, match="No S3 bucket is configured"),
    ):
        service.archive_list()
