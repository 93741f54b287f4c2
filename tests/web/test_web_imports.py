"""No import cycle between the web modules (issue 13: web/bundle.py and the browser bench imported
each other), and every one of them imports on its own in a fresh interpreter.

The graph counts every import of an ``edgepack.web`` module, lazy ones inside functions included: a
cycle through a lazy import still ties two modules into one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
PACKAGE = "edgepack.web"


def _web_modules() -> list[str]:
    return sorted(p.stem for p in WEB.glob("*.py") if p.stem != "__init__")


def _imports_of(path: Path) -> set[str]:
    """The edgepack.web modules ``path`` imports (top level or inside functions)."""
    names = set(_web_modules())
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:  # from edgepack.web import chromium
                out |= {a.name for a in node.names if a.name in names}
            elif node.module.startswith(PACKAGE + "."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[2] for a in node.names if a.name.startswith(PACKAGE + ".")}
    return out - {path.stem}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt, node]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"bundle": {"browser_bench"}, "browser_bench": {"bundle"}}) == ["browser_bench", "bundle",
                                                                                   "browser_bench"]


def test_no_import_cycle_between_web_modules():
    graph = {m: _imports_of(WEB / f"{m}.py") for m in _web_modules()}
    assert "chromium" in graph["gate"] and "bundle" in graph["bench_bundles"]  # the reader sees lazy imports
    assert _find_cycle(graph) is None, f"import cycle: {' -> '.join(_find_cycle(graph))}"


@pytest.mark.parametrize("module", _web_modules())
def test_each_web_module_imports_alone(module):
    proc = subprocess.run([sys.executable, "-c", f"import {PACKAGE}.{module}"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
