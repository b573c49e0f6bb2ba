"""The version is stated once per file that carries it, and the changelog speaks of it."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO

from segtool import __version__


def test_package_version_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == __version__


def test_changelog_has_a_section_for_this_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.MULTILINE)
    assert headings, "CHANGELOG.md has no version headings"
    assert headings[0] == __version__, "the newest changelog section is not this version"


def test_type_ignores_name_their_error_code() -> None:
    bare = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "segtool").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"#\s*type:\s*ignore(?!\[)", line)
    ]
    assert not bare, f"type: ignore without an error code: {bare}"
