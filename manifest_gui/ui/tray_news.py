"""What the tray says after a poll loads a release while the window is hidden, and when it
says it: the notification policy (always, only when watched items changed, never)."""

from __future__ import annotations

from enum import StrEnum

from ..engine.notes_model import ReleaseNotes
from .whats_new.notes_words import tray_line


class NotifyPolicy(StrEnum):
    ALWAYS = "always"
    WATCHED = "watched"  # only when a watched item changed
    NEVER = "never"

    @classmethod
    def parse(cls, value: object) -> NotifyPolicy:
        """A stored value; anything unknown is the default (always)."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.ALWAYS


POLICY_WORDS = {
    NotifyPolicy.ALWAYS: "After every new manifest",
    NotifyPolicy.WATCHED: "Only when watched items change",
    NotifyPolicy.NEVER: "Never",
}


def tray_news(notes: ReleaseNotes | None, policy: NotifyPolicy) -> str | None:
    """The notification's one line, or None when the policy says to stay quiet."""
    if notes is None or policy is NotifyPolicy.NEVER:
        return None
    if policy is NotifyPolicy.WATCHED and not notes.watched:
        return None
    return tray_line(notes)
