"""The shape the code promises (docs/architecture.md), checked on the source itself.

- packages import only downwards: keys <- archive <- ingest, search_api <- commarchive;
- no import cycle between modules (imports inside functions and under
  TYPE_CHECKING count too: a cycle hidden in a function is still a cycle);
- no module uses another module's private (``_name``) definitions;
- modules of archive/, ingest/ and search_api/ stay small enough to read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
PACKAGES: Final = ("keys", "archive", "ingest", "search_api", "commarchive")
#: What each package may import of the others.
MAY_IMPORT: Final = {
    "keys": set(),
    "archive": {"keys"},
    "ingest": {"keys", "archive"},
    "search_api": {"keys", "archive", "ingest"},
    "commarchive": {"keys", "archive", "ingest", "search_api"},
}
#: The one way the HTTP API reaches an ingester: the shared "call file -> item" entry.
SEARCH_API_MAY_USE_OF_INGEST: Final = {"ingest.calls", "ingest.errors"}
#: archive/'s layers, lowest first (archive/__init__.py draws them): a module imports
#: only modules of its own layer or of the layers below.
ARCHIVE_LAYERS: Final = (
    ("model", "errors", "config", "tagging", "parties", "language", "metrics"),
    ("catalog", "audit", "users", "sessions", "keyring_store", "cluster", "jobs", "store",
     "index", "anchors", "ledger", "migrations",
     "training_tables", "quality_tables"),
    ("anonymise", "redaction_scan", "vcon"),
    ("vault",),
    ("standing", "keyadmin", "view_cache"),
    ("indexing", "outbox"),
    ("intake", "reading", "transcripts"),
    ("group_commit",),
    ("service",),
    ("retention", "rights", "holds", "training", "quality"),
    ("approvals", "evidence"),
)
MAX_MODULE_LINES: Final = 500
SIZED_PACKAGES: Final = ("archive", "ingest", "search_api")


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: set[str] = field(default_factory=set)
    #: (module, name) pairs taken with ``from module import name``.
    from_names: set[tuple[str, str]] = field(default_factory=set)
    defined_private: set[str] = field(default_factory=set)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if module.path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _load() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = _module_name(path)
            modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                module.imports.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, node)
                module.imports.add(target)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:  # ``from package import module``
                        module.imports.add(sub)
                    else:
                        module.from_names.add((target, alias.name))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if _private(node.name):
                    module.defined_private.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if _private(node.attr):
                    module.defined_private.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if _private(node.id):
                    module.defined_private.add(node.id)
            elif (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                  and _private(node.target.id)):
                module.defined_private.add(node.target.id)
        module.imports = {i for i in module.imports if i.split(".")[0] in PACKAGES}
    return modules


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


MODULES: Final = _load()


def _project_imports(module: Module) -> Iterator[str]:
    """The project modules this one imports (a package import counts as its __init__)."""
    for target in module.imports:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != module.name:
            yield target


def test_the_tree_was_read() -> None:
    assert {"archive.vault", "archive.service", "archive.rights.erasure"} <= set(MODULES)


def test_packages_import_only_downwards() -> None:
    wrong = []
    for module in MODULES.values():
        own = module.name.split(".")[0]
        for target in _project_imports(module):
            other = target.split(".")[0]
            if other != own and other not in MAY_IMPORT[own]:
                wrong.append(f"{module.name} imports {target}")
            if own == "search_api" and other == "ingest" and target not in (
                    SEARCH_API_MAY_USE_OF_INGEST):
                wrong.append(f"{module.name} reaches into the ingester: {target}")
    assert wrong == []


def _archive_layer(name: str) -> int | None:
    parts = name.split(".")
    if parts[0] != "archive" or len(parts) < 2:
        return None
    for i, layer in enumerate(ARCHIVE_LAYERS):
        if parts[1] in layer:
            return i
    raise AssertionError(f"{name} is in no layer of archive/: add it to ARCHIVE_LAYERS")


def test_archive_modules_import_only_their_layer_or_below() -> None:
    wrong = []
    for module in MODULES.values():
        layer = _archive_layer(module.name)
        if layer is None:
            continue
        for target in _project_imports(module):
            other = _archive_layer(target)
            if other is not None and other > layer:
                wrong.append(f"{module.name} imports {target}, a higher layer")
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = {m.name: set(_project_imports(m)) for m in MODULES.values()}
    # A package's __init__ importing its own modules is how a package exports, not a cycle.
    for name, targets in graph.items():
        if MODULES[name].path.name == "__init__.py":
            targets.difference_update(t for t in list(targets) if t.startswith(name + "."))
    cycles = _cycles(graph)
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    """``from m import _x`` or ``something._x`` where ``_x`` is defined only elsewhere in
    the project: the owner is missing a public name."""
    owners: dict[str, set[str]] = {}
    for module in MODULES.values():
        for name in module.defined_private:
            owners.setdefault(name, set()).add(module.name)
    wrong = []
    for module in MODULES.values():
        for source, name in module.from_names:
            if _private(name) and source in MODULES:
                wrong.append(f"{module.name}: from {source} import {name}")
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in module.defined_private:
                continue
            if node.attr in owners:
                wrong.append(f"{module.name}:{node.lineno}: .{node.attr} of "
                             f"{', '.join(sorted(owners[node.attr]))}")
    assert wrong == []


@pytest.mark.parametrize("package", SIZED_PACKAGES)
def test_modules_stay_readable(package: str) -> None:
    sizes = {m.name: len(m.path.read_text().splitlines()) for m in MODULES.values()
             if m.name.split(".")[0] == package}
    large = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert large == {}


def test_every_package_says_what_it_holds_and_may_import() -> None:
    missing = [m.name for m in MODULES.values()
               if m.path.name == "__init__.py" and not ast.get_docstring(m.tree)]
    assert missing == []
