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

from gentools.errors import GentoolsError, GentoolsWarning

__version__ = "0.1.0"

_API = {
    "load": "gentools.inputs", "Features": "gentools.inputs", "Stats": "gentools.store",
    "extract": "gentools.api.extract", "stats": "gentools.api.files", "merge": "gentools.api.files",
    "fid": "gentools.api.fid", "kid": "gentools.api.metrics", "inception_score": "gentools.api.metrics",
    "prdc": "gentools.api.metrics", "cmmd": "gentools.api.metrics", "vendi": "gentools.api.metrics",
    "twosample": "gentools.api.methods", "kde": "gentools.api.methods", "nn_grid": "gentools.api.methods",
    "interp": "gentools.api.interp", "report": "gentools.api.report",
    "Evaluator": "gentools.api.evaluator", "log": "gentools.api.log",
    "diversity": "gentools.api.classes", "clipscore": "gentools.api.metrics",
}

__all__ = ["GentoolsError", "GentoolsWarning", "__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'gentools' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
