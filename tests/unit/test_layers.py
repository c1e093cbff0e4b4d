"""The house's layers: imports run down, never up, and no two modules import each other.

README's "Architecture" names the floors; this test reads every import of the product
(at module level and inside functions alike) and holds the code to them.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("stream", "collector", "live_feed", "infra", "dojo_pulse")

# Floor of each unit, lowest first. A unit may import its own modules and any unit on a
# lower floor; units on one floor do not import each other.
FLOORS: dict[str, int] = {
    "stream.secret": -1,  # the value type of secret settings, beneath the settings
    "stream.settings": 0,
    "stream.logs": 0,
    "stream.sketches": 0,
    "stream.models": 1,
    "stream.topics": 1,
    "infra": 1,
    "stream.ingest": 2,
    "stream.sinks": 2,
    "stream.metrics": 3,
    "stream.runtime": 3,
    "stream.store": 3,
    "stream.learning": 4,
    "stream.history": 4,
    "stream.backup": 4,
    "stream.experiments": 4,
    "stream.content": 4,
    "stream.experiments.definition": 5,  # the experiment content type: above stream.content
    "stream.agents": 5,
    "stream.app": 6,
    "stream.worker": 7,
    "collector": 8,
    "live_feed": 8,
    "dojo_pulse": 9,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str | None:
    """The longest key of FLOORS that ``module`` is or lies under."""
    best = None
    for unit in FLOORS:
        if (module == unit or module.startswith(unit + ".")) and (
            best is None or len(unit) > len(best)
        ):
            best = unit
    return best


def imports() -> dict[str, set[str]]:
    """Product module -> the product modules it imports."""
    paths = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    found: dict[str, set[str]] = {}
    for name, path in sorted(paths.items()):
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from package import module`` imports the module, not the package.
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in paths else node.module)
        found[name] = {t for t in targets if t.split(".")[0] in PACKAGES}
    return found


def test_every_product_module_has_a_floor() -> None:
    assert [m for m in imports() if unit_of(m) is None and m != "stream"] == []


def test_no_import_runs_up_or_sideways() -> None:
    wrong = []
    for source, targets in imports().items():
        here = unit_of(source)
        if here is None:
            continue
        for target in targets:
            there = unit_of(target)
            if there is None or there == here:
                continue
            if FLOORS[there] >= FLOORS[here]:
                wrong.append(f"{source} -> {target}")
    assert wrong == []


def test_no_two_modules_import_each_other() -> None:
    graph = imports()
    # Tarjan's strongly connected components: any component of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert circles == []


def test_the_checker_sees_an_upward_import() -> None:
    # The rules above must be able to fail: an agent imported by a metric would be caught.
    assert (
        FLOORS[unit_of("stream.agents.count_traffic") or ""]
        > FLOORS[unit_of("stream.metrics.traffic") or ""]
    )
    assert unit_of("stream.metrics.traffic") == "stream.metrics"
    assert unit_of("stream.settings") == "stream.settings"


MAX_LINES = 300  # a module longer than this holds more than one concept: split it
MAX_STREAM_TOP_LEVEL = 12  # stream/ keeps its concepts in packages, not in one room


def test_no_product_module_is_over_300_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (lines): {long}"


def test_stream_has_at_most_a_dozen_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "stream").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= MAX_STREAM_TOP_LEVEL, top
