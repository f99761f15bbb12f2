"""Small pieces every page of the Settings dialog uses: hints, wrapping labels, and locking a
field that the environment sets (the variable comes from the setting's declaration)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QSizePolicy, QWidget

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
