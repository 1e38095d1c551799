"""Reference statistics: the catalogue (``catalogue``), the cache (``cache``), pulling (``pull``), ``ref:NAME``
inputs (``resolve``) and publishing your own (``publish``). docs/references.md."""

from gentools.refs.resolve import is_ref, open_ref, path_of  # noqa: F401 - what inputs and extract use

__all__ = ["is_ref", "open_ref", "path_of"]
