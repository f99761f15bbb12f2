"""`manifest-gui archive list [--json]` and `manifest-gui load --from-archive KEY`: output,
exit codes (0 ok, 1 known failure with one `error: ` line, 2 bad usage) and warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from manifest_gui.cli import main
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import load_settings
from tests.support.bungie_server import BungieServer
from tests.support.manifest_factory import ManifestFactory

from .conftest import DUMMY_SECRET, make_service, random_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def archive_env(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, bucket: str) -> str:
    monkeypatch.setenv("MANIFEST_GUI_S3_BUCKET", bucket)
    monkeypatch.setenv("MANIFEST_GUI_S3_ENDPOINT_URL", moto_endpoint)
    return bucket


def service_from_environment() -> ManifestService:
    return make_service(load_settings())


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr and DUMMY_SECRET not in stderr
    return lines[0]


def upload_one(tmp_path: Path) -> str:
    from manifest_gui.engine.archive import S3Archive
    from manifest_gui.engine.progress import Progress

    with S3Archive(load_settings()) as archive:
        return archive.upload(
            random_file(tmp_path / "m.sqlite3", 1234),
            language="en",
            version="v1",
            content_path="/c/en/world_sql_content_cli.content",
            progress=Progress(),
        ).key


def test_archive_list_json(
    archive_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = upload_one(tmp_path)
    assert main(["archive", "list", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["key"] == key == "manifests/en/world_sql_content_cli.sqlite3"
    assert item["version"] == "v1" and item["language"] == "en" and item["size"] == 1234
    assert item["content_path"] == "/c/en/world_sql_content_cli.content"
    assert len(item["sha256"]) == 64 and "last_modified" in item


def test_archive_list_text(
    archive_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["archive", "list"]) == 0
    assert capsys.readouterr().out == "The archive holds no manifests.\n"
    key = upload_one(tmp_path)
    assert main(["archive", "list"]) == 0
    out = capsys.readouterr().out
    assert key in out and "v1" in out


def test_archive_list_without_a_bucket(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "list"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == (
        "error: No S3 bucket is configured; set one in Settings or MANIFEST_GUI_S3_BUCKET."
    )


def test_archive_list_endpoint_refused(
    archive_env: str,
    refused_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_S3_ENDPOINT_URL", refused_url)
    assert main(["archive", "list", "--json"]) == 1
    assert one_error_line(capsys.readouterr().err).startswith("error: Cannot reach the S3 endpoint")


def test_archive_list_without_credentials(
    archive_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["archive", "list"]) == 1
    assert one_error_line(capsys.readouterr().err).startswith("error: No AWS credentials")


@pytest.mark.parametrize(
    "argv",
    [
        ["archive"],
        ["archive", "nope"],
        ["load", "--file", "x.content", "--from-archive", "manifests/en/x.sqlite3"],
        ["load", "--from-archive"],
    ],
)
def test_bad_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error: " in capsys.readouterr().err


def test_load_from_archive(
    archive_env: str,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    monkeypatch.setenv("MANIFEST_GUI_BUNGIE_ROOT", bungie_server.base_url)
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    path = bungie_server.publish(manifest_factory.content_file(manifest_factory.generate(rows=80)))
    assert main(["load", "--json"], service_factory=service_from_environment) == 0
    loaded = json.loads(capsys.readouterr().out)
    key = "manifests/en/" + path["en"].rsplit("/", 1)[1].replace(".content", ".sqlite3")

    bungie_server.publish(manifest_factory.content_file(manifest_factory.generate(seed=9, rows=80)))
    assert main(["load"], service_factory=service_from_environment) == 0
    capsys.readouterr()

    argv = ["load", "--from-archive", key, "--json"]
    assert main(argv, service_factory=service_from_environment) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["loaded"] is True
    assert (again["version"], again["path"]) == (loaded["version"], loaded["path"])


def test_load_from_a_missing_key(
    archive_env: str,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    argv = ["load", "--from-archive", "manifests/en/missing.sqlite3"]
    assert main(argv, service_factory=service_from_environment) == 1
    assert one_error_line(capsys.readouterr().err) == (
        f"error: There is no archived manifest 'manifests/en/missing.sqlite3' in the S3 bucket "
        f"{archive_env!r}."
    )


def test_archive_failure_is_a_warning(
    archive_env: str,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    refused_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    monkeypatch.setenv("MANIFEST_GUI_BUNGIE_ROOT", bungie_server.base_url)
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    monkeypatch.setenv("MANIFEST_GUI_S3_ENDPOINT_URL", refused_url)
    bungie_server.publish(manifest_factory.content_file(manifest_factory.generate(rows=40)))
    assert main(["load"], service_factory=service_from_environment) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("Loaded ")
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "Cannot reach the S3 endpoint" in warnings[0]


def _broken_content(manifest_factory: ManifestFactory, tmp_path: Path) -> Path:
    """A release whose SQLite file opens but holds a row PostgreSQL cannot store as JSON."""
    import sqlite3

    manifest = manifest_factory.generate(seed=61, rows=60)
    with sqlite3.connect(manifest.path) as conn:
        conn.execute(
            'UPDATE "DestinyInventoryItemDefinition" SET json = ? '
            'WHERE rowid = (SELECT max(rowid) FROM "DestinyInventoryItemDefinition")',
            ('{"broken": ',),
        )
    conn.close()
    return manifest_factory.content_file(manifest)


@pytest.mark.parametrize("archive_reachable", [True, False])
def test_a_manifest_that_does_not_load_is_not_kept_in_the_archive(
    archive_env: str,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    refused_url: str,
    s3: S3Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    archive_reachable: bool,
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    monkeypatch.setenv("MANIFEST_GUI_BUNGIE_ROOT", bungie_server.base_url)
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    if not archive_reachable:
        monkeypatch.setenv("MANIFEST_GUI_S3_ENDPOINT_URL", refused_url)
    bungie_server.publish(_broken_content(manifest_factory, tmp_path))
    assert main(["load"], service_factory=service_from_environment) == 1
    # The load's failure is the one line, even when archiving failed too (that is in the log).
    assert "cannot store as JSON" in one_error_line(capsys.readouterr().err)
    # Nobody can load it from the archive later: it was removed again.
    assert s3.list_objects_v2(Bucket=archive_env).get("KeyCount") == 0
