"""The version, in a leaf module: the store, refs and CLI stamp it without importing the package facade."""

__version__ = "0.1.0"
