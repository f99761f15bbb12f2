"""Small widget helpers shared by the viewer's views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from PySide6.QtWidgets import QAbstractButton, QHBoxLayout, QWidget

W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str, text: str | None = None) -> W:
    """Set the objectName (tests and style sheets find widgets by it) and a button's text."""
    widget.setObjectName(name)
    if text is not None and isinstance(widget, QAbstractButton):
        widget.setText(text)
    return widget


def button_row(left: Sequence[QWidget], right: Sequence[QWidget] = ()) -> QHBoxLayout:
    """A row of buttons: `left` at the start, `right` pushed to the end."""
    row = QHBoxLayout()
    for widget in left:
        row.addWidget(widget)
    row.addStretch(1)
    for widget in right:
        row.addWidget(widget)
    return row
