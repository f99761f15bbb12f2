"""A row's JSON before and after one version changed it, differences marked: two trees side by
side (changed nodes coloured and expanded) and a unified text diff."""

from __future__ import annotations

import difflib
import html
import json
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from manifest_gui.engine.viewer_queries import Change, RowDiff, pk_label

from .detail_view import configure_json_tree
from .json_paths import Mark, Path, count_differences, diff
from .json_tree_model import JsonTreeModel
from .widgets import named

_LEGEND = (
    "<span style='background:#ffeb9c'>&nbsp;changed&nbsp;</span> "
    "<span style='background:#c6efce'>&nbsp;added&nbsp;</span> "
    "<span style='background:#ffc7ce'>&nbsp;removed&nbsp;</span>"
)


class DiffView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = named(
            QLabel("Select a changed row to compare its JSON.", self), "diffSummary"
        )
        self.summary.setWordWrap(True)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.before_model = JsonTreeModel(self)
        self.after_model = JsonTreeModel(self)
        self.before_tree = named(QTreeView(self), "diffBeforeTree")
        self.after_tree = named(QTreeView(self), "diffAfterTree")
        for tree, model in (
            (self.before_tree, self.before_model),
            (self.after_tree, self.after_model),
        ):
            tree.setModel(model)
            configure_json_tree(tree)
            tree.setColumnHidden(2, True)
            tree.setColumnWidth(0, 170)  # two trees side by side: leave room for the values
        before_box = _titled("Before", self.before_tree)
        after_box = _titled("After", self.after_tree)
        trees = QSplitter(Qt.Orientation.Horizontal, self)
        trees.addWidget(before_box)
        trees.addWidget(after_box)
        self.text = named(QTextBrowser(self), "diffText")
        self.text.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)
        self.tabs = named(QTabWidget(self), "diffTabs")
        self.tabs.addTab(trees, "Side by side")
        self.tabs.addTab(self.text, "Text diff")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        self._diff: RowDiff | None = None

    @property
    def current(self) -> RowDiff | None:
        return self._diff

    def clear(self) -> None:
        self._diff = None
        self.before_model.set_document(None)
        self.after_model.set_document(None)
        self.text.clear()
        self.summary.setText("Select a changed row to compare its JSON.")

    def show_diff(self, row_diff: RowDiff) -> None:
        self._diff = row_diff
        left, right = diff(row_diff.before, row_diff.after)
        self.before_model.set_document(row_diff.before, left)
        self.after_model.set_document(row_diff.after, right)
        _expand_marked(self.before_tree, self.before_model, left)
        _expand_marked(self.after_tree, self.after_model, right)
        verb = {Change.INSERTED: "inserted", Change.UPDATED: "updated", Change.DELETED: "deleted"}[
            row_diff.change
        ]
        name = _name(row_diff.after) or _name(row_diff.before) or "(no name)"
        if row_diff.change is Change.UPDATED:
            # A changed value is marked on both sides: count it once (removed ones only left).
            count = count_differences(right) + count_differences(left, only=Mark.REMOVED)
            detail = f"{count} difference{'' if count == 1 else 's'}"
        else:
            detail = "whole row " + ("added" if row_diff.change is Change.INSERTED else "removed")
        self.summary.setText(
            f"<b>{html.escape(name)}</b> — {row_diff.table_name} {pk_label(row_diff.pk)} "
            f"{verb}: {detail}. {_LEGEND}"
        )
        self.text.setHtml(_text_diff(row_diff.before, row_diff.after))


def _titled(title: str, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(QLabel(f"<b>{title}</b>"))
    layout.addWidget(widget, 1)
    return box


def _name(document: Any) -> str | None:
    if isinstance(document, dict):
        display = document.get("displayProperties")
        if isinstance(display, dict) and isinstance(display.get("name"), str):
            return str(display["name"])
    return None


def _expand_marked(tree: QTreeView, model: JsonTreeModel, marks: dict[Path, Mark]) -> None:
    """Open every container on the way to a difference, so differences are in sight."""
    tree.collapseAll()
    first: QModelIndex | None = None
    for path, mark in sorted(marks.items(), key=lambda item: len(item[0])):
        index = model.index_for_path(path)
        if not index.isValid():
            continue
        if mark is Mark.CONTAINS:
            tree.expand(index)
        elif first is None:
            first = index
    if first is not None:
        tree.scrollTo(first)


def _text_diff(before: Any, after: Any) -> str:
    """A unified diff of the indented JSON texts as HTML (every line escaped)."""
    a = (
        json.dumps(before, indent=2, ensure_ascii=False, sort_keys=True).splitlines()
        if before is not None
        else []
    )
    b = (
        json.dumps(after, indent=2, ensure_ascii=False, sort_keys=True).splitlines()
        if after is not None
        else []
    )
    lines = []
    for line in difflib.unified_diff(a, b, "before", "after", lineterm="", n=3):
        style = ""
        if line.startswith("+") and not line.startswith("+++"):
            style = "background:#c6efce"
        elif line.startswith("-") and not line.startswith("---"):
            style = "background:#ffc7ce"
        elif line.startswith("@@"):
            style = "color:#666"
        lines.append(f"<span style='{style}'>{html.escape(line)}</span>")
    if not lines:
        return "<i>No difference in the JSON.</i>"
    return "<pre style='font-family:monospace'>" + "\n".join(lines) + "</pre>"
