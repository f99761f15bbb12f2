"""The built-in viewer (issue 4): ViewerWidget is what the main window embeds."""

from .viewer_widget import ViewerWidget

__all__ = ["ViewerWidget"]
