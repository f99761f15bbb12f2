"""The What's new page: release notes of a loaded version, with icons, watch buttons, copy
and export. WhatsNewView is what the main window shows."""

from .icon_loader import IconLoader
from .view import WhatsNewView
from .watches import WatchButton, Watches

__all__ = ["IconLoader", "WatchButton", "Watches", "WhatsNewView"]
