"""The layers import each other in one direction only: entry points → dms.app → ingest → backends."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ingest depends on the backend Protocols, the domain, errors and config; never on the application.
FORBIDDEN_IN_INGEST = ("dms.app", "dms.web", "dms.cli", "dms.services", "dms.tasks", "dms.documents", "dms.rebuild")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _hits(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_ingest_never_imports_the_application_layer() -> None:
    assert _hits("ingest", FORBIDDEN_IN_INGEST) == []


def test_classifiers_never_import_the_application_layer() -> None:
    assert _hits("classifiers", FORBIDDEN_IN_INGEST) == []


def test_the_application_layer_never_imports_an_entry_point() -> None:
    assert _hits("dms/app", ("dms.web", "dms.cli", "flask", "click")) == []


def test_the_check_sees_imports() -> None:
    assert "dms.app.services" in _imports(ROOT / "dms" / "web" / "__init__.py")
