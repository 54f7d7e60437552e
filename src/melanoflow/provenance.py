"""Which package modules a workflow script runs: the code inputs of its rule.

Snakemake reruns a job when its script changes, not when a module the script imports does. Listing the
modules a script imports, directly or through other modules of the package, as the rule's inputs makes an
edit rerun exactly the rules that execute the edited code (and what depends on them), nothing else.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "melanoflow"


def module_file(package_root: Path, dotted: str) -> Path | None:
    """The source file of module ``dotted`` (``melanoflow.x.y``) under ``package_root``'s parent, if any."""
    base = package_root.parent.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def dotted_name(package_root: Path, path: Path) -> str:
    """``.../melanoflow/x/y.py`` -> ``melanoflow.x.y`` (a package's ``__init__.py`` -> the package)."""
    parts = path.relative_to(package_root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST, current: str | None, is_package: bool) -> set[str]:
    """Every absolute module name that ``tree``'s imports name, including ``from m import name`` candidates
    (``m.name`` may be a submodule). ``current`` is the dotted name of the module ``tree`` belongs to."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if current is None:
                    continue  # a script has no package to be relative to
                anchor = current.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@functools.cache
def file_imports(path: Path, current: str | None, is_package: bool) -> frozenset[str]:
    """:func:`imported_names` of one file, parsed once per process (every rule's scripts share modules)."""
    return frozenset(imported_names(ast.parse(path.read_text(), filename=str(path)), current, is_package))


def package_modules(script: str | Path, package_root: str | Path) -> list[Path]:
    """The files of ``package_root`` (the ``melanoflow`` package folder) that running ``script`` imports,
    transitively, with the ``__init__.py`` of every package on the way; sorted."""
    package_root = Path(package_root).resolve()
    found: set[Path] = set()
    pending = [(Path(script), None, False)]
    while pending:
        path, current, is_package = pending.pop()
        for name in file_imports(path, current, is_package):
            if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
                continue
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                module = module_file(package_root, ".".join(parts[:depth]))
                if module is not None and module not in found:
                    found.add(module)
                    pending.append((module, dotted_name(package_root, module), module.name == "__init__.py"))
    return sorted(found)
