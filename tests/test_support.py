"""Proof that the shared test infrastructure works: manifests, fake Bungie, PostgreSQL, env."""

from __future__ import annotations

import http.client
import json
import os
import re
import sqlite3
import time
import zipfile
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.support import bungie_server as fb
from tests.support import manifest_factory as mf
from tests.support import skip_or_fail
from tests.support.bungie_server import MANIFEST_PATH, BungieServer
from tests.support.manifest_factory import GeneratedManifest, ManifestFactory
from tests.support.postgres import DebianPostgres15, PostgresServer, ServerUnavailable

REQUIRED_TABLES = {
    "DestinyInventoryItemDefinition",
    "DestinyActivityDefinition",
    "DestinyClassDefinition",
    "DestinyHistoricalStatsDefinition",
    "DestinySandboxPerkDefinition",
    "DestinyStatDefinition",
}


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> GeneratedManifest:
    return mf.generate_manifest(tmp_path_factory.mktemp("m") / "v1.sqlite3", seed=11)


def _sqlite_rows(path: Path, query: str) -> list[Any]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(query).fetchall()


# --------------------------------------------------------------------------- manifest factory


def test_manifest_has_bungies_table_shape(small_manifest: GeneratedManifest) -> None:
    path = small_manifest.path
    ddl = dict(_sqlite_rows(path, "SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    assert set(ddl) >= REQUIRED_TABLES
    for name, create in ddl.items():
        pk = "key TEXT" if name == "DestinyHistoricalStatsDefinition" else "id INTEGER"
        assert create == f"CREATE TABLE {name} ({pk} PRIMARY KEY NOT NULL, json BLOB)"
    assert _sqlite_rows(path, "SELECT DISTINCT typeof(json) FROM DestinyClassDefinition") == [
        ("text",)
    ]
    assert 1500 <= small_manifest.total_rows <= 2500
    assert small_manifest.rows == mf.read_manifest(path)


def test_ids_are_signed_hashes(small_manifest: GeneratedManifest) -> None:
    items = small_manifest.rows["DestinyInventoryItemDefinition"]  # type: ignore[index]
    assert {-(2**31), -1, 2**31 - 1, 1} <= set(items)
    negatives = 0
    for table, rows in small_manifest.rows.items():
        for pk, obj in rows.items():
            if table == "DestinyHistoricalStatsDefinition":
                assert isinstance(pk, str) and "hash" not in obj and obj["statId"] == pk
                continue
            assert isinstance(pk, int) and -(2**31) <= pk < 2**31
            assert obj["hash"] == pk & 0xFFFFFFFF == mf.to_unsigned(pk)
            assert mf.to_signed(obj["hash"]) == pk
            assert {"index", "redacted", "blacklisted"} <= set(obj)
            negatives += pk < 0
    assert negatives > 100


def test_rows_look_like_definitions(small_manifest: GeneratedManifest) -> None:
    rows = small_manifest.rows
    assert rows is not None
    names = [
        obj["displayProperties"]["name"]
        for t in rows.values()
        for obj in t.values()
        if "hash" in obj
    ]
    assert any(re.search("[À-ÿ]", n) for n in names)
    assert any(re.search("[\u3040-\u30ff\u4e00-\u9fff]", n) for n in names)
    assert any(re.search("[\U0001f300-\U0001faff]", n) for n in names)
    edge = rows["DestinyInventoryItemDefinition"][-(2**31)]
    assert edge["displayProperties"]["name"] == mf.EDGE_NAME
    assert "\\N" in edge["displayProperties"]["description"]
    for obj in rows["DestinyClassDefinition"].values():
        assert {"name", "description", "hasIcon"} <= set(obj["displayProperties"])
    sizes = [len(mf.json_text(o).encode()) for t in rows.values() for o in t.values()]
    assert min(sizes) < 400 and max(sizes) > 90_000
    # fields ending in Hash point at rows of the right tables
    buckets = set(small_manifest.hashes("DestinyInventoryBucketDefinition"))
    collectibles = set(small_manifest.hashes("DestinyCollectibleDefinition"))
    for item in rows["DestinyInventoryItemDefinition"].values():
        assert item["inventory"]["bucketTypeHash"] in buckets
        assert item["collectibleHash"] in collectibles


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = mf.generate_manifest(tmp_path / "a.sqlite3", seed=5, rows=300)
    b = mf.generate_manifest(tmp_path / "b.sqlite3", seed=5, rows=300)
    c = mf.generate_manifest(tmp_path / "c.sqlite3", seed=6, rows=300)
    assert mf.content_file_name(a.path) == mf.content_file_name(b.path)
    assert a.expected() == b.expected() != c.expected()


def test_next_version_changes_deletes_adds_rows_and_tables(
    small_manifest: GeneratedManifest, tmp_path: Path
) -> None:
    v1 = small_manifest
    v2 = mf.generate_manifest(tmp_path / "v2.sqlite3", seed=12, version_of=v1, dropped_tables=1)
    ch = v2.changes
    assert ch is not None and v2.generation == 2
    assert ch.modified and ch.deleted and ch.added and ch.noise_only <= ch.modified
    assert len(ch.new_tables) == 1 and ch.new_tables[0] not in v1.tables
    assert ch.new_tables[0] in v2.tables and len(ch.dropped_tables) == 1
    old, new = v1.expected(), v2.expected()
    assert set(old) - set(new) == ch.deleted
    assert set(new) - set(old) == ch.added
    assert {k for k in old.keys() & new.keys() if old[k] != new[k]} == ch.modified
    for key in ch.noise_only:
        a, b = dict(old[key]), dict(new[key])
        assert a.pop("index") != b.pop("index") and a == b
    # untouched rows are byte-identical
    raw1 = {(t, pk): d for t, pk, d in mf.iter_manifest_rows(v1.path, parse=False)}
    raw2 = {(t, pk): d for t, pk, d in mf.iter_manifest_rows(v2.path, parse=False)}
    for key in set(raw1) & set(raw2) - ch.modified:
        assert raw1[key] == raw2[key]
    v3 = mf.generate_manifest(tmp_path / "v3.sqlite3", seed=13, version_of=v2)
    assert v3.generation == 3 and v3.changes is not None
    assert v3.changes.new_tables[0] not in v2.tables


def test_full_size_mode_streams_without_keeping_rows(tmp_path: Path) -> None:
    v1 = mf.generate_manifest(tmp_path / "f1.sqlite3", seed=3, full_size=True, rows=2500)
    assert v1.rows is None
    with pytest.raises(ValueError, match="full_size"):
        v1.expected()
    assert sum(1 for _ in mf.iter_manifest_rows(v1.path, parse=False)) == v1.total_rows
    v2 = mf.generate_manifest(tmp_path / "f2.sqlite3", seed=4, full_size=True, version_of=v1)
    assert v2.rows is None and v2.changes is not None
    assert 0.01 < len(v2.changes.modified) / v1.total_rows < 0.06
    expected_rows = v1.total_rows - len(v2.changes.deleted) + len(v2.changes.added)
    assert v2.total_rows == expected_rows
    # the full-size plan itself: ~170,000 rows, ~390 MB, items ~33,000 / ~250 MB
    plan = mf.full_size_plan()
    assert 0.95 < mf.FULL_SIZE_ROWS / sum(rows for rows, _ in plan.values()) < 1.05
    assert 330e6 < sum(rows * size for rows, size in plan.values()) < 430e6
    items, item_bytes = plan["DestinyInventoryItemDefinition"]
    assert 30_000 < items < 36_000 and 220e6 < items * item_bytes < 280e6


def test_json_can_be_stored_as_blob(tmp_path: Path) -> None:
    m = mf.generate_manifest(tmp_path / "b.sqlite3", seed=1, rows=200, json_as_blob=True)
    assert _sqlite_rows(m.path, "SELECT DISTINCT typeof(json) FROM DestinyStatDefinition") == [
        ("blob",)
    ]
    assert mf.read_manifest(m.path) == m.rows


def test_content_zip_has_exactly_one_member(
    manifest_factory: ManifestFactory, small_manifest: GeneratedManifest
) -> None:
    content = manifest_factory.content_file(small_manifest)
    assert re.fullmatch(r"world_sql_content_[0-9a-f]{32}\.content", content.name)
    with zipfile.ZipFile(content) as zf:
        assert zf.namelist() == [content.name]
        assert zf.read(content.name) == small_manifest.path.read_bytes()


def test_manifest_from_reference_definitions(
    manifest_factory: ManifestFactory, bungie_reference: Path
) -> None:
    m = manifest_factory.reference()
    classes = {o["displayProperties"]["name"] for o in m.rows["DestinyClassDefinition"].values()}  # type: ignore[index]
    assert classes == {"Titan", "Hunter", "Warlock"}
    assert m.table_rows["DestinySandboxPerkDefinition"] > 5000
    raw = json.loads((bungie_reference / "definitions" / "DestinyStatDefinition.json").read_text())
    for key, obj in raw.items():
        assert m.get("DestinyStatDefinition", {"id": mf.to_signed(int(key))}) == obj
    assert any(pk < 0 for pk in m.rows["DestinyStatDefinition"])  # type: ignore[index, operator]


@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_reference_skips_locally_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setattr(mf, "reference_dir", lambda: None)
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected):
        mf.require_reference_dir()


# --------------------------------------------------------------------------- fake Bungie.net


def _get(url: str, **kwargs: Any) -> requests.Response:
    with requests.get(url, timeout=10, **kwargs) as response:
        response.content  # noqa: B018 - read the body before the connection closes
        return response


def test_manifest_envelope_and_request_recording(bungie_server: BungieServer) -> None:
    r = _get(bungie_server.manifest_url, headers={"X-API-Key": "abc", "User-Agent": "t/1"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["ErrorCode"] == 1 and body["ErrorStatus"] == "Success"
    assert set(body) == {
        "Response", "ErrorCode", "ThrottleSeconds", "ErrorStatus", "Message", "MessageData",
    }  # fmt: skip
    assert body["Response"]["version"] == bungie_server.version
    assert set(body["Response"]["mobileWorldContentPaths"]) == set(fb.LANGUAGES)
    (req,) = bungie_server.manifest_requests
    assert req.api_key == "abc" and req.header("user-agent") == "t/1" and req.path == MANIFEST_PATH


def test_builtin_response_matches_reference_shape() -> None:
    with BungieServer(use_reference=False) as server:
        body = _get(server.manifest_url).json()
    assert body["ErrorCode"] == 1
    reference = fb._reference_response()
    if reference is None:
        skip_or_fail("../shared/reference/bungie is not available to compare with")
    assert set(body["Response"]) == set(reference)


def test_publish_serves_content_file_with_length(
    bungie_server: BungieServer, manifest_factory: ManifestFactory
) -> None:
    m = mf.generate_manifest(manifest_factory.directory / "s.sqlite3", seed=2, rows=100)
    content = manifest_factory.content_file(m)
    paths = bungie_server.publish(content, version="v-one", languages=["en", "fr"])
    assert paths["en"] == f"/common/destiny2_content/sqlite/en/{content.name}"
    manifest = _get(bungie_server.manifest_url).json()["Response"]
    assert manifest["version"] == "v-one"
    assert manifest["mobileWorldContentPaths"]["fr"] == paths["fr"]
    r = _get(bungie_server.url(paths["en"]))
    assert r.status_code == 200 and r.content == content.read_bytes()
    assert int(r.headers["Content-Length"]) == content.stat().st_size
    head = requests.head(bungie_server.url(paths["en"]), timeout=10)
    assert int(head.headers["Content-Length"]) == content.stat().st_size
    assert (
        _get(bungie_server.url("/common/destiny2_content/sqlite/en/nope.content")).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("code", "http_status", "expected_http"),
    [(5, None, 503), (5, 400, 400), (2101, None, 401), (2102, None, 401), (2103, None, 401)],
)
def test_error_envelopes(
    bungie_server: BungieServer, code: int, http_status: int | None, expected_http: int
) -> None:
    bungie_server.queue(fb.error_envelope(code, http_status=http_status))
    r = _get(bungie_server.manifest_url)
    assert r.status_code == expected_http
    body = r.json()
    assert body["ErrorCode"] == code and body["ErrorStatus"] == fb.ERROR_STATUS[code]
    assert _get(bungie_server.manifest_url).json()["ErrorCode"] == 1  # one-shot


@pytest.mark.parametrize("code", sorted(fb.THROTTLE_CODES))
def test_throttling_then_success(bungie_server: BungieServer, code: int) -> None:
    bungie_server.queue(fb.throttled(code, seconds=1), times=2)
    first, second, third = (_get(bungie_server.manifest_url).json() for _ in range(3))
    assert first["ErrorCode"] == second["ErrorCode"] == code
    assert first["ThrottleSeconds"] == 1 and third["ErrorCode"] == 1
    assert bungie_server.pending() == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_errors_without_json(bungie_server: BungieServer, status: int) -> None:
    bungie_server.queue(fb.http_error(status))
    r = _get(bungie_server.manifest_url)
    assert r.status_code == status
    with pytest.raises(requests.JSONDecodeError):
        r.json()


def test_html_page_instead_of_json(bungie_server: BungieServer) -> None:
    bungie_server.queue(fb.html_page())
    r = _get(bungie_server.manifest_url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.text.lower().startswith("<!doctype html")


def test_api_key_checked_when_configured(bungie_server: BungieServer) -> None:
    bungie_server.api_key = "right"
    assert _get(bungie_server.manifest_url).json()["ErrorCode"] == 2102
    assert _get(bungie_server.manifest_url, headers={"X-API-Key": "no"}).json()["ErrorCode"] == 2101
    assert _get(bungie_server.manifest_url, headers={"X-API-Key": "right"}).json()["ErrorCode"] == 1


def test_content_404_until_cache_busted(
    bungie_server: BungieServer, manifest_factory: ManifestFactory
) -> None:
    content = manifest_factory.directory / "x.content"
    content.write_bytes(b"PK-not-really")
    path = bungie_server.publish(content, version="v")
    bungie_server.fail_content_until_cache_busted(times=2)
    url = bungie_server.url(path["en"])
    assert _get(url).status_code == 404
    assert _get(url + "?cb=123").status_code == 200
    assert _get(url).status_code == 404
    assert _get(url).status_code == 200
    assert [r.query for r in bungie_server.content_requests] == ["", "cb=123", "", ""]
    assert bungie_server.content_requests[1].params == {"cb": ["123"]}


def _published_blob(server: BungieServer, size: int) -> tuple[str, bytes]:
    data = bytes(range(256)) * (size // 256)
    server.serve("/common/destiny2_content/sqlite/en/world_sql_content_blob.content", data)
    return "/common/destiny2_content/sqlite/en/world_sql_content_blob.content", data


def _connection(server: BungieServer, timeout: float = 10) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)


def test_truncated_download(bungie_server: BungieServer) -> None:
    path, data = _published_blob(bungie_server, 100_000)
    bungie_server.queue(fb.truncated(fraction=0.3), route="content")
    conn = _connection(bungie_server)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert int(response.headers["Content-Length"]) == len(data)
        with pytest.raises(http.client.IncompleteRead) as info:
            response.read()
        assert len(info.value.partial) == int(len(data) * 0.3)
    finally:
        conn.close()
    assert bungie_server.wait_idle()
    assert bungie_server.content_requests[0].completed is False


def test_slow_body_can_be_cancelled_mid_download(bungie_server: BungieServer) -> None:
    path, data = _published_blob(bungie_server, 200_000)
    bungie_server.queue(fb.slow_body(chunk_size=4096, interval=0.02), route="content")
    conn = _connection(bungie_server)
    started = time.monotonic()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.read(8192)
        response.close()  # the client cancels: its socket really closes
    finally:
        conn.close()
    assert bungie_server.wait_idle()
    record = bungie_server.content_requests[0]
    assert not record.completed and record.bytes_sent < len(data)
    assert time.monotonic() - started < 3


def test_delayed_answer_and_client_timeout(bungie_server: BungieServer) -> None:
    bungie_server.queue(fb.delayed(0.3))
    started = time.monotonic()
    assert _get(bungie_server.manifest_url).json()["ErrorCode"] == 1
    assert time.monotonic() - started >= 0.3
    bungie_server.queue(fb.delayed(30))
    with pytest.raises(requests.Timeout):
        requests.get(bungie_server.manifest_url, timeout=0.2)
    # the fixture's teardown must not wait the 30 s out


def test_corrupt_and_disconnect(bungie_server: BungieServer, tmp_path: Path) -> None:
    path, data = _published_blob(bungie_server, 10_000)
    bungie_server.queue(fb.corrupt(), fb.disconnect(), route="content")
    r = _get(bungie_server.url(path))
    assert r.status_code == 200 and len(r.content) == len(data) and r.content != data
    blob = tmp_path / "c.content"
    blob.write_bytes(r.content)
    assert not zipfile.is_zipfile(blob)
    with pytest.raises(requests.ConnectionError):
        _get(bungie_server.url(path))


def test_queue_routes_are_independent(bungie_server: BungieServer) -> None:
    path, _ = _published_blob(bungie_server, 1024)
    bungie_server.queue(fb.not_found(), route="content")
    assert _get(bungie_server.manifest_url).status_code == 200
    assert bungie_server.pending() == ["content: 404"]
    assert _get(bungie_server.url(path)).status_code == 404
    assert _get(bungie_server.url(path)).status_code == 200


def test_refused_url(refused_url: str) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(refused_url + MANIFEST_PATH, timeout=5)


# --------------------------------------------------------------------------- PostgreSQL


def test_pg_server_accepts_connections(pg_server: PostgresServer) -> None:
    version = pg_server.server_version()
    assert version.startswith("PostgreSQL ")
    if pg_server.kind == "pg15":
        assert version.startswith("PostgreSQL 15.")
        assert pg_server.tcp_url is not None
        with psycopg.connect(pg_server.tcp_url, connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_database_url_is_a_fresh_empty_database(database_url: str) -> None:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        name, tables = conn.execute(
            "SELECT current_database(), count(*) FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        ).fetchone()  # type: ignore[misc]
        assert name.startswith("test_") and tables == 0
        conn.execute("CREATE TABLE t (j jsonb)")
        conn.execute("INSERT INTO t VALUES (%s)", [json.dumps({"n": mf.EDGE_NAME})])
        assert conn.execute("SELECT j->>'n' FROM t").fetchone() == (mf.EDGE_NAME,)


def test_generated_rows_round_trip_through_jsonb(
    database_url: str, small_manifest: GeneratedManifest
) -> None:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE m (table_name text, pk jsonb, json jsonb)")
        with conn.cursor().copy("COPY m (table_name, pk, json) FROM STDIN") as copy:
            for table, pk, raw in mf.iter_manifest_rows(small_manifest.path, parse=False):
                copy.write_row((table, json.dumps(mf.pk_dict(pk)), raw))
        stored = {
            (table, mf.pk_value(pk)): obj
            for table, pk, obj in conn.execute("SELECT table_name, pk, json FROM m")
        }
    assert stored == small_manifest.expected()


def test_missing_pg15_binaries_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ServerUnavailable, match="not found"):
        DebianPostgres15(bindir=tmp_path)


@pytest.mark.parametrize("ci", ["true", ""])
def test_skip_or_fail(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception if ci else pytest.skip.Exception):
        skip_or_fail("component missing")


# --------------------------------------------------------------------------- isolation and desktop


def test_environment_is_isolated(isolated_env: Any) -> None:
    assert Path(os.environ["HOME"]) == isolated_env.home and isolated_env.home.is_dir()
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        assert Path(os.environ[name]).is_relative_to(isolated_env.root)
    assert os.environ["MANIFEST_GUI_DATA_DIR"] == str(isolated_env.app_data)
    leftovers = [
        n
        for n in os.environ
        if n.startswith("MANIFEST_GUI_")
        and not n.startswith("MANIFEST_GUI_TEST_")
        and n != "MANIFEST_GUI_DATA_DIR"
    ]
    assert leftovers == []
    if os.environ.get("MANIFEST_GUI_TEST_DISPLAY") != "1":
        assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    assert os.environ.get("XDG_RUNTIME_DIR")


@pytest.mark.display
def test_virtual_display_has_a_system_tray(qapp: Any) -> None:
    from PySide6.QtWidgets import QSystemTrayIcon

    deadline = time.monotonic() + 5
    while not QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert QSystemTrayIcon.isSystemTrayAvailable()
    assert qapp.platformName() == "xcb"


@pytest.mark.keyring
def test_unlocked_keyring_is_available() -> None:
    from keyring.backends import SecretService

    backend = SecretService.Keyring()  # the real Secret Service, whatever the default backend
    backend.set_password("manifest-gui-test-support", "user", "s3cret")
    try:
        assert backend.get_password("manifest-gui-test-support", "user") == "s3cret"
    finally:
        backend.delete_password("manifest-gui-test-support", "user")
