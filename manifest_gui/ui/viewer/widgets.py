"""Small widget helpers shared by the viewer's views."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import QAbstractButton, QWidget

W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str, text: str | None = None) -> W:
    """Set the objectName (tests and style sheets find widgets by it) and a button's text."""
    widget.setObjectName(name)
    if text is not None and isinstance(widget, QAbstractButton):
        widget.setText(text)
    return widget
