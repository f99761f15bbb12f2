"""The built-in viewer: ViewerWidget is what the main window embeds."""

from .viewer_widget import ViewerWidget

__all__ = ["ViewerWidget"]
