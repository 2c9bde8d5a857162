"""The command line stays a thin entry point: small modules, and nothing else depends on it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "wot_biofeedback"
CLI = PKG / "cli"
MAX_LINES = 250
"""A command module holds arguments and a call into the core; more than this is core code."""


def _package_of(path: Path) -> list[str]:
    """The package a module of ``src/wot_biofeedback`` is in (relative imports start there)."""
    if not path.is_relative_to(PKG):
        return []
    return ["wot_biofeedback", *path.parent.relative_to(PKG).parts]


def _imports_cli(source: str, package: list[str]) -> list[str]:
    """The statements of ``source`` that import ``wot_biofeedback.cli`` (absolute or relative),
    as ``LINE: NAME``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not package or node.level > len(package):
                    continue
                base = ".".join(package[: len(package) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        hit = [
            n for n in names if n == "wot_biofeedback.cli" or n.startswith("wot_biofeedback.cli.")
        ]
        if hit:
            found.append(f"{node.lineno}: {hit[-1]}")
    return found


def test_every_cli_module_is_short():
    modules = sorted(CLI.glob("*.py"))
    assert {m.name for m in modules} >= {"__init__.py", "analyze.py", "report.py", "run.py"}
    lines = {m.name: len(m.read_text(encoding="utf-8").splitlines()) for m in modules}
    long = {name: n for name, n in lines.items() if n > MAX_LINES}
    assert not long, f"cli modules over {MAX_LINES} lines (move the logic into the core): {long}"


@pytest.mark.parametrize("folder", ["src/wot_biofeedback", "simulators", "drivers"])
def test_nothing_outside_the_cli_imports_it(folder):
    bad = [
        f"{path.relative_to(ROOT)}:{hit}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not path.is_relative_to(CLI) and path.name != "__main__.py"
        for hit in _imports_cli(path.read_text(encoding="utf-8"), _package_of(path))
    ]
    assert not bad, "only the cli package, tests and __main__ may import wot_biofeedback.cli:\n" + (
        "\n".join(bad)
    )


def test_the_import_check_sees_relative_and_absolute_imports():
    # guards the guard: a module of the engine importing the CLI any way is caught
    source = (
        "from ..cli import main\n"
        "from .. import cli\n"
        "import wot_biofeedback.cli._live\n"
        "from . import analysis\n"
        "from ..clinic import x\n"
    )
    hits = _imports_cli(source, ["wot_biofeedback", "sources"])
    assert [h.split(":")[0] for h in hits] == ["1", "2", "3"], hits
