"""The S3 archive against moto's S3 server on 127.0.0.1: upload, lifecycle, list, download,
and every failure as one sentence without secrets."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from manifest_gui.engine.archive import (
    ArchiveCancelledError,
    S3Archive,
    list_profiles,
    rule_id,
)
from manifest_gui.engine.errors import ArchiveError, CancelledError
from manifest_gui.engine.progress import Progress, ProgressEvent
from manifest_gui.engine.settings import Settings

from .conftest import DUMMY_KEY_ID, DUMMY_SECRET, random_file, record_messages

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT_PATH = "/common/destiny2_content/sqlite/en/world_sql_content_0123abcd.content"
VERSION = "227367.24.11.19.1700-3-bnet.57444"


def upload(
    settings: Settings,
    path: Path,
    progress: Progress | None = None,
    *,
    language: str = "en",
    content_path: str = CONTENT_PATH,
    version: str = VERSION,
) -> str:
    with S3Archive(settings) as archive:
        return archive.upload(
            path,
            language=language,
            version=version,
            content_path=content_path,
            progress=progress or Progress(),
        ).key


def assert_one_sentence(error: BaseException) -> None:
    text = str(error)
    assert text and "\n" not in text and text.endswith(".")
    assert DUMMY_SECRET not in text and DUMMY_KEY_ID not in text
    assert "Traceback" not in text


def pending_uploads(s3: S3Client, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def object_keys(s3: S3Client, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


# --------------------------------------------------------------------------- upload


def test_upload_uses_the_key_layout_and_metadata(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "m.sqlite3", 300_000)
    events: list[ProgressEvent] = []
    key = upload(settings, path, Progress(events.append, interval=0))

    assert key == "manifests/en/world_sql_content_0123abcd.sqlite3"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"] == {
        "version": VERSION,
        "content-path": CONTENT_PATH,
        "language": "en",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == path.read_bytes()
    uploads = [e for e in events if e.stage == "upload" and e.message is None]
    assert uploads[0].total == 300_000 and uploads[0].unit == "bytes"
    assert uploads[-1].finished and uploads[-1].done == 300_000


def test_prefix_setting_shapes_the_key(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "m.sqlite3", 1000)
    key = upload(dataclasses.replace(settings, s3_prefix="/d2/archive/"), path, language="fr")
    assert key == "d2/archive/fr/world_sql_content_0123abcd.sqlite3"
    assert object_keys(s3, bucket) == [key]


def test_large_upload_is_multipart(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path, small_parts: int
) -> None:
    path = random_file(tmp_path / "big.sqlite3", 2 * small_parts + 1000)
    key = upload(settings, path)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert head["ContentLength"] == path.stat().st_size
    assert head["Metadata"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert pending_uploads(s3, bucket) == []


def test_same_manifest_is_not_uploaded_twice(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "m.sqlite3", 1000)
    key = upload(settings, path)
    first = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    messages: list[str] = []
    upload(settings, path, Progress(record_messages(messages)))
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == first
    assert any("already archived" in m for m in messages)


# --------------------------------------------------------------------------- lifecycle


def our_rules(s3: S3Client, bucket: str) -> list[dict[str, object]]:
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return [dict(r) for r in rules if r.get("ID") == rule_id("manifests")]


def test_lifecycle_rule_is_added_when_missing(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    upload(settings, random_file(tmp_path / "m.sqlite3", 1000))
    (rule,) = our_rules(s3, bucket)
    assert rule["ID"] == "manifest-gui-expire-manifests"
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": "manifests/"}
    assert rule["Expiration"] == {"Days": 7}


def test_lifecycle_keeps_other_rules_and_updates_only_ours(
    settings: Settings, s3: S3Client, bucket: str
) -> None:
    others = [
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
         "Expiration": {"Days": 30}},
        {"ID": "tagged", "Filter": {"And": {"Prefix": "x/", "Tags": [{"Key": "a", "Value": "b"}]}},
         "Status": "Disabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 3}},
    ]  # fmt: skip
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": others},  # type: ignore[typeddict-item]
    )
    before = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]

    with S3Archive(settings) as archive:
        assert archive.ensure_lifecycle() is True
        assert archive.ensure_lifecycle() is False  # already right: not written again
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[:2] == before
    assert len(rules) == 3 and rules[2]["Expiration"] == {"Days": 7}

    with S3Archive(dataclasses.replace(settings, archive_days=14)) as archive:
        assert archive.ensure_lifecycle() is True
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[:2] == before
    assert [r["Expiration"] for r in rules[2:]] == [{"Days": 14}]


def test_lifecycle_put_keeps_the_buckets_minimum_object_size(
    settings: Settings, s3: S3Client, bucket: str
) -> None:
    # The put replaces the whole configuration, bucket-wide settings included: the value read
    # must be sent back. (moto always answers all_storage_classes_128K, so the request is
    # what this checks.)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [
            {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
             "Expiration": {"Days": 30}},
        ]},
    )  # fmt: skip
    read = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    sent: list[bytes | None] = []
    with S3Archive(settings) as archive:
        archive._client.meta.events.register(
            "before-send.s3.PutBucketLifecycleConfiguration",
            lambda request, **_: sent.append(
                request.headers.get("x-amz-transition-default-minimum-object-size")
            ),
        )
        assert archive.ensure_lifecycle() is True
    assert sent == [read["TransitionDefaultMinimumObjectSize"].encode()]


def test_lifecycle_rules_for_another_prefix_are_separate(
    settings: Settings, s3: S3Client, bucket: str
) -> None:
    with S3Archive(settings) as archive:
        archive.ensure_lifecycle()
    with S3Archive(dataclasses.replace(settings, s3_prefix="other", archive_days=3)) as archive:
        archive.ensure_lifecycle()
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["manifest-gui-expire-manifests"]["Expiration"] == {"Days": 7}
    assert rules["manifest-gui-expire-other"]["Expiration"] == {"Days": 3}
    assert rules["manifest-gui-expire-other"]["Filter"] == {"Prefix": "other/"}


# --------------------------------------------------------------------------- list, download


def test_list_returns_archived_manifests_newest_first(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    older = random_file(tmp_path / "a.sqlite3", 1000)
    newer = random_file(tmp_path / "b.sqlite3", 2000)
    upload(settings, older, content_path="/x/en/world_sql_content_aaa.content", version="v1")
    upload(settings, newer, language="de", content_path="/x/de/world_sql_content_bbb.content",
           version="v2")  # fmt: skip
    s3.put_object(Bucket=bucket, Key="manifests/notes.txt", Body=b"not a manifest")
    s3.put_object(Bucket=bucket, Key="elsewhere/en/x.sqlite3", Body=b"outside the prefix")
    # Not ours: not <prefix>/<language>/<name>.sqlite3, or no sha256 to verify it by.
    s3.put_object(Bucket=bucket, Key="manifests/top.sqlite3", Body=b"x")
    s3.put_object(Bucket=bucket, Key="manifests/en/deep/er/x.sqlite3", Body=b"x")
    s3.put_object(Bucket=bucket, Key="manifests/en/by-hand.sqlite3", Body=b"x")

    with S3Archive(settings) as archive:
        listed = archive.list()
    assert [(a.key, a.language, a.version, a.size) for a in listed] == [
        ("manifests/de/world_sql_content_bbb.sqlite3", "de", "v2", 2000),
        ("manifests/en/world_sql_content_aaa.sqlite3", "en", "v1", 1000),
    ] or [a.key for a in listed][::-1] == [
        "manifests/de/world_sql_content_bbb.sqlite3",
        "manifests/en/world_sql_content_aaa.sqlite3",
    ]  # same second: order by key
    assert listed[0].last_modified >= listed[1].last_modified
    assert {a.content_path for a in listed} == {
        "/x/en/world_sql_content_aaa.content",
        "/x/de/world_sql_content_bbb.content",
    }
    assert listed[0].as_json()["sha256"] == listed[0].sha256


def test_list_of_an_empty_archive(settings: Settings) -> None:
    with S3Archive(settings) as archive:
        assert archive.list() == []


def test_download_checks_sha256(settings: Settings, tmp_path: Path) -> None:
    path = random_file(tmp_path / "m.sqlite3", 50_000)
    key = upload(settings, path)
    destination = tmp_path / "out" / "copy.sqlite3"
    events: list[ProgressEvent] = []
    with S3Archive(settings) as archive:
        archived = archive.download(key, destination, Progress(events.append, interval=0))
    assert destination.read_bytes() == path.read_bytes()
    assert archived.version == VERSION
    assert events[-1].stage == "download" and events[-1].finished and events[-1].done == 50_000


def test_download_refuses_a_sha256_mismatch(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    key = "manifests/en/world_sql_content_bad.sqlite3"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=b"SQLite format 3\x00 but changed",
        Metadata={"version": "v", "content-path": "/p/world_sql_content_bad.content",
                  "sha256": "0" * 64},
    )  # fmt: skip
    destination = tmp_path / "out" / "bad.sqlite3"
    with S3Archive(settings) as archive, pytest.raises(ArchiveError) as error:
        archive.download(key, destination, Progress())
    assert "sha256" in str(error.value)
    assert_one_sentence(error.value)
    assert list((tmp_path / "out").iterdir()) == []  # no file, no .part


def test_download_of_a_missing_key(settings: Settings, tmp_path: Path) -> None:
    with S3Archive(settings) as archive, pytest.raises(ArchiveError) as error:
        archive.download("manifests/en/nope.sqlite3", tmp_path / "x", Progress())
    assert "no archived manifest 'manifests/en/nope.sqlite3'" in str(error.value)
    assert_one_sentence(error.value)


# --------------------------------------------------------------------------- cancel


def cancel_at_upload_start(progress_events: list[ProgressEvent]) -> Progress:
    progress: Progress

    def listener(event: ProgressEvent) -> None:
        progress_events.append(event)
        if event.stage == "upload" and event.message is None:
            progress.cancel()

    progress = Progress(listener, interval=0)
    return progress


def test_cancelled_multipart_upload_leaves_nothing(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path, small_parts: int
) -> None:
    path = random_file(tmp_path / "big.sqlite3", 3 * small_parts)
    events: list[ProgressEvent] = []
    with pytest.raises(ArchiveCancelledError) as error:
        upload(settings, path, cancel_at_upload_start(events))
    assert isinstance(error.value, CancelledError) and isinstance(error.value, ArchiveError)
    assert_one_sentence(error.value)
    assert object_keys(s3, bucket) == []
    assert pending_uploads(s3, bucket) == []


def test_upload_cancelled_midway_leaves_nothing(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path, small_parts: int
) -> None:
    path = random_file(tmp_path / "big.sqlite3", 4 * small_parts)
    progress: Progress

    def listener(event: ProgressEvent) -> None:
        if event.stage == "upload" and event.done > 0:
            progress.cancel()

    progress = Progress(listener, interval=0)
    with pytest.raises(ArchiveCancelledError):
        upload(settings, path, progress)
    assert object_keys(s3, bucket) == []
    assert pending_uploads(s3, bucket) == []


def test_a_single_part_upload_cancelled_in_flight_leaves_nothing(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path, slow_answer_endpoint: str
) -> None:
    """One PUT cannot be stopped halfway: when it reaches the bucket anyway (Cancel while the
    answer is on its way), it is removed."""
    settings = dataclasses.replace(settings, s3_endpoint_url=slow_answer_endpoint)
    path = random_file(tmp_path / "m.sqlite3", 300_000)
    progress: Progress

    def listener(event: ProgressEvent) -> None:
        if event.stage == "upload" and event.done > 0:
            progress.cancel()  # the bytes are sent (the proxy holds the answer back)

    progress = Progress(listener, interval=0)
    with pytest.raises(ArchiveCancelledError):
        upload(settings, path, progress)
    assert object_keys(s3, bucket) == []


def test_cancelled_small_upload_leaves_nothing(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "m.sqlite3", 100_000)
    with pytest.raises(ArchiveCancelledError):
        upload(settings, path, cancel_at_upload_start([]))
    assert object_keys(s3, bucket) == []


# --------------------------------------------------------------------------- failures


def test_no_bucket_configured(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError) as error:
        S3Archive(Settings(data_dir=str(tmp_path)))
    assert str(error.value) == (
        "No S3 bucket is configured; set one in Settings or MANIFEST_GUI_S3_BUCKET."
    )


def test_empty_prefix_is_refused(settings: Settings) -> None:
    with pytest.raises(ArchiveError, match="whole bucket"):
        S3Archive(dataclasses.replace(settings, s3_prefix="/"))


def test_no_credentials(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ArchiveError) as error:
        S3Archive(settings)
    assert str(error.value).startswith("No AWS credentials were found")
    assert_one_sentence(error.value)


def test_profile_that_does_not_exist(settings: Settings) -> None:
    with pytest.raises(ArchiveError) as error:
        S3Archive(dataclasses.replace(settings, s3_profile="nope"))
    assert str(error.value) == "The AWS profile 'nope' does not exist; choose another in Settings."


def test_stale_aws_profile_variable(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "stale")
    with pytest.raises(ArchiveError) as error:
        S3Archive(settings)
    assert str(error.value) == "The AWS profile 'stale' does not exist; choose another in Settings."


def test_named_profile_is_used_and_listed(
    settings: Settings,
    aws_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (aws_environment / "credentials").write_text(
        "[archive]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s3cr3t\n"
    )
    (aws_environment / "config").write_text("[profile work]\nregion = eu-west-1\n")
    assert list_profiles() == ["archive", "work"]
    monkeypatch.setenv("AWS_PROFILE", "missing")  # a stale AWS_PROFILE hides no profile
    assert list_profiles() == ["archive", "work"]
    monkeypatch.delenv("AWS_PROFILE")
    key = upload(dataclasses.replace(settings, s3_profile="archive"),
                 random_file(tmp_path / "m.sqlite3", 10))  # fmt: skip
    assert key.startswith("manifests/en/")


def test_bucket_that_does_not_exist(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ArchiveError) as error:
        upload(dataclasses.replace(settings, s3_bucket="no-such-bucket-here"),
               random_file(tmp_path / "m.sqlite3", 10))  # fmt: skip
    assert str(error.value) == (
        "The S3 bucket 'no-such-bucket-here' does not exist; create it or fix the setting."
    )


def test_access_denied(settings: Settings, denying_endpoint: str, tmp_path: Path) -> None:
    denied = dataclasses.replace(settings, s3_endpoint_url=denying_endpoint)
    with pytest.raises(ArchiveError) as error:
        upload(denied, random_file(tmp_path / "m.sqlite3", 10))
    assert str(error.value).startswith(f"Access to the S3 bucket {settings.s3_bucket!r} was denied")
    assert_one_sentence(error.value)
    with S3Archive(denied) as archive, pytest.raises(ArchiveError, match="denied"):
        archive.list()


def test_endpoint_refused(settings: Settings, tmp_path: Path) -> None:
    from tests.support.bungie_server import refused_url

    url = refused_url()
    down = dataclasses.replace(settings, s3_endpoint_url=url)
    with pytest.raises(ArchiveError) as error:
        upload(down, random_file(tmp_path / "m.sqlite3", 10))
    assert str(error.value).startswith(f"Cannot reach the S3 endpoint {url.split('//')[1]}")
    assert_one_sentence(error.value)


def test_download_that_keeps_breaking_off(
    settings: Settings, dropping_endpoint: str, tmp_path: Path
) -> None:
    flaky = dataclasses.replace(settings, s3_endpoint_url=dropping_endpoint)
    destination = tmp_path / "out" / "m.sqlite3"
    with S3Archive(flaky) as archive, pytest.raises(ArchiveError) as error:
        archive.download("manifests/en/m.sqlite3", destination, Progress())
    assert str(error.value).startswith("The connection to the S3 endpoint")
    assert_one_sentence(error.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_endpoint_url_with_user_info_is_not_shown(settings: Settings, tmp_path: Path) -> None:
    from tests.support.bungie_server import refused_url

    url = refused_url().replace("//", "//someone:hunter2@")
    with pytest.raises(ArchiveError) as error:
        upload(dataclasses.replace(settings, s3_endpoint_url=url),
               random_file(tmp_path / "m.sqlite3", 10))  # fmt: skip
    assert "hunter2" not in str(error.value) and "someone" not in str(error.value)
    assert "must not contain a user name or password" in str(error.value)


@pytest.mark.parametrize(
    "url", ["not a url", "http://127.0.0.1:abc", "http://[::1", "http://127.0.0.1:99999", "ftp://h"]
)
def test_invalid_endpoint_url(settings: Settings, url: str) -> None:
    with pytest.raises(ArchiveError, match="is not valid"):
        S3Archive(dataclasses.replace(settings, s3_endpoint_url=url))


def test_a_failure_never_quotes_the_request_url(
    settings: Settings, moto_endpoint: str, tmp_path: Path
) -> None:
    """https to a plain-http server: botocore's SSL error names the whole request URL."""
    url = moto_endpoint.replace("http://", "https://")
    with (
        pytest.raises(ArchiveError) as error,
        S3Archive(dataclasses.replace(settings, s3_endpoint_url=url)) as archive,
    ):
        archive.list()
    text = str(error.value)
    assert "://" not in text and "list-type" not in text, text
    assert_one_sentence(error.value)


def test_bucket_names_are_tidied_and_checked(settings: Settings) -> None:
    for written in (f" {settings.s3_bucket} ", f"s3://{settings.s3_bucket}/"):
        with S3Archive(dataclasses.replace(settings, s3_bucket=written)) as archive:
            assert archive.bucket == settings.s3_bucket
            assert archive.list() == []
    with pytest.raises(ArchiveError, match="bucket name 'my bucket' is not valid"):
        S3Archive(dataclasses.replace(settings, s3_bucket="my bucket"))


def test_a_long_prefix_keeps_its_rule_id_within_s3s_limit(
    settings: Settings, s3: S3Client, bucket: str
) -> None:
    long_prefix = "archive/" + "x" * 300
    assert len(rule_id(long_prefix)) <= 255
    assert rule_id(long_prefix) != rule_id(long_prefix + "y")
    assert rule_id("manifests") == "manifest-gui-expire-manifests"  # short ones as before
    with S3Archive(dataclasses.replace(settings, s3_prefix=long_prefix)) as archive:
        assert archive.ensure_lifecycle()
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in rules] == [rule_id(long_prefix)]


def test_a_key_outside_the_prefix_is_refused(
    settings: Settings, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    s3.put_object(Bucket=bucket, Key="other/en/outside.sqlite3", Body=b"x")
    with S3Archive(settings) as archive, pytest.raises(ArchiveError, match="is not in the archive"):
        archive.download("other/en/outside.sqlite3", tmp_path / "m.sqlite3", Progress())
