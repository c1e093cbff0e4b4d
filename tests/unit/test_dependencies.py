"""Every imported package is declared in pyproject.toml, and every declared one is in the lock."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata as metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = ROOT / "requirements.lock"
# Importable only where the repository root is on sys.path: code that is not in the wheel.
TOOLING = ("bench", "tests")


def imported_modules(source: str, filename: str = "<source>") -> set[str]:
    """Top-level names of the absolute imports in source, wherever they stand (functions, try)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__"}


def product_packages() -> list[str]:
    """The packages the wheel ships, as pyproject.toml's package finder selects them."""
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    tops = [p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()]
    return sorted(t for t in tops if any(fnmatch.fnmatch(t, pat) for pat in patterns))


def local_names() -> set[str]:
    """Names that resolve to the repository itself, not to an installed distribution."""
    # A folder without __init__.py (tests/) still imports as a namespace package from the root.
    return {p.stem for p in ROOT.iterdir() if p.suffix == ".py" or p.is_dir()}


def third_party_imports(top: str) -> dict[str, set[str]]:
    """Module -> files under ROOT/top that import it, leaving out the repository's own modules."""
    local = local_names()
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / top).rglob("*.py")):
        # pytest puts a test's own folder on sys.path, so its sibling modules are local too.
        siblings = {p.stem for p in path.parent.iterdir() if p.suffix == ".py"}
        for name in imported_modules(path.read_text(), str(path)) - local - siblings:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def declared(*groups: str) -> dict[str, Requirement]:
    """Canonical name -> requirement, from `dependencies` and the named optional groups."""
    lines = list(PYPROJECT["project"]["dependencies"])
    for group in groups:
        lines += PYPROJECT["project"]["optional-dependencies"][group]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def parse_lock(text: str) -> dict[str, str]:
    """Canonical name -> pinned version; a line that is not an exact pin is an error."""
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or req.extras:
            raise ValueError(f"requirements.lock: {line!r} is not a plain name==version pin")
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def undeclared(imports: dict[str, set[str]], allowed: set[str]) -> list[str]:
    """One line per imported module that no allowed distribution provides."""
    providers = metadata.packages_distributions()
    problems = []
    for module, files in sorted(imports.items()):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & allowed:
            by = ", ".join(sorted(dists)) or "no installed distribution"
            problems.append(f"{module} (from {by}) imported by {sorted(files)[0]}")
    return problems


def requirement_closure(roots: list[Requirement]) -> set[str]:
    """Canonical names of the roots and of everything they require here, extras followed."""
    seen: set[tuple[str, str]] = set()
    todo = list(roots)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        for extra in sorted(req.extras) or [""]:
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            try:
                children = metadata.requires(name) or []
            except metadata.PackageNotFoundError:
                continue
            for line in children:
                child = Requirement(line)
                # A requirement's marker speaks of the extra its parent was asked for.
                if child.marker is None or child.marker.evaluate({"extra": extra}):
                    todo.append(child)
    return {name for name, _ in seen}


def installed_version(name: str) -> str | None:
    """The version installed here, None when it is not."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_imports_are_found_wherever_they_stand() -> None:
    source = (
        "from __future__ import annotations\n"
        "import os, numpy.linalg as la\n"
        "from . import sibling\n"
        "from .pkg import thing\n"
        "try:\n    import ujson\nexcept ImportError:\n    import json\n"
        "def late():\n    from river import linear_model\n"
        "class K:\n    import yaml\n"
    )
    assert imported_modules(source) == {"numpy", "ujson", "river", "yaml"}


def test_a_lock_line_that_is_not_an_exact_pin_is_refused() -> None:
    assert parse_lock(
        "# header\nNumPy==2.4.6\n    # via river\nua_parser==1.0.2 ; python_version>='3'\n"
    ) == {
        "numpy": "2.4.6",
        "ua-parser": "1.0.2",
    }
    for bad in ("numpy>=2", "uvicorn[standard]==0.54.0", "numpy", "numpy==2 ,<3"):
        try:
            parse_lock(bad)
        except ValueError as exc:
            assert "requirements.lock" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was taken as a pin")


def test_the_product_imports_only_runtime_dependencies() -> None:
    packages = product_packages()
    assert {"stream", "collector", "live_feed", "infra"} <= set(packages)
    imports: dict[str, set[str]] = {}
    for top in packages:
        for module, files in third_party_imports(top).items():
            imports.setdefault(module, set()).update(files)
    assert "numpy" in imports, "the scan must see the imports it is there to check"
    problems = undeclared(imports, set(declared()))
    assert not problems, "add to pyproject.toml `dependencies`, then `make lock`:\n" + "\n".join(
        problems
    )


def test_bench_and_tests_import_only_declared_packages() -> None:
    imports: dict[str, set[str]] = {}
    for top in TOOLING:
        for module, files in third_party_imports(top).items():
            imports.setdefault(module, set()).update(files)
    assert "pytest" in imports
    problems = undeclared(imports, set(declared("dev")))
    assert not problems, "add to pyproject.toml (`dev` extra), then `make lock`:\n" + "\n".join(
        problems
    )


def test_every_declared_dependency_is_locked_at_a_version_it_allows() -> None:
    pins = parse_lock(LOCK.read_text())
    problems = []
    for name, req in sorted(declared("dev").items()):
        if name not in pins:
            problems.append(f"{name}: declared in pyproject.toml, missing from requirements.lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{name}: locked at {pins[name]}, pyproject.toml asks {req.specifier}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_the_lock_holds_everything_installed_with_the_project_at_its_version() -> None:
    pins = parse_lock(LOCK.read_text())
    needed = requirement_closure(list(declared("dev").values()))
    problems = []
    for name in sorted(needed):
        installed = installed_version(name)
        if pins.get(name) != installed:
            problems.append(f"{name}: installed {installed}, locked {pins.get(name, 'nothing')}")
    assert not problems, (
        "the venv and requirements.lock differ: `make lock` (a new package), or reinstall from the "
        "lock (`touch requirements.lock && make check`):\n" + "\n".join(problems)
    )


def test_ci_and_the_image_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    stamp = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "requirements.lock" in stamp.splitlines()[0], (
        "the venv must be rebuilt when the lock moves"
    )
    assert "pip install -q -c requirements.lock -e '.[dev]'" in stamp
    assert "COPY pyproject.toml requirements.lock" in dockerfile
    assert "pip install -c requirements.lock ." in dockerfile
