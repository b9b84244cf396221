"""dicomkit.deid sits on core, io and pixels only (DESIGN.md layers), and pixels only where masking needs it."""

from __future__ import annotations

import ast
from pathlib import Path

import dicomkit.deid

PACKAGE = Path(dicomkit.deid.__file__).parent
ALLOWED = ("dicomkit.core", "dicomkit.io", "dicomkit.pixels", "dicomkit.deid", "dicomkit")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, imported at module level) for each import of a deid module, made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = "dicomkit.deid" if node.level == 1 else ("dicomkit" if node.level == 2 else "")
            name = f"{base}.{node.module}" if base and node.module else (base or node.module or "")
            out.append((name, id(node) in top))
        elif isinstance(node, ast.Import):
            out += [(alias.name, id(node) in top) for alias in node.names]
    return out


def test_deid_imports_only_lower_layers() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for module, at_top in _imports(path):
            if module.startswith("dicomkit"):
                assert module.startswith(ALLOWED), f"{path.name} imports {module}"
                assert not module.startswith(("dicomkit.net", "dicomkit.services", "dicomkit.server")), module
                if module.startswith("dicomkit.pixels"):
                    assert not at_top, f"{path.name} imports {module} at module level (numpy for everyone)"
            else:
                assert module.split(".")[0] not in ("numpy", "pydicom", "imagecodecs"), f"{path.name}: {module}"
