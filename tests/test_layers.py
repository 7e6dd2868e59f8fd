"""The package's layers: imports only point down, and no module imports itself in a circle.

Every `import` / `from … import` of tinyssl in tinyssl/ counts, at module level or inside a
function (a function-level import is still a dependency; it only runs later).
"""

from __future__ import annotations

import ast
from pathlib import Path

import tinyssl

ROOT = Path(tinyssl.__file__).parent

#: Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("tinyssl", "tinyssl.runs")),  # version; run directories, atomic files, checkpoints
    ("data", ("tinyssl.data",)),
    ("models", ("tinyssl.models",)),
    ("augment", ("tinyssl.augment",)),
    ("methods", ("tinyssl.methods",)),
    ("config", ("tinyssl.config",)),  # validated against the methods and models
    ("train", ("tinyssl.train",)),
    ("hardware", ("tinyssl.export", "tinyssl.fpga", "tinyssl.verify")),
    ("select", ("tinyssl.select",)),
    ("label", ("tinyssl.label",)),  # labelling select's picks: browser page, Label Studio
    ("pipeline", ("tinyssl.pipeline", "tinyssl.report")),
    ("cli", ("tinyssl.cli",)),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """Index into LAYERS: the longest matching prefix wins (tinyssl.data beats tinyssl)."""
    best, length = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = i, len(p)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def _nodes(tree: ast.AST, typing: bool) -> list[ast.AST]:
    """Every node, without the bodies of `if TYPE_CHECKING:` unless `typing`."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if not typing and isinstance(node, ast.If) and \
                getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def imports_of(path: Path, package: str | None = None, typing: bool = True) -> set[str]:
    """tinyssl modules `path` (in `package`, default: where it lies) imports anywhere in it
    (`from a import b` counts a.b when a.b is a module, else a); `typing=False` leaves out
    imports for type hints only (`if TYPE_CHECKING:`), which never run."""
    found = set()
    if package is None:
        package = module_name(path) if path.name == "__init__.py" else \
            module_name(path).rpartition(".")[0]
    for node in _nodes(ast.parse(path.read_text()), typing):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tinyssl")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            if not base.startswith("tinyssl"):
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if _is_module(sub) else base)
    return found


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def graph(typing: bool = True) -> dict[str, set[str]]:
    return {module_name(p): imports_of(p, typing=typing) for p in sorted(ROOT.rglob("*.py"))}


def test_imports_point_down_the_layers() -> None:
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {i} ({LAYERS[layer_of(i)][0]})"
              for m, deps in graph().items() for i in sorted(deps)
              if layer_of(i) > layer_of(m)]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    """Between modules, at run time (type-hint-only imports, e.g. a callback naming the
    Trainer, never run). A package's __init__ counts as its own module, and a module
    importing its package's __init__ (which re-exports it lazily) is no circle."""
    g = {m: {d for d in deps if d != m and not m.startswith(d + ".")}
         for m, deps in graph(typing=False).items()}
    found = circles(g)
    assert not found, "import circles:\n" + "\n".join(" → ".join(c) for c in found)


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """Each circle a depth-first search meets, as the path that closes it."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                found.append([*path[path.index(d):], d])
            elif d not in state:
                visit(d, [*path, d])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    return found


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_click_outside_the_cli() -> None:
    offenders = [module_name(p) for p in ROOT.rglob("*.py")
                 if not module_name(p).startswith("tinyssl.cli")
                 and any(isinstance(n, ast.Import | ast.ImportFrom) and "click" in
                         ([a.name for a in n.names] if isinstance(n, ast.Import)
                          else [n.module or ""]) for n in ast.walk(ast.parse(p.read_text())))]
    assert not offenders, f"click imported outside tinyssl/cli: {offenders}"


def test_the_scan_finds_function_level_and_relative_imports(tmp_path: Path) -> None:
    """So that a pass means something: an upward import hidden in a function is seen."""
    fake = tmp_path / "f.py"
    fake.write_text("import tinyssl.runs\n\ndef f():\n    from tinyssl.pipeline.run import "
                    "run_training\n    from . import pool\n    from .callbacks import base\n")
    assert imports_of(fake, "tinyssl.train") == {
        "tinyssl.runs", "tinyssl.pipeline.run", "tinyssl.train.pool",
        "tinyssl.train.callbacks.base"}
    assert layer_of("tinyssl.pipeline.run") > layer_of("tinyssl.train.loop")
    assert layer_of("tinyssl.cli.train") > layer_of("tinyssl.pipeline.fit") > \
        layer_of("tinyssl.label.studio") > layer_of("tinyssl.select.rounds") > \
        layer_of("tinyssl.train.loop") > \
        layer_of("tinyssl.methods.uda") > layer_of("tinyssl.data.types") > layer_of("tinyssl")
