"""What a wheel ships: every Python package of manifest_gui, the schema files and the icons."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "manifest_gui").rglob("__init__.py")
    }
    # A package missing from the list is silently absent from a (non-editable) install.
    assert on_disk <= listed, f"not in [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert {"manifest_gui.sql", "manifest_gui.resources"} <= listed
    assert config["package-dir"] == {
        "manifest_gui.sql": "sql",
        "manifest_gui.resources": "resources",
    }
    assert sorted(p.name for p in (REPO / "sql").glob("0*.sql"))


def test_the_wheel_ships_the_viewer_the_schema_and_the_icons(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("manifest_gui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for sql_file in (REPO / "sql").glob("*.sql"):
        assert f"manifest_gui/sql/{sql_file.name}" in names
    for module in (REPO / "manifest_gui").rglob("*.py"):
        assert module.relative_to(REPO).as_posix() in names
    assert "manifest_gui/resources/manifest-gui.svg" in names
    assert "manifest_gui/resources/tray-working-22.png" in names
