"""The views' layering: they read snapshots (never the engine), and the modality table (never
a list of modality names of their own). Static checks, no Qt needed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import wot_biofeedback

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
