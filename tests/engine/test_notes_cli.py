"""`manifest-gui notes` end to end: `load --file` real manifests, then read the notes as JSON,
Markdown and plain text, as a user (or a script) would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manifest_gui import cli
from tests.support import notes_scenario as sc
from tests.support.manifest_factory import require_reference_dir


@pytest.fixture
def scenario(tmp_path: Path) -> sc.Scenario:
    return sc.build_scenario(tmp_path / "manifests", require_reference_dir() / "definitions")


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    return database_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _load(capsys: pytest.CaptureFixture[str], path: Path) -> int:
    code, out, err = run(capsys, "load", "--file", str(path), "--json")
    assert code == 0, err
    return int(json.loads(out)["manifest_id"])


def test_notes_json_markdown_and_text(
    configured: str, scenario: sc.Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _load(capsys, scenario.v1.path)
    code, out, err = run(capsys, "notes", "--json")
    assert (code, err) == (0, "")
    notes = json.loads(out)
    assert notes["from"] is None
    assert notes["to"] == {"manifest_id": first, "version": scenario.v1.path.name}
    assert notes["counts"] == {
        table: {"added": rows, "changed": 0, "removed": 0}
        for table, rows in scenario.v1.table_rows.items()
    }
    assert notes["watched"] == []
    code, out, _ = run(capsys, "notes")
    assert code == 0 and "first load" in out

    second = _load(capsys, scenario.v2.path)
    code, out, err = run(capsys, "notes", "--json")
    assert (code, err) == (0, "")
    notes = json.loads(out)
    assert set(notes) == {"from", "to", "counts", "sections", "watched"}
    assert notes["from"] == {"manifest_id": first, "version": scenario.v1.path.name}
    assert notes["to"] == {"manifest_id": second, "version": scenario.v2.path.name}
    assert notes["counts"]["DestinyInventoryItemDefinition"] == {
        "added": 4,
        "changed": 8,
        "removed": 1,
    }
    sections = {section["key"]: section for section in notes["sections"]}
    assert list(sections)[:3] == ["weapons", "armor", "mods"]
    weapons = sections["weapons"]["entries"]
    assert [(e["kind"], e["hash"], e["name"]) for e in weapons] == [
        ("added", sc.NEW_WEAPON, "Ace of Spades"),
        ("changed", sc.WEAPON, "Fatebringer"),
    ]
    stat = weapons[1]["changes"][-1]
    assert stat == {
        "path": f"stats.stats.{scenario.rpm}.value",
        "label": "Rounds Per Minute",
        "before": 120,
        "after": 140,
    }
    assert set(weapons[0]) == {"kind", "table", "hash", "name", "icon", "changes"}
    assert sections["armor"]["entries"][0]["name"] == "Old Helm"

    code, out, _ = run(capsys, "notes", "--from", str(first), "--to", str(second), "--json")
    assert code == 0 and json.loads(out) == notes

    code, markdown, _ = run(capsys, "notes", "--markdown")
    assert code == 0
    lines = markdown.splitlines()
    assert "## Weapons (2)" in lines and "## Armor (1)" in lines
    assert "## Emblems" not in markdown  # nothing to list there
    fatebringer = next(line for line in lines if "Fatebringer" in line)
    assert fatebringer.startswith("- **Fatebringer** (changed): ")
    assert "Rounds Per Minute 120 → 140" in fatebringer
    assert "- **Old Helm** (removed)" in lines

    code, text, _ = run(capsys, "notes")
    assert code == 0
    assert "**" not in text and "\n#" not in text and not text.startswith("#")
    assert "Weapons (2)" in text.splitlines()
    assert "- Fatebringer (changed): " in text and "Rounds Per Minute 120 → 140" in text


def test_notes_failures(
    configured: str, scenario: sc.Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "notes")
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and err.count("\n") == 1

    _load(capsys, scenario.v1.path)
    for argv in (["--from", "999"], ["--to", "999", "--json"], ["--from", "-1", "--markdown"]):
        code, out, err = run(capsys, "notes", *argv)
        assert (code, out) == (1, ""), argv
        assert err.startswith("error: There is no version ") and err.count("\n") == 1

    for argv in (["--from", "x"], ["--json", "--markdown"]):
        code, out, err = run(capsys, "notes", *argv)
        assert (code, out) == (2, ""), argv
        assert "error: " in err
