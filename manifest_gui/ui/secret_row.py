"""The row of a secret in Settings (the Bungie.net API key, the Discord webhook URL): the field
shown as dots, a box that shows it and a button that forgets it."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QPushButton


@dataclass
class SecretRow:
    """A secret's field (shown as dots), a box that shows it and a button that forgets it, in
    one row layout."""

    edit: QLineEdit
    show_box: QCheckBox
    clear_button: QPushButton
    layout: QHBoxLayout


def secret_row(edit: str, name: str, show: str, clear_tip: str) -> SecretRow:
    """The row's widgets: the field has objectName `edit`, the box show<name>CheckBox and the
    button clear<name>Button; `show` is the box's text with its Alt letter."""
    line = QLineEdit()
    line.setObjectName(edit)
    line.setEchoMode(QLineEdit.EchoMode.Password)
    line.setClearButtonEnabled(True)
    box = QCheckBox(show)
    box.setObjectName(f"show{name}CheckBox")
    box.toggled.connect(
        lambda shown: line.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )
    )
    button = QPushButton("Cl&ear")
    button.setObjectName(f"clear{name}Button")
    button.setToolTip(clear_tip)
    layout = QHBoxLayout()
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(line, 1)
    layout.addWidget(box)
    layout.addWidget(button)
    return SecretRow(line, box, button, layout)
