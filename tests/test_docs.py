"""The documents keep up with the code: FORMAT.md's parameter tables, the changelog's version,
README's length and every file a document links to."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import lstmzip
from lstmzip.container import LSTM_METHODS

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def _format_tables():
    spec = importlib.util.spec_from_file_location("format_tables", ROOT / "docs" / "format_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_format_md_states_the_parameters_the_code_uses():
    ft = _format_tables()
    text = ft.FORMAT_MD.read_text()
    assert ft.replaced(text, ft.tables()) == text, "run: python docs/format_tables.py --write"
    for m in LSTM_METHODS:  # every method has a row in the generated table
        assert f"| {int(m)} | `{m.name.lower()}` |" in text


def test_changelog_has_this_version():
    assert f"## {lstmzip.__version__} " in (ROOT / "CHANGELOG.md").read_text()


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 220


def test_linked_files_exist():
    missing = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            if not (doc.parent / target).exists():
                missing.append(f"{doc.name} -> {target}")
    assert not missing
