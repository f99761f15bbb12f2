"""Settings shared by the CLI and the window: a JSON file in the user config dir, overridden by
MANIFEST_GUI_* environment variables. Secrets never go in here (see secrets.py).

Each setting is declared once, as a field of Settings with its default and its metadata
(option()): the environment variable that overrides it and the check its value must pass. The
file reader, validated() and the Settings dialog all work from that one declaration.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import Field, asdict, dataclass, field, fields, replace
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

# A value's problem as a sentence, or None when it is fine.
Check = Callable[[Any], str | None]


def option(default: Any, *, env: str | None = None, check: Check | None = None) -> Any:
    """Declare a setting: its default, the MANIFEST_GUI_* variable that overrides it (the
    environment wins over the file), and the check its value must pass."""
    return field(default=default, metadata={"env": env, "check": check})


def _language_problem(language: str) -> str | None:
    if LANGUAGE_CODE.fullmatch(language):
        return None
    return (
        f"{language!r} is not a language code; use a key of Bungie.net's "
        f"mobileWorldContentPaths such as {', '.join(LANGUAGES)}."
    )


def _root_problem(root: str) -> str | None:
    if _is_web_root(root):
        return None
    return (
        f"The Bungie.net root {root!r} is not a web address; write it as "
        "https://host or http://host:port."
    )


def _minutes_problem(minutes: int) -> str | None:
    return None if minutes >= 1 else "The polling interval must be at least one minute."


def _days_problem(days: int) -> str | None:
    return None if days >= 1 else "Cache and archive lifetimes must be at least one day."


@dataclass(frozen=True)
class Settings:
    # None: the embedded PostgreSQL in the data dir
    database_url: str | None = option(None, env="MANIFEST_GUI_DATABASE_URL")
    bungie_root: str = option(
        DEFAULT_BUNGIE_ROOT, env="MANIFEST_GUI_BUNGIE_ROOT", check=_root_problem
    )
    language: str = option("en", env="MANIFEST_GUI_LANGUAGE", check=_language_problem)
    data_dir: str | None = option(None, env="MANIFEST_GUI_DATA_DIR")  # None: the platform's
    poll_enabled: bool = option(True)
    poll_minutes: int = option(20, check=_minutes_problem)
    start_hidden: bool = option(False)
    cache_days: int = option(7, check=_days_problem)
    s3_bucket: str | None = option(None, env="MANIFEST_GUI_S3_BUCKET")
    s3_prefix: str = option("manifests", env="MANIFEST_GUI_S3_PREFIX")
    s3_endpoint_url: str | None = option(None, env="MANIFEST_GUI_S3_ENDPOINT_URL")
    s3_profile: str | None = option(None)
    archive_days: int = option(7, check=_days_problem)
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
        """Itself, or ConfigurationError with the first bad value's sentence."""
        for option_field in options():
            problem = _problem(option_field, getattr(self, option_field.name))
            if problem is not None:
                raise ConfigurationError(problem)
        return self


def options() -> list[Field[Any]]:
    """The declared settings, in order (from_environment is bookkeeping, not a setting)."""
    return [f for f in fields(Settings) if "env" in f.metadata]


def _problem(option_field: Field[Any], value: Any) -> str | None:
    check: Check | None = option_field.metadata["check"]
    return None if check is None else check(value)


# Environment variable -> settings field, from the declarations.
ENVIRONMENT = {f.metadata["env"]: f.name for f in options() if f.metadata["env"]}


def environment_variable(name: str) -> str | None:
    """The variable that overrides setting `name`, if any."""
    return next((f.metadata["env"] for f in options() if f.name == name), None)


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


def _coerce(name: str, value: Any) -> Any:
    """Accept values from JSON or the environment (TypeError or ValueError when it does not
    fit the setting's type)."""
    default = getattr(Settings(), name)
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if not isinstance(value, bool | int):
            raise TypeError(f"{value!r} is not true or false")
        return bool(value)
    if isinstance(default, int):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    if value in ("", None):
        return None if default is None else default
    if not isinstance(value, str | int | float):
        raise TypeError(f"{value!r} is not text")
    return str(value)


def _from_file(values: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The file's settings that fit. A bad value is left at its default, with a warning that
    names the file and the key: the app still starts."""
    settings: dict[str, Any] = {}
    for option_field in options():
        name = option_field.name
        if name not in values:
            continue
        try:
            value = _coerce(name, values[name])
            problem = _problem(option_field, value)
        except (TypeError, ValueError) as exc:
            problem = str(exc)
        if problem is None:
            settings[name] = value
        else:
            log.warning(
                "%s: the setting %r has a value that cannot be used (%s); using its default, %r.",
                path,
                name,
                problem.rstrip("."),
                option_field.default,
            )
    return settings


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
    settings = _from_file(values, path)
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
