"""The public API behind the commands: one function per command, same names and values (README: "Python API"); the metrics among them are registered in ``registry``."""
