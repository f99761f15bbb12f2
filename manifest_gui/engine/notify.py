"""After a load: tell the clan's Discord what changed.

`notify_after_load` is the one call both front ends make after every load (CLI load, the
window's polls, loads from a file or the archive). It never raises for a failed notification
and never touches the load: failures come back as a warning sentence for the log, the tray and
the CLI's `warning:` line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from .discord import DiscordError, DiscordWebhook
from .discord_messages import release_messages
from .errors import CancelledError, ManifestGuiError
from .loader import LoadResult
from .notes_model import ReleaseNotes
from .notes_text import to_markdown
from .progress import Progress, no_progress
from .service import ManifestService
from .watchlist import fill_watched

log = logging.getLogger(__name__)


class NotifySkip(StrEnum):
    """Why nothing was posted."""

    UNCHANGED = "unchanged"  # the load changed nothing (or did not load)
    NO_WEBHOOK = "no-webhook"  # no URL in the keyring or MANIFEST_GUI_DISCORD_WEBHOOK_URL


@dataclass(frozen=True, slots=True)
class NotifyOutcome:
    """What a notification did. `warning` is set when it failed (a sentence without the URL);
    `notes` are the release notes it was built from (the window may reuse them)."""

    posted: int = 0
    skipped: NotifySkip | None = None
    warning: str | None = None
    notes: ReleaseNotes | None = None


def load_changed(loaded: LoadResult) -> bool:
    """Whether a load changed the database: a reload of the same file inserts, updates and
    deletes nothing."""
    return loaded.loaded and bool(loaded.inserts or loaded.updates or loaded.deletes)


def notify_after_load(
    service: ManifestService,
    loaded: LoadResult,
    progress: Progress | None = None,
    *,
    notes: ReleaseNotes | None = None,
    webhook: DiscordWebhook | None = None,
) -> NotifyOutcome:
    """Post the release notes of `loaded` to the Discord webhook, if one is set and the load
    changed the database. `notes` saves building them again when the caller has them (their
    `watched` is filled here from the watchlist). Cancel stops posting (a warning)."""
    progress = progress or no_progress()
    if not load_changed(loaded):
        return NotifyOutcome(skipped=NotifySkip.UNCHANGED)
    try:
        url = service.secrets.discord_webhook_url()
        if not url and webhook is None:
            return NotifyOutcome(skipped=NotifySkip.NO_WEBHOOK)
        if notes is None:
            notes = service.release_notes(to_id=loaded.manifest_id)
        notes = fill_watched(notes)
        messages = release_messages(
            notes, bungie_root=service.settings.bungie_root, markdown=to_markdown(notes)
        )
        progress.message(f"Posting the release notes to Discord ({len(messages)} messages).")
        with webhook or DiscordWebhook(url or "") as hook:
            posted = hook.post_all(messages, progress)
        log.info("Posted the notes of %s to Discord in %d messages.", loaded.version, posted)
        return NotifyOutcome(posted=posted, notes=notes)
    except CancelledError:
        return _failed(progress, "Cancelled before every message was posted.", notes)
    except DiscordError as exc:
        return _failed(progress, str(exc), notes, exc.posted)
    except ManifestGuiError as exc:  # the notes could not be read, a bad URL...
        return _failed(progress, str(exc), notes)
    except Exception:  # a bug must not fail a load that is already committed
        log.exception("Building or posting the Discord notification failed")
        return _failed(progress, "It failed unexpectedly; the log has the details.", notes)


def _failed(
    progress: Progress, reason: str, notes: ReleaseNotes | None, posted: int = 0
) -> NotifyOutcome:
    warning = f"The Discord notification was not sent: {reason}"
    if posted:
        warning = f"The Discord notification is incomplete: {reason}"
    log.warning("%s", warning)
    progress.warning(warning)
    return NotifyOutcome(posted=posted, warning=warning, notes=notes)
