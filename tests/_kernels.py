"""Code shared by the tests that run a fresh process and count what numba compiled in it."""

COUNT_COMPILED = """
import sys
from numba.core.registry import CPUDispatcher

def compiled():
    # signatures per kernel of the package: a new one is a compile (or a cache load) now
    return {
        f"{name}.{k}": len(v.signatures)
        for name, mod in list(sys.modules.items()) if name.startswith("wot_biofeedback")
        for k, v in list(vars(mod).items()) if isinstance(v, CPUDispatcher)
    }
"""
