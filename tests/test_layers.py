"""The layers of DESIGN.md, enforced: every import in the package — at module level or inside a function —
goes downward, except the lazy conveniences of ``Dataset`` named in ALLOWED_UPWARD. Third-party libraries
stay in the layers that own them; the core needs only the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dicomkit"

# Each layer and the layers it may import (transitively closed by hand so that the table reads as the rule).
BELOW: dict[str, set[str]] = {
    "core": set(),
    "io": {"core"},
    "interop": {"core"},
    "pixels": {"core", "io"},
    "net": {"core", "io"},
    "deid": {"core", "io", "pixels"},
    "validate": {"core", "io", "pixels"},
    "sr": {"core", "io", "pixels"},
    "rt": {"core", "io", "pixels"},
    "services": {"core", "io", "pixels", "net", "deid", "validate", "sr", "rt"},
    "server": {"core", "io", "pixels", "net", "deid", "validate", "sr", "rt", "services"},
    "web": {"core", "io", "pixels", "net", "deid", "validate", "sr", "rt", "services", "server"},
    "cli": {"core", "io", "pixels", "net", "deid", "validate", "sr", "rt", "services", "server", "web", "interop"},
    "": {"core", "io"},  # dicomkit/__init__.py: the names users import from the top
}

# The only upward imports: the lazy conveniences on Dataset (DESIGN.md, "Lazy conveniences").
ALLOWED_UPWARD: dict[str, set[str]] = {
    "dicomkit.core.dataset": {
        "dicomkit.io.writer",  # save, to_bytes
        "dicomkit.io.json_model",  # to_json, to_json_dict, from_json
        "dicomkit.io.xml_model",  # to_xml, from_xml
        "dicomkit.pixels",  # pixel_array, frame, iter_frames
        "dicomkit.interop.pydicom",  # to_pydicom, from_pydicom
    },
}

# Third-party packages and the layers that may import them (the rest of the package reaches them through
# these layers). pydicom and pynetdicom are test oracles: only the bridge may import pydicom, when called.
THIRD_PARTY: dict[str, set[str]] = {
    "numpy": {"pixels", "deid", "validate", "sr", "rt", "server", "web"},
    "imagecodecs": {"pixels"},
    "pydicom": {"interop"},
    "psycopg": {"server"},
    "psycopg_pool": {"server"},
    "starlette": {"web", "server"},
    "uvicorn": {"web", "server", "cli"},
    "rich": {"cli"},
    "cryptography": {"server"},  # the security extra: JWT signatures (server/auth/jwt.py)
}
STDLIB = set(sys.stdlib_module_names)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_of(path.read_text(), package, str(path))


def _imports_of(source: str, package: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``source`` (a module of ``package``), wherever it stands."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # ``from .. import pixels``: the names are modules
                out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                out.append((node.lineno, target))
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_layer_is_known():
    layers = {_layer(_module_name(p)) for p in _sources()}
    assert layers <= set(BELOW), f"layers missing from the table: {layers - set(BELOW)}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_follow_the_layers(path):
    module = _module_name(path)
    wrong = _violations(module, _imports(path))
    assert not wrong, "\n".join(wrong)


def _violations(module: str, imports: list[tuple[int, str]]) -> list[str]:
    layer = _layer(module)
    wrong = []
    for line, target in imports:
        top = target.split(".")[0]
        if top == "dicomkit":
            other = _layer(target)
            if other not in BELOW:  # a name of the top-level package (``from .. import __version__``)
                other = ""
            if other == "" and BELOW[""] <= BELOW[layer] | {layer}:
                continue
            if other == layer or other in BELOW[layer]:
                continue
            if any(target == allowed or target.startswith(allowed + ".")
                   for allowed in ALLOWED_UPWARD.get(module, ())):
                continue
            wrong.append(f"line {line}: {module} ({layer or 'top'}) imports {target} ({other})")
        elif top in THIRD_PARTY:
            if layer not in THIRD_PARTY[top]:
                wrong.append(f"line {line}: {module} ({layer}) imports the third-party {top}")
        elif top not in STDLIB and top != "__future__":
            wrong.append(f"line {line}: {module} imports {top}, which is neither stdlib nor a known dependency")
    return wrong


def test_the_checker_sees_imports_inside_functions():
    """The checker itself: a net module importing services and pixels inside a function is caught."""
    source = "import struct\n\ndef f():\n    from ..services import storage\n    import dicomkit.pixels\n"
    found = _imports_of(source, "dicomkit.net")
    assert [t for _, t in found] == ["struct", "dicomkit.services", "dicomkit.pixels"]
    wrong = _violations("dicomkit.net.payload", found)
    assert len(wrong) == 2 and "dicomkit.services" in wrong[0] and "dicomkit.pixels" in wrong[1]
    assert not _violations("dicomkit.core.dataset", [(1, "dicomkit.pixels"), (2, "dicomkit.io.writer")])
    assert _violations("dicomkit.core.element", [(1, "dicomkit.io.writer")])  # only Dataset's are allowed
