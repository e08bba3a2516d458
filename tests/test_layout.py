"""The layout, checked: pages are widgets plus calls into opml.ui and a few pure helpers (never a backend,
SQL or an SDK); opml's own import contracts are checked by lint-imports (pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Modules a page may import besides opml.ui: pure helpers that hold no workspace state.
PURE_HELPERS = {
    "opml.automl.names",
    "opml.automl.settings",
    "opml.client",
    "opml.entities",
    "opml.errors",
    "opml.leaderboard",
    "opml.naming",
    "opml.reasons",
    "opml.pipelines.spec",
    "opml.scoring",
    "opml.snippets",
}
LIBRARIES = {"streamlit", "pandas", "plotly", "json", "math", "time", "pathlib"}


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", [*sorted((REPO / "pages").glob("*.py")), REPO / "app.py"], ids=lambda p: p.name)
def test_pages_import_only_the_ui_glue_and_pure_helpers(path: Path):
    for module in imported_modules(path):
        allowed = (
            module == "opml.ui"
            or module.startswith("opml.ui.")
            or module in PURE_HELPERS
            or module.split(".")[0] in LIBRARIES
        )
        assert allowed, f"{path.name} imports {module}: pages call opml.ui (or a pure helper), never a backend"
