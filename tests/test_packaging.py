"""The wheel ships what the repository holds: every package folder, and the scenario files.

The package list comes from the build's own discovery (``setup.py``), with pyproject.toml applied
as ``setup()`` applies it, so a new subpackage that the build would leave out
fails here, not in a user's ``import``.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> import name, as the wheel installs them
ROOTS = {"src/wot_biofeedback": "wot_biofeedback", "simulators": "wot_simulators",
         "drivers": "wot_drivers"}  # fmt: skip


@pytest.fixture(scope="module")
def dist():
    """The distribution as ``setup()`` builds it: setup.py's packages, pyproject.toml applied."""
    spec = importlib.util.spec_from_file_location("wot_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    setup_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_py)  # not __main__: defines discovery, calls no setup()
    from setuptools.dist import Distribution

    cwd = os.getcwd()
    os.chdir(ROOT)  # the configuration's paths are relative to the checkout
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # setuptools' own notices
            d = Distribution(
                {"packages": setup_py.discover_packages(), "package_dir": setup_py.ROOTS}
            )
            d.parse_config_files()
    finally:
        os.chdir(cwd)
    return d


def folders() -> dict[str, Path]:
    """Import name -> folder of every directory with an ``__init__.py`` under the three roots."""
    out = {}
    for folder, name in ROOTS.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            out[".".join([name, *rel.parts])] = init.parent
    return out


def test_every_package_folder_is_in_the_wheel(dist):
    found = folders()
    assert {"wot_biofeedback.sources", "wot_biofeedback.dsp", "wot_simulators.scenarios"} <= set(
        found
    )
    assert sorted(dist.packages) == sorted(found)
    for name, path in found.items():
        top, _, rest = name.partition(".")
        sub = rest.split(".") if rest else []
        assert (ROOT / dist.package_dir[top]).joinpath(*sub).resolve() == path.resolve(), name


def test_scenarios_are_package_data(dist):
    tomls = sorted(p.name for p in (ROOT / "simulators" / "scenarios").glob("*.toml"))
    assert tomls, "no shipped scenarios found"
    patterns = dist.package_data.get("wot_simulators.scenarios", [])
    assert all(any(fnmatch.fnmatch(t, p) for p in patterns) for t in tomls), patterns


def test_the_liblsl_configuration_is_package_data(dist):
    """``wot`` points liblsl at this file (errors only): without it in the wheel, every start
    of an installed ``wot`` prints liblsl's INFO lines again."""
    cfg = ROOT / "src" / "wot_biofeedback" / "cli" / "lsl_api.cfg"
    assert "level = -2" in cfg.read_text(encoding="utf-8")
    patterns = dist.package_data.get("wot_biofeedback.cli", [])
    assert any(fnmatch.fnmatch(cfg.name, p) for p in patterns), patterns
