"""gentools: evaluate generative models, from the command line or from Python.

Every command has a function of the same name that takes paths, loaded
objects or arrays ``[N, D]`` and returns a dict with exactly the names and
values the command prints::

    import gentools
    gen = gentools.extract("samples/")            # -> gentools.Features
    ref = gentools.load("ref.h5")                 # Features or Stats (.h5, .npy, .npz)
    gentools.fid(gen, ref)                        # {"fid": ...}
    gentools.kid(gen, "ref.h5", subsets=100, subset_size=1000)
    gentools.prdc(gen, ref, k=5); gentools.inception_score(gen); gentools.stats(gen).save("s.h5")

Importing gentools is cheap: numpy, h5py and torch load only when a function
needs them. Errors are :class:`GentoolsError` subclasses with one-line
messages; warnings are :class:`GentoolsWarning` through :mod:`warnings`; long
work takes a ``progress`` callback. The library never prints and never exits.
"""

from __future__ import annotations

import importlib
import importlib.util

from gentools._version import __version__  # noqa: F401 (public, in __all__)
from gentools.errors import GentoolsError, GentoolsWarning  # noqa: F401 (public, in __all__)

_API = {
    "load": "gentools.inputs", "Features": "gentools.inputs", "Stats": "gentools.store",
    "extract": "gentools.api.extract", "stats": "gentools.api.stats", "merge": "gentools.api.stats",
    "interp": "gentools.api.interp", "report": "gentools.api.report",
    "Evaluator": "gentools.api.evaluator", "log": "gentools.api.log",
    "ref_list": "gentools.api.ref", "ref_pull": "gentools.api.ref", "ref_make": "gentools.api.ref",
    "ref_verify": "gentools.api.ref",
}
_BASE = ["GentoolsError", "GentoolsWarning", "__version__", *_API]


def _metric_functions() -> dict:
    """One function per registered metric (gentools.api.registry): fid, kid, inception_score, prdc, cmmd,
    clipscore, diversity (and vendi), twosample, kde, nn_grid, and whatever is registered next."""
    return importlib.import_module("gentools.api.registry").api_functions()


def __getattr__(name: str):
    if name == "__all__":  # computed, so a new registration needs no edit here
        return _BASE + list(_metric_functions())
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
    elif name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is not None \
            or name not in _metric_functions():  # a submodule (``from gentools import memory``) is imported
        raise AttributeError(f"module 'gentools' has no attribute {name!r}")
    else:
        value = _metric_functions()[name]
    globals()[name] = value
    return value


def __dir__():
    return sorted(__getattr__("__all__"))
