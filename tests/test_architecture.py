"""The shape of the code: one modality table, one-way layers, drivers and simulators on the
public API only. Read from the source (AST), so a violation names its file and line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from wot_biofeedback.modalities import NAMES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "wot_biofeedback": ROOT / "src" / "wot_biofeedback",
    "wot_simulators": ROOT / "simulators",
    "wot_drivers": ROOT / "drivers",
}

# lowest first; a module may import its own layer and the layers below it, never one above
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("vocabulary", ("wot_biofeedback", "wot_biofeedback.errors", "wot_biofeedback.modalities",
                    "wot_biofeedback.session_log", "wot_biofeedback.checks",
                    "wot_biofeedback.csvtext", "wot_biofeedback._extras", "wot_biofeedback.config",
                    "wot_biofeedback.validation", "wot_biofeedback.atomic",
                    "wot_biofeedback.theme")),
    ("dsp", ("wot_biofeedback.dsp", "wot_biofeedback.clock")),
    ("sources", ("wot_biofeedback.sources",)),
    ("state", ("wot_biofeedback.state", "wot_biofeedback.cues", "wot_biofeedback.pipeline",
               "wot_biofeedback.summary", "wot_biofeedback.profiles",
               "wot_biofeedback.snapshot", "wot_biofeedback.session",
               "wot_biofeedback.frames")),
    ("sinks", ("wot_biofeedback.outlets", "wot_biofeedback.recorder", "wot_biofeedback.report",
               "wot_biofeedback.terminal", "wot_biofeedback.ui")),
    ("core", ("wot_biofeedback.engine", "wot_biofeedback.offline", "wot_biofeedback.run",
              "wot_biofeedback.analysis", "wot_biofeedback.assessment",
              "wot_biofeedback.resonance", "wot_biofeedback.coregulation",
              "wot_biofeedback.cohort", "wot_biofeedback.live")),
    ("entry", ("wot_biofeedback.cli", "wot_simulators", "wot_drivers")),
]  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for pkg, root in PACKAGES.items():
        for p in sorted(root.rglob("*.py")):
            rel = p.relative_to(root).with_suffix("").parts
            parts = [pkg, *rel]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _imports(name: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) of every project import, at any depth."""
    is_pkg = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES:
                    found.append((node.lineno, a.name, []))
            continue
        else:
            continue
        if target.split(".")[0] in PACKAGES:
            found.append((node.lineno, target, names))
    return found


def _layer(module: str) -> int:
    best, depth = -1, -1
    for i, (_name, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and p.count(".") > depth:
                best, depth = i, p.count(".")
    return best


def test_every_module_has_a_layer():
    missing = [m for m in _modules() if _layer(m) < 0]
    assert not missing, f"modules with no layer in tests/test_architecture.py: {missing}"


def test_no_module_imports_a_higher_layer():
    bad = []
    for name, path in _modules().items():
        mine = _layer(name)
        for line, target, names in _imports(name, path):
            # "from wot_biofeedback import x" imports the module x where there is one
            targets = [f"{target}.{n}" for n in names if f"{target}.{n}" in _modules()] or [target]
            for t in targets:
                if _layer(t) > mine:
                    bad.append(
                        f"{path.relative_to(ROOT)}:{line}: {name} ({LAYERS[mine][0]}) imports "
                        f"{t} ({LAYERS[_layer(t)][0]})"
                    )
    assert not bad, "\n".join(bad)


def test_dsp_imports_nothing_but_dsp_and_the_vocabulary():
    for name, path in _modules().items():
        if not name.startswith("wot_biofeedback.dsp"):
            continue
        for line, target, _names in _imports(name, path):
            assert _layer(target) <= 1, f"{path}:{line} imports {target}"


def test_drivers_and_simulators_use_only_the_public_api():
    bad = []
    for name, path in _modules().items():
        if not name.startswith(("wot_drivers", "wot_simulators")):
            continue
        for line, target, names in _imports(name, path):
            if not target.startswith("wot_biofeedback"):
                continue
            private = [p for p in target.split(".") if p.startswith("_")]
            private += [n for n in names if n.startswith("_")]
            if private or target.startswith("wot_biofeedback.cli"):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {target} {names}")
    assert not bad, "\n".join(bad)


def _listed_modalities(tree: ast.AST) -> list[tuple[int, list[str]]]:
    """Literal tuples, lists, sets and dict keys naming two or more modalities."""
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            elts = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            elts = list(node.elts)
        else:
            continue
        named = {
            e.value.lower()
            for e in elts
            if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value.lower() in NAMES
        }
        if len(named) >= 2:
            hits.append((node.lineno, sorted(named)))
    return hits


def test_the_modalities_are_listed_in_one_module_only():
    bad = []
    for name, path in _modules().items():
        if name == "wot_biofeedback.modalities":
            continue
        for line, named in _listed_modalities(ast.parse(path.read_text(encoding="utf-8"))):
            bad.append(f"{path.relative_to(ROOT)}:{line}: {', '.join(named)}")
    assert not bad, "modality names listed outside modalities.py:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "code",
    ['x = ("ecg", "eda")', 'd = {"EDA": 1, "resp": 2}', 'y = ["ppg", "RR", "other"]'],
)
def test_the_modality_check_sees_a_list(code):
    assert _listed_modalities(ast.parse(code))


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The check itself: dsp importing the engine is found."""
    p = tmp_path / "x.py"
    p.write_text("from ..engine import Engine\n")
    ((_line, target, _names),) = _imports("wot_biofeedback.dsp.x", p)
    assert target == "wot_biofeedback.engine" and _layer(target) > _layer("wot_biofeedback.dsp.x")
