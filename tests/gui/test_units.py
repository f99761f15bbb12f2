"""One unit convention: decimal units (1 MB = 10^6 bytes), labelled as such, in the CLI and in
the window alike, so the same file shows the same size in both."""

from __future__ import annotations

import io
from typing import Any

from manifest_gui.cli import TerminalProgress
from manifest_gui.engine.progress import ProgressEvent
from manifest_gui.engine.wording import amount, size
from manifest_gui.ui.progress_panel import ProgressPanel


def test_sizes_are_decimal_and_labelled_so() -> None:
    assert size(999) == "999 B"
    assert size(1_000) == "1.0 kB"
    assert size(1_500_000) == "1.5 MB"
    assert size(2 << 20) == "2.1 MB"  # 2 MiB is 2.1 MB
    assert size(3_200_000_000) == "3.2 GB"
    assert amount(1234, "rows") == "1,234 rows"


def test_the_cli_and_the_window_show_a_file_with_the_same_size(qtbot: Any) -> None:
    total = 7_340_032  # a 7 MiB download
    events = [
        ProgressEvent("download", 0, total, "bytes", "x.content"),
        ProgressEvent("download", total // 2, total, "bytes"),
        ProgressEvent("download", total, total, "bytes", finished=True),
    ]
    stream = io.StringIO()
    bar = TerminalProgress(stream)
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    for event in events[:2]:
        bar(event)
        panel.on_event(event)
    assert "7.3 MB" in stream.getvalue() and "3.7 MB / 7.3 MB" in stream.getvalue()
    assert "of 7.3 MB" in panel.stages["download"].detail.text()
    panel.on_event(events[2])
    assert panel.stages["download"].detail.text().startswith("7.3 MB in ")
