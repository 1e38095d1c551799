"""The public API behind the commands: one function per command, same names and values (docs/python-api.md); the metrics among them are registered in ``registry``."""
