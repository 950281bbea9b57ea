"""The house rules, checked on the source: imports go one way, layers never import upwards, no circles.

web -> actors, web -> store, store -> actors (domain types and errors only); nothing in actors/
imports store/, web/ or Flask. Inside actors/ each layer imports only the layers below it. Imports
under ``if TYPE_CHECKING:`` and inside functions count too: a circle of type-only imports is still a
circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ACTOR_LAYERS = [
    {"actors.errors", "actors.identity", "actors.config", "actors.config_docs"},
    {"actors.protocol", "actors.tokens"},
    {"actors.observability"},
    {"actors.transport"},
    {"actors.runtime"},
    {"actors.rooms"},
    {"actors.cluster"},
    {"actors.presence", "actors.deliveries"},
    {"actors.connection"},
    {"actors.publishing"},
    {"actors.notifications"},
    {"actors.system", "actors"},
]
"""Lowest first. A module may import its own layer's modules and any layer before it."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever the import statement stands."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # "from . import events" imports a module
                found.add(f"{target}.{alias.name}")
    return found


def _modules(*tops: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            graph[_module_name(path)] = _imports(path)
    return graph


GRAPH = _modules("actors", "store", "web")


def _within(graph: dict[str, set[str]], name: str) -> set[str]:
    """The project modules ``name`` imports (dropping names that are attributes, not modules)."""
    return {target for target in graph[name] if target in graph and target != name}


def _layer(module: str) -> int:
    for index, layer in enumerate(ACTOR_LAYERS):
        if any(module == top or module.startswith(top + ".") for top in layer if top != "actors"):
            return index
    assert module == "actors", f"{module} is in no layer: add it to ACTOR_LAYERS"
    return len(ACTOR_LAYERS) - 1


def test_actors_import_neither_store_web_nor_flask() -> None:
    bad = {name: sorted(t for t in targets if t.split(".")[0] in ("store", "web", "flask", "werkzeug", "peewee"))
           for name, targets in GRAPH.items() if name.split(".")[0] == "actors"}
    assert {name: targets for name, targets in bad.items() if targets} == {}


def test_store_imports_only_actors_domain_types() -> None:
    allowed = ("actors.errors", "actors.notifications.rules", "actors.notifications.outcomes",
               "actors.notifications.repository", "actors.identity", "actors.deliveries.repository")
    bad = {name: sorted(t for t in targets if t.startswith("actors") and not t.startswith(allowed))
           for name, targets in GRAPH.items() if name.split(".")[0] == "store"}
    bad.update({name: sorted(t for t in targets if t.split(".")[0] == "web")
                for name, targets in GRAPH.items() if name.split(".")[0] == "store" and
                any(t.split(".")[0] == "web" for t in targets)})
    assert {name: targets for name, targets in bad.items() if targets} == {}


def test_actor_layers_never_import_upwards() -> None:
    upward = {}
    for name in GRAPH:
        if name.split(".")[0] != "actors" or name == "actors":
            continue
        mine = _layer(name)
        above = sorted(t for t in _within(GRAPH, name) if t.startswith("actors") and t != "actors" and _layer(t) > mine)
        if above:
            upward[name] = above
    assert upward == {}


def test_no_circle_of_imports() -> None:
    """Depth-first search over project modules; a back edge is a circle (type-only imports included)."""
    circles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for target in sorted(_within(GRAPH, name)):
            if _is_package_of(target, name):
                continue  # a module importing its own package's __init__ is how Python loads it, not a circle
            if state.get(target) == 1:
                circles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)
    assert circles == []


def _is_package_of(package: str, module: str) -> bool:
    return module.startswith(package + ".")
