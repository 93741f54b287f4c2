"""The wheel the Pyodide page unpacks: the one edgepack-runtime wheel (edgepack.runtime_wheel) every
target ships. Pyodide has no onnxruntime, and numpy only as a separate download, so what the page
imports (PAGE_MODULES) must import without them -- checked here at build time; the rest of the wheel
(session, pipeline, service) is simply never imported in the page."""

from __future__ import annotations

import ast
from pathlib import Path

from edgepack.errors import TargetError
from edgepack.runtime_wheel import RuntimeWheel, module_sources, runtime_wheel

# Not in Pyodide without extra downloads: what browser_pipeline.py imports must not import these.
NATIVE_IMPORTS = ("numpy", "onnxruntime")
PAGE_MODULES = ("edgepack.errors", "edgepack.runtime.artifacts", "edgepack.runtime.manifest", "edgepack.runtime.encoder",
                "edgepack.runtime.postprocess", "edgepack.runtime.tokenizer")

def _module_imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports when it is imported: module level (inside ``try``/``if``
    and class bodies too), not inside functions -- a lazy import only fails if that function is called."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return names


def check_page_modules(sources: dict[str, Path] | None = None) -> None:
    """Refuse, naming the chain, a page module that now needs numpy/onnxruntime at import time."""
    sources = sources if sources is not None else module_sources()
    seen, todo = {}, []
    for m in PAGE_MODULES:  # importing a submodule runs its packages' __init__ first
        parts = m.split(".")
        todo += [(".".join(parts[:i]), (m, ".".join(parts[:i]))) for i in range(1, len(parts))] + [(m, (m,))]
    while todo:
        name, chain = todo.pop()
        if name in seen or name not in sources:
            continue
        seen[name] = chain
        for dep in sorted(_module_imports(sources[name])):
            if dep.split(".")[0] in NATIVE_IMPORTS:
                raise TargetError(f"{sources[name]}: imports {dep} at import time ({' -> '.join(chain)}); "
                                  "Pyodide has no numpy/onnxruntime: import it inside the function that needs it")
            parts = dep.split(".")
            todo += [(".".join(parts[:i]), (*chain, ".".join(parts[:i]))) for i in range(1, len(parts) + 1)]


def page_wheel() -> tuple[RuntimeWheel, dict]:
    """(the runtime wheel, the manifest's record of where it came from)."""
    check_page_modules()
    wheel = runtime_wheel()
    return wheel, {"builder": "edgepack.runtime_wheel", "sha256": wheel.sha256,
                   "reason": "the edgepack-runtime wheel every target ships (pure Python, standard-library builder)"}
