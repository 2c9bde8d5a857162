"""The views' layering: they read snapshots (never the engine), and the modality table (never
a list of modality names of their own). Static checks, no Qt needed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import wot_biofeedback
from wot_biofeedback.modalities import NAMES

PKG = Path(wot_biofeedback.__file__).parent
VIEWS = [*sorted((PKG / "ui").glob("*.py")), PKG / "terminal.py"]


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved), TYPE_CHECKING ones too."""
    package = ".".join(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def test_views_never_import_the_engine():
    assert VIEWS and all(p.exists() for p in VIEWS)
    for path in VIEWS:
        bad = {m for m in _imported(path) if m.startswith("wot_biofeedback.engine")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_snapshot_module_is_light():
    """The views' snapshot types come without Qt, pylsl or the engine."""
    code = (
        "import sys, wot_biofeedback.snapshot; "
        "bad=[m for m in ('PySide6','pylsl','pyqtgraph','wot_biofeedback.engine') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    from wot_biofeedback import engine, snapshot

    assert engine.Snapshot is snapshot.Snapshot  # still importable from the engine
    assert engine.StreamStatus is snapshot.StreamStatus


def _listings(tree: ast.AST) -> list[tuple[int, set[str]]]:
    """``(line, names)`` of each tuple, list, set or dict literal naming two modalities or more
    as string constants (dict keys and values both count; case-insensitive)."""
    names = {n.lower() for n in NAMES}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items: list[ast.expr | None] = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = [*node.keys, *node.values]
        else:
            continue
        found = {
            e.value.lower()
            for e in items
            if isinstance(e, ast.Constant) and isinstance(e.value, str)
            and e.value.lower() in names
        }  # fmt: skip
        if len(found) >= 2:
            out.append((node.lineno, found))
    return out


def test_views_list_no_modalities():
    """Modality names come from ``wot_biofeedback.modalities`` (ROLES, MODALITIES, of_role),
    never from a literal in a view."""
    assert {"ecg", "ppg", "rr", "eda", "resp", "acc"} <= set(NAMES)
    for path in VIEWS:
        found = _listings(ast.parse(path.read_text(encoding="utf-8")))
        assert not found, f"{path.name} lists modalities at (line, names) {found}"


def test_the_modality_check_finds_listings():
    code = (
        'A = {"ecg": "mV", "EDA": "uS"}\n'
        'B = ("resp", "acc")\n'
        "C = [m for m in ['ECG', 'ppg', 'x']]\n"
        'D = {"x": "rr", "y": "eda"}\n'
        'E = {"ecg": "ECG"}\n'  # one modality only: fine
        'F = ("ecg", "hr_bpm")\n'
    )
    assert sorted(line for line, _ in _listings(ast.parse(code))) == [1, 2, 3, 4]
