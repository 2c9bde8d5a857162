"""Package discovery; everything else is declared in pyproject.toml.

Three repository folders become three import names in site-packages (the design card keeps
the folders where they are; the import names do not collide with other projects):

    src/wot_biofeedback -> wot_biofeedback, simulators -> wot_simulators, drivers -> wot_drivers

setuptools' declarative ``[tool.setuptools.packages.find]`` cannot express this: it names each
package after its folder, so ``simulators`` would ship as ``simulators``. A hand-kept
``packages = [...]`` list can (and once left out ``wot_biofeedback.sources``, which broke the
wheel), so each root's subpackages are found here instead: any folder with an ``__init__.py``
ships with no edit. ``tests/test_packaging.py`` holds the result against the folders.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent

# import name -> folder, relative to this file
ROOTS = {
    "wot_biofeedback": "src/wot_biofeedback",
    "wot_simulators": "simulators",
    "wot_drivers": "drivers",
}


def discover_packages() -> list[str]:
    """Every package under each root, named by its import name (root first)."""
    packages = []
    for name, folder in ROOTS.items():
        packages.append(name)
        packages += [f"{name}.{sub}" for sub in find_packages(where=str(HERE / folder))]
    return packages


if __name__ == "__main__":
    setup(packages=discover_packages(), package_dir=ROOTS)
