"""Small pieces every page of the Settings dialog uses: hints, wrapping labels, a secret's row,
and locking a field that the environment sets (the variable comes from the setting's
declaration)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ..engine.settings import Settings, environment_variable

ERROR_COLOUR = "#b42318"
OK_COLOUR = "#1a7f37"


def wrapping(label: QLabel) -> QLabel:
    """Wrapping labels report a narrow size hint; let them take the whole field column."""
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


def hint(text: str) -> QLabel:
    label = wrapping(QLabel(text))
    label.setEnabled(False)  # greyed: an explanation, not a value
    return label


def lock_from_environment(settings: Settings, name: str, *widgets: QWidget) -> bool:
    """Grey out the widgets of setting `name` when the environment sets it; True if so."""
    if name not in settings.from_environment:
        return False
    for widget in widgets:
        widget.setEnabled(False)
        widget.setToolTip(f"Set by the environment variable {environment_variable(name)}.")
    return True


def set_buddy(form: QFormLayout, field: QHBoxLayout, buddy: QWidget) -> None:
    """A row made of a layout: its label's mnemonic goes to `buddy`."""
    label = form.labelForField(field)
    if isinstance(label, QLabel):
        label.setBuddy(buddy)


def form_page(page: QWidget) -> QFormLayout:
    form = QFormLayout(page)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return form


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
