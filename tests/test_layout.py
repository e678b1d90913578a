"""The package's shape: no import cycles between modules (counting imports inside functions, and the
registry's discovery of domain packages) nor between packages, a few loose modules at the top,
generic code free of domain names."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "int_exp"
MAX_LOOSE_MODULES = 8


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every int_exp module ``name`` imports, anywhere in the file (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `from int_exp.x import name`: module int_exp.x
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    from int_exp.backends.engines import registered
    from int_exp.domains import domain_modules
    from int_exp.training import trainer_modules

    mods = modules()
    graph = {name: imports_of(name, path, set(mods)) for name, path in mods.items()}
    graph["int_exp.domains"] |= {m for m in domain_modules() if m in graph}  # loaded by importlib
    graph["int_exp.training"] |= {m for m in trainer_modules() if m in graph}  # likewise
    builders = {path.partition(":")[0] for path in registered().values()}
    graph["int_exp.backends.engines"] |= {m for m in builders if m in graph}  # likewise
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 60 and "int_exp.domains.arith" in graph["int_exp.domains"]
    assert "int_exp.training.grpo_trainer" in graph["int_exp.training"]
    assert "int_exp.backends.vllm" in graph["int_exp.backends.engines"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def package_of(module: str) -> str:
    """The node of ``module`` in the package graph: its top-level subpackage of int_exp (a module
    directly in int_exp/ is its own node)."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        edges = packages.setdefault(package_of(name), set())
        edges |= {package_of(t) for t in targets if package_of(t) not in (package_of(name), "int_exp")}
    return packages


def test_no_package_imports_another_in_a_circle():
    """Packages form floors (runtime at the bottom; config, grading, interventions; engines;
    domains; pipeline; stages; the job): a cycle between two would make either unusable alone."""
    packages = package_graph(import_graph())
    assert {"int_exp.runtime", "int_exp.pipeline", "int_exp.stages", "int_exp.cli"} <= set(packages)
    assert packages["int_exp.runtime"] == set()
    assert find_cycle(packages) is None, " -> ".join(find_cycle(packages))


def test_the_package_graph_joins_a_package_s_modules():
    graph = {"int_exp.a.x": {"int_exp.b.y"}, "int_exp.b.y": {"int_exp.b"}, "int_exp.b": {"int_exp.c"},
             "int_exp.c": {"int_exp.a.z"}, "int_exp.a.z": set()}
    assert package_graph(graph) == {"int_exp.a": {"int_exp.b"}, "int_exp.b": {"int_exp.c"}, "int_exp.c": {"int_exp.a"}}
    assert find_cycle(package_graph(graph)) == ["int_exp.a", "int_exp.b", "int_exp.c", "int_exp.a"]


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_a_few_loose_modules_and_packages_by_concern():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= MAX_LOOSE_MODULES, loose
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert {"pipeline", "stages", "backends", "training", "data", "domains", "models", "interventions"} <= packages


def test_generic_code_names_no_domain():
    """Outside int_exp/domains, nothing imports a domain package: the registry is the door."""
    graph = import_graph()
    offenders = {name: sorted(t for t in targets if t.startswith(("int_exp.domains.arith", "int_exp.domains.math")))
                 for name, targets in graph.items() if not name.startswith("int_exp.domains")}
    assert {name: t for name, t in offenders.items() if t} == {}


def test_the_examples_in_docstrings_hold():
    """The doctests of the shared helpers the redesign introduced (run here: pytest collects tests/ only)."""
    import doctest

    from int_exp.domains import reward
    from int_exp.grading import answers
    from int_exp.models import batching
    from int_exp.tracking import models

    for module in (answers, batching, reward, models):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
