"""Settings shared by the CLI and the window: a JSON file in the user config dir, overridden by
MANIFEST_GUI_* environment variables. Secrets never go in here (see secrets.py)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from .. import APP_NAME
from .errors import ConfigurationError

log = logging.getLogger(__name__)

DEFAULT_BUNGIE_ROOT = "https://www.bungie.net"
# The languages Bungie.net lists today (the settings dialog offers these). Any key of
# mobileWorldContentPaths is accepted, so a language added later works without an update.
LANGUAGES = (
    "en",
    "fr",
    "es",
    "es-mx",
    "de",
    "it",
    "ja",
    "pt-br",
    "ru",
    "pl",
    "ko",
    "zh-cht",
    "zh-chs",
)

LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")

# Environment variable -> settings field. The environment wins over the file.
ENVIRONMENT = {
    "MANIFEST_GUI_DATABASE_URL": "database_url",
    "MANIFEST_GUI_BUNGIE_ROOT": "bungie_root",
    "MANIFEST_GUI_LANGUAGE": "language",
    "MANIFEST_GUI_DATA_DIR": "data_dir",
    "MANIFEST_GUI_S3_BUCKET": "s3_bucket",
    "MANIFEST_GUI_S3_PREFIX": "s3_prefix",
    "MANIFEST_GUI_S3_ENDPOINT_URL": "s3_endpoint_url",
}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: the embedded PostgreSQL in the data dir
    bungie_root: str = DEFAULT_BUNGIE_ROOT
    language: str = "en"
    data_dir: str | None = None  # None: the platform's user data dir
    poll_enabled: bool = True
    poll_minutes: int = 20
    start_hidden: bool = False
    cache_days: int = 7
    s3_bucket: str | None = None
    s3_prefix: str = "manifests"
    s3_endpoint_url: str | None = None
    s3_profile: str | None = None
    archive_days: int = 7
    # Fields that came from the environment: shown read-only, never written back to the file.
    from_environment: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else Path(platformdirs.user_data_dir(APP_NAME))

    @property
    def cache_path(self) -> Path:
        return self.data_path / "cache"

    @property
    def log_path(self) -> Path:
        return self.data_path / "logs"

    @property
    def embedded_database_path(self) -> Path:
        return self.data_path / "postgres"

    def validated(self) -> Settings:
        if not LANGUAGE_CODE.fullmatch(self.language):
            raise ConfigurationError(
                f"{self.language!r} is not a language code; use a key of Bungie.net's "
                f"mobileWorldContentPaths such as {', '.join(LANGUAGES)}."
            )
        if not _is_web_root(self.bungie_root):
            raise ConfigurationError(
                f"The Bungie.net root {self.bungie_root!r} is not a web address; write it as "
                "https://host or http://host:port."
            )
        if self.poll_minutes < 1:
            raise ConfigurationError("The polling interval must be at least one minute.")
        if self.cache_days < 1 or self.archive_days < 1:
            raise ConfigurationError("Cache and archive lifetimes must be at least one day.")
        return self


def _is_web_root(root: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(root)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def settings_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.json"


_TYPES: dict[str, type] = {f.name: f.type for f in fields(Settings)}  # type: ignore[misc]


def _coerce(name: str, value: Any) -> Any:
    """Accept values from JSON or the environment; ignore what does not fit (logged)."""
    default = getattr(Settings(), name)
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if value in ("", None):
        return None if default is None else default
    return str(value)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file (missing or unreadable: defaults), then apply the environment."""
    path = path or settings_file()
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict):
            values = raw
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable settings file %s: %s", path, exc)
    known = {f.name for f in fields(Settings)} - {"from_environment"}
    settings: dict[str, Any] = {}
    for name, value in values.items():
        if name in known:
            try:
                settings[name] = _coerce(name, value)
            except (TypeError, ValueError):
                log.warning("Ignoring invalid setting %s=%r", name, value)
    overridden = set()
    for variable, name in ENVIRONMENT.items():
        if environ.get(variable):
            settings[name] = _coerce(name, environ[variable])
            overridden.add(name)
    return Settings(**settings, from_environment=frozenset(overridden))


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the settings that did not come from the environment (atomically)."""
    path = path or settings_file()
    previous: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):  # no usable file: nothing to keep
        previous = json.loads(path.read_text(encoding="utf-8"))
    data = asdict(settings)
    data.pop("from_environment")
    for name in settings.from_environment:  # keep what the file had, not the override
        if name in previous:
            data[name] = previous[name]
        else:
            data.pop(name, None)
    if data.get("database_url"):
        data["database_url"] = strip_password(data["database_url"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


_PASSWORD_IN_URL = re.compile(r"^([^:/?#]+://[^:/?#@]*):[^@]*@")
_PASSWORD_IN_QUERY = re.compile(r"(?<=[?&])password=[^&#]*&?")


def strip_password(url: str) -> str:
    """The URL without its password, for files, logs and messages."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if "://" in url:
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:  # e.g. an unclosed [ or a bad port: drop anything like a password
            return _PASSWORD_IN_URL.sub(r"\1@", _PASSWORD_IN_QUERY.sub("", url))
        query = parse_qsl(parts.query, keep_blank_values=True)
        kept = [(name, value) for name, value in query if name != "password"]
        if parts.password is None and len(kept) == len(query):
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username}@{host}" if parts.username else host
        if port:
            netloc += f":{port}"
        # A password may also come as ?password=... (libpq accepts both).
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment))
    try:
        params = conninfo_to_dict(url)
    except Exception:  # not a conninfo string: say nothing of it
        return "<database>"
    params.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def with_changes(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)
